"""Database models and the domain's enums: users, their analyses, the detections in each, subjects (people
and pets), alert rules, "Why?" explanations, and API tokens. Analyses and explanations are also the rows
of the background job queue (JobState, read and written by jobs.py), with the face-signature and re-analysis jobs."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache

from flask_login import UserMixin
from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text,
                        TypeDecorator, UniqueConstraint, event, false, inspect, or_)
from sqlalchemy.orm import Mapped, Mapper, Session, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from inference.formats import FileFormat
from inference.labels import CAT_EMOTIONS, DOG_EMOTIONS, HUMAN_EMOTIONS, Certainty, DetectionKind, Reading
from inference.specs import CAT_HEAD_WEIGHTS
from inference.uncertainty import UnsureSignal, weak_reading_chance
from insights.clip import ClipStory, track_story
from insights.reading import Overall, kept_reading, overall_by_kind, overall_reading, reading_of
from messages import N_, Phrase, name_order


log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Naive UTC now (SQLite keeps no time zone; every stored time is UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


class EnumText(TypeDecorator):
    """A column of one of the domain's StrEnums, kept as the member's value in a VARCHAR (what the tables always
    held: no migration) and read back as the member (`analysis.status.active`, not `JobStatus(analysis.status)`); a
    value set in Python becomes the member too, before it is ever stored (`_enum_columns_take_members`)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int = 16) -> None:
        super().__init__(length)
        self.enum = enum

    def process_result_value(self, value: str | None, dialect: object) -> StrEnum | str | None:
        """The member; a value the enum lacks (a later version's, a hand edit) as the text it is, logged: a whole
        list of rows failed on one such row (the back office's too, where it would be found and fixed)."""
        if value is None:
            return None
        try:
            return self.enum(value)
        except ValueError:
            log.warning("a %s column holds %r, which is none of its values", self.enum.__name__, value)
            return value


def _enum_member(enum: type[StrEnum]) -> Callable[..., StrEnum | None]:
    def member(_target: object, value: str | None, _old: object, _initiator: object) -> StrEnum | None:
        return None if value is None else enum(value)
    return member


@event.listens_for(db.Model, "mapper_configured", propagate=True)
def _enum_columns_take_members(mapper: Mapper, model: type) -> None:
    """Every EnumText column of every model turns a value set in Python into its enum's member at once (a value the
    enum lacks raises ValueError): one rule for all of them, where each model had validators of its own."""
    for attribute in mapper.column_attrs:
        column_type = attribute.columns[0].type
        if isinstance(column_type, EnumText):
            event.listen(getattr(model, attribute.key), "set", _enum_member(column_type.enum), retval=True)


class Media(StrEnum):
    """What an upload is."""

    IMAGE = "image"
    VIDEO = "video"


