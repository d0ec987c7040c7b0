"""Saving, reading and deleting analyses: the one place the web pages, the API,
the admin and the CLI go through, so files and rows always change together."""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from flask import abort, current_app
from PIL import Image, ImageOps
from werkzeug.utils import secure_filename

from explanations import cached_files
from extensions import db
from werkzeug.datastructures import FileStorage

from inference.errors import MediaError, MediaTooLarge, UnsupportedMediaType
from inference.pipeline import FaceResult, ImageResult, get_pipeline
from inference.video import VideoAnalyzer, VideoResult, probe_video, read_frame_at, sniff_video
from jobs import job_queue
from insights.alerts import Rule, check_rule
from insights.changes import change_point
from insights.history import History
from insights.patterns import patterns, transition_patterns
from insights.profile import MIN_FOR_PROFILE, profile
from inference.labels import DOG_EMOTIONS, HUMAN_EMOTIONS
from models import AlertRule, Analysis, Detection, Subject, User, utcnow

Row = TypeVar("Row")

THUMB_SIZE = 320
MISSING_UPLOAD = "The uploaded file is missing from the server's storage."


class StorageFailure(MediaError):
    """The upload could not be written (disk full, folder not writable); nothing was kept."""

    def __init__(self) -> None:
        super().__init__("The server could not store the file (its disk is full or not writable). "
                         "Nothing was saved; please try again later.")


def upload_folder() -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def clean_original_name(name: str | None) -> str:
    """A display-safe version of the client's file name (never used as a path)."""
    cleaned = secure_filename(name or "") or "upload"
    stem, dot, suffix = cleaned.rpartition(".")
    if len(cleaned) > 120:
        cleaned = (stem[:100] + dot + suffix[:10]) if dot else cleaned[:120]
    return cleaned


def overall_top(faces: list[FaceResult]) -> str | None:
    """The emotion with the highest mean probability over the people (else over the dogs); None when
    nothing found has an emotion model."""
    classified = [face for face in faces if face.top is not None]
    if not classified:
        return None
    kind = "human" if any(face.kind == "human" for face in classified) else classified[0].kind
    labels = list(next(face for face in classified if face.kind == kind).emotions)
    mean = np.mean([[face.emotions[label] for label in labels] for face in classified if face.kind == kind], axis=0)
    return labels[int(mean.argmax())]


def _jpeg_bytes(image: Image.Image, max_side: int, quality: int = 85) -> bytes:
    image = image.convert("RGB")
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _thumbnail_bytes(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (THUMB_SIZE * 2, THUMB_SIZE * 2))  # JPEG: decode at reduced scale
        return _jpeg_bytes(ImageOps.exif_transpose(image), THUMB_SIZE)


def _write_files(files: dict[Path, bytes]) -> None:
    written: list[Path] = []
    try:
        for path, content in files.items():
            path.write_bytes(content)
            written.append(path)
    except OSError:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def analyze_upload(data: bytes) -> ImageResult:
    """Run the pipeline on uploaded bytes under the app's pixel limit (raises MediaError)."""
    return get_pipeline().analyze_bytes(data, current_app.config["MAX_IMAGE_PIXELS"])


def model_names(models: dict[str, str]) -> dict[str, str]:
    """The detector and classifier names, cut to their columns' length (names describe; they must never fail
    an analysis)."""
    return {name: models[name][:getattr(Analysis, name).type.length] for name in ("detector", "classifier")}


def save_photo_analysis(user: User, data: bytes, original_name: str | None, result: ImageResult) -> Analysis:
    """Store the upload, its thumbnail and the analysis rows; nothing is left half-saved."""
    key = uuid.uuid4().hex
    stored_name, thumb_name = f"{key}.{result.format}", f"{key}.thumb.jpg"
    folder = upload_folder()
    analysis = Analysis(
        user=user, media="image", status="done", original_name=clean_original_name(original_name),
        stored_name=stored_name, thumb_name=thumb_name, format=result.format, width=result.width,
        height=result.height, face_count=len(result.detections), top_emotion=overall_top(result.detections),
        **model_names(result.models),
    )
    for position, face in enumerate(result.detections, start=1):
        x1, y1, x2, y2 = face.box
        analysis.detections.append(Detection(position=position, kind=face.kind, x1=x1, y1=y1, x2=x2, y2=y2,
                                             score=face.score, emotions=face.emotions, top=face.top))
    files = {folder / stored_name: data, folder / thumb_name: _thumbnail_bytes(data)}
    _write_files(files)
    try:
        db.session.add(analysis)
        db.session.commit()
    except Exception:
        db.session.rollback()
        for path in files:
            path.unlink(missing_ok=True)
        raise
    return analysis


