"""The JSON shapes of the API and `flask analyze --json`: an analysis (photos list their detections, videos their
tracks with timelines, each with the subject it is assigned to; a stored analysis links its files; one that was
not stored, the CLI's, has no id, no date and no files), a subject and its alert rules; the exports' readings (one
a detection) as JSON rows and as CSV lines."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import TypeVar
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import url_for
from sqlalchemy import tuple_
from sqlalchemy.orm import contains_eager

import jobs
from extensions import db
from inference.labels import ALL_EMOTIONS
from models import AlertRule, Analysis, ApiToken, Detection, Media, Subject, User, kind_numbers
from services.clock import in_zone, zone_of
from services import reanalysis, track_readings
from services.identity import Suggester, Suggestion, suggestions


T = TypeVar("T")

def iso_utc(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def token_document(token: ApiToken) -> dict:
    """An API token as its owner sees it (never its hash)."""
    return {"id": token.id, "name": token.name, "created_at": iso_utc(token.created_at),
            "expires_at": iso_utc(token.expires_at),
            "last_used_at": iso_utc(token.last_used_at) if token.last_used_at else None}


def suggestion_document(suggestion: Suggestion | None) -> dict | None:
    """The owner's person a face looks like (null when none, when assigned, or when recognition is off)."""
    return suggestion.document() if suggestion else None


def uncertainty_fields(detection: Detection) -> dict:
    """`unsure`: whether the page calls the reading unsure (flagged by the rule, or a weak top emotion: what
    insights and alerts leave out; null without an emotion model); `uncertain`: the face rule's flag;
    `uncertainty`: the estimated chance the reading is wrong, the figure the page gives (a dog's: 1 - the
    calibrated probability of what its card says; `Detection.chance_wrong`); `unsure_signals`: what made it
    unsure, "weak" and/or "members_disagree" ([] when sure) (inference/uncertainty.py). `uncertain` and
    `unsure_signals` are null for animals, and all three for analyses made before the rule (or, for the signals,
    before they were stored); a face's video track's are its frames' (each timeline point of a face has its own
    `uncertain`), a dog's track's `uncertainty` is 1 - its story's confidence, as its page gives it."""
    return {"unsure": None if detection.top is None else detection.unsure, "uncertain": detection.uncertain,
            "uncertainty": detection.chance_wrong, "unsure_signals": detection.unsure_signals}


def reading_fields(detection: Detection) -> dict:
    """`top`: the emotion its card names (a video track's: of the emotions its story tells, the one most of its frames
    had, as its history badge, dashboards and the exports count it; its `summary`'s `dominant` is the one most of its
    frames had, told or not); `certainty`: how the page words it ("sure", "probably", "unsure"). Both null without
    an emotion model."""
    reading = detection.reading
    return {"top": reading and reading.emotion, "certainty": reading and reading.certainty}


def detection_document(detection: Detection, analysis: Analysis, suggestion: Suggestion | None = None) -> dict:
    """A photo's face or animal; `position` is its address in URLs (…/detections/POSITION/…), `number` its number
    within its kind as the page shows it ("Cat 1"), `classifier` the emotion model that read it (null: none).
    `kind_read` the species the models read a pet as when its owner set `kind` by hand (null otherwise).
    `analysis` is its own, passed in: an export that read `detection.analysis` would tie the two in a reference
    cycle that keeps a video's timeline in memory."""
    return {"position": detection.position, "number": analysis.number_of(detection), "kind": detection.kind,
            "kind_read": detection.kind_read, "box": detection.box, "score": round(detection.score, 4),
            "emotions": detection.emotions,
            **reading_fields(detection), "classifier": analysis.classifier_of(detection),
            **uncertainty_fields(detection), "subject": detection.subject_id,
            "suggestion": suggestion_document(suggestion)}


def track_document(detection: Detection, analysis: Analysis, suggestion: Suggestion | None = None) -> dict:
    """A video's track; `track_id` is its address in URLs (…/detections/TRACK_ID/…), also named `position` as a
    photo's detection names it; `number`, `kind_read`, `classifier`, `top` and `certainty` as a photo's detection has
    them (`detection_document`); `reading_frames`, for a track its owner set to a dog, how the reading of its frames
    by the dog model stands (null when none is under way or failed: …/detections/TRACK_ID/reading)."""
    return {"track_id": detection.track_id, "position": detection.position, "number": analysis.number_of(detection),
            "kind": detection.kind, "kind_read": detection.kind_read, **reading_fields(detection),
            "summary": detection.summary, "classifier": analysis.classifier_of(detection),
            **uncertainty_fields(detection),
            "timeline": detection.timeline, "transitions": detection.transitions, "subject": detection.subject_id,
            "suggestion": suggestion_document(suggestion), "reading_frames": track_readings.status(detection)}


def found_document(detection: Detection) -> dict:
    """A detection as its analysis lists it: a track of a video, else a photo's detection."""
    suggestion = suggestions(detection.analysis).get(detection.id)
    if detection.analysis.media == Media.VIDEO:
        return track_document(detection, detection.analysis, suggestion)
    return detection_document(detection, detection.analysis, suggestion)


