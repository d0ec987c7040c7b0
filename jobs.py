"""Background work: one durable queue kept in the database, for every kind of job (JobKind): video analyses,
"Why?" explanations, analyses run again with newer models, video tracks read again as the species their owners set,
and face signatures. Each job is a row with JobState columns (models.py).

A row's status goes 'queued' -> 'running' -> 'done' or 'failed', so a job that was queued or running when
the server stopped is picked up again on the next start. A worker claims a job with a conditional UPDATE,
so several worker threads or processes can share one database without running a job twice; it takes the kinds in
JobKind's order and, within a kind, the users in turn (fairest_first; RQ's workers take jobs in RQ's order). While a job
runs, a heartbeat thread refreshes its row every quarter of JOBS_STALE_SECONDS, however slow its progress; a
job whose heartbeat is older than JOBS_STALE_SECONDS (its worker died) is queued again, or marked failed after
JOBS_MAX_ATTEMPTS. A claim is this worker, this attempt (ClaimedJob): every write of a job (progress, results,
failure) is conditional on the row still holding it, so a worker that lost its job (queued again and
claimed by another) stops at its next progress report and never writes results over the new run's.
What a job does is a handler given to init_app by the app's wiring (jobs.py knows rows, not services).

Modes (JOBS_MODE): "thread" (default: a daemon thread in the web process, started
with the server: `flask run`, gunicorn, or the first request), "eager" (run inside submit(), for tests and the CLI),
"external" (only enqueue; `flask jobs work` polls the database in other processes),
"redis" (scale-out: each job is also put on an RQ queue in REDIS_URL, and `flask jobs work`
processes, on any number of machines, take them from there; see RedisQueue).
"""

from __future__ import annotations

import atexit
import errno
import logging
import math
import os
import secrets
import signal
import socket
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import click
from flask import Flask, current_app
from flask.helpers import get_debug_flag
from werkzeug.serving import is_running_from_reloader
from rq.timeouts import BaseTimeoutException
import sqlalchemy as sa

from extensions import committed, database_outage, db
from inference.errors import MediaError
from messages import N_
from models import (Analysis, Detection, Explanation, JobState, JobStatus, OnDemandStatus, Reanalysis, SignatureJob,
                    TrackReading, utcnow)

if TYPE_CHECKING:
    from rq import SimpleWorker

log = logging.getLogger(__name__)
INTERNAL_ERROR = N_("The work failed because of an internal error; the upload is kept.")  # a failed job's reason
INTERRUPTED = N_("The work was interrupted %(times)d times and was given up.")  # a failed job's reason
TOO_LONG = N_("The work took longer than %(minutes)d minutes and was stopped; the upload is kept.")
TOO_LONG_ONE_MINUTE = N_("The work took longer than a minute and was stopped; the upload is kept.")
TOO_LONG_SECONDS = N_("The work took longer than %(seconds)d seconds and was stopped; the upload is kept.")
STORAGE_FULL = N_("The server could not write what the work made (its disk is full or not writable); the upload is "
                  "kept.")
STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}  # a disk full or read-only: a server's trouble, told


class JobKind(StrEnum):
    """What a job does; each kind's rows live in its own table. Workers take the kinds in this order: the ones someone
    waits to see first, re-analyses late (the API queues any number of them at once: ahead of the track readings, one
    user's thousands held up every user's corrections)."""

    EXPLANATION = "explanation"  # first: short, and someone is watching its progress
    ANALYSIS = "analysis"
    TRACK_READING = "track_reading"  # a video track read again as the species its owner set
    REANALYSIS = "reanalysis"  # an analysis run again with the models loaded now ("Analyse again")
    SIGNATURES = "signatures"  # last: face signatures of an analysis (opted-in users), nobody waits on them


ROWS: dict[JobKind, type[JobState]] = {JobKind.EXPLANATION: Explanation, JobKind.ANALYSIS: Analysis,
                                       JobKind.TRACK_READING: TrackReading, JobKind.REANALYSIS: Reanalysis,
                                       JobKind.SIGNATURES: SignatureJob}
# A job is the user's whose analysis it works on: the joins from each kind's row to that analysis.
TO_ANALYSIS: dict[JobKind, tuple] = {JobKind.EXPLANATION: (Explanation.detection, Detection.analysis),
                                     JobKind.ANALYSIS: (), JobKind.REANALYSIS: (Reanalysis.analysis,),
                                     JobKind.TRACK_READING: (TrackReading.detection, Detection.analysis),
                                     JobKind.SIGNATURES: (SignatureJob.analysis,)}


class LostClaim(Exception):
    """This worker no longer holds the job: it was queued again (stale heartbeat) and may run elsewhere, or its
    row was deleted (the user deleted the analysis meanwhile: `deleted`, nothing went wrong)."""

    def __init__(self, message: str, deleted: bool = False) -> None:
        super().__init__(message)
        self.deleted = deleted


