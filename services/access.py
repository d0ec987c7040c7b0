"""Who may see what: a user sees their own rows; admins may view any analysis (moderation). And how a writer holds an
analysis and its detections (`locked`): every writer takes the rows in one order, so that two never wait on each
other (PostgreSQL would abort one with a deadlock): a job's own row, a track's reading job, the analysis, then its
detections. A writer that changes readings (`changing`) cancels the tracks' reading jobs first; one that deletes the
analysis (`removing`) cancels all its jobs first; one that deletes several (an account's page of them) deletes all
their jobs' rows first, kind by kind, then holds the analyses in id order, then their detections."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import ColumnElement

from extensions import db
from models import Analysis, Detection, Explanation, Reanalysis, SignatureJob, TrackReading, User
from services.errors import NotFound, Refused

Row = TypeVar("Row")
LARGEST_ID = 2**63 - 1  # the database's integer keys; a larger id in a URL names nothing


def row_id(text: str | int) -> int | None:
    """`text` as the id of a row (1 to LARGEST_ID), else None: a client's id that names nothing. Text is ASCII
    digits alone, as the URLs' ids are (web/ids.py): Python's int() also reads " 7", "+7", "7_0" and "٧" (an
    Arabic-Indic seven), so one subject had many names in a filter."""
    if isinstance(text, str):
        if not (text.isascii() and text.isdigit() and len(text) <= len(str(LARGEST_ID))):
            return None
        text = int(text)
    if not isinstance(text, int) or isinstance(text, bool):
        return None
    return text if 0 < text <= LARGEST_ID else None


def hold_account(user_id: int) -> None:
    """Hold the user's row until the session's transaction ends, so that a check and the write it allows run one
    request at a time per account, in every web process: an upload's last look for an earlier copy of its bytes and
    its insert (of two requests sending the same bytes at once, the second finds the first one's), a "Why?"'s count
    of those under way and its own (two at once passed the cap together). A write that changes nothing, and no key
    (rows that refer to the user are still written meanwhile): PostgreSQL locks the row (other users go on), SQLite
    the database for the moment of the write (a SELECT ... FOR UPDATE locks nothing there). Taken before any other
    row the request writes."""
    db.session.execute(db.update(User).where(User.id == user_id).values(active=User.active))


@contextmanager
def account_held(user_id: int) -> Iterator[None]:
    """`hold_account` around a check that may refuse: a refusal raised inside lets the account go at once (the
    transaction rolled back), so that nothing written next on another connection waits for it (the log-in limits'
    count waited out SQLite's 10 s busy timeout behind a refused token) and a page drawn for the refusal holds
    nothing."""
    hold_account(user_id)
    try:
        yield
    except Refused:
        db.session.rollback()
        raise


def holding(column: ColumnElement, text: str) -> ColumnElement[bool]:
    """Whether `column` holds `text` as names are kept (`searched`), in any case: its % and _ match only themselves (a
    search for "IMG_1234" or "100%"; a lone "%" listed every row, just before an administrator's "select all,
    delete")."""
    escaped = searched(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


JOINER = "\u200d"  # kept: it holds emoji such as a service dog together


def searched(text: str) -> str:
    """Text as file names and usernames are kept, and searched: composed (NFC: a "café" pasted from a macOS file name
    is decomposed), a tab or line break a space, without control or invisible characters (a joiner stays), runs of
    spaces as one (also where an invisible character stood between two)."""
    spaced = " ".join(unicodedata.normalize("NFC", text).split())
    visible = "".join(char for char in spaced if char == JOINER or unicodedata.category(char) not in ("Cc", "Cf"))
    return " ".join(visible.split())


def owned(model: type[Row], row_id: int, user: User, owner_id: Callable[[Row], int] | None = None) -> Row:
    """The row of `model` with this id if `user` owns it (owner_id(row), default row.user_id); raises NotFound
    for another user's row, a missing one, or an id no row can have."""
    row = db.session.get(model, row_id) if 0 < row_id <= LARGEST_ID else None
    if row is None or (owner_id(row) if owner_id else row.user_id) != user.id:
        raise NotFound(f"No {model.__table__.name.replace('_', ' ')} {row_id}.")  # "No alert rule 5."
    return row


def owned_detection(detection_id: int, user: User) -> Detection:
    """The detection if `user` owns its analysis; else NotFound."""
    return owned(Detection, detection_id, user, lambda detection: detection.analysis.user_id)


def viewable_analysis(user: User, analysis_id: int, as_admin: bool) -> Analysis:
    """The analysis if `user` owns it, or reads `as_admin` (an administrator in a browser session; never through an
    API token: web/auth.py `api_viewable`); else NotFound."""
    if as_admin and user.is_admin and 0 < analysis_id <= LARGEST_ID and (
            analysis := db.session.get(Analysis, analysis_id)):
        return analysis
    return owned(Analysis, analysis_id, user)


def detection_at(analysis: Analysis, position: int) -> Detection:
    """Detection `position` of the analysis (a video's track number); else NotFound."""
    detection = next((d for d in analysis.detections if d.position == position), None)
    if detection is None:
        raise NotFound(f"Analysis {analysis.id} has no detection {position}.")
    return detection


def changing(analysis: Analysis, detection: Detection | None = None) -> None:
    """Hold the analysis (`locked`; only `detection` of it, `locked_detection`) to change its readings or delete it,
    its tracks' reading jobs (or `detection`'s) cancelled first (`_cancel_track_readings`). Raises NotFound when it
    was deleted meanwhile."""
    _cancel_track_readings(analysis.id, None if detection is None else detection.id)
    if detection is None:
        locked(analysis)
    else:
        locked_detection(detection)


def removing(*analyses: Analysis) -> None:
    """Hold the analyses to delete them, their jobs deleted first: their "Analyse again", their faces' signing and
    "Why?", then their tracks' readings (the writers' order: a job of the first three deletes the tracks' reading jobs
    while it holds its own row), one statement for each kind of row (an account's deletion takes a page of analyses at
    once). A job that is writing holds its row, so the delete waits for it; one not yet writing finds its row gone and
    writes nothing. Raises NotFound when one of the analyses was deleted meanwhile."""
    ids = [analysis.id for analysis in analyses]
    faces = db.select(Detection.id).where(Detection.analysis_id.in_(ids)).scalar_subquery()
    db.session.execute(db.delete(Reanalysis).where(Reanalysis.analysis_id.in_(ids)))
    db.session.execute(db.delete(SignatureJob).where(SignatureJob.analysis_id.in_(ids)))
    db.session.execute(db.delete(Explanation).where(Explanation.detection_id.in_(faces)))
    db.session.execute(db.delete(TrackReading).where(TrackReading.detection_id.in_(faces)))
    held = db.session.scalars(db.select(Analysis.id).where(Analysis.id.in_(ids)).order_by(Analysis.id)
                              .with_for_update()).all()
    if len(held) < len(set(ids)):
        raise NotFound(f"Analysis {min(set(ids) - set(held))} was deleted.")
    db.session.scalars(db.select(Detection).where(Detection.analysis_id.in_(ids)).order_by(Detection.id)
                       .with_for_update().execution_options(populate_existing=True)).all()
    for analysis in analyses:
        db.session.expire(analysis, ["detections"])


def _cancel_track_readings(analysis_id: int, detection_id: int | None = None) -> None:
    """Delete the reading jobs of an analysis's tracks (or of one: services/track_readings.py) before anything else
    changes them or it: a run that is writing holds its job's row, so the delete waits for it (and what it wrote is
    then read); a run not yet writing finds its job gone and writes nothing."""
    tracks = db.select(Detection.id).where(Detection.analysis_id == analysis_id)
    if detection_id is not None:
        tracks = tracks.where(Detection.id == detection_id)
    db.session.execute(db.delete(TrackReading).where(TrackReading.detection_id.in_(tracks.scalar_subquery())))


def locked(analysis: Analysis) -> list[Detection]:
    """Hold the analysis and its detections until the commit, read again as they stand (others may have changed them
    while this request or job waited), in the writers' order (see the module's docstring); its detections, which
    `analysis.detections` then lists. Raises NotFound when the analysis was deleted meanwhile."""
    if db.session.get(Analysis, analysis.id, with_for_update=True, populate_existing=True) is None:
        raise NotFound(f"Analysis {analysis.id} was deleted.")
    rows = db.session.scalars(db.select(Detection).where(Detection.analysis_id == analysis.id).order_by(Detection.id)
                              .with_for_update().execution_options(populate_existing=True)).all()
    db.session.expire(analysis, ["detections"])
    return list(rows)


def locked_detection(detection: Detection) -> Detection:
    """`locked` for the detection's analysis; the detection, read again. Raises NotFound when it was deleted meanwhile
    (its analysis, or "Analyse again" that found it no more)."""
    if detection not in locked(detection.analysis):
        raise NotFound(f"Detection {detection.id} was deleted.")
    return detection