def file_urls(analysis: Analysis) -> dict[str, str | None]:
    """Where a stored analysis's files are (a bearer token fetches them too): the upload, its thumbnail (None
    until a video is analysed) and, for videos, the frame at ?t=SECONDS."""
    thumbnail = url_for("analyze.media_file", analysis_id=analysis.id, variant="thumb") if analysis.thumb_name else None
    return {"original": url_for("analyze.media_file", analysis_id=analysis.id, variant="original"),
            "thumbnail": thumbnail,
            "frame": url_for("analyze.video_frame", analysis_id=analysis.id) if analysis.media == Media.VIDEO else None}


def analysis_document(analysis: Analysis, reader: User | None = None, suggest: Suggester | None = None) -> dict:
    """The analysis as JSON: what it is, its state, and what was found; each face's `suggestion` only when
    the reader is its owner (an admin reading it, or the CLI, gets null; `suggest`: the owner's `suggester`, made
    once for a list)."""
    document = {
        "id": analysis.id,
        "status": analysis.status,
        "media": analysis.media,
        "created_at": iso_utc(analysis.created_at) if analysis.created_at else None,
        "filename": analysis.original_name,
        "width": analysis.width,
        "height": analysis.height,
        "model": {"detector": analysis.detector},  # each reading names its own emotion model (`classifier`)
    }
    if analysis.id is not None:
        document["files"] = file_urls(analysis)
    document.update(jobs.standing(analysis))
    suggested = suggestions(analysis, suggest) if reader is not None and reader.id == analysis.user_id else {}
    if analysis.media == Media.VIDEO:
        document.update(duration=analysis.duration, stated_duration=analysis.stated_duration,
                        fps_sampled=analysis.fps_sampled,
                        tracks=[track_document(d, analysis, suggested.get(d.id)) for d in analysis.detections])
    else:
        document["detections"] = [detection_document(d, analysis, suggested.get(d.id)) for d in analysis.detections]
        document["found"] = analysis.found_count or len(analysis.detections)  # more than were read: the largest
    return document


def reanalysis_document(analysis: Analysis) -> dict:
    """Whether a stored analysis was made by other models than the ones in use now (`out_of_date`: it can be analysed
    again, by a POST to `url`) and how its last re-analysis stands: `status` "none", "queued", "running", "done" or
    "failed" (then `error` says why; the result is the earlier one, kept), and its `progress` (0 to 1)."""
    return {"out_of_date": reanalysis.out_of_date(analysis), **jobs.standing(reanalysis.job_of(analysis)),
            "url": url_for("api.reanalyse", analysis_id=analysis.id)}


def subject_document(subject: Subject, appearances: int) -> dict:
    """A subject, how many appearances it has, and whether its kind has an emotion model (cats: not yet)."""
    return {"id": subject.id, "name": subject.name, "kind": subject.kind, "created_at": iso_utc(subject.created_at),
            "appearances": appearances, "emotion_model": subject.kind.emotion_classes is not None}


def alert_rule_document(rule: AlertRule) -> dict:
    """An alert rule: `emotion` as the top one in more than `share` of appearances over `days` days."""
    return {"id": rule.id, "emotion": rule.emotion, "share": rule.share, "days": rule.days}


def reading_document(detection: Detection, analysis: Analysis, zone: ZoneInfo, number: int,
                     timeline: bool = True) -> dict:
    """A detection as the exports list it, with the analysis it belongs to: its `kind` and `number` within that kind
    (as the page titles it: "Cat 1"; `kind_read`: the species the models read a pet as when its owner set `kind`
    by hand, else null), its top emotion and how the page words it (`certainty`: "unsure" is "unsure,
    perhaps happy"; null without an emotion model; a video track's as its page tells its story: Detection.reading);
    its time in UTC and on the owner's clock (`local_time`, with its offset: the day the pages count it on); a
    video's track with its timeline, unless `timeline` is false (the CSV has no column for it). The caller passes
    the detection's `analysis`: reading `detection.analysis` of an analysis that holds its detections would tie
    them in a reference cycle that keeps the timeline the reading loads in memory."""
    return {"analysis_id": analysis.id, "created_at": iso_utc(analysis.created_at),
            "local_time": in_zone(analysis.created_at, zone).replace(microsecond=0).isoformat(),
            "media": analysis.media, "filename": analysis.original_name, "kind": detection.kind, "number": number,
            "kind_read": detection.kind_read, **reading_fields(detection),
            "emotions": detection.emotions,
            **uncertainty_fields(detection),
            **({"timeline": detection.timeline, "transitions": detection.transitions}
               if timeline and analysis.media == Media.VIDEO else {})}


FORMULA_SIGNS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell that starts with one as a formula