@dataclass(frozen=True)
class ClaimedJob:
    """One run of a job: which row, by which worker, at which attempt. The handler reports progress and
    secures the claim through it before writing results."""

    kind: JobKind
    job_id: int
    worker: str
    attempt: int

    def held(self) -> tuple:
        """The WHERE clauses true while this run still holds the row."""
        row = ROWS[self.kind]
        return (row.id == self.job_id, row.status == JobStatus.RUNNING, row.worker == self.worker,
                row.attempts == self.attempt)

    def beat(self, **values: float | str | None) -> bool:
        """Refresh the heartbeat (and set `values`) in the session's transaction if the claim holds; False if lost."""
        return bool(db.session.execute(db.update(ROWS[self.kind]).where(*self.held())
                                       .values(heartbeat_at=utcnow(), **values)).rowcount)

    def progress(self, fraction: float) -> None:
        """Record progress (0..1) and commit; raises LostClaim when another run has the job now."""
        report_progress(self, fraction)

    def secure(self) -> None:
        """Call before writing results: locks the row for the current transaction (the handler's commit ends it)
        if the claim holds, else rolls back and raises LostClaim. Nobody can requeue the job in between."""
        if not self.beat():
            db.session.rollback()
            raise self.lost()

    def deleted(self) -> bool:
        """Whether the job's row is gone (its analysis, or the account, deleted meanwhile). Reads the row afresh; call
        it outside a transaction with pending writes (after a rollback or commit)."""
        return db.session.get(ROWS[self.kind], self.job_id, populate_existing=True) is None

    def lost(self) -> LostClaim:
        """Why the claim is gone: the row deleted, handed back to the queue by this process (told to stop), else
        another run has it (queued again when its heartbeat went stale, and claimed)."""
        row = db.session.get(ROWS[self.kind], self.job_id, populate_existing=True)
        if row is None:
            return LostClaim(f"{self.kind} {self.job_id} was deleted while it ran", deleted=True)
        if row.status == JobStatus.QUEUED and row.worker is None:
            return LostClaim(f"{self.kind} {self.job_id} attempt {self.attempt} was handed back to the queue")
        return LostClaim(f"{self.kind} {self.job_id} attempt {self.attempt} was taken over")


Handler = Callable[[JobState, ClaimedJob], None]  # (the claimed row, its claim: progress and secure)


class JobQueue(Protocol):
    def submit(self, kind: JobKind, job_id: int) -> None:
        """Make this (already committed, 'queued') job run soon."""


WORKER_LENGTH = 64  # JobState.worker's width
_process_token = secrets.token_hex(4)  # made again in a forked child (_after_fork_in_child)


def worker_name() -> str:
    """This process, as the job's row records it: host:pid:token. The token, drawn once per process, keeps two
    processes apart that share a host name and a pid (containers, each its own pid 1): a process hands back only the
    jobs it holds (release_held_jobs)."""
    suffix = f":{os.getpid()}:{_process_token}"
    return socket.gethostname()[:WORKER_LENGTH - len(suffix)] + suffix


def claim(kind: JobKind, job_id: int) -> ClaimedJob | None:
    """Atomically move this job from 'queued' to 'running' for this process; None if it was not queued."""
    row, worker = ROWS[kind], worker_name()
    attempt = db.session.execute(
        db.update(row).where(row.id == job_id, row.status == JobStatus.QUEUED)
        .values(status=JobStatus.RUNNING, attempts=row.attempts + 1, heartbeat_at=utcnow(), worker=worker)
        .returning(row.attempts)
    ).scalar_one_or_none()
    db.session.commit()
    return None if attempt is None else ClaimedJob(kind, job_id, worker, attempt)


def claim_next() -> ClaimedJob | None:
    """Claim the next queued job (fairest_first) of the first kind that has one; None when all are empty."""
    for kind in ROWS:
        while (candidate := db.session.scalar(fairest_first(kind).limit(1))) is not None:
            if claimed := claim(kind, candidate):
                return claimed
    return None


def fairest_first(kind: JobKind) -> sa.Select:
    """The ids of the kind's queued jobs in the order workers take them, the users (their owners) in turn: first the
    jobs of the users with the fewest jobs of this kind running now; then of the user served longest ago (the last
    heartbeat of their jobs of this kind; never served: first), so one user's batch of long videos and another's
    stream of short ones alternate; then the oldest. A user's jobs keep their order."""
    queued = owned_jobs(kind)
    waiting = db.select(queued.c.owner).where(queued.c.status == JobStatus.QUEUED).distinct().subquery()
    turns = (_turns_looked_up if not TO_ANALYSIS[kind] else _turns_grouped)(kind, waiting)
    job = owned_jobs(kind)
    return (db.select(job.c.id).join(turns, turns.c.owner == job.c.owner).where(job.c.status == JobStatus.QUEUED)
            .order_by(turns.c.running, turns.c.last_turn.nulls_first(), job.c.created_at, job.c.id))


