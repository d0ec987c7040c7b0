"""What an administrator removed from a user's account, told to that user once and kept with the account: a deleted
upload would otherwise vanish from their history, and its old address turn into a bare 404, without a word."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from extensions import db
from models import REMOVAL_REASON_LENGTH, Analysis, RemovedUpload
from services.access import row_id


class Removal(NamedTuple):
    """An upload an administrator removed: its file name, when it was uploaded, its old id (None: removed before
    the ids were kept) and the reason they gave its owner (None: none)."""

    original_name: str
    uploaded_at: datetime
    analysis_id: int | None
    reason: str | None = None


REMOVAL_COLUMNS = (RemovedUpload.original_name, RemovedUpload.uploaded_at, RemovedUpload.analysis_id,
                   RemovedUpload.reason)


def removal_reason(text: str | None) -> str | None:
    """What an administrator typed for the owner, its spaces collapsed, characters that do not print (a NUL, which
    PostgreSQL refuses, bidi controls) left out, and cut to what is kept; None for nothing."""
    printable = "".join(character for character in " ".join((text or "").split()) if character.isprintable())
    return printable[:REMOVAL_REASON_LENGTH].strip() or None


def note_removed_upload(analysis: Analysis, reason: str | None = None) -> None:
    """Keep, in the deletion's transaction, that `analysis` was removed from its owner's account, and why if the
    administrator said (`removal_reason`)."""
    db.session.add(RemovedUpload(user_id=analysis.user_id, original_name=analysis.original_name,
                                 uploaded_at=analysis.created_at, analysis_id=analysis.id,
                                 reason=removal_reason(reason)))


def untold_removals(user_id: int) -> list[tuple[int, Removal]]:
    """The removals not yet told to the user, oldest first, each with its row's id (for `mark_told`)."""
    return [(row_id, Removal(*removal)) for row_id, *removal in db.session.execute(
        db.select(RemovedUpload.id, *REMOVAL_COLUMNS).filter_by(user_id=user_id, told=False)
        .order_by(RemovedUpload.id)).all()]


def mark_told(row_ids: list[int]) -> None:
    """Note that the removals of these rows were told (on a page the user was shown)."""
    db.session.execute(db.update(RemovedUpload).where(RemovedUpload.id.in_(row_ids)).values(told=True))
    db.session.commit()


def removed_upload(user_id: int, analysis_id: int) -> Removal | None:
    """The upload `analysis_id` of the user's, if an administrator removed it (the newest such removal: SQLite may
    give a removed upload's id to a later one); None for an id no row can have (a URL's 2**63 or more)."""
    if row_id(analysis_id) is None:
        return None
    row = db.session.execute(db.select(*REMOVAL_COLUMNS)
                             .filter_by(user_id=user_id, analysis_id=analysis_id)
                             .order_by(RemovedUpload.id.desc()).limit(1)).first()
    return Removal(*row) if row is not None else None
