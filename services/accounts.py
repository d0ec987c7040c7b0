"""A user's own account: its making, its settings and password, what it holds, all of it exported (JSON or CSV,
written a page of analyses at a time so that a long history never sits in memory at once), and its deletion with
every row and file it owns."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import selectinload

from extensions import committed, db
from inference.formats import FileFormat
from messages import N_, Phrase
from models import (PASSWORD_LENGTH, USERNAME_CHARACTERS, USERNAME_LENGTH, Analysis, Detection, FaceSignature, Subject,
                    User, normalize_username, utcnow)
from services import identity, storage
from services.analyses import delete_analyses
from services.clock import on_clock, zone_of
from services.documents import (alert_rule_document, analysis_document, csv_encoded, encoded, iso_utc,
                                reading_document, readings_csv, released, streamed_object, subject_document)
from services.errors import NotFound, Refused
from services.subjects import appearance_counts

PAGE = 50  # analyses read (or deleted) at a time
LAST_ADMIN = N_("You are the only active administrator: make another user an administrator (or activate one) "
                "before you delete your account.")


USERNAME_RULE = N_("A username is 2 to 32 English or Korean letters, digits, dots, dashes and underscores.")
PASSWORD_RULE = N_("A password has %(least)d to %(most)d characters.")


def check_new_username(username: str) -> None:
    """Raises Refused for a name a new account cannot have (the sign-up page's rule, for the CLI too)."""
    name = normalize_username(username)
    if len(name) not in USERNAME_LENGTH or not USERNAME_CHARACTERS.match(name):
        raise Refused(Phrase(USERNAME_RULE))


def _set_password(user: User, password: str) -> None:
    """Set the password, within PASSWORD_LENGTH (else Refused); the user's sessions and API tokens end."""
    if len(password) not in PASSWORD_LENGTH:
        raise Refused(Phrase(PASSWORD_RULE, least=PASSWORD_LENGTH.start, most=PASSWORD_LENGTH.stop - 1))
    user.set_password(password)


def register(username: str, password: str, time_zone: str | None, locale: str | None = None) -> User | None:
    """A new account (with the language chosen before it, if any); None when its name is taken (by then, or by a
    registration that committed a moment before this one: the unique name refuses the second). Raises Refused
    for a name or password outside the rules (the sign-up form checks them first)."""
    check_new_username(username)
    if User.named(username):
        return None
    user = User(username=username, time_zone=time_zone, locale=locale)
    _set_password(user, password)
    db.session.add(user)
    return user if committed() else None


@dataclass(frozen=True)
class AdminMade:
    """What `make_admin` did: the user, whether the account was there before (its password replaced, its sessions
    and API tokens ended) and whether it had been deactivated."""

    user: User
    existed: bool
    was_inactive: bool


def make_admin(username: str, password: str) -> AdminMade:
    """USERNAME as an active administrator with this password, its account made if there is none (the way back in
    when every administrator was deactivated). Raises Refused for a new name or a password outside the rules."""
    user = User.named(username)
    existed = user is not None
    if user is None:
        check_new_username(username)
        user = User(username=username)
        db.session.add(user)
    was_inactive = user.active is False  # (None: a new user, active once saved)
    _set_password(user, password)
    user.is_admin = True
    user.active = True
    db.session.commit()
    return AdminMade(user, existed, was_inactive)


def reset_password(username: str, password: str) -> User:
    """Give USERNAME's account a new password, keeping its role; its sessions and API tokens end. Raises NotFound
    when there is no such account (saying to which name an administrator renamed it, if one did), Refused for a
    password outside the rules."""
    user = User.named(username)
    if user is None:
        name = normalize_username(username)
        renamed = db.session.scalar(db.select(User.username).filter_by(previous_username=name)
                                    .order_by(User.id.desc()).limit(1))
        raise NotFound(f"There is no user {name!r}" + (f"; an administrator renamed {name!r} to {renamed!r}."
                                                       if renamed else "."))
    _set_password(user, password)
    db.session.commit()
    return user


SETTINGS = frozenset({"time_zone", "time_zone_kept", "locale", "weekly_report"})  # what a user sets for themselves


def save_settings(user: User, **settings: object) -> None:
    """Keep some of the user's SETTINGS (the clock their times are counted on, their language, whether their
    dashboard links to the weekly reports)."""
    if not settings.keys() <= SETTINGS:
        raise TypeError(f"not a user's setting: {sorted(settings.keys() - SETTINGS)}")
    for name, value in settings.items():
        setattr(user, name, value)
    db.session.commit()


def change_password(user: User, password: str) -> None:
    """A new password: the user's sessions and API tokens end (the caller starts this session again). Raises
    Refused for one outside the rules (the form checks them first)."""
    _set_password(user, password)
    db.session.commit()


def end_sessions(user: User) -> None:
    """Log the user out of every browser (their remember-me cookies too); their API tokens stay."""
    user.revoke_sessions()
    db.session.commit()


@dataclass(frozen=True)
class Holdings:
    """What an account holds, as its page counts it."""

    analyses: int
    subjects: int
    face_signatures: int  # kept while face recognition is on


def holdings(user: User) -> Holdings:
    def count(model: type[Analysis] | type[Subject] | type[FaceSignature]) -> int:
        return db.session.scalar(db.select(db.func.count(model.id)).where(model.user_id == user.id))

    return Holdings(analyses=count(Analysis), subjects=count(Subject), face_signatures=count(FaceSignature))


def account_analyses(user: User) -> Iterator[Analysis]:
    """The user's analyses, oldest first, read PAGE at a time with their detections and subjects; each leaves the
    session (its detections and video timelines with it) when the next is asked for, so memory holds one analysis's
    timelines at a time: a page of long videos with many faces would hold hundreds of MB."""
    last_id = 0
    while page := db.session.scalars(
        db.select(Analysis).where(Analysis.user_id == user.id, Analysis.id > last_id).order_by(Analysis.id)
        .limit(PAGE).options(selectinload(Analysis.detections).joinedload(Detection.subject))
    ).all():
        last_id = page[-1].id
        yield from released(page)


def user_document(user: User) -> dict:
    return {"username": user.username, "created_at": iso_utc(user.created_at) if user.created_at else None,
            "time_zone": zone_of(user).key, "time_zone_kept": user.time_zone_kept, "language": user.locale,
            "weekly_report": user.weekly_report, "recognize_faces": user.recognize_faces}


def subjects_document(user: User) -> list[dict]:
    """The user's subjects as the API shapes them, each with its alert rules."""
    counts = appearance_counts(user)
    return [{**subject_document(subject, counts.get(subject.id, 0)),
             "alert_rules": [{**alert_rule_document(rule), "created_at": iso_utc(rule.created_at)}
                             for rule in subject.alert_rules]}
            for subject in user.subjects_by_name]


def export_json(user_id: int) -> Iterator[bytes]:
    """The whole account as one JSON object, in pieces: the user, their subjects with their alert rules, then
    every analysis as the API shapes it (`analysis_document`, one a line; a detection's `subject` is an id of
    `subjects`; no look-alike suggestions: they are worked out, not stored). The exports take the user's id: they
    run while the response is sent, after the request's session has ended."""
    user = db.session.get(User, user_id)
    head = {"exported_at": iso_utc(utcnow()), "user": user_document(user), "subjects": subjects_document(user)}
    return encoded(streamed_object(head, "analyses", map(analysis_document, account_analyses(user))))


def export_csv(user_id: int) -> Iterator[bytes]:
    """Every reading of the account (a face or animal of a photo, a track of a video) as the subject exports write
    them, with a last column `subject`: the name of the subject it is assigned to (empty when none)."""
    user = db.session.get(User, user_id)
    zone = zone_of(user)
    readings = ({**reading_document(detection, analysis, zone, analysis.number_of(detection), timeline=False),
                 "subject": detection.subject.name if detection.subject else None}
                for analysis in account_analyses(user) for detection in analysis.detections)
    return csv_encoded(readings_csv(readings, extra=("subject",)))


COPY_CHUNK = 1 << 20  # bytes of a stored file read (and sent) at a time by the photos' download


class _Pending:
    """A write-only stream that keeps what the zip writer wrote until `take` hands it on (the download never holds
    more than a chunk of one file and the archive's directory)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


# The name endings that say a stored file's type, by the ending it is stored under (its type, told by its content)
SAME_TYPE_ENDINGS = {FileFormat.JPEG: {"jpeg", "jpg", "jpe", "jfif"}, FileFormat.MP4: {"mp4", "m4v"},
                     FileFormat.MOV: {"mov", "qt"}, FileFormat.WEBM: {"webm", "mkv"}}


def type_ending(original_name: str, stored_name: str) -> str:
    """The ending to add to the name an upload was sent under so that it says the stored file's type: none when its
    own says it, else the stored one's (".jpeg")."""
    stored_type = Path(stored_name).suffix.lstrip(".").lower()
    sent_type = Path(original_name).suffix.lstrip(".").lower()
    return "" if sent_type in SAME_TYPE_ENDINGS.get(stored_type, {stored_type}) else f".{stored_type}"


def media_entry(analysis_id: int, uploaded: datetime, original_name: str, stored_name: str) -> zipfile.ZipInfo:
    """A stored upload's entry in the archive: named by its day, its analysis number and the name it was uploaded
    under (no folders), so that two uploads of one name stay apart and sort by time, with its type's ending added
    where that name's says another ("abgpj.exe.jpeg": a JPEG uploaded under a name a right-to-left mark had turned
    around); dated when it was uploaded. `uploaded` is on the user's clock (naive), as the pages and the CSV's
    `local_time` count days."""
    ending = type_ending(original_name, stored_name)
    prefix = f"{uploaded.date().isoformat()}-{analysis_id}-"
    name = _shortened(prefix, original_name.replace("/", "_").replace(chr(92), "_"), ending)
    return zipfile.ZipInfo(prefix + name + ending, date_time=uploaded.timetuple()[:6])


MAX_ENTRY_BYTES = 255  # the longest file name most file systems take, in UTF-8 bytes (a kept name counts characters)


def _shortened(prefix: str, name: str, ending: str) -> str:
    """`name` with its stem cut until prefix + name + ending fit MAX_ENTRY_BYTES: an upload named with 80 Hangul
    syllables (244 bytes) made an entry that unzip refused ("File name too long")."""
    stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
    room = MAX_ENTRY_BYTES - len(f"{prefix}{dot}{suffix}{ending}".encode())
    while len(stem.encode()) > room:
        stem = stem[:-1]
    return stem + dot + suffix


def export_media(user_id: int) -> Iterator[bytes]:
    """Every photo and video the user uploaded, as stored, in a ZIP archive written while it is sent (stored, not
    compressed again: photos and videos are compressed already); an upload whose file is gone is left out."""
    pending = _Pending()
    zone = zone_of(db.session.get(User, user_id))
    with zipfile.ZipFile(pending, "w", compression=zipfile.ZIP_STORED) as archive:
        for analysis_id, created_at, original_name, stored_name in _uploads(user_id):
            path = storage.upload_path(stored_name)
            if not path.is_file():
                continue
            entry_info = media_entry(analysis_id, on_clock(created_at, zone), original_name, stored_name)
            with path.open("rb") as source, archive.open(entry_info, "w", force_zip64=True) as entry:
                while chunk := source.read(COPY_CHUNK):
                    entry.write(chunk)
                    yield pending.take()
    yield pending.take()


def _uploads(user_id: int) -> Iterator[tuple[int, datetime, str, str]]:
    """The user's uploads, oldest first, PAGE rows at a time: (analysis id, created at (naive UTC), name, stored
    name)."""
    last_id = 0
    while rows := db.session.execute(
        db.select(Analysis.id, Analysis.created_at, Analysis.original_name, Analysis.stored_name)
        .where(Analysis.user_id == user_id, Analysis.id > last_id).order_by(Analysis.id).limit(PAGE)
    ).all():
        yield from (tuple(row) for row in rows)  # (id, created_at, original_name, stored_name)
        last_id = rows[-1][0]


def is_last_admin(user: User) -> bool:
    """Whether the user is an administrator and no other active one exists (the back office would have none)."""
    others = db.select(db.func.count(User.id)).where(User.is_admin, User.active, User.id != user.id)
    return user.is_admin and db.session.scalar(others) == 0


def step_down(user: User) -> None:
    """An administrator gives up the role (committed) before their account is deleted; Refused, the role kept, when
    no other active administrator is left. Giving it up before counting the others means that two administrators
    deleting their accounts at once cannot both go: the second to count finds none left."""
    if not user.is_admin:
        return
    before = rows_as_they_are([user])
    user.is_admin = False
    commit_keeping_an_administrator(before, LAST_ADMIN)


NO_ADMINISTRATOR_LEFT = N_("That would leave no active administrator (another administrator changed meanwhile?): "
                           "nothing was changed.")


def active_administrators() -> int:
    """How many active administrators there are, as committed: a change that may take the last one away commits
    first and counts after (and is undone when none is left), so that two such changes at once cannot both pass."""
    return db.session.scalar(db.select(db.func.count(User.id)).where(User.is_admin, User.active))


RowValues = tuple[type, int, dict[str, object]]  # a model, a row's id, its columns' values


def rows_as_they_are(users: list[User]) -> list[RowValues]:
    """Every column of `users` and of their API tokens as it is now, before a change: what
    `commit_keeping_an_administrator` puts back if it must (a deactivation also ends the sessions and revokes the
    tokens, so those columns change too)."""
    rows = [*users, *(token for user in users for token in user.tokens)]
    return [(type(row), row.id, {column.key: getattr(row, column.key)
                                 for column in sa_inspect(row).mapper.column_attrs}) for row in rows]


def commit_keeping_an_administrator(before: list[RowValues], refusal: str = NO_ADMINISTRATOR_LEFT) -> None:
    """Commit the pending changes to some users (a deactivation or a demotion; `before`: their rows as they were,
    `rows_as_they_are`), then count the active administrators: with none left (another administrator's change
    landed in between), the rows are put back as they were and Refused (`refusal`) is raised. Committing before
    counting means two such changes at once cannot both pass."""
    db.session.commit()
    if active_administrators():
        return
    for model, row_id, values in before:  # a statement, not the attributes: their validators would act again
        db.session.execute(db.update(model).where(model.id == row_id).values(values))
    db.session.commit()
    raise Refused(Phrase(refusal))


def delete_account(user: User) -> None:
    """Delete the user and everything they own: every analysis through `delete_analyses` (its files, poster and
    "Why?" images go too), face signatures, subjects with their alert rules, API tokens, then the user. Refused
    for the last active administrator (`step_down`). An upload that another tab commits meanwhile goes too, files
    and all (`_delete_unless_uploads`)."""
    storage.check_deletable()
    step_down(user)
    identity.forget_signatures(user)
    db.session.commit()
    user_id = user.id
    while ids := _delete_unless_uploads(user_id):
        delete_analyses(ids)


def _delete_unless_uploads(user_id: int) -> list[int]:
    """Up to PAGE ids of the user's analyses; with none left, [] once the user's row is deleted (its subjects, their
    alert rules and its tokens with it: the database's cascades). The row is held from the count to the deletion
    (PostgreSQL: FOR UPDATE; SQLite: one statement), so no upload can commit an analysis in between that the
    cascade would delete without its files: an upload's foreign key waits for the row, then finds it gone."""
    db.session.execute(db.select(User.id).where(User.id == user_id).with_for_update())
    analyses = db.select(Analysis.id).where(Analysis.user_id == user_id)
    deleted = db.session.execute(db.delete(User).where(User.id == user_id, ~analyses.exists())).rowcount
    left = [] if deleted else db.session.scalars(analyses.order_by(Analysis.id).limit(PAGE)).all()
    db.session.commit()
    return left


def account_exists(user: User) -> bool:
    """Whether the user's row is still there (not deleted meanwhile, in another tab or by an administrator), asked
    of the database without reloading the user (a deleted row cannot be reloaded)."""
    user_id = sa_inspect(user).identity[0]
    return db.session.scalar(db.select(db.func.count(User.id)).where(User.id == user_id)) > 0