def accept_upload(user: User, upload: FileStorage) -> Analysis:
    """Analyse a photo now, or store a video and queue its analysis (type decided by content).

    Raises MediaError (with an HTTP status from http_status_for) and leaves nothing behind.
    """
    head = upload.stream.read(16)
    upload.stream.seek(0)
    try:
        if sniff_video(head):
            return queue_video_analysis(user, upload, sniff_video(head))
        data = upload.read()
        if len(data) > current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024:
            raise MediaTooLarge(f"Photos are limited to {current_app.config['MAX_UPLOAD_MB']} MB.")
        return save_photo_analysis(user, data, upload.filename, analyze_upload(data))
    except OSError as error:
        current_app.logger.error("storing an upload failed: %s", error)
        raise StorageFailure() from error


def queue_video_analysis(user: User, upload: FileStorage, container: str) -> Analysis:
    """Store the video, check it is readable and within the limits, and queue its analysis."""
    key = uuid.uuid4().hex
    path = upload_folder() / f"{key}.{container}"
    upload.save(path)
    try:
        if path.stat().st_size > current_app.config["MAX_VIDEO_MB"] * 1024 * 1024:
            raise MediaTooLarge(f"Videos are limited to {current_app.config['MAX_VIDEO_MB']} MB.")
        info = probe_video(path, current_app.config["MAX_VIDEO_SECONDS"])
        analysis = Analysis(user=user, media="video", status="queued",
                            original_name=clean_original_name(upload.filename), stored_name=path.name,
                            format=container, width=info.width, height=info.height, duration=info.duration)
        db.session.add(analysis)
        db.session.commit()
    except Exception:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    job_queue().submit(analysis.id)
    return analysis


def process_video_analysis(analysis: Analysis, progress) -> None:
    """The job body: analyse the stored video, write the poster frame, store one detection per track."""
    folder = upload_folder()
    analyzer = VideoAnalyzer(get_pipeline(), fps=current_app.config["VIDEO_FPS"])
    result = analyzer.analyze(folder / analysis.stored_name, current_app.config["MAX_VIDEO_SECONDS"], progress)
    thumb_name = analysis.stored_name.rsplit(".", 1)[0] + ".thumb.jpg"
    if result.poster_rgb is not None:
        (folder / thumb_name).write_bytes(_jpeg_bytes(Image.fromarray(result.poster_rgb), 1280, quality=88))
        analysis.thumb_name = thumb_name
    _store_video_result(analysis, result)
    db.session.commit()


def _store_video_result(analysis: Analysis, result: VideoResult) -> None:
    analysis.detections.clear()
    for track in result.tracks:
        poster_point = min(track["timeline"], key=lambda point: abs(point["t"] - result.poster_time))
        x1, y1, x2, y2 = poster_point["box"]
        summary = track["summary"]
        analysis.detections.append(Detection(
            position=track["track_id"], kind=track["kind"], x1=x1, y1=y1, x2=x2, y2=y2, score=track["score"],
            emotions=summary["mean"], top=summary["dominant"], track_id=track["track_id"],
            timeline=track["timeline"], summary=summary, transitions=track["transitions"],
        ))
    analysis.status, analysis.progress, analysis.error = "done", 1.0, None
    analysis.width, analysis.height, analysis.duration = result.width, result.height, result.duration
    analysis.fps_sampled, analysis.poster_time = result.fps_sampled, result.poster_time
    analysis.face_count = len(result.tracks)
    analysis.top_emotion = overall_top([
        FaceResult(d.kind, d.box, d.score, d.emotions, d.top) for d in analysis.detections
    ])
    for column, name in model_names(result.models).items():
        setattr(analysis, column, name)


def video_frame_jpeg(analysis: Analysis, seconds: float) -> bytes:
    """A JPEG (at most 640 px) of the stored video's frame at `seconds`."""
    rgb = read_frame_at(upload_folder() / analysis.stored_name, seconds)
    return _jpeg_bytes(Image.fromarray(rgb), 640, quality=80)


def analysis_files(analysis: Analysis) -> list[Path]:
    """The upload, its thumbnail and its cached explanations: what goes when the analysis goes."""
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    uploads = [folder / name for name in (analysis.stored_name, analysis.thumb_name) if name]
    return uploads + cached_files(analysis)