def _turns_looked_up(kind: JobKind, waiting: sa.Subquery) -> sa.Subquery:
    """Each waiting owner's running jobs of the kind and last turn, by one look-up each in an index of (user, status)
    and one of (user, heartbeat): for the analyses (models.Analysis's indexes), an account of 100,000 costs a claim
    2 ms, not the 90 of grouping all its rows."""
    theirs = owned_jobs(kind)
    running = (db.select(sa.func.count()).select_from(theirs)
               .where(theirs.c.owner == waiting.c.owner, theirs.c.status == JobStatus.RUNNING).scalar_subquery())
    served = owned_jobs(kind)
    last_turn = db.select(sa.func.max(served.c.heartbeat_at)).where(served.c.owner == waiting.c.owner).scalar_subquery()
    return db.select(waiting.c.owner, running.label("running"), last_turn.label("last_turn")).subquery()


def _turns_grouped(kind: JobKind, waiting: sa.Subquery) -> sa.Subquery:
    """The same, by grouping the waiting owners' jobs of the kind: for the kinds owned through a detection, whose
    look-ups would walk every analysis of the owner (37 ms a claim against 13 for 100,000 analyses)."""
    theirs = owned_jobs(kind)
    return (db.select(waiting.c.owner,
                      sa.func.count(sa.case((theirs.c.status == JobStatus.RUNNING, 1))).label("running"),
                      sa.func.max(theirs.c.heartbeat_at).label("last_turn"))
            .join(theirs, sa.and_(theirs.c.owner == waiting.c.owner, theirs.c.heartbeat_at.is_not(None)), isouter=True)
            .group_by(waiting.c.owner).subquery())


def owned_jobs(kind: JobKind) -> sa.Subquery:
    """The kind's jobs (id, status, created_at, heartbeat_at) with their `owner`: the user id of their analysis."""
    row = ROWS[kind]
    owned = db.select(row.id, row.status, row.created_at, row.heartbeat_at, Analysis.user_id.label("owner"))
    for join in TO_ANALYSIS[kind]:
        owned = owned.join(join)
    return owned.subquery()


def requeue_stale(stale_after: timedelta, max_attempts: int) -> int:
    """Jobs whose worker stopped beating: queue them again, or fail them after max_attempts."""
    cutoff = utcnow() - stale_after
    requeued = failed = 0
    for row in ROWS.values():
        stale = row.status == JobStatus.RUNNING, row.heartbeat_at < cutoff
        failed += db.session.execute(
            db.update(row).where(*stale, row.attempts >= max_attempts).values(
                status=JobStatus.FAILED, error=INTERRUPTED % {"times": max_attempts})
        ).rowcount
        requeued += db.session.execute(  # from the start: the page's bar would jump back when it starts again
            db.update(row).where(*stale).values(status=JobStatus.QUEUED, progress=0.0)).rowcount
    db.session.commit()
    if failed or requeued:
        log.warning("jobs: %d interrupted job(s) queued again, %d given up", requeued, failed)
    return requeued


FROM_THE_START = {"status": JobStatus.QUEUED, "progress": 0.0, "attempts": 0, "error": None, "heartbeat_at": None,
                  "worker": None, "handed_back": 0}  # a job's columns when it is queued anew


def queue_row(kind: JobKind, job: JobState) -> bool:
    """Queue a job's row, new or one whose work is over (done or failed), from its first attempt: commit it and
    submit it. False when another request queued it meanwhile (a new row: the table's unique key, one job per
    analysis or detection; a row of work over: it is no longer over), and this session is rolled back."""
    row = type(job)
    if job.id is None:
        return queue_rows(kind, [job])
    if db.session.execute(db.update(row).where(row.id == job.id, row.status.in_([JobStatus.DONE, JobStatus.FAILED]))
                          .values(FROM_THE_START)).rowcount:
        db.session.commit()
    else:
        db.session.rollback()
        return False
    job_queue().submit(kind, job.id)
    return True


def queue_rows(kind: JobKind, rows: list[JobState]) -> bool:
    """Queue new jobs' rows from their first attempt, in one commit, and submit them; False, and this session rolled
    back, when another request queued one of them meanwhile (the table's unique key: one job per analysis or
    detection; a caller of many then queues them one by one)."""
    for row in rows:
        for column, value in FROM_THE_START.items():
            setattr(row, column, value)
    db.session.add_all(rows)
    if not committed():
        return False
    for job_id in (sa.inspect(row).identity[0] for row in rows):  # not row.id: it would read each row again
        job_queue().submit(kind, job_id)
    return True


