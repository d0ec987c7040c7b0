"""Explanations on demand ("Why?"): computed in the background, cached as PNG files.

A request starts the work on a small thread pool in the web process and answers at once;
the page polls the status (with the progress of the occlusion pass) and shows the overlays
when they are there. The PNG files are the cache: a second view costs nothing, they live in
EXPLAIN_FOLDER under the upload's random name (never an id that the database may reuse), and
they are deleted with their analysis. Work lost with a stopped server is simply asked for again.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from flask import abort, current_app, url_for

from inference.errors import MediaError
from inference.explain import METHODS, Explainer
from inference.images import decode_image
from inference.pipeline import get_pipeline
from models import Analysis, Detection

log = logging.getLogger(__name__)

METHOD_TITLES = {"occlusion": "Occlusion: where hiding the picture lowers the score most",
                 "grad_cam": "Grad-CAM: where the network's last layer looked"}


@dataclass
class Task:
    """An explanation under way in this process (a failed one stays, with its reason, until asked again)."""

    progress: float = 0.0
    error: str | None = None


_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="explain")
_tasks: dict[str, Task] = {}
_tasks_lock = threading.RLock()  # start() holds it while it asks status()
_explainer: Explainer | None = None


def explain_folder() -> Path:
    folder = Path(current_app.config["EXPLAIN_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _key(analysis: Analysis, detection: Detection) -> str:
    return f"{Path(analysis.stored_name).stem}-{detection.position}"


def explanation_files(analysis: Analysis, detection: Detection) -> dict[str, Path]:
    """Where each method's overlay of this detection is (or will be) cached."""
    folder = Path(current_app.config["EXPLAIN_FOLDER"])
    return {method: folder / f"{_key(analysis, detection)}-{method}.png" for method in METHODS}


def cached_files(analysis: Analysis) -> list[Path]:
    """Every explanation file of an analysis, for deletion with it."""
    folder = Path(current_app.config["EXPLAIN_FOLDER"])
    return sorted(folder.glob(f"{Path(analysis.stored_name).stem}-*.png")) if folder.is_dir() else []


def explainable(analysis: Analysis, detection: Detection) -> bool:
    """Photos' detections that have an emotion model (cats have none; video tracks are not explained yet)."""
    return analysis.media == "image" and analysis.status == "done" and detection.top is not None


def explainable_detection_or_404(analysis: Analysis, position: int) -> Detection:
    detection = next((d for d in analysis.detections if d.position == position), None)
    if detection is None or not explainable(analysis, detection):
        abort(404)
    return detection


def status_document(analysis: Analysis, detection: Detection) -> dict:
    """The status, with the overlays' URLs and captions once they exist (for the API and the page's script)."""
    document = status(analysis, detection)
    if document["status"] == "done":
        document["images"] = [{"method": method, "title": METHOD_TITLES[method],
                               "url": url_for("analyze.explanation_image", analysis_id=analysis.id,
                                              position=detection.position, method=method)} for method in METHODS]
    return document


def status(analysis: Analysis, detection: Detection) -> dict:
    """{"status": "none" | "running" | "done" | "failed", "progress", and "error" when it failed}."""
    if all(path.is_file() for path in explanation_files(analysis, detection).values()):
        return {"status": "done", "progress": 1.0}
    with _tasks_lock:
        task = _tasks.get(_key(analysis, detection))
    if task is None:
        return {"status": "none", "progress": 0.0}
    if task.error:
        return {"status": "failed", "progress": task.progress, "error": task.error}
    return {"status": "running", "progress": task.progress}


def start(analysis: Analysis, detection: Detection) -> dict:
    """Start computing the explanation unless it is cached or under way (in this process); returns the status.
    Two web processes may both compute it: the files are written atomically, so the second just replaces them."""
    key = _key(analysis, detection)
    with _tasks_lock:  # check and claim in one step: two clicks at once start one computation
        current = status(analysis, detection)
        if current["status"] in ("done", "running"):
            return current
        task = _tasks[key] = Task()
    source = Path(current_app.config["UPLOAD_FOLDER"]) / analysis.stored_name
    job = (key, source, detection.box, detection.kind, detection.top, explanation_files(analysis, detection), task,
           current_app.config["MAX_IMAGE_PIXELS"])
    explain_folder()
    if current_app.config.get("EXPLAIN_EAGER"):
        _run(*job)
    else:
        _executor.submit(_run, *job)
    return status(analysis, detection)


def _run(key: str, source: Path, box: list[int], kind: str, emotion: str, files: dict[str, Path], task: Task,
         max_pixels: int) -> None:
    """Compute both maps of the shown emotion and write their overlays; failures are kept on the task, never
    raised. If the analysis was deleted meanwhile (its upload is gone), the overlays are removed again."""
    global _explainer
    try:
        rgb = decode_image(source.read_bytes(), max_pixels).rgb
        if _explainer is None:
            _explainer = Explainer.for_pipeline(get_pipeline())
        result = _explainer.explain(rgb, box, kind, emotion,
                                    progress=lambda done: setattr(task, "progress", 0.9 * done))
        result.save_overlays(files)
        if not source.exists():
            for path in files.values():
                path.unlink(missing_ok=True)
        with _tasks_lock:
            _tasks.pop(key, None)  # the files answer from now on
    except (OSError, MediaError) as error:
        log.warning("explanation of %s failed: %s", source.name, error)
        task.error = "The stored photo could not be read, so it cannot be explained."
    except Exception:  # noqa: BLE001 - a failed explanation must not take the worker thread down
        log.exception("explanation of %s failed", source.name)
        task.error = "The explanation failed on the server. Please try again later."