def delete_analysis(analysis: Analysis) -> None:
    """Delete the rows, then the files (a file left by a crash is an orphan, never a dangling row)."""
    files = analysis_files(analysis)
    db.session.delete(analysis)
    db.session.commit()
    remove_files(files)


def remove_files(files: list[Path]) -> None:
    for path in files:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


@dataclass
class StorageCheck:
    """What `flask maintenance check` found: files no row refers to, and rows whose files are gone."""

    orphan_files: list[Path] = field(default_factory=list)
    missing_files: list[tuple[int, str, str]] = field(default_factory=list)  # (analysis id, status, file name)

    @property
    def problems(self) -> int:
        return len(self.orphan_files) + len(self.missing_files)


def check_storage(min_age_seconds: float) -> StorageCheck:
    """Compare the upload folder with the analyses; files younger than `min_age_seconds` may belong to
    an upload in progress (files are written before their row is committed) and are not orphans yet.
    Jobs already failed for a missing upload are settled, not reported again."""
    folder = upload_folder()
    check, referenced = StorageCheck(), set()
    rows = db.session.execute(db.select(Analysis.id, Analysis.status, Analysis.stored_name, Analysis.thumb_name)
                              .where(Analysis.error.is_(None) | (Analysis.error != MISSING_UPLOAD)))
    for analysis_id, status, *names in rows:
        for name in filter(None, names):
            referenced.add(name)
            if not (folder / name).is_file():
                check.missing_files.append((analysis_id, status, name))
    cutoff = time.time() - min_age_seconds
    check.orphan_files = sorted(path for path in folder.iterdir()
                                if path.name not in referenced and path.is_file() and path.stat().st_mtime < cutoff)
    stems = {Path(name).stem for name in db.session.scalars(db.select(Analysis.stored_name))}
    explained = Path(current_app.config["EXPLAIN_FOLDER"])  # "<upload stem>-<position>-<method>.png"
    if explained.is_dir():
        check.orphan_files += sorted(path for path in explained.iterdir() if path.is_file()
                                     and path.name.split("-")[0] not in stems and path.stat().st_mtime < cutoff)
    return check


def repair_storage(check: StorageCheck) -> None:
    """Delete the orphan files; fail the queued or running jobs whose upload is gone; rebuild missing
    photo thumbnails. Finished analyses whose upload is gone keep their results (reported only)."""
    remove_files(check.orphan_files)
    folder = upload_folder()
    for analysis_id, status, name in check.missing_files:
        analysis = db.session.get(Analysis, analysis_id)
        if name == analysis.stored_name and status in ("queued", "running"):
            analysis.status, analysis.error = "failed", MISSING_UPLOAD
        elif name == analysis.thumb_name and analysis.media == "image" and (folder / analysis.stored_name).is_file():
            (folder / name).write_bytes(_thumbnail_bytes((folder / analysis.stored_name).read_bytes()))
    db.session.commit()


def owned_or_404(model: type[Row], row_id: int, user: User, owner_id: Callable[[Row], int] | None = None) -> Row:
    """The row of `model` with this id if `user` owns it (owner_id(row), default row.user_id);
    another user's (or a missing) id is a 404, never a 403."""
    row = db.session.get(model, row_id)
    if row is None or (owner_id(row) if owner_id else row.user_id) != user.id:
        abort(404)
    return row


def owned_analysis_or_404(user: User, analysis_id: int) -> Analysis:
    return owned_or_404(Analysis, analysis_id, user)


def iso_utc(moment) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def analysis_to_dict(analysis: Analysis) -> dict:
    """The analysis JSON of the API: photos list detections, videos list tracks with timelines."""
    document = {
        "id": analysis.id,
        "status": analysis.status,
        "media": analysis.media,
        "created_at": iso_utc(analysis.created_at),
        "filename": analysis.original_name,
        "width": analysis.width,
        "height": analysis.height,
        "model": {"detector": analysis.detector, "classifier": analysis.classifier},
    }
    if analysis.status in ("queued", "running"):
        document["progress"] = analysis.progress
    if analysis.status == "failed":
        document["error"] = analysis.error
    if analysis.media == "video":
        document.update(duration=analysis.duration, fps_sampled=analysis.fps_sampled, tracks=[
            {"track_id": d.track_id, "kind": d.kind, "summary": d.summary, "timeline": d.timeline,
             "transitions": d.transitions} for d in analysis.detections
        ])
    else:
        document["detections"] = [
            FaceResult(kind=d.kind, box=d.box, score=d.score, emotions=d.emotions, top=d.top).to_dict()
            for d in analysis.detections
        ]
    return document