def retry(kind: JobKind, job_id: int) -> bool:
    """Queue a failed job again, from its first attempt (an admin's "Retry"); False when it had not failed."""
    row = ROWS[kind]
    queued = db.session.execute(
        db.update(row).where(row.id == job_id, row.status == JobStatus.FAILED).values(FROM_THE_START)
    ).rowcount
    db.session.commit()
    if queued:
        job_queue().submit(kind, job_id)
    return bool(queued)


def run_job(job: ClaimedJob) -> None:
    """Process one claimed job, its heartbeat kept fresh meanwhile; any failure marks it failed with a readable
    reason (an upload is kept). A run that lost its claim leaves the row to the run that has it; one whose row was
    deleted before or while it ran (its analysis or its account deleted, its files with them) just stops."""
    row = db.session.get(ROWS[job.kind], job.job_id)
    if row is None:
        log.info("jobs: %s %s was deleted before it ran; nothing to do", job.kind, job.job_id)
        return
    handler: Handler = current_app.extensions["moodlens_job_handlers"][job.kind]
    app = current_app._get_current_object()
    try:
        with Heartbeat(app, job, app.config["JOBS_STALE_SECONDS"] / 4):
            handler(row, job)
    except LostClaim as lost:
        db.session.rollback()
        log.log(logging.INFO if lost.deleted else logging.WARNING,
                "jobs: %s; this run stops without writing its results", lost)
    except Exception as error:
        db.session.rollback()
        if database_outage(error):  # down, restarting or locked for a while: the work itself did not fail
            _queue_again_after_outage(job, error, app.config["JOBS_MAX_ATTEMPTS"])
        elif job.deleted():  # what it read went from under it (its file, a row): nothing went wrong
            log.info("jobs: %s %s was deleted while it ran (%s); this run stops", job.kind, job.job_id,
                     type(error).__name__)
        else:
            _fail(job, failure_reason(job, error, _time_limit(app)))


def _queue_again_after_outage(job: ClaimedJob, error: Exception, max_attempts: int) -> None:
    """A run the database failed (down, restarting, locked): queue the job again now, from the start (given up as
    interrupted at max_attempts, as a job whose worker died); if the database cannot take even that, the job keeps its
    row as it is, and is queued again once its heartbeat is stale, as a dead worker's."""
    log.warning("jobs: %s %s met a database outage (%s); it is queued again", job.kind, job.job_id,
                str(error).splitlines()[0])
    given_up = job.attempt >= max_attempts
    values = ({"status": JobStatus.FAILED, "error": INTERRUPTED % {"times": max_attempts}} if given_up else
              {"status": JobStatus.QUEUED, "progress": 0.0})
    try:
        job.beat(**values)
        db.session.commit()
    except Exception as again:
        db.session.rollback()
        if not database_outage(again):
            raise
        log.warning("jobs: %s %s waits for its heartbeat to go stale", job.kind, job.job_id)


FREE_HAND_BACKS = 3  # a job's hand-backs that do not count as attempts (a deploy, a restart); later ones do


def release_held_jobs() -> list[tuple[JobKind, int, int]]:
    """Hand the jobs this process is running back to the queue, as if never started (progress 0; the attempt not
    counted, FREE_HAND_BACKS times a job): when it is told to stop, so that a restart neither waits JOBS_STALE_SECONDS
    for them nor uses up their attempts. A run still going finds its claim gone at its next report and writes
    nothing. Returns each job handed back: its kind, id and attempts now (what its next RQ job is named by)."""
    released, max_attempts = [], current_app.config["JOBS_MAX_ATTEMPTS"]
    for kind, row in ROWS.items():
        held = row.worker == worker_name(), row.status == JobStatus.RUNNING
        db.session.execute(  # a hand-back that counts, at the last attempt: given up, as a dead worker's job would be
            db.update(row).where(*held, row.handed_back >= FREE_HAND_BACKS, row.attempts >= max_attempts)
            .values(status=JobStatus.FAILED, error=INTERRUPTED % {"times": max_attempts}, worker=None,
                    heartbeat_at=None, handed_back=row.handed_back + 1))
        released += [(kind, job_id, attempts) for job_id, attempts in db.session.execute(
            db.update(row).where(*held)
            .values(status=JobStatus.QUEUED, progress=0.0, heartbeat_at=None, worker=None,
                    handed_back=row.handed_back + 1,
                    attempts=sa.case((row.handed_back < FREE_HAND_BACKS, row.attempts - 1), else_=row.attempts))
            .returning(row.id, row.attempts))]
    db.session.commit()
    if released:
        log.warning("jobs: %d running job(s) handed back to the queue", len(released))
    return released


