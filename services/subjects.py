"""Subjects, the people and pets a user follows: create, rename, delete, assign a detection (a photo's face or animal,
or a whole video track) to one, count and list their appearances. The kind rule lives here, for the pages and
the API alike: a subject's appearances are detections of its kind only (SubjectKind.detection_kind)."""

from __future__ import annotations

import unicodedata

from sqlalchemy.orm import contains_eager

from extensions import committed, db
from inference.labels import ALL_EMOTIONS
from models import EMOTION_CLASSES, Analysis, Detection, Subject, SubjectKind, User, normal_text, subject_name_key
from services import copies
from services.access import LARGEST_ID, locked_detection
from messages import N_, Phrase
from services.errors import Conflict, Refused

NAME_LENGTH = Subject.name.type.length


def normal_name(name: object) -> str:
    """A name as a client sent it, as it is kept and measured (`normal_text`: a zero-width space after "Ana" made a
    second "Ana", refused as the first's twin, and a Korean sentence fell back to "Ana을(를)"); "" for anything but
    text."""
    return normal_text(name) if isinstance(name, str) else ""


MAX_SUBJECTS = 500  # per account: every face's "Who is this?" lists them (12,000 made a result page of 2.7 MB)


def create_subject(user: User, name: object, kind: object) -> Subject:
    """A new subject of the user's (name and kind as a client sent them: checked here). Raises Refused for an
    empty, too long or unreadable name or an unknown kind, Conflict for a name the user already gave another subject (in
    any case) or when the user has MAX_SUBJECTS."""
    if not isinstance(kind, str) or kind not in tuple(SubjectKind):  # first: a bad body is a 400, not a name's 409
        raise Refused(Phrase(N_("The kind is one of %(kinds)s."), kinds=", ".join(SubjectKind)))
    name = _free_name(user, name)
    if db.session.scalar(db.select(db.func.count(Subject.id)).filter_by(user_id=user.id)) >= MAX_SUBJECTS:
        raise Conflict(Phrase(N_("You have %(count)d people and pets, as many as an account may: delete one to add "
                                 "another."), count=MAX_SUBJECTS))
    subject = Subject(user=user, name=name, kind=kind)
    db.session.add(subject)
    _commit_name(name)
    return subject


def rename_subject(subject: Subject, name: object) -> Subject:
    """The subject under a new name (as a client sent it: checked as create_subject checks it); its history,
    dashboard and alerts stay. The same name in another case ("rex" to "Rex") is a rename too."""
    name = _free_name(subject.user, name, subject)
    subject.name = name
    _commit_name(name)
    return subject


def _free_name(user: User, name: object, renamed: Subject | None = None) -> str:
    """`name` kept as a subject's name: Refused for an empty, too long or unreadable one, Conflict when the user gave
    it to another subject than `renamed` (in any case)."""
    if name is not None and not isinstance(name, str):  # a client's {"name": 5}
        raise Refused(Phrase(N_("A name is text, such as \"Rex\".")))
    name = normal_name(name)
    if not name:
        raise Refused(Phrase(N_("Give a name.")))
    if len(name) > NAME_LENGTH:
        raise Refused(Phrase(N_("Give a name of 1 to %(max)d characters."), max=NAME_LENGTH))
    if not readable(name):
        raise Refused(Phrase(N_("Give a name with letters one can see, and no control characters.")))
    if (taken := subject_named(user, name)) is not None and taken is not renamed:
        raise _name_taken(taken.name)
    return name


def _name_taken(name: str) -> Conflict:
    return Conflict(Phrase(N_("You already have a subject called %(name)s."), name=name))


def _commit_name(name: str) -> None:
    if not committed():  # the same name given by another request meanwhile
        raise _name_taken(name)


# Characters that draw nothing though Unicode files them as letters or symbols (Hangul fillers, the braille blank).
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Bidirectional embeddings, overrides and isolates: in a name they would turn the text shown after it around.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def noncharacter(char: str) -> bool:
    """One of Unicode's 66 noncharacters (U+FDD0..U+FDEF, and U+FFFE and U+FFFF of every plane): never text."""
    point = ord(char)
    return 0xFDD0 <= point <= 0xFDEF or point & 0xFFFE == 0xFFFE


def readable(name: str) -> bool:
    """Whether a name shows on one line: no control, surrogate, private-use, bidirectional-control, line or
    paragraph separator character nor a noncharacter, and at least one letter, digit, punctuation mark or symbol
    that draws something (a zero-width space, a lone accent or a Hangul filler is no name; a joiner inside an emoji
    is fine; an emoji newer than Python's Unicode tables is too, beside a character that draws)."""
    categories = [unicodedata.category(char) for char in name]
    return (not any(category in ("Cc", "Cs", "Co", "Zl", "Zp") for category in categories)
            and not any(noncharacter(char) for char in name)
            and not BIDI_CONTROLS.intersection(name)
            and any(category[0] in "LNPS" and char not in BLANK_LETTERS for char, category in zip(name, categories)))


