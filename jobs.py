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
"external" (only enqueue; `flask jobs work` polls the database in other processes),
"redis" (scale-out: each job is also put on an RQ queue in REDIS_URL, and `flask jobs work`
processes, on any number of machines, take them from there; see RedisQueue).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
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


def worker_name() -> str:
    """This process, as the analysis row records it: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def claim(analysis_id: int) -> bool:
    """Atomically move this job from 'queued' to 'running' for this process; False if it was not queued."""
    claimed = db.session.execute(
        db.update(Analysis).where(Analysis.id == analysis_id, Analysis.status == "queued")
        .values(status="running", attempts=Analysis.attempts + 1, heartbeat_at=utcnow(), worker=worker_name())
    ).rowcount
    db.session.commit()
    return bool(claimed)


def claim_next() -> int | None:
    """Claim the oldest queued job; its id, or None when the queue is empty."""
    while True:
        candidate = db.session.scalar(
            db.select(Analysis.id).where(Analysis.status == "queued").order_by(Analysis.created_at, Analysis.id)
            .limit(1)
        )
        if candidate is None:
            return None
        if claim(candidate):
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


def requeue_stale_jobs(app: Flask) -> int:
    return requeue_stale(timedelta(seconds=app.config["JOBS_STALE_SECONDS"]), app.config["JOBS_MAX_ATTEMPTS"])


def work_once(app: Flask) -> bool:
    """Requeue stale jobs, then run the next queued one; False when there was nothing to do."""
    with app.app_context():
        requeue_stale_jobs(app)
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
        keep_running(lambda: work_once(self.app), self.app.config["JOBS_POLL_SECONDS"], self._wake, self._stopping)


def keep_running(step: Callable[[], bool], poll_seconds: float, wake: threading.Event,
                 stopping: threading.Event) -> None:
    """Call step() until stopping is set; after an idle step (False) wait poll_seconds or until woken.

    A failing step (database or Redis unreachable, database not migrated yet) is logged and retried,
    backing off up to 30 polls: the loop never dies.
    """
    failures = 0
    while not stopping.is_set():
        try:
            busy = step()
            failures = 0
        except Exception as error:
            failures += 1
            log.warning("jobs: cannot reach the queue (%s); retrying", error, exc_info=failures == 1)
            busy = False
        if not busy:
            wake.wait(poll_seconds * min(failures + 1, 30))
            wake.clear()


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


def execute(analysis_id: int) -> None:
    """The RQ job (run by RedisQueue.work inside an app context): claim the analysis, then run it.

    A no-op when the analysis is no longer queued: another worker has it, it finished, or it was deleted.
    """
    try:
        if claim(analysis_id):
            run_job(analysis_id)
    finally:
        db.session.remove()


def rq_job_id(analysis_id: int, attempt: int) -> str:
    """One RQ job per attempt: a retry after a dead worker never collides with the dead worker's job."""
    return f"moodlens-analysis-{analysis_id}-attempt-{attempt}"


class RedisQueue:
    """Scale-out: RQ on Redis carries "analysis N is waiting" to `flask jobs work` processes on any machine.

    The database stays the source of truth (status, progress, attempts), so the browser's progress,
    the API and the admin read the same rows as with the embedded worker. Each worker process runs
    an RQ SimpleWorker (no fork per job: the models stay loaded) and a janitor thread that queues
    again any job whose worker died (stale heartbeat) and re-enqueues any 'queued' analysis with no
    RQ job for its next attempt (Redis was down at submit, or lost its data). A job enqueued twice
    runs once: execute() starts with the same conditional claim as the embedded worker.
    """

    def __init__(self, app: Flask):
        from redis import Redis
        from rq import Queue

        if not app.config.get("REDIS_URL"):
            raise RuntimeError("JOBS_MODE=redis needs REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
        self.app = app
        self.connection = Redis.from_url(app.config["REDIS_URL"])
        self.queue = Queue(app.config["JOBS_QUEUE"], connection=self.connection)

    def submit(self, analysis_id: int) -> None:
        from redis.exceptions import RedisError

        try:
            self._enqueue(analysis_id, attempt=0)
        except RedisError as error:  # the row is committed: a worker's janitor enqueues it later
            log.warning("jobs: cannot reach Redis (%s); analysis %s waits for a worker's janitor", error, analysis_id)

    def _enqueue(self, analysis_id: int, attempt: int) -> None:
        self.queue.enqueue(execute, analysis_id, job_id=rq_job_id(analysis_id, attempt), result_ttl=0,
                           job_timeout=self.app.config["JOBS_TIMEOUT_SECONDS"], failure_ttl=7 * 24 * 3600)

    def recover(self) -> bool:
        """The janitor's round, every JOBS_POLL_SECONDS (so it always reports idle: False)."""
        from rq.job import Job

        with self.app.app_context():
            requeue_stale_jobs(self.app)
            waiting = db.session.execute(
                db.select(Analysis.id, Analysis.attempts).where(Analysis.status == "queued")).all()
            db.session.remove()
        with self.connection.pipeline(transaction=False) as pipe:  # one round trip for the whole queue
            for analysis_id, attempt in waiting:
                pipe.exists(Job.key_for(rq_job_id(analysis_id, attempt)))
            found = pipe.execute()
        missing = [row for row, exists in zip(waiting, found) if not exists]
        for analysis_id, attempt in missing:
            self._enqueue(analysis_id, attempt)
        if missing:
            log.warning("jobs: %d waiting analysis(es) put on the Redis queue again", len(missing))
        return False

    def work(self, burst: bool = False) -> None:
        """Run jobs in this process until stopped (SIGTERM: after the current job); burst: until the queue is empty."""
        from rq import SimpleWorker

        stopping = threading.Event()
        janitor = threading.Thread(target=keep_running, name="moodlens-janitor", daemon=True,
                                   args=(self.recover, self.app.config["JOBS_POLL_SECONDS"], threading.Event(),
                                         stopping))
        janitor.start()
        try:
            with self.app.app_context():
                SimpleWorker([self.queue], connection=self.connection).work(burst=burst, with_scheduler=False)
        finally:
            stopping.set()


QUEUES = {"thread": EmbeddedQueue, "eager": EagerQueue, "external": ExternalQueue, "redis": RedisQueue}


def init_app(app: Flask) -> None:
    app.config.setdefault("JOBS_MODE", "thread")
    app.config.setdefault("JOBS_POLL_SECONDS", 2.0)
    app.config.setdefault("JOBS_STALE_SECONDS", 60)
    app.config.setdefault("JOBS_MAX_ATTEMPTS", 3)
    app.config.setdefault("JOBS_QUEUE", "moodlens")  # the RQ queue's name (JOBS_MODE=redis)
    app.config.setdefault("JOBS_TIMEOUT_SECONDS", 3600)  # RQ kills a job that runs longer
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


def work(app: Flask, once: bool = False) -> None:
    """`flask jobs work`: take jobs from Redis (JOBS_MODE=redis) or poll the database; once: until none is left."""
    from inference.pipeline import get_pipeline

    get_pipeline()  # load the models before taking the first job, not in the middle of it
    queue = app.extensions["moodlens_jobs"]
    if isinstance(queue, RedisQueue):
        queue.work(burst=once)
        return
    while True:
        if not work_once(app):
            if once:
                return
            time.sleep(app.config["JOBS_POLL_SECONDS"])