class JobStatus(StrEnum):
    """A background job's state: queued -> running -> done or failed (a photo analysis is born done)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        """Queued or running: the work is not over."""
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)  # a job whose work is not over (`JobStatus.active`)


class OnDemandStatus(StrEnum):
    """How a job done on request ("Why?", the signing of an analysis's faces) stands for the API and pages: its
    JobStatus, or NONE while none is asked for (or its result went)."""

    NONE = "none"
    QUEUED = JobStatus.QUEUED.value
    RUNNING = JobStatus.RUNNING.value
    DONE = JobStatus.DONE.value
    FAILED = JobStatus.FAILED.value

    @property
    def active(self) -> bool:
        """Asked for and not over (queued or running)."""
        return self in ACTIVE_STATUSES


class SubjectKind(StrEnum):
    """Whom a user follows: a person, a dog or a cat."""

    PERSON = "person"
    DOG = "dog"
    CAT = "cat"

    @property
    def detection_kind(self) -> DetectionKind:
        """The detections that can be this subject's appearances (the one mapping between the two kinds)."""
        return SUBJECT_DETECTION_KINDS[self]

    @classmethod
    def of_detection(cls, kind: DetectionKind) -> SubjectKind:
        """The kind of subject a detection of `kind` can be an appearance of."""
        return next(subject_kind for subject_kind in cls if subject_kind.detection_kind == kind)

    @property
    def emotion_classes(self) -> tuple[str, ...] | None:
        """The labels of this kind's emotion model; None while there is none (cats)."""
        return EMOTION_CLASSES.get(self.detection_kind)


SUBJECT_DETECTION_KINDS = {SubjectKind.PERSON: DetectionKind.HUMAN, SubjectKind.DOG: DetectionKind.DOG,
                           SubjectKind.CAT: DetectionKind.CAT}
# Each kind's emotion labels, where its model ships: the cat model's once its weights are there, as the pipeline loads
# it (inference.pipeline.shipped_classifiers; none ships yet, inference/weights/README.md)
EMOTION_CLASSES = {DetectionKind.HUMAN: HUMAN_EMOTIONS, DetectionKind.DOG: DOG_EMOTIONS,
                   **({DetectionKind.CAT: CAT_EMOTIONS} if CAT_HEAD_WEIGHTS.is_file() else {})}


# The __table_args__ of the tables whose ids are in addresses, exports and logs: SQLite never gives an id twice
# (without AUTOINCREMENT it gives the newest deleted row's id to the next one); PostgreSQL never does anyway.
IDS_NEVER_REUSED = {"sqlite_autoincrement": True}


class JobState:
    """The columns of a background job's row (jobs.py claims, beats, finishes and fails it through them)."""

    status: Mapped[JobStatus] = mapped_column(EnumText(JobStatus), default=JobStatus.QUEUED, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    worker: Mapped[str | None] = mapped_column(String(64))  # host:pid:token of the process that ran the job last
    handed_back: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # by processes told to stop

    @property
    def started_again(self) -> bool:
        """Whether a run of the job was interrupted (its worker stopped) and it was queued again, to start from the
        beginning: queued after a run, or running a second time."""
        return self.attempts > (1 if self.status == JobStatus.RUNNING else 0)


class JobRow(JobState):
    """A job with a row of its own (every kind but a video's analysis, whose row is the analysis's): its id and when
    it was asked for, besides JobState's columns."""

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


USERNAME_CHARACTERS = re.compile(r"[A-Za-z0-9_.\-\uac00-\ud7a3]+\Z")  # Latin letters, Hangul syllables, digits, . - _
USERNAME_LENGTH = range(2, 33)  # "지우", "Jo"
PASSWORD_LENGTH = range(8, 129)  # characters of a password, whoever sets it (the sign-up page, the CLI)


UNSEEN = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"))  # zero-width spaces, word joiner, soft hyphen


def normal_text(text: str) -> str:
    """A name as it is kept, compared and measured: without the invisible characters that mean nothing in a name (a
    zero-width space after "Ana" made a second "Ana"; joiners, which hold emoji and Persian words together, stay),
    trimmed, and in Unicode's composed form (NFC)."""
    return unicodedata.normalize("NFC", text.translate(UNSEEN).strip())


def normalize_username(name: str) -> str:
    """Usernames are compared and stored `normal_text` and lower-case: "Alice" and "alice" are one account, and so
    are "김민수" typed and pasted as loose jamo, and "alice" with a zero-width space in it (the log-in form's filter
    drops it, and the per-account log-in limits, which read the name as sent, counted it as another account)."""
    return normal_text(name).lower()


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


PASSWORD_HASH_METHOD = "scrypt"  # werkzeug's default (the tests, which hash thousands, swap in a cheap one)


@cache
def _dummy_password_hash() -> str:
    """A hash made like the real ones, checked for unknown usernames so they take as long as known ones."""
    return generate_password_hash(secrets.token_hex(16), method=PASSWORD_HASH_METHOD)


class User(UserMixin, db.Model):
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True, index=True)  # always normalize_username()'d
    # the name before an administrator's last rename (users cannot rename themselves): a log-in with it and the
    # right password is told the new one, while no account has taken it
    previous_username: Mapped[str | None] = mapped_column(String(32), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    # What the session and remember-me cookies carry (get_id): a new one revokes every session of the user.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, index=True, default=new_session_token)
    is_admin: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    weekly_report: Mapped[bool] = mapped_column(default=False, server_default=false())  # opted in on the dashboard
    # Opted in on the settings page: faces get signatures (services/identity.py); off deletes them all.
    recognize_faces: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The interface language chosen in the header (web/i18n.py); None: the browser's.
    locale: Mapped[str | None] = mapped_column(String(8))
    # the IANA time zone the browser reported at the last log-in ("Asia/Seoul"): days and times are counted and
    # shown on that clock; NULL: UTC (services/clock.py)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # the user saved `time_zone` from the account page's list: a log-in from a browser in another zone keeps it (and
    # the page offers the browser's) instead of switching to the browser's
    time_zone_kept: Mapped[bool] = mapped_column(default=False, server_default=false())

    analyses: Mapped[list[Analysis]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                    passive_deletes=True)
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                  passive_deletes=True)
    subjects: Mapped[list[Subject]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                   passive_deletes=True, order_by="Subject.name")

    @property
    def subjects_by_name(self) -> list[Subject]:
        """The user's people and pets as lists show them: by `name_order`, the same on every database (SQLite put
        "BOB" before "bella" and "Émile" after "zoë"; PostgreSQL orders by its own collation)."""
        return sorted(self.subjects, key=lambda subject: name_order(subject.name))

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return self.session_token

    @validates("username")
    def _normalize_username(self, _key: str, name: str) -> str:
        """The name lower-cased; a rename keeps the name it replaces (previous_username)."""
        name = normalize_username(name)
        if self.username is not None and name != self.username:
            self.previous_username = self.username
        return name

    @validates("active")
    def _revoke_sessions_when_deactivated(self, _key: str, active: bool) -> bool:
        if not active:
            self.revoke_sessions()
            self.revoke_tokens()
        return active

    def revoke_sessions(self) -> None:
        """Log the user out everywhere: every session and remember-me cookie carries the old token."""
        self.session_token = new_session_token()

    def revoke_tokens(self) -> None:
        """End every API bearer token of the user (a password change, a deactivation): the tokens of a password
        that leaked go with it. Logging out leaves them: a script's token is not a browser's session."""
        for token in self.tokens:
            token.revoked = True

    def set_password(self, password: str) -> None:
        """Set a new password; every existing session and API token of the user ends."""
        self.password_hash = generate_password_hash(password, method=PASSWORD_HASH_METHOD)
        self.revoke_sessions()
        self.revoke_tokens()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @classmethod
    def named(cls, username: str) -> User | None:
        return db.session.scalar(db.select(cls).filter_by(username=normalize_username(username)))

    @classmethod
    def by_session_token(cls, token: str) -> User | None:
        return db.session.scalar(db.select(cls).filter_by(session_token=token))

    @classmethod
    def authenticate(cls, username: str, password: str) -> User | None:
        """The user with this name and password (active or not), else None."""
        user = cls.with_password(username, password)
        return user if user is not None and user.username == normalize_username(username) else None

    @classmethod
    def known_as(cls, username: str) -> User | None:
        """The user (active or not) named `username` now or, when no account has that name, before an administrator
        renamed them (the newest such account); else None. One query whichever it finds; none for a name no account
        can have (too long for the column, or with a NUL character, which PostgreSQL refuses in a query: a 500)."""
        name = normalize_username(username)
        if len(name) > cls.username.type.length or "\x00" in name:
            return None
        return db.session.scalar(
            db.select(cls).where(or_(cls.username == name, cls.previous_username == name))
            .order_by((cls.username == name).desc(), cls.id.desc()).limit(1))

    @classmethod
    def with_password(cls, username: str, password: str) -> User | None:
        """The user known_as `username` (active or not) when this is their password, else None. One password hash
        check in every case (an unknown name costs one too), so the time taken does not tell which names exist
        or existed."""
        user = cls.known_as(username)
        if user is None:
            check_password_hash(_dummy_password_hash(), password)
            return None
        return user if user.check_password(password) else None

    def __str__(self) -> str:
        return self.username


class Analysis(JobState, db.Model):
    """One uploaded file and what the pipeline found in it; a video's analysis is a background job."""

    # services/copies.py: a subject's appearance counted once, and a later copy (which compares the status too)
    __table_args__ = (Index("ix_analysis_user_id_content_hash", "user_id", "content_hash"),
                      Index("ix_analysis_user_id_content_hash_status", "user_id", "content_hash", "status"),
                      Index("ix_analysis_user_id_status", "user_id", "status"),  # the fair job order (jobs.py)
                      Index("ix_analysis_user_id_heartbeat_at", "user_id", "heartbeat_at"),
                      Index("ix_analysis_user_id_created_at", "user_id", "created_at"),  # the history, newest first
                      IDS_NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    media: Mapped[Media] = mapped_column(EnumText(Media), default=Media.IMAGE)
    status: Mapped[JobStatus] = mapped_column(EnumText(JobStatus), default=JobStatus.DONE, index=True)
    duration: Mapped[float | None] = mapped_column(Float)
    # a video cut short (its frames end well before the duration its header gives): that duration, while `duration`
    # is how far its frames go; NULL otherwise
    stated_duration: Mapped[float | None] = mapped_column(Float)
    fps_sampled: Mapped[float | None] = mapped_column(Float)
    poster_time: Mapped[float | None] = mapped_column(Float)
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    thumb_name: Mapped[str | None] = mapped_column(String(64))
    format: Mapped[FileFormat] = mapped_column(EnumText(FileFormat))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    # what it shows found: faces, dogs and cats alike (the column keeps its first name, from when only faces were found)
    shown_count: Mapped[int] = mapped_column("face_count", Integer, default=0)
    top_emotion: Mapped[str | None] = mapped_column(String(16), index=True)
    detector: Mapped[str | None] = mapped_column(String(512))
    classifier: Mapped[str | None] = mapped_column(String(512))  # every emotion model the pipeline had, in one line
    # their trained weights' fingerprints by kind ("human:3f2a… + dog:9b1c…"): a model trained again may keep its
    # name; NULL for analyses made before fingerprints were kept (services/reanalysis.py compares names alone)
    weights: Mapped[str | None] = mapped_column(String(256))
    # the emotion model that read each kind of detection, by kind ({"human": name, "dog": name}; a kind without one
    # is left out): what each reading names as its model (classifier_of)
    classifiers: Mapped[dict | None] = mapped_column(JSON)
    # The SHA-256 (hex) of the uploaded bytes: the owner's second upload of the same file is answered with this
    # analysis, and insights count the file once (services/copies.py). NULL where the migration found no stored file.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # a photo with more faces and animals than are read (inference.pipeline.MOST_READ_PER_PHOTO, the largest): how
    # many were found; NULL otherwise
    found_count: Mapped[int | None] = mapped_column(Integer)
    # True: its files are kept without metadata (location, camera, times) and private (0600), as since 2026-12-07;
    # NULL: stored by an earlier version, until `flask maintenance metadata` (run by scripts/setup.sh) has seen to it
    metadata_left_out: Mapped[bool | None] = mapped_column(Boolean, default=True)

    user: Mapped[User] = relationship(back_populates="analyses")
    detections: Mapped[list[Detection]] = relationship(
        back_populates="analysis", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Detection.position",
    )

    def number_of(self, detection: Detection) -> int:
        """One of its detections' number within its kind (`kind_numbers`)."""
        return kind_numbers((other.kind, other.position) for other in self.detections)[detection.position]

    def classifier_of(self, detection: Detection) -> str | None:
        """The name of the emotion model that made one of its detections' reading (a face's: the face model, a dog's:
        the dog model); None without a reading (cats)."""
        return None if detection.top is None else (self.classifiers or {}).get(detection.kind)

    @property
    def overall(self) -> Overall | None:
        """What its faces (or animals) show together, as their cards read them: its badge in the history, and its
        `top_emotion` (None when "mixed"); None when nothing found has an emotion model (insights/reading.py)."""
        return self.overall_of(None)

    def overall_of(self, subject: Subject | None) -> Overall | None:
        """What the detections assigned to `subject` show together (its badge in a history narrowed to it); all of
        them for None."""
        return overall_reading([(detection.kind, detection.reading) for detection in self.detections
                                if subject is None or detection.subject_id == subject.id])

    def overall_by_kind(self) -> dict[str, Overall]:
        """What its faces, its dogs (each kind with an emotion model) show together: its badges in the history when
        it holds people and pets."""
        return overall_by_kind([(detection.kind, detection.reading) for detection in self.detections])

    def __str__(self) -> str:
        return f"#{self.id} {self.original_name}"


def kind_numbers(found: Iterable[tuple[str, int]]) -> dict[int, int]:
    """Each detection's number within its kind, by position, from the (kind, position) of every detection of one
    analysis: faces and animals are numbered apart, so the only cat beside three faces is "Cat 1" (position 4).
    Computed, not stored: `position` stays a detection's address (in URLs, anchors and file names), older analyses
    included. Callers that stream many detections pass the pairs, not the detections: reading `analysis.detections`
    from a detection ties the two in a reference cycle that keeps a video's timeline in memory."""
    counts: Counter[str] = Counter()
    numbers = {}
    for kind, position in sorted(found, key=lambda pair: pair[1]):
        counts[kind] += 1
        numbers[position] = counts[kind]
    return numbers


KIND_TITLES = {DetectionKind.HUMAN: N_("Face %(number)d"), DetectionKind.DOG: N_("Dog %(number)d"),
               DetectionKind.CAT: N_("Cat %(number)d")}


class Detection(db.Model):
    """One face (or animal) found in a photo, or one tracked subject of a video, with its emotions."""

    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analysis.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[DetectionKind] = mapped_column(EnumText(DetectionKind), default=DetectionKind.HUMAN)
    x1: Mapped[int] = mapped_column(Integer)
    y1: Mapped[int] = mapped_column(Integer)
    x2: Mapped[int] = mapped_column(Integer)
    y2: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    emotions: Mapped[dict] = mapped_column(JSON)
    top: Mapped[str | None] = mapped_column(String(16), index=True)  # None: no emotion model for this kind (cats)
    # Faces: the estimated chance the top emotion is wrong and whether the pages say "unsure" (inference/uncertainty.py;
    # a video track: its frames' mean score, unsure when most frames are); None before the rule, and for pets.
    uncertainty: Mapped[float | None] = mapped_column(Float)
    uncertain: Mapped[bool | None] = mapped_column(Boolean)
    # Faces: what made the reading unsure (inference.uncertainty.UnsureSignal values; [] when sure; a track: what
    # made most of its unsure frames unsure); None before the signals were stored, and for pets.
    unsure_signals: Mapped[list | None] = mapped_column(JSON)
    # A photo's face: the five points it was aligned by (inference.pipeline.DetectionResult.landmarks), so "Why?"
    # explains the very crop that was read; None for pets, video tracks and faces stored before they were kept (found
    # again near the box).
    landmarks: Mapped[list | None] = mapped_column(JSON(none_as_null=True))
    # Videos: one row per track; box is the track's box on the poster frame (or its first box).
    track_id: Mapped[int | None] = mapped_column(Integer)
    timeline: Mapped[list | None] = mapped_column(JSON, deferred=True)
    summary: Mapped[dict | None] = mapped_column(JSON)
    transitions: Mapped[list | None] = mapped_column(JSON)
    # Its reading as its card words it, kept when the analysis is stored (`keep_reading`), so pages that count many
    # never read a video track's timeline: its emotion, Certainty and mix (insights.reading). NULL without an emotion
    # model, and for rows stored before it was kept until `flask maintenance readings` fills them (read from the
    # timeline meanwhile).
    reading_emotion: Mapped[str | None] = mapped_column(String(16))
    reading_certainty: Mapped[Certainty | None] = mapped_column(EnumText(Certainty))
    reading_mix: Mapped[dict | None] = mapped_column(JSON)
    # The probability its certainty words (Reading.confidence: a video track's story's), kept with it so that a dog
    # track's chance of a wrong reading never reads the timeline; NULL as the reading is, and for rows kept before it
    # was (`flask maintenance readings` keeps them again).
    reading_confidence: Mapped[float | None] = mapped_column(Float)
    # How many changes a video track's story tells (flickers merged, as its page lists them; 0 for a photo's), kept
    # with its reading for the video patterns (services.insights.video_clips); NULL as the reading is, and for rows
    # whose reading was kept before it was (`flask maintenance readings` fills them).
    reading_changes: Mapped[int | None] = mapped_column(Integer)
    # A pet whose species its owner set by hand (services/species.py): the kind the models read it as (`kind` is the
    # owner's), and their reading of it (services/species.MODELS_READING_COLUMNS), given back if the owner takes the
    # word back; NULL when nobody corrected it.
    kind_read: Mapped[DetectionKind | None] = mapped_column(EnumText(DetectionKind))
    models_reading: Mapped[dict | None] = mapped_column(JSON, deferred=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id", ondelete="SET NULL"), index=True)

    analysis: Mapped[Analysis] = relationship(back_populates="detections")
    subject: Mapped[Subject | None] = relationship(back_populates="detections")
    explanation: Mapped[Explanation | None] = relationship(back_populates="detection", cascade="all, delete-orphan",
                                                           passive_deletes=True)
    signature: Mapped[FaceSignature | None] = relationship(back_populates="detection", cascade="all, delete-orphan",
                                                           passive_deletes=True)
    track_reading: Mapped[TrackReading | None] = relationship(back_populates="detection",
                                                              cascade="all, delete-orphan", passive_deletes=True)

    @property
    def box(self) -> list[int]:
        return [self.x1, self.y1, self.x2, self.y2]

    @property
    def number(self) -> int:
        """Its number among its analysis's detections of its kind, as pages, exports and the API show it
        (`kind_numbers`)."""
        return self.analysis.number_of(self)

    @property
    def classifier(self) -> str | None:
        """The name of the emotion model that made this reading (Analysis.classifier_of)."""
        return self.analysis.classifier_of(self)

    @property
    def title(self) -> Phrase:
        """"Face 1", "Dog 2", "Cat 3", numbered within its kind (a Phrase: pages translate it)."""
        return Phrase(KIND_TITLES[self.kind], number=self.number)

    @property
    def tag(self) -> str:
        """The label on its box: a face's number ("2"), an animal's title ("Cat 1"; a Phrase: pages translate it).
        Faces and animals are numbered apart, so a bare "1" could be either; faces, often many and small, keep the
        short tag."""
        return str(self.number) if self.kind == DetectionKind.HUMAN else self.title

    @property
    def story(self) -> ClipStory | None:
        """A video track's story, as its page tells it (None for a photo's detection, or without an emotion model)."""
        if self.summary is None or self.top is None:
            return None
        return track_story(self.timeline, self.summary["share"], self.uncertain, self.uncertainty)

    @property
    def reading(self) -> Reading | None:
        """Its reading as its card words it (a video track's: as its story tells it); None without an emotion
        model. What dashboards, insights, alerts and exports count it as: the kept one, else (a row stored before
        readings were kept) read from its timeline."""
        kept = kept_reading(self.reading_emotion, self.reading_certainty, self.reading_mix, self.reading_confidence)
        return self._read_now() if kept is None else kept

    def _read_now(self) -> Reading | None:
        """Its reading from its probabilities (a video track's from its timeline)."""
        timeline = None if self.summary is None else self.timeline  # a photo's detection: none to load
        return reading_of(self.top, self.emotions, self.uncertain, self.uncertainty, timeline, self.summary)

    def keep_reading(self) -> None:
        """Keep its reading as read now (from its timeline, for a video track), for the pages that count it, with
        the number of changes its story tells (0 for a photo's detection, or a track without frames)."""
        reading = self._read_now()
        self.reading_emotion = reading and reading.emotion
        self.reading_certainty = reading and reading.certainty
        self.reading_mix = reading and reading.mix
        self.reading_confidence = reading and reading.confidence
        story = self.story  # a video track's; None for a photo's detection (a still: no changes)
        self.reading_changes = None if reading is None else len(story.changes) if story is not None else 0

    @property
    def certainty(self) -> Certainty | None:
        """How pages word its reading: "unsure", "probably" or "sure" (None without an emotion model); always
        "unsure" for a reading the uncertainty rule flagged."""
        reading = self.reading
        return None if reading is None else reading.certainty

    @property
    def unsure(self) -> bool:
        """The top emotion is below the wording threshold, or the reading was flagged unsure: pages say "unsure"
        rather than over-claim."""
        return self.certainty == Certainty.UNSURE

    @property
    def chance_wrong(self) -> float | None:
        """The estimated chance its reading is wrong, as the pages give it: a face's uncertainty score (None
        before the rule; a video track's: the mean of its frames'); for a pet, 1 - the calibrated probability of what
        its card says where its model's calibration supports that (dogs; a video track: the mean probability of the
        emotions its story tells, `ClipStory.confidence`); None without such a figure or a model."""
        if self.top is None:
            return None
        if self.kind == DetectionKind.HUMAN:
            return self.uncertainty
        confidence = self.reading.confidence
        if confidence is None:  # a reading kept before its confidence was
            confidence = self._read_now().confidence
        return weak_reading_chance(self.kind, confidence)

    @property
    def why_unsure(self) -> list[str]:
        """What makes a reading the pages call unsure unsure: the rule's signals for a face it flagged (as stored;
        [] for one stored before its signals were), else a weak top probability (pets have no rule)."""
        if self.uncertain:
            return list(self.unsure_signals or [])
        return [UnsureSignal.WEAK]

    def __str__(self) -> str:
        return f"{self.title.lower()} of analysis #{self.analysis_id}: {self.top or 'no emotion model'}"


def subject_name_key(name: str) -> str:
    """What two subject names must share to be one: the SHA-256 (hex) of the name compatibility-normalised,
    invisible format characters left out ("Rex" and "Rex" with a zero-width space) and case-folded ("rex").
    A digest, so its length is fixed: NFKC can turn one character into eighteen."""
    normalised = unicodedata.normalize("NFKC", name)
    folded = "".join(char for char in normalised if unicodedata.category(char) != "Cf").casefold()
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


# What a detection's reading is read from: when one of them changes on a stored row, its kept reading follows
READ_FROM = ("top", "emotions", "uncertain", "uncertainty", "timeline", "summary")


@event.listens_for(Session, "before_flush")
def _readings_follow_their_sources(session: Session, _context: object, _instances: object) -> None:
    """A stored detection whose reading changed (a test's or a script's edit: the app writes readings only with
    their analysis, and keeps them then) keeps its new reading, so no page counts a stale one."""
    for row in session.dirty:
        if isinstance(row, Detection) and any(inspect(row).attrs[name].history.has_changes() for name in READ_FROM):
            row.keep_reading()


class Subject(db.Model):
    """A person or a pet whose emotion history a user follows."""

    __table_args__ = (UniqueConstraint("user_id", "name"),
                      Index("ix_subject_user_id_name_key", "user_id", "name_key", unique=True), IDS_NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    # subject_name_key(name), set with the name: the database keeps "Rex" and "rex" from being two subjects even
    # when two requests create them at once (the migration fills it for older rows)
    name_key: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[SubjectKind] = mapped_column(EnumText(SubjectKind), default=SubjectKind.PERSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="subjects")
    # the database unassigns the appearances (SET NULL) and deletes the alerts (CASCADE): the ORM loading them to
    # do it itself failed when another request deleted one of those rows first (an analysis deleted at that moment)
    detections: Mapped[list[Detection]] = relationship(back_populates="subject", passive_deletes=True)
    alert_rules: Mapped[list[AlertRule]] = relationship(back_populates="subject", cascade="all, delete-orphan",
                                                        passive_deletes=True)

    @validates("name")
    def _key_name(self, _key: str, name: str) -> str:
        self.name_key = subject_name_key(name)
        return name

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Explanation(JobRow, db.Model):
    """A "Why?" request for one detection's top emotion: a job of the durable queue, computed by a worker;
    its overlays are PNG files (services/storage.py names them), its progress is this row."""

    detection_id: Mapped[int] = mapped_column(ForeignKey("detection.id", ondelete="CASCADE"), unique=True)
    # who asked last (the owner, or an administrator moderating): their requests under way are capped, not the
    # owner's; none on rows made before it was kept, counted as the owner's
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    # where each method's map is brightest ({"occlusion": ["eyes", "mouth"], ...}: inference.map_regions.MapRegion
    # values), what its image's text says; None before it was kept
    brightest: Mapped[dict | None] = mapped_column(JSON)

    detection: Mapped[Detection] = relationship(back_populates="explanation")


class SignatureJob(JobRow, db.Model):
    """A job of the durable queue: sign the faces of one analysis (only for users who turned it on)."""

    analysis_id: Mapped[int] = mapped_column(ForeignKey("analysis.id", ondelete="CASCADE"), unique=True)

    analysis: Mapped[Analysis] = relationship()


class Reanalysis(JobRow, db.Model):
    """A job of the durable queue: analyse an analysis's stored file again with the models loaded now ("Analyse
    again" after a model update). Its analysis keeps its result until the job replaces it; a failure is this row's,
    never the analysis's."""

    analysis_id: Mapped[int] = mapped_column(ForeignKey("analysis.id", ondelete="CASCADE"), unique=True)

    analysis: Mapped[Analysis] = relationship()


class TrackReading(JobRow, db.Model):
    """A job of the durable queue: read a video track again, frame by frame, as the species its owner set
    (services/track_readings.py); gone when the owner sets it back."""

    detection_id: Mapped[int] = mapped_column(ForeignKey("detection.id", ondelete="CASCADE"), unique=True)

    detection: Mapped[Detection] = relationship(back_populates="track_reading")


class FaceSignature(db.Model):
    """A face's numeric signature (128 float32s, inference/identity.py): private to its owner, never shown, gone
    with its detection (and analysis) and when the owner turns recognition off. `dismissed_subject_id` is the
    person the owner said this face is not ("no" to a suggestion)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    detection_id: Mapped[int] = mapped_column(ForeignKey("detection.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    dismissed_subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id", ondelete="SET NULL"))

    detection: Mapped[Detection] = relationship(back_populates="signature")


class AlertRule(db.Model):
    """An owner's gentle alert: `emotion` as the top one in more than `share` of a subject's appearances
    over the last `days` days. `dismissed_readings` are the readings (their analyses' ids) of the firing whose
    notice the owner dismissed: the notice stays hidden until the rule fires with a reading not among them."""

    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id", ondelete="CASCADE"), index=True)
    emotion: Mapped[str] = mapped_column(String(16))
    share: Mapped[float] = mapped_column(Float)
    days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    dismissed_readings: Mapped[list | None] = mapped_column(JSON)

    subject: Mapped[Subject] = relationship(back_populates="alert_rules")

    def __str__(self) -> str:
        return f"{self.emotion} above {self.share:.0%} over {self.days} days ({self.subject.name})"


REMOVAL_REASON_LENGTH = 500


class RemovedUpload(db.Model):
    """An upload an administrator deleted from a user's account (services/moderation.py): its file name, when it
    was uploaded, its old id and the reason the administrator gave (if any), not who removed it. The user is told
    once, on their next page (`told`); the row stays with the account, so that the upload's old address says what
    became of it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime)
    removed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    analysis_id: Mapped[int | None] = mapped_column(Integer)  # None: removed before the ids were kept
    told: Mapped[bool] = mapped_column(default=False, server_default=false())
    reason: Mapped[str | None] = mapped_column(String(REMOVAL_REASON_LENGTH))  # for the owner; None: none given


USE_NOTED_EVERY = timedelta(minutes=1)  # how stale a token's last_used_at may be: one write a minute at most


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str | None] = mapped_column(String(40))  # what its owner called it ("laptop script"); optional
    # when it last let a request in, kept to the minute (USE_NOTED_EVERY): not a write per request
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, lifetime: timedelta, name: str | None = None) -> tuple[ApiToken, str]:
        """A new token row (not yet added to the session) and the plain token, shown once."""
        plain = secrets.token_urlsafe(32)
        return cls(user=user, token_hash=cls.hash(plain), expires_at=utcnow() + lifetime, name=name), plain

    @property
    def live(self) -> bool:
        """Neither revoked nor expired."""
        return not self.revoked and self.expires_at > utcnow()

    def note_use(self) -> bool:
        """Keep when the token was used, unless that was kept less than USE_NOTED_EVERY ago; whether it changed."""
        now = utcnow()
        if self.last_used_at is not None and now - self.last_used_at < USE_NOTED_EVERY:
            return False
        self.last_used_at = now
        return True

    @classmethod
    def find(cls, plain: str) -> ApiToken | None:
        """The token row of a plain token, whether it still works or not."""
        return db.session.scalar(db.select(cls).filter_by(token_hash=cls.hash(plain)))

    @property
    def valid(self) -> bool:
        """Live, and its user's account is active."""
        return self.live and self.user.active


class RateLimitCounter(db.Model):
    """Flask-Limiter's fixed-window counter in the database (web/limiter_storage.py): `count` hits of the limit
    `key_hash` until `expires_at` (Unix time)."""

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256: keys hold what clients sent
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