def hand_back(app: Flask) -> list[tuple[JobKind, int, int]]:
    """release_held_jobs in an app context of its own, as a process stops; with the database gone too, the jobs wait
    for their heartbeats to go stale (logged) and none is returned."""
    with app.app_context():
        try:
            return release_held_jobs()
        except Exception as error:
            log.warning("jobs: could not hand the running job back (%s)", error)
            return []
        finally:
            db.session.remove()


def _time_limit(app: Flask) -> float:
    """The time limit a job runs under: the one RQ was given with it (by whichever process queued it, whose
    JOBS_TIMEOUT_SECONDS may not be this worker's), else this process's setting."""
    from rq import get_current_job

    rq_job = get_current_job()
    return float(rq_job.timeout) if rq_job is not None and rq_job.timeout else app.config["JOBS_TIMEOUT_SECONDS"]


def failure_reason(job: ClaimedJob, error: Exception, limit_seconds: float) -> str:
    """The reason a failed job gives: the media's own words, the time limit RQ stopped it at, a disk full or not
    writable, or an internal error (logged with its traceback)."""
    if isinstance(error, MediaError):
        return str(error)
    if isinstance(error, BaseTimeoutException):  # RQ stopped it at JOBS_TIMEOUT_SECONDS
        log.warning("jobs: %s %s ran past its time limit", job.kind, job.job_id)
        return timed_out(limit_seconds)
    if isinstance(error, OSError) and error.errno in STORAGE_ERRORS:
        log.error("jobs: %s %s could not write its files: %s", job.kind, job.job_id, error)
        return STORAGE_FULL
    log.error("jobs: %s %s failed", job.kind, job.job_id, exc_info=error)
    return INTERNAL_ERROR


def timed_out(limit_seconds: float) -> str:
    """The reason a job stopped at its time limit gives (stored in English, like every reason)."""
    seconds = math.ceil(limit_seconds)
    if seconds % 60:  # under a minute, or not whole minutes
        return TOO_LONG_SECONDS % {"seconds": seconds}
    return TOO_LONG_ONE_MINUTE if seconds == 60 else TOO_LONG % {"minutes": seconds // 60}


def report_progress(job: ClaimedJob, fraction: float) -> None:
    """Record a job's progress if its claim holds; raises LostClaim otherwise."""
    held = job.beat(progress=round(fraction, 4))
    db.session.commit()
    if not held:
        raise job.lost()


def standing(job: JobState | None) -> dict:
    """How a job stands, as its poller reads it: {"status": an OnDemandStatus ("none" without a job), "progress" (1 once
    done), and "error" when it failed}."""
    if job is None:
        return {"status": OnDemandStatus.NONE, "progress": 0.0}
    document = {"status": OnDemandStatus(job.status), "progress": 1.0 if job.status == JobStatus.DONE else job.progress}
    if job.status == JobStatus.FAILED:
        document["error"] = job.error
    return document


def _fail(job: ClaimedJob, reason: str) -> None:
    db.session.rollback()
    job.beat(status=JobStatus.FAILED, error=reason)
    db.session.commit()


class Heartbeat:
    """While a job runs (a `with` block), a thread of its own refreshes the job's heartbeat every `interval`
    seconds, in a session of its own, so a slow step between progress reports never looks like a dead worker.
    It stops when the block ends or the claim is lost."""

    def __init__(self, app: Flask, job: ClaimedJob, interval: float) -> None:
        self.app, self.job, self.interval = app, job, interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat_until_done, name=f"moodlens-heartbeat-{job.job_id}",
                                        daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, error_type, *_) -> None:
        if error_type is not None:  # a failed handler may hold the row's lock (secure()), which a beat would wait for
            db.session.rollback()
        self._done.set()
        self._thread.join()

    def _beat_until_done(self) -> None:
        with self.app.app_context():
            try:
                while not self._done.wait(self.interval) and self._beat():
                    pass
            finally:
                db.session.remove()

    def _beat(self) -> bool:
        """One beat; False once the claim is lost. A database error is logged and the next beat tries again."""
        try:
            held = self.job.beat()
            db.session.commit()
            return held
        except Exception as error:
            db.session.rollback()
            log.warning("jobs: heartbeat of %s %s failed (%s); retrying", self.job.kind, self.job.job_id, error)
            return True


def requeue_stale_jobs(app: Flask) -> int:
    return requeue_stale(timedelta(seconds=app.config["JOBS_STALE_SECONDS"]), app.config["JOBS_MAX_ATTEMPTS"])


def work_once(app: Flask) -> bool:
    """Requeue stale jobs, then run the next queued one; False when there was nothing to do."""
    with app.app_context():
        requeue_stale_jobs(app)
        claimed = claim_next()
        if claimed is None:
            return False
        run_job(claimed)
        return True


