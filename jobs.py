"""Background work: one durable queue kept in the database, for every kind of job (JobKind): video analyses
and "Why?" explanations. Each job is a row with JobState columns (models.py).

A row's status goes 'queued' -> 'running' -> 'done' or 'failed', so a job that was queued or running when
the server stopped is picked up again on the next start. A worker claims a job with a conditional UPDATE,
so several worker threads or processes can share one database without running a job twice. A running
job refreshes its heartbeat with its progress; a job whose heartbeat is older than JOBS_STALE_SECONDS
(its worker died) is queued again, or marked failed after JOBS_MAX_ATTEMPTS. What a job does is a
handler given to init_app by the app's wiring (jobs.py knows rows, not services).

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
from collections.abc import Callable, Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

import click
from flask import Flask, current_app

from extensions import db
from inference.errors import MediaError
from models import Analysis, Explanation, JobState, JobStatus, utcnow

log = logging.getLogger(__name__)


class JobKind(StrEnum):
    """What a job does; each kind's rows live in its own table."""

    EXPLANATION = "explanation"  # first: short, and someone is watching its progress
    ANALYSIS = "analysis"


ROWS: dict[JobKind, type[JobState]] = {JobKind.EXPLANATION: Explanation, JobKind.ANALYSIS: Analysis}
Handler = Callable[[JobState, Callable[[float], None]], None]  # (the claimed row, report progress 0..1)


class JobQueue(Protocol):
    def submit(self, kind: JobKind, job_id: int) -> None:
        """Make this (already committed, 'queued') job run soon."""


def worker_name() -> str:
    """This process, as the job's row records it: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def claim(kind: JobKind, job_id: int) -> bool:
    """Atomically move this job from 'queued' to 'running' for this process; False if it was not queued."""
    row = ROWS[kind]
    claimed = db.session.execute(
        db.update(row).where(row.id == job_id, row.status == JobStatus.QUEUED)
        .values(status=JobStatus.RUNNING, attempts=row.attempts + 1, heartbeat_at=utcnow(), worker=worker_name())
    ).rowcount
    db.session.commit()
    return bool(claimed)


def claim_next() -> tuple[JobKind, int] | None:
    """Claim the oldest queued job of the first kind that has one; (kind, id), or None when all are empty."""
    for kind, row in ROWS.items():
        while (candidate := db.session.scalar(db.select(row.id).where(row.status == JobStatus.QUEUED)
                                              .order_by(row.created_at, row.id).limit(1))) is not None:
            if claim(kind, candidate):
                return kind, candidate
    return None


def requeue_stale(stale_after: timedelta, max_attempts: int) -> int:
    """Jobs whose worker stopped beating: queue them again, or fail them after max_attempts."""
    cutoff = utcnow() - stale_after
    requeued = failed = 0
    for row in ROWS.values():
        stale = row.status == JobStatus.RUNNING, row.heartbeat_at < cutoff
        failed += db.session.execute(
            db.update(row).where(*stale, row.attempts >= max_attempts).values(
                status=JobStatus.FAILED, error=f"The work was interrupted {max_attempts} times and was given up.")
        ).rowcount
        requeued += db.session.execute(db.update(row).where(*stale).values(status=JobStatus.QUEUED)).rowcount
    db.session.commit()
    if failed or requeued:
        log.warning("jobs: %d interrupted job(s) queued again, %d given up", requeued, failed)
    return requeued


def run_job(kind: JobKind, job_id: int) -> None:
    """Process one claimed job; any failure marks it failed with a readable reason (an upload is kept)."""
    row = db.session.get(ROWS[kind], job_id)
    handler: Handler = current_app.extensions["moodlens_job_handlers"][kind]
    try:
        handler(row, lambda fraction: report_progress(kind, job_id, fraction))
    except MediaError as error:
        _fail(kind, job_id, str(error))
    except Exception:
        log.exception("jobs: %s %s failed", kind, job_id)
        _fail(kind, job_id, "The work failed because of an internal error; the upload is kept.")


def report_progress(kind: JobKind, job_id: int, fraction: float) -> None:
    row = ROWS[kind]
    db.session.execute(db.update(row).where(row.id == job_id)
                       .values(progress=round(fraction, 4), heartbeat_at=utcnow()))
    db.session.commit()


def _fail(kind: JobKind, job_id: int, reason: str) -> None:
    db.session.rollback()
    row = ROWS[kind]
    db.session.execute(db.update(row).where(row.id == job_id)
                       .values(status=JobStatus.FAILED, error=reason, heartbeat_at=utcnow()))
    db.session.commit()


def requeue_stale_jobs(app: Flask) -> int:
    return requeue_stale(timedelta(seconds=app.config["JOBS_STALE_SECONDS"]), app.config["JOBS_MAX_ATTEMPTS"])


def work_once(app: Flask) -> bool:
    """Requeue stale jobs, then run the next queued one; False when there was nothing to do."""
    with app.app_context():
        requeue_stale_jobs(app)
        claimed = claim_next()
        if claimed is None:
            return False
        run_job(*claimed)
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

    def submit(self, kind: JobKind, job_id: int) -> None:
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

    def submit(self, kind: JobKind, job_id: int) -> None:
        while work_once(self.app):
            pass


class ExternalQueue:
    """Only enqueues: `flask jobs work` (another process) runs the jobs."""

    def __init__(self, app: Flask):
        self.app = app

    def submit(self, kind: JobKind, job_id: int) -> None:
        return None


def execute(kind: str, job_id: int) -> None:
    """The RQ job (run by RedisQueue.work inside an app context): claim the job, then run it.

    A no-op when the job is no longer queued: another worker has it, it finished, or it was deleted.
    """
    try:
        if claim(JobKind(kind), job_id):
            run_job(JobKind(kind), job_id)
    finally:
        db.session.remove()


def rq_job_id(kind: JobKind, job_id: int, attempt: int) -> str:
    """One RQ job per attempt: a retry after a dead worker never collides with the dead worker's job."""
    return f"moodlens-{kind}-{job_id}-attempt-{attempt}"


