"""Every file the app keeps, named in one place: uploads and thumbnails in UPLOAD_FOLDER, what is derived from
them in EXPLAIN_FOLDER ("Why?" overlays, each detection's crop; both folders private: 0700, files 0600); JPEG
renditions; writes that leave nothing behind when they fail (inference/files.py); deletes."""

from __future__ import annotations

import contextlib
import io
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from flask import current_app
from PIL import Image

from inference.crops import rgb_crops
from inference.explain import METHODS
from inference.files import write_atomic
from inference.heif import decode_photo
from inference.images import fit_within, on_white
from inference.video import nearest_moment
from inference.video_decode import read_frame_at
from models import Analysis, Detection, Media
from services.errors import CannotDelete
from settings import PRIVATE_FILE, PRIVATE_FOLDER, tighten

THUMB_SIZE = 320
FRAME_SIZE = 640
CROP_SIZE = 240  # one detection, e.g. a cat's appearance on its dashboard
CROP_MARGIN = 0.15


def _private_folder(config_key: str) -> Path:
    """The folder the app's setting names, made private to the app's user if it is not there yet."""
    folder = Path(current_app.config[config_key])
    folder.mkdir(PRIVATE_FOLDER, parents=True, exist_ok=True)
    return folder


def upload_folder() -> Path:
    return _private_folder("UPLOAD_FOLDER")


def upload_path(name: str) -> Path:
    """Where an upload or thumbnail called `name` (a random stored name, never the client's) lives."""
    return Path(current_app.config["UPLOAD_FOLDER"]) / name


def new_stored_name(extension: str) -> str:
    """A random name for a new upload: nothing of the client's file name reaches the disk."""
    return f"{uuid.uuid4().hex}.{extension}"


def thumb_name_for(stored_name: str) -> str:
    return f"{Path(stored_name).stem}.thumb.jpg"


def explain_folder() -> Path:
    return _private_folder("EXPLAIN_FOLDER")


def explanation_paths(stored_name: str, position: int) -> dict[str, Path]:
    """Where each method's overlay of detection `position` of this upload is (or will be) cached; keyed by the
    upload's random name, never an id the database may reuse."""
    folder = Path(current_app.config["EXPLAIN_FOLDER"])
    return {method: folder / f"{Path(stored_name).stem}-{position}-{method}.png" for method in METHODS}


def crop_path(stored_name: str, position: int, box: Sequence[int]) -> Path:
    """Where the crop (crop_bytes) of detection `position` of this upload is cached. Its box is in the name: a crop
    cut before a re-analysis moved the box is never served for the new one."""
    return explain_folder() / f"{Path(stored_name).stem}-{position}-crop-{'x'.join(str(int(v)) for v in box)}.jpg"


def derived_files(stored_name: str) -> list[Path]:
    """Every file derived from an upload (its "Why?" overlays, its detections' crops), for deletion with it or when
    a re-analysis replaces its detections."""
    folder = Path(current_app.config["EXPLAIN_FOLDER"])
    return sorted(folder.glob(f"{Path(stored_name).stem}-*")) if folder.is_dir() else []


def jpeg_bytes(image: Image.Image, max_side: int, quality: int = 85) -> bytes:
    """A JPEG of the image (transparent parts on white), at most `max_side` pixels on its longer side."""
    image = on_white(image)
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def box_time(analysis: Analysis, detection: Detection) -> float | None:
    """When a video track's box was seen: its moment nearest the poster frame (services.analyses stores that
    moment's box; a track missing from the poster frame has it at another time). None for a photo."""
    if analysis.media != Media.VIDEO:
        return None
    poster_time = analysis.poster_time or 0.0
    return nearest_moment(detection.timeline, poster_time)["t"] if detection.timeline else poster_time


def stored_rgb(analysis: Analysis, seconds: float | None = None) -> np.ndarray:
    """The stored photo, or the video's frame at `seconds` (the poster frame by default), as upright RGB;
    raises OSError or inference.errors.MediaError when it cannot be read."""
    path = upload_path(analysis.stored_name)
    if analysis.media == Media.VIDEO:
        # a video stored under a higher limit is still shown
        longest = max(current_app.config["MAX_VIDEO_SECONDS"], analysis.duration or 0.0)
        return read_frame_at(path, analysis.poster_time or 0.0 if seconds is None else seconds, longest)
    return decode_photo(path.read_bytes(), current_app.config["MAX_IMAGE_PIXELS"]).rgb


def crop_bytes(rgb: np.ndarray, box: list[int]) -> bytes:
    """A JPEG of one detection: its box with a margin, square, CROP_SIZE px on a side."""
    x1, y1, x2, y2 = box
    crop = rgb_crops(rgb, [(x1, y1, x2, y2)], CROP_SIZE, margin=CROP_MARGIN)[0]
    return jpeg_bytes(Image.fromarray(crop), CROP_SIZE)


def thumbnail_bytes(rgb: np.ndarray) -> bytes:
    """The thumbnail JPEG of a decoded (upright) photo, made from the pixels already in memory: a photo is
    never decoded twice."""
    return jpeg_bytes(Image.fromarray(fit_within(rgb, THUMB_SIZE)), THUMB_SIZE)


def write_files(files: dict[Path, bytes]) -> None:
    """Write each file whole or not at all; if one fails, remove those already written and raise (OSError)."""
    written: list[Path] = []
    try:
        for path, content in files.items():
            written.append(write_atomic(path, content))
    except BaseException:
        remove_files(written)
        raise


def make_private(paths: list[Path]) -> None:
    """Take group's and others' access away from these files (as the app writes them: 0600, `settings.tighten`); one
    not there is fine."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            tighten(path, PRIVATE_FILE)


def check_deletable() -> None:
    """Raise CannotDelete unless files can be deleted from both folders now: asked before a deletion's rows go, so
    that a storage gone read-only never leaves it half done."""
    if not all(os.access(folder, os.W_OK | os.X_OK) for folder in (upload_folder(), explain_folder())):
        raise CannotDelete()


def remove_files(paths: list[Path]) -> None:
    """Delete these files; one already gone is fine, one that cannot be deleted (its folder went read-only since
    `check_deletable`) is logged and left to `flask maintenance check --repair`, which finds it an orphan."""
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as error:
            current_app.logger.error("could not delete %s (%s); `flask maintenance check --repair` will", path, error)