EXIT_WAIT_SECONDS = 10.0  # within gunicorn's graceful timeout (30 s) and systemd's stop timeout (90 s)
START_DELAY_SECONDS = 2.0  # gunicorn --preload builds the app in its master, then forks: its thread took a job first


class EmbeddedQueue:
    """A daemon thread in this process that drains the database queue, woken on submit. A process that forks (a
    server that builds the app before it forks its workers: gunicorn --preload) hands the work to its children: a
    thread it was about to start (`start_soon`) never starts, one it had ends after its current job, none starts
    there again, and each child starts its own."""

    def __init__(self, app: Flask):
        self.app = app
        self._forked_workers = False
        self._reset()
        _EMBEDDED_QUEUES.add(self)

    def _reset(self) -> None:
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    def start(self) -> None:
        with self._lock:
            if self._forked_workers:
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="moodlens-jobs", daemon=True)
                self._thread.start()

    def start_soon(self, delay: float = START_DELAY_SECONDS) -> None:
        """Start after `delay` seconds, unless this process forks first (or a request starts it sooner)."""
        self._timer = threading.Timer(delay, self.start)
        self._timer.daemon = True
        self._timer.start()

    def _before_fork(self) -> None:
        """In the forking process: no thread starts here again, and one that runs ends after its current job."""
        self._forked_workers = True
        if self._timer is not None:
            self._timer.cancel()
        self._stopping.set()
        self._wake.set()

    def _after_fork_in_child(self) -> None:
        """In the child: fresh locks and events (the parent's may have been held at the fork), and a thread of its
        own at once if the parent had one or was about to (the jobs left queued are picked up)."""
        wanted = self._thread is not None or self._timer is not None
        self._forked_workers = False
        self._reset()
        if wanted:
            self.start()

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

    def release_at_exit(self, wait_seconds: float = EXIT_WAIT_SECONDS) -> None:
        """The process is ending (a server stopped, a gunicorn worker restarted): take no other job, hand the one
        under way back to the queue, and give the thread `wait_seconds` to see it gone and end (its job's next
        report), so that the interpreter does not end under it while it is inside a model (an abort); then hand back
        once more what it may have claimed meanwhile."""
        if self._thread is None or not self._thread.is_alive():
            return
        self._stopping.set()
        self._wake.set()
        hand_back(self.app)
        self._thread.join(wait_seconds)
        hand_back(self.app)


_EMBEDDED_QUEUES: weakref.WeakSet[EmbeddedQueue] = weakref.WeakSet()


@atexit.register
def _release_at_exit() -> None:
    for queue in list(_EMBEDDED_QUEUES):
        queue.release_at_exit()


def _before_fork() -> None:
    for queue in list(_EMBEDDED_QUEUES):
        queue._before_fork()


def _after_fork_in_child() -> None:
    global _process_token
    _process_token = secrets.token_hex(4)
    for queue in list(_EMBEDDED_QUEUES):
        queue._after_fork_in_child()


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


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
            log.warning("jobs: cannot reach the database or the queue (%s); retrying", error, exc_info=failures == 1)
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
        if claimed := claim(JobKind(kind), job_id):
            run_job(claimed)
    finally:
        db.session.remove()


# RQ's states of a job that will not run again: a queued row whose RQ job ended (its worker failed to claim it
# while the database was down; failed jobs are kept a week) is put on the queue again, once the job has ended
# JOBS_STALE_SECONDS ago (a job that keeps failing before its claim is tried again that often, not every poll).
RQ_ENDED = {b"failed", b"finished", b"stopped", b"canceled"}


def _ended_before(ended_at: bytes | None, moment: datetime) -> bool:
    """Whether an RQ job's `ended_at` (RQ's UTC text; none known: long ago) is before `moment` (naive UTC)."""
    from rq.utils import utcparse

    return not ended_at or utcparse(ended_at.decode()).replace(tzinfo=None) < moment


def rq_job_id(kind: JobKind, job_id: int, attempt: int) -> str:
    """One RQ job per attempt: a retry after a dead worker never collides with the dead worker's job."""
    return f"moodlens-{kind}-{job_id}-attempt-{attempt}"


