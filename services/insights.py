"""Subjects' histories and what they show: profiles, patterns, changes, alerts; cached per process until the
subject's appearances change (for the CACHED_SUBJECTS read most recently)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

import numpy as np
from flask import current_app
from sqlalchemy import Row, case, or_
from sqlalchemy.orm import selectinload

from extensions import db
from inference.labels import Certainty, Reading
from insights.alerts import Rule, check_rule, window_readings
from insights.changes import change_point
from insights.clip import told_changes
from insights.history import History
from insights.patterns import patterns, transition_patterns
from insights.profile import profile
from insights.reading import kept_reading, reading_of
from insights.report import ChartWords, Layout, iso_week_monday, report_png, report_week, weekly_report
from messages import N_, Phrase
from models import AlertRule, Analysis, Detection, Media, Subject
from services import copies
from services.clock import in_zone, now_in, today_on, zone_of
from services.access import account_held
from services.errors import Conflict, Refused
from services.recent import Recent

CACHED_SUBJECTS = 128  # subjects whose history and insights a process keeps; the least recently read go first


_histories = Recent(CACHED_SUBJECTS)
_insights = Recent(CACHED_SUBJECTS)
_charts = Recent(CACHED_SUBJECTS)  # per subject and layout: the PNG of the week read last

# What `stored_reading` reads of a detection: a query that selects these can read each row as its page does. Its
# kept reading; a video track's timeline only where none was kept (a row stored before: `flask maintenance readings`).
READING_COLUMNS = (Detection.reading_emotion, Detection.reading_certainty, Detection.reading_mix, Detection.top,
                   Detection.emotions, Detection.uncertain, Detection.uncertainty, Detection.summary,
                   case((Detection.reading_emotion.is_(None), Detection.timeline)).label("timeline"))


def stored_reading(row: Row) -> Reading | None:
    """A row with READING_COLUMNS read as its card words it (a video track: as its story tells it; None without
    an emotion model): what charts, insights, alerts and reports count it as."""
    return kept_reading(row.reading_emotion, row.reading_certainty, row.reading_mix) or reading_of(
        row.top, row.emotions, row.uncertain, row.uncertainty, row.timeline, row.summary)


# What `kept_changes` reads of a video track: its kept number of told changes; its timeline only where none was kept.
CHANGES_COLUMNS = (Detection.reading_changes, Detection.summary, Detection.uncertain, Detection.uncertainty,
                   case((Detection.reading_changes.is_(None), Detection.timeline)).label("timeline"))


def kept_changes(row: Row) -> int:
    """A video track's changes as its story tells them (flickers merged, as its page lists them): kept with its
    reading, else (a row stored before they were kept) told from its timeline."""
    if row.reading_changes is not None:
        return row.reading_changes
    return told_changes(row.timeline, row.summary["share"], row.uncertain, row.uncertainty)


NO_APPEARANCES = (0, 0, None, 0, None)  # what the aggregates of _appearances_keys are over no row


def _appearances_keys(subjects: list[Subject]) -> dict[int, tuple]:
    """Per subject, in one query, a key that changes whenever an appearance is assigned to it or taken away (and
    per database), one is read again ("Analyse again", a pet set to a species by its owner: how many are read, and
    their kept readings' probabilities summed), or the owner's time zone changes; the newest analysis time tells a
    new upload from a deleted one whose row ids SQLite reused."""
    found = {subject_id: tuple(aggregates) for subject_id, *aggregates in db.session.execute(
        db.select(Detection.subject_id, db.func.count(Detection.id), db.func.coalesce(db.func.sum(Detection.id), 0),
                  db.func.max(Analysis.created_at), db.func.count(Detection.reading_emotion),
                  db.func.sum(Detection.reading_confidence)).join(Detection.analysis)
        .where(Detection.subject_id.in_([subject.id for subject in subjects])).group_by(Detection.subject_id))}
    return {subject.id: (current_app.config["SQLALCHEMY_DATABASE_URI"], zone_of(subject.user).key)
            + found.get(subject.id, NO_APPEARANCES) for subject in subjects}


def _classified_appearances(subject: Subject):
    """The subject's detections that the emotion model of its kind read, each file once (an appearance in a later
    upload of the same bytes is left out: services/copies.py)."""
    return db.select().select_from(Detection).join(Detection.analysis).where(
        Detection.subject_id == subject.id, Detection.top.is_not(None),
        Detection.kind == subject.kind.detection_kind, ~copies.repeated_appearance())


def history_of(subject: Subject, key: tuple | None = None) -> History | None:
    """The subject's classified appearances as a History on its owner's clock, each read as its page reads it (a
    video track by its story: `stored_reading`), (None for a kind without an emotion model); cached until its
    appearances change (`key`: its _appearances_keys's, when the caller has it)."""
    classes = subject.kind.emotion_classes
    if classes is None:
        return None
    key = key or _appearances_keys([subject])[subject.id]
    if (cached := _histories.get(subject.id, key)) is not None:
        return cached
    query = _classified_appearances(subject).add_columns(Analysis.created_at, Analysis.id, *READING_COLUMNS)
    zone = zone_of(subject.user)
    rows = [(row, stored_reading(row)) for row in db.session.execute(query)]
    history = History.from_rows(classes, [(in_zone(row.created_at, zone), reading.mix, row.id, reading.unsure)
                                          for row, reading in rows])
    _histories.put(subject.id, key, history)
    return history


def video_clips(subject: Subject, classes: tuple[str, ...]) -> list[tuple[int, float, int, np.ndarray]]:
    """(analysis id, seconds, changes, share of time per emotion) of each video the subject appears in: one
    clip per video, its tracks of the subject together (a dog that leaves the frame and comes back is two tracks
    of one clip), their changes as their stories tell them (`kept_changes`) and their shares weighted by their
    seconds. A track whose reading is unsure is left out, as every other insight leaves unsure readings out (a
    track kept before readings were, until `flask maintenance readings` keeps it, is counted)."""
    query = _classified_appearances(subject).where(
        Analysis.media == Media.VIDEO,
        or_(Detection.reading_certainty.is_(None), Detection.reading_certainty != Certainty.UNSURE),
    ).add_columns(Analysis.id, *CHANGES_COLUMNS)
    tracks: dict[int, list[tuple[float, int, np.ndarray]]] = {}
    for row in db.session.execute(query):
        if row.summary:
            seconds = float(row.summary.get("duration") or 0.0)
            tracks.setdefault(row.id, []).append((
                seconds if math.isfinite(seconds) else 0.0, kept_changes(row),
                np.array([row.summary.get("share", {}).get(label, 0.0) for label in classes])))
    return [(analysis_id, sum(seconds for seconds, _, _ in parts), sum(changes for _, changes, _ in parts),
             np.average([share for *_, share in parts], axis=0,
                        weights=[max(seconds, 1e-6) for seconds, _, _ in parts]))
            for analysis_id, parts in tracks.items()]


NOT_A_WEEK = N_("“%(week)s” is not a week: give an ISO week of the years 1970 to 2999, such as 2026-W47.")


def asked_week(text: str | None) -> date | None:
    """The Monday of the week a request asks for (?week=2026-W47); None when it asks for none (absent or empty);
    raises Refused (a 400) for anything that is not such a week, never falling back to another week unsaid."""
    if not text:
        return None
    monday = iso_week_monday(text)
    if monday is None:
        raise Refused(Phrase(NOT_A_WEEK, week=text[:40]))
    return monday


def report_of(subject: Subject, asked: date | None) -> tuple[History, dict] | None:
    """The subject's history and the report of the week `asked` (its Monday; None: as `report_week` picks), its days
    on the owner's clock; None for a kind without an emotion model (a cat's: nothing to report)."""
    history = history_of(subject)
    if history is None:
        return None
    today = today_on(zone_of(subject.user))
    return history, weekly_report(history, report_week(history, asked, today), today)


def report_chart(subject: Subject, week: dict, words: ChartWords, colours: dict[str, str], layout: Layout) -> bytes:
    """The PNG of the subject's `week` report (`report_png`), kept until anything drawn on it changes: the report
    page fetches it at each view, and matplotlib takes about half a second to draw it."""
    drawn = repr((week, words, sorted(colours.items())))
    if (kept := _charts.get((subject.id, layout), drawn)) is not None:
        return kept
    body = report_png(week, words, colours, layout)
    _charts.put((subject.id, layout), drawn, body)
    return body


def subject_insights(subject: Subject) -> dict:
    """Profile, patterns and changes of a subject's history; cached until its or its siblings' appearances change, or
    a sibling is renamed (the profile compares the subject with each by name)."""
    classes = subject.kind.emotion_classes
    if classes is None:
        return {"subject": subject.id, "available": False,
                "reason": Phrase(N_("There is no emotion model for %(kind)ss yet, so there is nothing to learn from."),
                                  kind=subject.kind)}
    siblings = [other for other in subject.user.subjects
                if other.id != subject.id and other.kind.emotion_classes == classes]
    keys = _appearances_keys([subject, *siblings])
    names = {other.id: other.name for other in siblings}
    if (cached := _insights.get(subject.id, (keys, names))) is not None:
        return cached
    history = history_of(subject, keys[subject.id])
    others = {other.name: history_of(other, keys[other.id]) for other in siblings}
    sure = history.sure()  # patterns and changes, like the profile, speak only from sure readings
    result = {"subject": subject.id, "available": True, "count": len(history), "unsure": history.unsure_count,
              "profile": profile(history, others), "patterns": patterns(sure), "changes": change_point(sure),
              "video_patterns": transition_patterns(video_clips(subject, history.classes), history.classes)}
    _insights.put(subject.id, (keys, names), result)
    return result


def alert_result(rule: AlertRule, history: History) -> dict:
    """The rule's check against now (insights/alerts.py), and "dismissed": it fires, but on no reading its owner had
    not seen when they dismissed its notice (the pages leave the notice out). A reading assigned to the subject since
    counts as new, whenever its photo was uploaded."""
    checked, now = _checked(rule), now_in(zone_of(rule.subject.user))
    result = check_rule(history, checked, now)
    dismissed = result["fired"] and rule.dismissed_readings is not None and not (
        Counter(window_readings(history, checked, now)) - Counter(rule.dismissed_readings))
    return {**result, "dismissed": dismissed}


def _checked(rule: AlertRule) -> Rule:
    """The stored rule as insights/alerts.py checks it."""
    return Rule(rule.emotion, rule.share, rule.days)


def alert_results(subjects: list[Subject]) -> list[tuple[AlertRule, dict]]:
    """Every alert rule of these subjects with its check against now (their rules and their histories' keys read in
    one query each)."""
    db.session.scalars(db.select(Subject).where(Subject.id.in_([subject.id for subject in subjects]))
                       .options(selectinload(Subject.alert_rules)).execution_options(populate_existing=True)).all()
    watched = [subject for subject in subjects if subject.alert_rules]
    keys = _appearances_keys(watched)
    results = []
    for subject in watched:
        history = history_of(subject, keys[subject.id])
        for rule in subject.alert_rules if history is not None else []:
            results.append((rule, alert_result(rule, history)))
    return results


ALERT_PERCENTS = (5, 95)  # the share a rule asks about, in whole percent: the form's field, the API's share x 100
ALERT_DAYS = (1, 90)  # its window
MAX_ALERTS = 20  # rules per subject: every dashboard and insights answer checks each of them


def add_alert(subject: Subject, emotion: object, share: object, days: object) -> AlertRule:
    """A new alert on the subject (a notice when `emotion` is the top one in more than `share` of its appearances
    over `days` days), from values as a form or a client sent them: refused unless the subject's kind has an emotion
    model with `emotion`, `share` is a whole percent within ALERT_PERCENTS (0.4) and `days` a whole number within
    ALERT_DAYS; a Conflict when the subject has this alert already or MAX_ALERTS, checked with the account held (two
    identical requests at once made two rules, and every notice showed twice)."""
    classes = subject.kind.emotion_classes
    if classes is None:
        raise Refused(Phrase(N_("There is no emotion model for cats, so a cat has no alerts.")))
    if emotion not in classes:
        raise Refused(Phrase(N_("The emotion is one of %(emotions)s."), emotions=", ".join(classes)))
    percent = _whole_percent(share)
    if percent is None:
        raise Refused(Phrase(N_("The share is a whole percent from %(low)s to %(high)s, such as 0.4."),
                             low=ALERT_PERCENTS[0] / 100, high=ALERT_PERCENTS[1] / 100))
    if not isinstance(days, int) or isinstance(days, bool) or not ALERT_DAYS[0] <= days <= ALERT_DAYS[1]:
        raise Refused(Phrase(N_("The days are a whole number from %(low)d to %(high)d."), low=ALERT_DAYS[0],
                             high=ALERT_DAYS[1]))
    with account_held(subject.user_id):
        _room_for_alert(subject, emotion, percent / 100, days)
    rule = AlertRule(subject=subject, emotion=emotion, share=percent / 100, days=days)
    db.session.add(rule)
    db.session.commit()
    return rule


def _whole_percent(share: object) -> int | None:
    """`share` (0.4) as a whole percent within ALERT_PERCENTS (40); None for anything else (not a number, NaN,
    infinite, 0.425, 1)."""
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not math.isfinite(share):
        return None
    percent = round(share * 100, 6)
    return int(percent) if percent == int(percent) and ALERT_PERCENTS[0] <= percent <= ALERT_PERCENTS[1] else None


def _room_for_alert(subject: Subject, emotion: str, share: float, days: int) -> None:
    """Raises Conflict for an alert the subject has already or one past MAX_ALERTS."""
    rules = db.session.scalars(db.select(AlertRule).filter_by(subject_id=subject.id)).all()
    if any((rule.emotion, rule.share, rule.days) == (emotion, share, days) for rule in rules):
        raise Conflict(Phrase(N_("%(name)s has this alert already."), name=subject.name))
    if len(rules) >= MAX_ALERTS:
        raise Conflict(Phrase(N_("%(name)s has %(count)d alerts, as many as a person or pet may: remove one to add "
                                 "another."), name=subject.name, count=MAX_ALERTS))


def remove_alert(rule: AlertRule) -> None:
    db.session.delete(rule)
    db.session.commit()


def dismiss_alert(rule: AlertRule) -> bool:
    """Hide the notice of the rule's firing until it fires with a reading added since (the readings it fires on now
    are kept); False, and nothing kept, when it does not fire."""
    history = history_of(rule.subject)
    if history is None or not alert_result(rule, history)["fired"]:
        return False
    rule.dismissed_readings = window_readings(history, _checked(rule), now_in(zone_of(rule.subject.user)))
    db.session.commit()
    return True