def csv_cell(value: object) -> object:
    """A value as the CSV export writes it, in the JSON export's words: a boolean as true or false (Python's csv
    writes "True"); None is an empty cell already. Text that a spreadsheet would run as a formula (a subject named
    "=HYPERLINK(...)") starts with an apostrophe, which spreadsheets show as text and do not run."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_SIGNS):
        return "'" + value
    return value


UNCERTAINTY_COLUMNS = ("unsure", "uncertain", "uncertainty")  # `uncertain` empty for pets; all for older analyses


def readings_csv(readings: Iterable[dict], extra: tuple[str, ...] = ()) -> Iterator[str]:
    """The CSV lines of `reading_document` rows, a header first: one line a reading, an emotion a column; the
    `extra` columns (keys of each row) come after `local_time`, and `kind_read` last, so that scripts that read the
    columns by position keep working."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(map(csv_cell, cells))
        return buffer.getvalue()

    first = ("analysis_id", "created_at", "media", "filename", "kind", "number", "top", "certainty")
    yield line([*first, *ALL_EMOTIONS, *UNCERTAINTY_COLUMNS, "local_time", *extra, "kind_read"])
    for row in readings:
        yield line([*(row[name] for name in first), *(row["emotions"].get(label) for label in ALL_EMOTIONS),
                    *(row[name] for name in UNCERTAINTY_COLUMNS), row["local_time"], *(row[name] for name in extra),
                    row["kind_read"]])


EXPORT_PAGE = 50  # a subject's readings read at a time by its exports


def released(page: list[T]) -> Iterator[T]:
    """Each row of a page read for an export, in order, let go of once the next is asked for: popped from the page
    and expunged from the session (with what it loaded: a video's timelines), so memory holds one row at a time."""
    page.reverse()
    while page:
        row = page.pop()
        yield row
        db.session.expunge(row)


def streamed_object(head: dict, key: str, items: Iterable[dict]) -> Iterator[str]:
    """One JSON object in pieces: `head`'s members, then `key`, a list of `items` written one a line as they come
    (the exports: a long history is never one string)."""
    yield json.dumps(head, ensure_ascii=False)[:-1] + f', "{key}": ['  # the head's closing brace comes last
    separator = "\n"
    for item in items:
        yield separator + json.dumps(item, ensure_ascii=False)
        separator = ",\n"
    yield "\n]}\n"


def encoded(chunks: Iterable[str]) -> Iterator[bytes]:
    """Text pieces of an export as the UTF-8 bytes a download sends, one piece at a time."""
    return (chunk.encode() for chunk in chunks)


def csv_encoded(lines: Iterable[str]) -> Iterator[bytes]:
    """CSV lines as the bytes a download sends: UTF-8 after a byte order mark (utf-8-sig), by which a spreadsheet
    knows the file is UTF-8 (Excel on Korean Windows reads a file without one as CP949: Korean names garbled)."""
    yield codecs.BOM_UTF8
    yield from encoded(lines)


def numbers_of(detections: list[Detection]) -> dict[int, int]:
    """Each detection's number within its kind (models.kind_numbers), by detection id, from the kinds and positions
    of its analysis's detections read as plain rows: a streamed export leaves no detection tied to its siblings."""
    found: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for analysis_id, kind, position in db.session.execute(
        db.select(Detection.analysis_id, Detection.kind, Detection.position)
        .where(Detection.analysis_id.in_({detection.analysis_id for detection in detections}))
    ):
        found[analysis_id].append((kind, position))
    numbers = {analysis_id: kind_numbers(pairs) for analysis_id, pairs in found.items()}
    return {detection.id: numbers[detection.analysis_id][detection.position] for detection in detections}


def subject_readings(subject_id: int, timelines: bool) -> Iterator[dict]:
    """Every detection assigned to the subject, oldest first, as the exports list them (`reading_document`; a
    video's timeline only with `timelines`), read EXPORT_PAGE at a time; each leaves the session once written, so
    a subject seen in many long videos never has all their timelines in memory. The exports take the subject's id:
    they run while the response is sent, after the request's session has ended."""
    subject = db.session.get(Subject, subject_id)
    zone, after = zone_of(subject.user), (datetime.min, -1)
    while page := db.session.scalars(
        db.select(Detection).join(Detection.analysis).options(contains_eager(Detection.analysis))
        .where(Detection.subject_id == subject.id, tuple_(Analysis.created_at, Detection.id) > after)
        .order_by(Analysis.created_at, Detection.id).limit(EXPORT_PAGE)
    ).all():
        after, numbers = (page[-1].analysis.created_at, page[-1].id), numbers_of(page)
        yield from (reading_document(detection, detection.analysis, zone, numbers[detection.id], timelines)
                    for detection in released(page))


def subject_export_json(subject_id: int) -> Iterator[str]:
    """The subject and every reading of theirs as one JSON object, written a reading at a time."""
    subject = db.session.get(Subject, subject_id)
    head = {"subject": {"id": subject.id, "name": subject.name, "kind": subject.kind},
            "time_zone": zone_of(subject.user).key}
    return streamed_object(head, "history", subject_readings(subject_id, timelines=True))