def subject_named(user: User, name: str) -> Subject | None:
    """The user's subject whose name is one with `name` (subject_name_key: "Rex" and "rex" are one name), or
    None."""
    return db.session.scalar(db.select(Subject).filter_by(user_id=user.id, name_key=subject_name_key(name)))


def delete_subject(subject: Subject) -> None:
    """Delete the subject and its alerts; its appearances stay, assigned to nobody. The appearances are let go first,
    held in id order as every writer holds detections: an assignment holds its detections, then the subject
    (`assign`), so the subject is never held while they are waited for."""
    appearances = Detection.subject_id == subject.id
    db.session.scalars(db.select(Detection.id).where(appearances).order_by(Detection.id).with_for_update()).all()
    db.session.execute(db.update(Detection).where(appearances).values(subject_id=None))
    db.session.delete(subject)
    db.session.commit()


def fits(subject: Subject, detection: Detection) -> bool:
    """Whether the detection can be an appearance of the subject: same owner, and of the subject's kind."""
    return (subject.user_id == detection.analysis.user_id
            and subject.kind.detection_kind == detection.kind)


def assignable_subjects(detection: Detection) -> list[Subject]:
    """The owner's subjects this detection can be assigned to (those of its kind), by name."""
    return [subject for subject in detection.analysis.user.subjects_by_name if fits(subject, detection)]


def assign(detection: Detection, subject_id: int | None) -> Subject | None:
    """Make the detection an appearance of the owner's subject `subject_id`, or of nobody (None); returns the
    subject. Raises Refused for a subject the owner does not have or one of another kind (its kind as it stands, locked
    until the commit: its owner may be setting its species meanwhile)."""
    locked_detection(detection)
    subject = db.session.get(Subject, subject_id, with_for_update={"key_share": True}) \
        if subject_id is not None and 0 < subject_id <= LARGEST_ID else None  # held: not deleted before the commit
    if subject_id is not None and (subject is None or subject.user_id != detection.analysis.user_id):
        raise Refused(Phrase(N_("You have no subject %(id)s."), id=subject_id))
    if subject is not None and not fits(subject, detection):
        wanted = SubjectKind.of_detection(detection.kind)
        raise Refused(Phrase(N_("%(name)s is a %(kind)s: %(face)s can only be assigned to a %(wanted)s."),
                             name=subject.name, kind=subject.kind, face=detection.title, wanted=wanted.value))
    detection.subject = subject
    db.session.commit()
    return subject


def appearance_counts(user: User, subject: Subject | None = None) -> dict[int, int]:
    """How many appearances each of the user's subjects (or only `subject`) has, each file once (services/copies.py;
    a subject without any is absent)."""
    mine = [Analysis.user_id == user.id, ~copies.repeated_appearance()]
    mine.append(Detection.subject_id == subject.id if subject else Detection.subject_id.is_not(None))
    return dict(db.session.execute(
        db.select(Detection.subject_id, db.func.count(Detection.id)).join(Detection.analysis)
        .where(*mine).group_by(Detection.subject_id)
    ).all())


def appearance_count(subject: Subject) -> int:
    """How many appearances the subject has, each file once."""
    return appearance_counts(subject.user, subject).get(subject.id, 0)


def newest_appearances(subject: Subject, limit: int) -> list[Detection]:
    """The subject's `limit` newest appearances, each file once (the first upload of it), with their analyses and
    those analyses' detections loaded (each appearance is titled by its number among them: Detection.number)."""
    return list(db.session.scalars(
        db.select(Detection).join(Detection.analysis)
        .options(contains_eager(Detection.analysis).selectinload(Analysis.detections))
        .where(Detection.subject_id == subject.id, ~copies.repeated_appearance())
        .order_by(Analysis.created_at.desc(), Analysis.id.desc(), Detection.position).limit(limit)
    ))


def labels_read(user: User, subject: Subject | None = None) -> tuple[str, ...]:
    """The emotions a user's readings can carry: the labels of the subject's model, or, for everyone, of the
    models that read the user's detections (a person's chart never lists the dogs' "relaxed"; a cat without a model
    adds no "other"), in that model's own order when only one did (as the dog's result and dashboard list them)."""
    if subject:
        return subject.kind.emotion_classes or ()
    kinds = set(db.session.scalars(db.select(Detection.kind).distinct().join(Detection.analysis)
                                   .where(Analysis.user_id == user.id, Detection.top.is_not(None))))
    if len(kinds) == 1:
        return EMOTION_CLASSES.get(kinds.pop(), ())
    return tuple(label for label in ALL_EMOTIONS if any(label in EMOTION_CLASSES.get(kind, ()) for kind in kinds))
