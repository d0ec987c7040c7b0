"""Saving, reading and deleting analyses: the one place the web pages, the API,
the admin and the CLI go through, so files and rows always change together."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import numpy as np
from flask import abort, current_app
from PIL import Image, ImageOps
from werkzeug.utils import secure_filename

from extensions import db
from inference.errors import MediaError, MediaTooLarge, UnsupportedMediaType
from inference.pipeline import FaceResult, ImageResult, get_pipeline
from models import Analysis, Detection, User

THUMB_SIZE = 320


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
    """The emotion with the highest mean probability over all faces, or None without faces."""
    if not faces:
        return None
    labels = list(faces[0].emotions)
    mean = np.mean([[face.emotions[label] for label in labels] for face in faces], axis=0)
    return labels[int(mean.argmax())]


def _thumbnail_bytes(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (THUMB_SIZE * 2, THUMB_SIZE * 2))  # JPEG: decode at reduced scale
        thumb = ImageOps.exif_transpose(image).convert("RGB")
        thumb.thumbnail((THUMB_SIZE, THUMB_SIZE))
        buffer = io.BytesIO()
        thumb.save(buffer, "JPEG", quality=85)
        return buffer.getvalue()


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


def save_photo_analysis(user: User, data: bytes, original_name: str | None, result: ImageResult) -> Analysis:
    """Store the upload, its thumbnail and the analysis rows; nothing is left half-saved."""
    key = uuid.uuid4().hex
    stored_name, thumb_name = f"{key}.{result.format}", f"{key}.thumb.jpg"
    folder = upload_folder()
    analysis = Analysis(
        user=user, media="image", status="done", original_name=clean_original_name(original_name),
        stored_name=stored_name, thumb_name=thumb_name, format=result.format, width=result.width,
        height=result.height, face_count=len(result.detections), top_emotion=overall_top(result.detections),
        detector=result.models["detector"], classifier=result.models["classifier"],
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


def analysis_files(analysis: Analysis) -> list[Path]:
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    return [folder / name for name in (analysis.stored_name, analysis.thumb_name) if name]


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


def owned_analysis_or_404(user: User, analysis_id: int) -> Analysis:
    """The user's analysis; another user's (or a missing) id is a 404, never a 403."""
    analysis = db.session.get(Analysis, analysis_id)
    if analysis is None or (analysis.user_id != user.id):
        abort(404)
    return analysis


def iso_utc(moment) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def analysis_to_dict(analysis: Analysis) -> dict:
    """The analysis JSON shared by the API and the CLI."""
    return {
        "id": analysis.id,
        "status": analysis.status,
        "media": analysis.media,
        "created_at": iso_utc(analysis.created_at),
        "filename": analysis.original_name,
        "width": analysis.width,
        "height": analysis.height,
        "detections": [
            FaceResult(kind=d.kind, box=d.box, score=d.score, emotions=d.emotions, top=d.top).to_dict()
            for d in analysis.detections
        ],
        "model": {"detector": analysis.detector, "classifier": analysis.classifier},
    }


def http_status_for(error: MediaError) -> int:
    """415 for an unsupported type, 413 for too large, 400 for corrupt or unreadable media."""
    if isinstance(error, UnsupportedMediaType):
        return 415
    if isinstance(error, MediaTooLarge):
        return 413
    return 400