class RedisQueue:
    """Scale-out: RQ on Redis carries "job N is waiting" to `flask jobs work` processes on any machine.

    The database stays the source of truth (status, progress, attempts), so the browser's progress,
    the API and the admin read the same rows as with the embedded worker. Each worker process runs
    an RQ SimpleWorker (no fork per job: the models stay loaded) and a janitor thread that queues
    again any job whose worker died (stale heartbeat) and re-enqueues any queued job with no
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

    def submit(self, kind: JobKind, job_id: int) -> None:
        from redis.exceptions import RedisError

        try:
            self._enqueue(kind, job_id, attempt=0)
        except RedisError as error:  # the row is committed: a worker's janitor enqueues it later
            log.warning("jobs: cannot reach Redis (%s); %s %s waits for a worker's janitor", error, kind, job_id)

    def _enqueue(self, kind: JobKind, job_id: int, attempt: int) -> None:
        self.queue.enqueue(execute, kind.value, job_id, job_id=rq_job_id(kind, job_id, attempt), result_ttl=0,
                           job_timeout=self.app.config["JOBS_TIMEOUT_SECONDS"], failure_ttl=7 * 24 * 3600)

    def recover(self) -> bool:
        """The janitor's round, every JOBS_POLL_SECONDS (so it always reports idle: False)."""
        from rq.job import Job

        with self.app.app_context():
            requeue_stale_jobs(self.app)
            waiting = [(kind, job_id, attempts) for kind, row in ROWS.items() for job_id, attempts in
                       db.session.execute(db.select(row.id, row.attempts).where(row.status == JobStatus.QUEUED))]
            db.session.remove()
        with self.connection.pipeline(transaction=False) as pipe:  # one round trip for the whole queue
            for kind, job_id, attempt in waiting:
                pipe.exists(Job.key_for(rq_job_id(kind, job_id, attempt)))
            found = pipe.execute()
        missing = [job for job, exists in zip(waiting, found) if not exists]
        for kind, job_id, attempt in missing:
            self._enqueue(kind, job_id, attempt)
        if missing:
            log.warning("jobs: %d waiting job(s) put on the Redis queue again", len(missing))
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


def init_app(app: Flask, handlers: Mapping[JobKind, Handler]) -> None:
    """Bind the queue of JOBS_MODE to the app, with what each kind of job does."""
    app.extensions["moodlens_job_handlers"] = dict(handlers)
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
