"""A user's own account: what it holds, all of it exported (JSON or CSV, written a page of analyses at a time so
that a long history never sits in memory at once), and its deletion with every row and file it owns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import selectinload

from extensions import db
from messages import N_, Phrase
from models import Analysis, Detection, Subject, User, utcnow
from services import identity
from services.analyses import delete_analysis
from services.clock import zone_of
from services.documents import (alert_rule_document, analysis_document, iso_utc, reading_document, readings_csv,
                                subject_document)
from services.errors import Refused
from services.subjects import appearance_counts

PAGE = 50  # analyses read (or deleted) at a time: their detections and video timelines are held only that long
LAST_ADMIN = N_("You are the only active administrator: make another user an administrator before you delete "
                "your account.")


@dataclass(frozen=True)
class Holdings:
    """What an account holds, as its page counts it."""

    analyses: int
    subjects: int


def holdings(user: User) -> Holdings:
    def count(model: type[Analysis] | type[Subject]) -> int:
        return db.session.scalar(db.select(db.func.count(model.id)).where(model.user_id == user.id))

    return Holdings(analyses=count(Analysis), subjects=count(Subject))


def analysis_pages(user: User) -> Iterator[list[Analysis]]:
    """The user's analyses, oldest first, PAGE at a time with their detections and subjects; a page leaves the
    session when the next one is asked for (its detections with it), so memory holds one page at a time."""
    last_id = 0
    while page := db.session.scalars(
        db.select(Analysis).where(Analysis.user_id == user.id, Analysis.id > last_id).order_by(Analysis.id)
        .limit(PAGE).options(selectinload(Analysis.detections).joinedload(Detection.subject))
    ).all():
        yield page
        last_id = page[-1].id
        for analysis in page:
            db.session.expunge(analysis)


def user_document(user: User) -> dict:
    return {"username": user.username, "created_at": iso_utc(user.created_at) if user.created_at else None,
            "time_zone": zone_of(user).key, "language": user.locale, "weekly_report": user.weekly_report,
            "recognize_faces": user.recognize_faces}


def subjects_document(user: User) -> list[dict]:
    """The user's subjects as the API shapes them, each with its alert rules."""
    counts = appearance_counts(user)
    return [{**subject_document(subject, counts.get(subject.id, 0)),
             "alert_rules": [{**alert_rule_document(rule), "created_at": iso_utc(rule.created_at)}
                             for rule in subject.alert_rules]}
            for subject in user.subjects]


def export_json(user_id: int) -> Iterator[str]:
    """The whole account as one JSON object, in pieces: the user, their subjects with their alert rules, then
    every analysis as the API shapes it (`analysis_document`, one a line; a detection's `subject` is an id of
    `subjects`; no look-alike suggestions: they are worked out, not stored). The exports take the user's id: they
    run while the response is sent, after the request's session has ended."""
    user = db.session.get(User, user_id)
    head = {"exported_at": iso_utc(utcnow()), "user": user_document(user), "subjects": subjects_document(user)}
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "analyses": ['  # the head's closing brace comes last
    separator = "\n"
    for page in analysis_pages(user):
        for analysis in page:
            yield separator + json.dumps(analysis_document(analysis), ensure_ascii=False)
            separator = ",\n"
    yield "\n]}\n"


def export_csv(user_id: int) -> Iterator[str]:
    """Every reading of the account (a face or animal of a photo, a track of a video) as the subject exports write
    them, with a last column `subject`: the name of the subject it is assigned to (empty when none)."""
    user = db.session.get(User, user_id)
    zone = zone_of(user)
    readings = ({**reading_document(detection, zone), "subject": detection.subject.name if detection.subject else None}
                for page in analysis_pages(user) for analysis in page for detection in analysis.detections)
    return readings_csv(readings, extra=("subject",))


def is_last_admin(user: User) -> bool:
    """Whether the user is an administrator and no other active one exists (the back office would have none)."""
    others = db.select(db.func.count(User.id)).where(User.is_admin, User.active, User.id != user.id)
    return user.is_admin and db.session.scalar(others) == 0


def delete_account(user: User) -> None:
    """Delete the user and everything they own: every analysis through `delete_analysis` (its files, poster and
    "Why?" images go too), face signatures, subjects with their alert rules, API tokens, then the user. Refused
    for the last active administrator."""
    if is_last_admin(user):
        raise Refused(Phrase(LAST_ADMIN))
    identity.forget_signatures(user)
    db.session.commit()
    while ids := db.session.scalars(db.select(Analysis.id).where(Analysis.user_id == user.id).limit(PAGE)).all():
        for analysis_id in ids:
            if (analysis := db.session.get(Analysis, analysis_id)) is not None:
                delete_analysis(analysis)
    db.session.delete(user)  # its subjects (their alert rules) and tokens go with it (models.User's cascades)
    db.session.commit()
