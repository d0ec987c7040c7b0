"""Background analysis jobs: a durable queue kept in the database, run by an embedded worker thread.

The queue is the Analysis.status column ('queued' -> 'running' -> 'done' or 'failed'),
so a job that was queued or running when the server stopped is picked up again
on the next start. A worker claims a job with a conditional UPDATE, so several
worker threads or processes can share one database without running a job twice.
A running job refreshes its heartbeat with its progress; a job whose heartbeat
is older than JOBS_STALE_SECONDS (its worker died) is queued again, or marked
failed after JOBS_MAX_ATTEMPTS.

Modes (JOBS_MODE): "thread" (default: a daemon thread in the web process, started
with the server: `flask run`, gunicorn, or the first request), "eager" (run inside submit(), for tests and the CLI),
"external" (only enqueue; `flask jobs work` processes the queue in another process).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Protocol

import click
from flask import Flask, current_app

from extensions import db
from inference.errors import MediaError
from models import Analysis, utcnow

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    def submit(self, analysis_id: int) -> None:
        """Make the job for this (already committed, 'queued') analysis run soon."""


def claim_next() -> int | None:
    """Atomically move the oldest queued job to 'running'; its id, or None when the queue is empty."""
    while True:
        candidate = db.session.scalar(
            db.select(Analysis.id).where(Analysis.status == "queued").order_by(Analysis.created_at, Analysis.id)
            .limit(1)
        )
        if candidate is None:
            return None
        claimed = db.session.execute(
            db.update(Analysis).where(Analysis.id == candidate, Analysis.status == "queued")
            .values(status="running", attempts=Analysis.attempts + 1, heartbeat_at=utcnow())
        ).rowcount
        db.session.commit()
        if claimed:
            return candidate


def requeue_stale(stale_after: timedelta, max_attempts: int) -> int:
    """Jobs whose worker stopped beating: queue them again, or fail them after max_attempts."""
    cutoff = utcnow() - stale_after
    stale = Analysis.status == "running", Analysis.heartbeat_at < cutoff
    failed = db.session.execute(
        db.update(Analysis).where(*stale, Analysis.attempts >= max_attempts)
        .values(status="failed", error=f"The analysis was interrupted {max_attempts} times and was given up.")
    ).rowcount
    requeued = db.session.execute(db.update(Analysis).where(*stale).values(status="queued")).rowcount
    db.session.commit()
    if failed or requeued:
        log.warning("jobs: %d interrupted job(s) queued again, %d given up", requeued, failed)
    return requeued


def run_job(analysis_id: int) -> None:
    """Process one claimed job; any failure marks it failed with a readable reason (the upload is kept)."""
    from services import process_video_analysis

    analysis = db.session.get(Analysis, analysis_id)
    try:
        process_video_analysis(analysis, lambda fraction: report_progress(analysis_id, fraction))
    except MediaError as error:
        _fail(analysis_id, str(error))
    except Exception:
        log.exception("jobs: analysis %s failed", analysis_id)
        _fail(analysis_id, "The analysis failed because of an internal error; the upload is kept.")


def report_progress(analysis_id: int, fraction: float) -> None:
    db.session.execute(db.update(Analysis).where(Analysis.id == analysis_id)
                       .values(progress=round(fraction, 4), heartbeat_at=utcnow()))
    db.session.commit()


def _fail(analysis_id: int, reason: str) -> None:
    db.session.rollback()
    db.session.execute(db.update(Analysis).where(Analysis.id == analysis_id)
                       .values(status="failed", error=reason, heartbeat_at=utcnow()))
    db.session.commit()


def work_once(app: Flask) -> bool:
    """Requeue stale jobs, then run the next queued one; False when there was nothing to do."""
    with app.app_context():
        requeue_stale(timedelta(seconds=app.config["JOBS_STALE_SECONDS"]), app.config["JOBS_MAX_ATTEMPTS"])
        analysis_id = claim_next()
        if analysis_id is None:
            return False
        run_job(analysis_id)
        return True


class EmbeddedQueue:
    """A daemon thread in this process that drains the database queue, woken on submit."""

    def __init__(self, app: Flask):
        self.app = app
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="moodlens-jobs", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Let the current job finish, then end the thread (tests; a server just exits)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, analysis_id: int) -> None:
        self.start()
        self._wake.set()

    def _loop(self) -> None:
        poll_seconds = self.app.config["JOBS_POLL_SECONDS"]
        failures = 0
        while not self._stopping.is_set():
            try:
                busy = work_once(self.app)
                failures = 0
            except Exception as error:  # never let the worker die (database locked, not migrated yet...)
                failures += 1
                log.warning("jobs: cannot reach the queue (%s); retrying", error, exc_info=failures == 1)
                busy = False
            if not busy:
                self._wake.wait(poll_seconds * min(failures + 1, 30))
                self._wake.clear()


class EagerQueue:
    """Runs each job at once, inside submit() (tests, CLI)."""

    def __init__(self, app: Flask):
        self.app = app

    def submit(self, analysis_id: int) -> None:
        while work_once(self.app):
            pass


class ExternalQueue:
    """Only enqueues: `flask jobs work` (another process) runs the jobs."""

    def __init__(self, app: Flask):
        self.app = app

    def submit(self, analysis_id: int) -> None:
        return None


QUEUES = {"thread": EmbeddedQueue, "eager": EagerQueue, "external": ExternalQueue}


def init_app(app: Flask) -> None:
    app.config.setdefault("JOBS_MODE", "thread")
    app.config.setdefault("JOBS_POLL_SECONDS", 2.0)
    app.config.setdefault("JOBS_STALE_SECONDS", 60)
    app.config.setdefault("JOBS_MAX_ATTEMPTS", 3)
    queue = QUEUES[app.config["JOBS_MODE"]](app)
    app.extensions["moodlens_jobs"] = queue
    if isinstance(queue, EmbeddedQueue):
        if _serving():
            queue.start()  # picks up jobs left queued or running by the previous run
        app.before_request(queue.start)


def _serving() -> bool:
    """True unless the app was loaded for a CLI command other than `flask run` (db upgrade, analyze...)."""
    context = click.get_current_context(silent=True)
    return context is None or context.info_name == "run"


def job_queue() -> JobQueue:
    return current_app.extensions["moodlens_jobs"]