def http_status_for(error: MediaError) -> int:
    """415 for an unsupported type, 413 for too large, 507 when it cannot be stored, else 400."""
    if isinstance(error, StorageFailure):
        return 507
    if isinstance(error, UnsupportedMediaType):
        return 415
    if isinstance(error, MediaTooLarge):
        return 413
    return 400


SUBJECT_CLASSES = {"person": HUMAN_EMOTIONS, "dog": DOG_EMOTIONS}  # cats: no emotion model yet
_history_cache: dict[int, tuple[tuple, History]] = {}
_insight_cache: dict[int, tuple[dict[int, tuple], dict]] = {}


SUBJECT_DETECTION_KINDS = {"person": "human", "dog": "dog"}  # which detections feed a subject's history


def _appearances_key(subject_id: int) -> tuple:
    """Changes whenever an appearance is assigned to the subject or taken away (and per database); the
    newest analysis time tells a new upload from a deleted one whose row ids SQLite reused."""
    return (current_app.config["SQLALCHEMY_DATABASE_URI"],) + tuple(db.session.execute(
        db.select(db.func.count(Detection.id), db.func.coalesce(db.func.sum(Detection.id), 0),
                  db.func.max(Analysis.created_at)).join(Detection.analysis)
        .where(Detection.subject_id == subject_id)).one())


def history_of(subject: Subject, key: tuple | None = None) -> History | None:
    """The subject's classified appearances as a History (None for a kind without an emotion model);
    cached until its appearances change (`key`: their _appearances_key, when the caller has it)."""
    classes = SUBJECT_CLASSES.get(subject.kind)
    if classes is None:
        return None
    key = key or _appearances_key(subject.id)
    cached = _history_cache.get(subject.id)
    if cached and cached[0] == key:
        return cached[1]
    query = db.select(Analysis.created_at, Detection.emotions, Analysis.id).join(Detection.analysis) \
        .where(Detection.subject_id == subject.id, Detection.top.is_not(None),
               Detection.kind == SUBJECT_DETECTION_KINDS[subject.kind])
    history = History.from_rows(classes, [tuple(row) for row in db.session.execute(query)])
    _history_cache[subject.id] = (key, history)
    return history


def video_clips(subject: Subject, classes: tuple[str, ...]) -> list[tuple[int, float, int, np.ndarray]]:
    """(analysis id, seconds, transitions, share of time per emotion) of the subject's video tracks."""
    query = db.select(Analysis.id, Detection.summary, Detection.transitions).join(Detection.analysis) \
        .where(Detection.subject_id == subject.id, Analysis.media == "video", Detection.top.is_not(None),
               Detection.kind == SUBJECT_DETECTION_KINDS[subject.kind])
    return [(analysis_id, float(summary.get("duration") or 0.0), len(transitions or []),
             np.array([summary.get("share", {}).get(label, 0.0) for label in classes]))
            for analysis_id, summary, transitions in db.session.execute(query) if summary]


def subject_insights(subject: Subject) -> dict:
    """Profile, patterns and changes of a subject's history; cached until its or its siblings' appearances change."""
    classes = SUBJECT_CLASSES.get(subject.kind)
    if classes is None:
        return {"subject": subject.id, "available": False,
                "reason": f"There is no emotion model for {subject.kind}s yet, so there is nothing to learn from."}
    siblings = [other for other in subject.user.subjects
                if other.id != subject.id and SUBJECT_CLASSES.get(other.kind) == classes]
    keys = {other.id: _appearances_key(other.id) for other in [subject, *siblings]}
    cached = _insight_cache.get(subject.id)
    if cached and cached[0] == keys:
        return cached[1]
    history = history_of(subject, keys[subject.id])
    others = {other.name: other_history.vectors.mean(0) for other in siblings
              if len(other_history := history_of(other, keys[other.id])) >= MIN_FOR_PROFILE}
    result = {"subject": subject.id, "available": True, "count": len(history),
              "profile": profile(history, others), "patterns": patterns(history), "changes": change_point(history),
              "video_patterns": transition_patterns(video_clips(subject, history.classes), history.classes)}
    _insight_cache[subject.id] = (keys, result)
    return result


def alert_results(subjects: list[Subject]) -> list[tuple[AlertRule, dict]]:
    """Every alert rule of these subjects with its check against now."""
    results = []
    for subject in subjects:
        history = history_of(subject) if subject.alert_rules else None
        for rule in subject.alert_rules if history is not None else []:
            results.append((rule, check_rule(history, Rule(rule.emotion, rule.share, rule.days), utcnow())))
    return results