class RedisQueue:
    """Scale-out: RQ on Redis carries "job N is waiting" to `flask jobs work` processes on any machine.

    The database stays the source of truth (status, progress, attempts), so the browser's progress,
    the API and the admin read the same rows as with the embedded worker. Each worker process runs
    an RQ SimpleWorker (no fork per job: the models stay loaded) and a janitor thread that queues
    again any job whose worker died (stale heartbeat) and re-enqueues any queued job with no
    RQ job for its next attempt (Redis was down at submit, or lost its data) or whose RQ job ended
    without running it (the database was down when a worker took it). A job enqueued twice
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
                pipe.hmget(Job.key_for(rq_job_id(kind, job_id, attempt)), "status", "ended_at")
            found = pipe.execute()
        settled = utcnow() - timedelta(seconds=self.app.config["JOBS_STALE_SECONDS"])
        missing = [(job, status is not None) for job, (status, ended_at) in zip(waiting, found)
                   if status is None or (status in RQ_ENDED and _ended_before(ended_at, settled))]
        for (kind, job_id, attempt), ended in missing:
            if ended:
                self._drop(rq_job_id(kind, job_id, attempt))
            self._enqueue(kind, job_id, attempt)
        if missing:
            log.warning("jobs: %d waiting job(s) put on the Redis queue again", len(missing))
        return False

    def _drop(self, rq_id: str) -> None:
        """An ended RQ job, with its place in RQ's registries (another janitor may have dropped it already)."""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            Job.fetch(rq_id, connection=self.connection).delete()
        except NoSuchJobError:
            pass

    def work(self, burst: bool = False) -> None:
        """Run jobs in this process until stopped (SIGTERM or SIGINT: after the current job; asked again, at once, the
        job handed back); burst: until the queue is empty."""
        stopping = threading.Event()
        janitor = threading.Thread(target=keep_running, name="moodlens-janitor", daemon=True,
                                   args=(self.recover, self.app.config["JOBS_POLL_SECONDS"], threading.Event(),
                                         stopping))
        janitor.start()
        handlers_before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}  # RQ's replace them
        try:
            with self.app.app_context():
                self._work_until_stopped(burst)
        finally:
            stopping.set()
            for signum, handler in handlers_before.items():
                signal.signal(signum, handler)

    def _work_until_stopped(self, burst: bool) -> None:
        """RQ's worker loop, made again whenever it ends but as asked (SIGTERM or SIGINT; burst: once it ran
        through the queue): RQ quits on any error between jobs, Redis gone when a job ends among them (the job's
        row is committed by then, and the janitor enqueues what Redis lost), and a worker that quit left every
        later job waiting until someone noticed."""
        from redis.exceptions import RedisError
        from rq.exceptions import StopRequested

        failures = 0
        try:
            while True:
                worker = self._worker()
                try:
                    worked = worker.work(burst=burst, with_scheduler=False)
                    if burst or worker.asked_to_stop:
                        return
                    log.warning("jobs: the worker's loop ended on an error; it starts again")
                except RedisError as error:
                    worked = False
                    log.warning("jobs: lost Redis (%s); the worker starts again when it can", error)
                finally:
                    if worker.stopped_at_once:
                        ignore_stop_signals()  # work() restores them
                        self.hand_back()
                failures = 1 if worked else failures + 1  # the wait grows only while nothing gets done
                time.sleep(self.app.config["JOBS_POLL_SECONDS"] * min(failures, 30))
        except StopRequested:  # SIGTERM or SIGINT while it waited (the last worker's handlers are still in place)
            return

    def hand_back(self) -> None:
        """The job this worker was running when asked a second time to stop, back to the queue (`hand_back`) and on
        Redis at once: RQ filed the job it was running as failed, which the janitor would have enqueued again only
        JOBS_STALE_SECONDS later. Redis gone: the janitor's rule, then."""
        from redis.exceptions import RedisError

        for kind, job_id, attempt in hand_back(self.app):
            try:
                for failed in (attempt, attempt - 1):  # the run's RQ job: this attempt's, or the last when it counted
                    self._drop(rq_job_id(kind, job_id, failed))
                self._enqueue(kind, job_id, attempt)
            except RedisError as error:
                log.warning("jobs: cannot reach Redis (%s); %s %s waits for a worker's janitor", error, kind, job_id)

    def _worker(self) -> SimpleWorker:
        """RQ's worker, once Redis answers: a worker started while Redis is down waits for it, backing off as the
        janitor does, rather than exiting."""
        from redis.exceptions import RedisError

        failures = 0
        while True:
            try:
                return _stoppable_worker_class()([self.queue], connection=self.connection)
            except RedisError as error:
                failures += 1
                log.warning("jobs: cannot reach Redis (%s); the worker starts when it can", error)
                time.sleep(self.app.config["JOBS_POLL_SECONDS"] * min(failures, 30))


def _stoppable_worker_class() -> type[SimpleWorker]:
    """RQ's SimpleWorker that remembers being asked to stop (its loop ends on that and on any error alike) and being
    asked again while a job ran: RQ's cold shutdown, a SystemExit in the job (which RQ files as failed), and the job
    left "running" in the database until JOBS_STALE_SECONDS, an attempt used up."""
    from rq import SimpleWorker

    class StoppableWorker(SimpleWorker):
        asked_to_stop = stopped_at_once = False

        def request_stop(self, signum: int, frame: object) -> None:
            self.asked_to_stop = True
            super().request_stop(signum, frame)

        def request_force_stop(self, signum: int, frame: object) -> None:
            try:
                super().request_force_stop(signum, frame)  # returns when asked within a second of the first time
            except SystemExit:
                self.stopped_at_once = True
                raise

    return StoppableWorker


class JobsMode(StrEnum):
    """Where background work runs (JOBS_MODE; the module's docstring says what each means)."""

    THREAD = "thread"
    EAGER = "eager"
    EXTERNAL = "external"
    REDIS = "redis"


QUEUES = {JobsMode.THREAD: EmbeddedQueue, JobsMode.EAGER: EagerQueue, JobsMode.EXTERNAL: ExternalQueue,
          JobsMode.REDIS: RedisQueue}


def _jobs_mode(setting: object) -> JobsMode:
    """JOBS_MODE as its member; a value none names stops the start with the ones there are."""
    try:
        return JobsMode(setting)
    except ValueError:
        raise RuntimeError(f"JOBS_MODE is {setting!r}; it must be one of {', '.join(JobsMode)}") from None


def init_app(app: Flask, handlers: Mapping[JobKind, Handler]) -> None:
    """Bind the queue of JOBS_MODE to the app, with what each kind of job does."""
    app.extensions["moodlens_job_handlers"] = dict(handlers)
    queue = QUEUES[_jobs_mode(app.config["JOBS_MODE"])](app)
    app.extensions["moodlens_jobs"] = queue
    if isinstance(queue, EmbeddedQueue):
        serving = _serving()
        if serving == Serving.NOW:
            queue.start()  # picks up jobs left queued or running by the previous run
            _exit_at_sigterm()
        elif serving == Serving.SOON:
            queue.start_soon()
        app.before_request(queue.start)


class Serving(StrEnum):
    """Whether the process that loaded the app serves it, and so runs its embedded job thread."""

    NOW = "now"  # `flask run`'s serving process: the thread starts at once
    SOON = "soon"  # a WSGI server's import: after START_DELAY_SECONDS, unless the process forks its workers first
    NO = "no"  # a CLI command other than `flask run`, or `flask run`'s reloader (its outer process only watches)


def _exit_at_sigterm() -> None:
    """`flask run` (the development server) ends at SIGTERM as at Ctrl-C, its exit handlers run (the running job
    handed back: release_at_exit), where Python's default would end it at once; a handler set already is kept."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serving() -> Serving:
    """How the process that loaded the app serves it (Serving). `flask run --debug`'s outer process watches for
    changes and is never restarted: a thread there took jobs with the code it started with."""
    context = click.get_current_context(silent=True)
    if context is None:
        return Serving.SOON
    if context.info_name != "run":
        return Serving.NO
    reloads = context.params.get("reload")
    watcher = (get_debug_flag() if reloads is None else reloads) and not is_running_from_reloader()
    return Serving.NO if watcher else Serving.NOW


def job_queue() -> JobQueue:
    return current_app.extensions["moodlens_jobs"]


def work(app: Flask, once: bool = False) -> None:
    """`flask jobs work`: take jobs from Redis (JOBS_MODE=redis) or poll the database; once: until none is left."""
    from inference.pipeline import get_pipeline

    get_pipeline()  # load the models before taking the first job, not in the middle of it
    queue = app.extensions["moodlens_jobs"]
    if isinstance(queue, RedisQueue):
        queue.work(burst=once)
    elif once:
        while work_once(app):
            pass
    else:
        poll_until_stopped(app)


class StopNow(BaseException):
    """Asked again to stop while a job runs: the run ends where it is (not an Exception: no handler catches it)."""


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def ignore_stop_signals() -> None:
    """Asked a third time while handing a job back: it is stopping already (a signal then would cut the hand-back)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def poll_until_stopped(app: Flask) -> None:
    """`flask jobs work` on the database: run the queued jobs until told to stop, a database outage waited out
    (keep_running). SIGTERM or SIGINT lets the current job finish, as an RQ worker's does; a second stops at once,
    handing the job back to the queue (release_held_jobs). Two signals within a few milliseconds may count as one
    (Python runs a handler once for a signal pending twice)."""
    stopping, wake = threading.Event(), threading.Event()

    def asked_to_stop(signum: int, frame: object) -> None:
        if stopping.is_set():
            raise StopNow()
        log.warning("jobs: stopping after the current job (ask again to stop at once)")
        stopping.set()
        wake.set()

    handlers_before = {signum: signal.signal(signum, asked_to_stop) for signum in STOP_SIGNALS}
    try:
        keep_running(lambda: work_once(app), app.config["JOBS_POLL_SECONDS"], wake, stopping)
    except StopNow:
        ignore_stop_signals()
        hand_back(app)
    finally:
        for signum, handler in handlers_before.items():
            signal.signal(signum, handler)
