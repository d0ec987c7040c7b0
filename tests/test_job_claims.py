"""Job claims: a slow job's heartbeat stays fresh, a run that lost its job (queued again and claimed by
another worker) writes no results, for both kinds of job, and workers take the users' jobs in turn."""

from __future__ import annotations

import errno
import logging
import os
import signal
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import OperationalError

from bench.fixtures import csrf_token, login, make_app, make_user
import jobs
import services.analyses
from extensions import db
from inference.explain import Explainer
from inference.video import VideoAnalyzer
from models import Analysis, Detection, Explanation, JobStatus, Media, utcnow
from tests.conftest import upload, upload_files
import web.i18n
from web.i18n import reason

OTHER_WORKER = "elsewhere:1"


def take_over(row_type: type[Analysis] | type[Explanation], row_id: int) -> None:
    """What a second worker does to a job whose heartbeat went stale: queue it again and claim it."""
    with db.engine.begin() as connection:
        connection.execute(db.update(row_type).where(row_type.id == row_id).values(
            status=JobStatus.RUNNING, worker=OTHER_WORKER, attempts=row_type.attempts + 1, heartbeat_at=utcnow()))


@pytest.fixture()
def queued_app(tmp_path):
    """An app whose jobs wait until the test runs them (jobs.work_once), with a logged-in client."""
    app = make_app(tmp_path, JOBS_STALE_SECONDS=2)
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)
    make_user(app, "alice")
    client = app.test_client()
    login(client, "alice")
    return app, client


def only_analysis(app) -> Analysis:
    with app.app_context():
        return db.session.scalars(db.select(Analysis)).one()


def test_a_job_with_slow_progress_keeps_its_heartbeat_fresh(queued_app, faceless_video, monkeypatch):
    app, client = queued_app
    upload(client, faceless_video.read_bytes(), "clip.mp4")
    process = VideoAnalyzer._process

    def slow_process(self, *args):  # no progress report for 2.5 stale periods
        time.sleep(2.5 * app.config["JOBS_STALE_SECONDS"])
        return process(self, *args)

    monkeypatch.setattr(VideoAnalyzer, "_process", slow_process)
    worker = threading.Thread(target=jobs.work_once, args=(app,))
    worker.start()
    requeued = 0
    with app.app_context():
        while worker.is_alive():
            requeued += jobs.requeue_stale_jobs(app)  # another worker's janitor, watching
            db.session.remove()
            time.sleep(0.1)
    worker.join()
    analysis = only_analysis(app)
    assert requeued == 0
    assert analysis.status == JobStatus.DONE and analysis.attempts == 1


@pytest.mark.parametrize("when", ["during the analysis", "before the results"])
def test_a_video_job_that_lost_its_claim_writes_no_results(queued_app, two_face_video, monkeypatch, when):
    app, client = queued_app
    upload(client, two_face_video.read_bytes(), "clip.mp4")
    analysis_id = only_analysis(app).id
    if when == "during the analysis":
        process = VideoAnalyzer._process

        def process_then_lose(self, *args):
            take_over(Analysis, analysis_id)
            return process(self, *args)

        monkeypatch.setattr(VideoAnalyzer, "_process", process_then_lose)
    else:
        analyze = services.analyses.analyze_video

        def analyze_then_lose(*args):
            result = analyze(*args)
            take_over(Analysis, analysis_id)
            return result

        monkeypatch.setattr(services.analyses, "analyze_video", analyze_then_lose)
    assert jobs.work_once(app) is True
    analysis = only_analysis(app)
    assert (analysis.status, analysis.worker, analysis.attempts) == (JobStatus.RUNNING, OTHER_WORKER, 2)
    assert analysis.thumb_name is None and analysis.error is None
    with app.app_context():
        assert db.session.get(Analysis, analysis_id).detections == []
    assert [path.name for path in upload_files(app)] == [analysis.stored_name]  # no poster frame


def queued_explanation(folder: Path, photo: bytes) -> tuple:
    """(app, Alice's client, her photo's analysis id, a CSRF token): the photo analysed, then "Why?" asked for its
    first face, the explanation waiting for jobs.work_once."""
    app = make_app(folder)
    make_user(app, "alice")
    client = app.test_client()
    login(client, "alice")
    analysis_id = int(upload(client, photo).location.rsplit("/", 1)[1])
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)
    token = csrf_token(client, f"/analyses/{analysis_id}")
    assert client.post(f"/api/v1/analyses/{analysis_id}/detections/1/explanation", headers={"X-CSRFToken": token}
                       ).get_json()["status"] == "queued"
    return app, client, analysis_id, token


def test_an_explanation_that_lost_its_claim_writes_no_overlays(tmp_path, astronaut_jpeg, monkeypatch):
    app, _, _, _ = queued_explanation(tmp_path, astronaut_jpeg)
    explain = Explainer.explain

    def explain_then_lose(self, *args, **kwargs):
        result = explain(self, *args, **kwargs)
        take_over(Explanation, explanation_id)
        return result

    monkeypatch.setattr(Explainer, "explain", explain_then_lose)
    with app.app_context():
        explanation_id = db.session.scalars(db.select(Explanation.id)).one()
    assert jobs.work_once(app) is True
    with app.app_context():
        explanation = db.session.get(Explanation, explanation_id)
        assert (explanation.status, explanation.worker) == (JobStatus.RUNNING, OTHER_WORKER)
    assert list(Path(app.config["EXPLAIN_FOLDER"]).glob("*.png")) == []  # the face's crop is there, no overlay


def test_an_explanation_whose_analysis_was_deleted_meanwhile_stops_quietly(tmp_path, astronaut_jpeg, monkeypatch,
                                                                           caplog):
    app, client, analysis_id, token = queued_explanation(tmp_path, astronaut_jpeg)
    explain = Explainer.explain

    def explain_while_deleted(self, *args, **kwargs):  # the owner deletes the photo while "Why?" runs
        result = explain(self, *args, **kwargs)
        assert client.delete(f"/api/v1/analyses/{analysis_id}", headers={"X-CSRFToken": token}).status_code == 204
        return result

    monkeypatch.setattr(Explainer, "explain", explain_while_deleted)
    jobs_log = logging.getLogger("jobs")  # the migrations' logging.config turned it off and took caplog's handler
    monkeypatch.setattr(jobs_log, "disabled", False)
    jobs_log.addHandler(caplog.handler)
    try:
        with caplog.at_level("INFO", logger="jobs"):
            assert jobs.work_once(app) is True
    finally:
        jobs_log.removeHandler(caplog.handler)
    assert "was deleted while it ran" in caplog.text and "taken over" not in caplog.text
    assert not [record for record in caplog.records if record.levelname in ("WARNING", "ERROR")]
    assert list(Path(app.config["EXPLAIN_FOLDER"]).glob("*")) == []


def test_a_job_stopped_at_its_time_limit_says_so(queued_app, two_face_video, monkeypatch):
    """RQ stops a job past JOBS_TIMEOUT_SECONDS by raising inside it: the page said "an internal error"."""
    app, client = queued_app
    upload(client, two_face_video.read_bytes(), "clip.mp4")

    def runs_past_its_limit(*args):
        raise JobTimeoutException("Task exceeded maximum timeout value (3600 seconds)")

    monkeypatch.setattr(services.analyses, "analyze_video", runs_past_its_limit)
    assert jobs.work_once(app) is True
    analysis = only_analysis(app)
    assert (analysis.status, analysis.error) == (
        JobStatus.FAILED, "The work took longer than 60 minutes and was stopped; the upload is kept.")


def test_a_time_limit_is_told_in_whole_minutes_or_in_seconds(app):
    """A worker with JOBS_TIMEOUT_SECONDS 45 stored "took longer than 1 minutes"; the reasons read back in Korean."""
    assert jobs.timed_out(60) == "The work took longer than a minute and was stopped; the upload is kept."
    assert jobs.timed_out(45) == "The work took longer than 45 seconds and was stopped; the upload is kept."
    assert jobs.timed_out(90.5) == "The work took longer than 91 seconds and was stopped; the upload is kept."
    assert jobs.timed_out(120) == "The work took longer than 2 minutes and was stopped; the upload is kept."
    with app.test_request_context(headers={"Accept-Language": "ko"}):
        assert reason(jobs.timed_out(60)) == "작업이 1분을 넘겨서 멈췄어요. 올린 파일은 그대로 있어요."
        assert reason(jobs.timed_out(45)) == "작업이 45초를 넘겨서 멈췄어요. 올린 파일은 그대로 있어요."


def test_a_jobs_mode_that_names_no_mode_stops_the_start_with_the_ones_there_are(tmp_path):
    with pytest.raises(RuntimeError, match="JOBS_MODE is 'threads'; it must be one of thread, eager, external, redis"):
        make_app(tmp_path, JOBS_MODE="threads")
    assert make_app(tmp_path / "good", JOBS_MODE="external").extensions["moodlens_jobs"].__class__ is jobs.ExternalQueue


def test_a_job_queued_again_after_its_worker_died_starts_its_progress_again(queued_app, two_face_video):
    app, client = queued_app
    upload(client, two_face_video.read_bytes(), "clip.mp4")
    with app.app_context():
        db.session.execute(db.update(Analysis).values(status=JobStatus.RUNNING, progress=0.41, attempts=1,
                                                      heartbeat_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        assert jobs.requeue_stale_jobs(app) == 1
    analysis = only_analysis(app)
    assert (analysis.status, analysis.progress) == (JobStatus.QUEUED, 0.0)


def queue_job(app, kind: jobs.JobKind, user_id: int, minutes_ago: int) -> int:
    """A queued job of this kind on a video of the user's (its analysis, for an analysis job), asked for
    `minutes_ago`; its id."""
    created_at = utcnow() - timedelta(minutes=minutes_ago)
    with app.app_context():
        analysis = Analysis(user_id=user_id, media=Media.VIDEO, status=JobStatus.DONE, original_name="clip.mp4",
                            stored_name=f"{uuid.uuid4().hex}.mp4", format="mp4", width=640, height=480,
                            created_at=created_at)
        if kind == jobs.JobKind.ANALYSIS:
            job = analysis
        elif hasattr(row := jobs.ROWS[kind], "detection_id"):
            job = row(detection=Detection(analysis=analysis, position=0, x1=0, y1=0, x2=9, y2=9, score=0.9,
                                          emotions={}), created_at=created_at)
        else:
            job = row(analysis=analysis, created_at=created_at)
        job.status = JobStatus.QUEUED
        db.session.add(job)
        db.session.commit()
        return job.id


def finish(app, claimed: jobs.ClaimedJob) -> None:
    """What the worker does at the end of a job: a last beat, and the job done."""
    with app.app_context():
        claimed.beat(status=JobStatus.DONE)
        db.session.commit()


@pytest.mark.parametrize("kind", [jobs.JobKind.ANALYSIS, jobs.JobKind.EXPLANATION])
@pytest.mark.parametrize("workers", ["one worker", "two workers"])
def test_workers_take_users_jobs_in_turn_so_one_user_cannot_hold_up_another(app, kind, workers):
    """Alice queues three long videos, then Bob one: the oldest job goes first; then, whether Alice's first is still
    running (two workers) or done (one worker), Bob's goes before Alice's next ones, which keep their order."""
    alice, bob = make_user(app, "alice"), make_user(app, "bob")
    alices = [queue_job(app, kind, alice, minutes_ago) for minutes_ago in (4, 3, 2)]
    bobs = queue_job(app, kind, bob, minutes_ago=1)
    taken = []
    with app.app_context():
        while claimed := jobs.claim_next():
            taken.append(claimed.job_id)
            if workers == "one worker":
                finish(app, claimed)
    assert taken == [alices[0], bobs, alices[1], alices[2]]


def test_a_users_batch_and_another_users_stream_of_jobs_alternate(app):
    """Alice queued four videos ten minutes ago; Bob sends his next while each of his runs. Counting each user's
    turns since their oldest waiting job left Alice behind for good after two (ABABBBB...)."""
    alice, bob = make_user(app, "alice"), make_user(app, "bob")
    alices = [queue_job(app, jobs.JobKind.ANALYSIS, alice, minutes_ago) for minutes_ago in (13, 12, 11, 10)]
    bobs = [queue_job(app, jobs.JobKind.ANALYSIS, bob, minutes_ago=9)]
    owners = {job_id: "A" for job_id in alices} | {bobs[0]: "B"}
    taken = []
    with app.app_context():
        while (claimed := jobs.claim_next()) and len(taken) < 12:
            taken.append(owners[claimed.job_id])
            if owners[claimed.job_id] == "B" and len(bobs) < 8:  # Bob's next, sent while this one runs
                bobs.append(queue_job(app, jobs.JobKind.ANALYSIS, bob, minutes_ago=0))
                owners[bobs[-1]] = "B"
            finish(app, claimed)
    assert "".join(taken[:8]) == "ABABABAB"


def test_a_job_is_claimed_only_while_it_is_queued(app):
    """Mutant 28 (claim without status == queued): two workers that picked the same job both ran it."""
    job_id = queue_job(app, jobs.JobKind.ANALYSIS, make_user(app, "alice"), minutes_ago=1)
    with app.app_context():
        assert jobs.claim(jobs.JobKind.ANALYSIS, job_id) is not None
        assert jobs.claim(jobs.JobKind.ANALYSIS, job_id) is None


def test_an_earlier_attempt_of_the_same_worker_has_lost_its_claim(app):
    """Mutant 30 (held() without attempts): a run requeued and claimed again by the same process (its janitor, its
    thread pool) kept writing next to the new run."""
    job_id = queue_job(app, jobs.JobKind.ANALYSIS, make_user(app, "alice"), minutes_ago=1)
    with app.app_context():
        first = jobs.claim(jobs.JobKind.ANALYSIS, job_id)
        db.session.execute(db.update(Analysis).values(heartbeat_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        assert jobs.requeue_stale(timedelta(minutes=1), max_attempts=5) == 1
        second = jobs.claim(jobs.JobKind.ANALYSIS, job_id)
        assert (first.worker, first.attempt, second.attempt) == (second.worker, 1, 2)
        assert first.beat() is False and second.beat() is True


@pytest.mark.parametrize(("attempts", "status"), [(2, JobStatus.QUEUED), (3, JobStatus.FAILED)])
def test_a_job_interrupted_as_often_as_allowed_is_given_up(app, attempts, status):
    """Mutant 29 (attempts > max_attempts): a job was run once more than JOBS_MAX_ATTEMPTS."""
    job_id = queue_job(app, jobs.JobKind.ANALYSIS, make_user(app, "alice"), minutes_ago=1)
    with app.app_context():
        db.session.execute(db.update(Analysis).values(status=JobStatus.RUNNING, attempts=attempts,
                                                      heartbeat_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        jobs.requeue_stale(timedelta(minutes=1), max_attempts=3)
        assert db.session.get(Analysis, job_id).status == status


def test_the_user_with_fewer_jobs_running_goes_first(app):
    """Mutant 32 (fairest_first without `running`): with jobs of both users running, the one with more running went
    first because its jobs had beaten a little earlier."""
    alice, bob = make_user(app, "alice"), make_user(app, "bob")
    kind = jobs.JobKind.ANALYSIS
    alices_running = [queue_job(app, kind, alice, minutes_ago) for minutes_ago in (9, 8)]
    bobs_running = queue_job(app, kind, bob, minutes_ago=7)
    queue_job(app, kind, alice, 6)
    bobs_next = queue_job(app, kind, bob, 5)
    with app.app_context():
        for job_id, seconds_ago in ((alices_running[0], 10), (alices_running[1], 10), (bobs_running, 1)):
            db.session.execute(db.update(Analysis).where(Analysis.id == job_id).values(
                status=JobStatus.RUNNING, attempts=1, heartbeat_at=utcnow() - timedelta(seconds=seconds_ago)))
        db.session.commit()
        assert jobs.claim_next().job_id == bobs_next


def external_app(tmp_path, handler) -> object:
    """An app whose jobs `flask jobs work` would run (JOBS_MODE external), analyses done by `handler`."""
    app = make_app(tmp_path, JOBS_MODE="external", JOBS_POLL_SECONDS=0.05, JOBS_MAX_ATTEMPTS=3)
    app.extensions["moodlens_job_handlers"][jobs.JobKind.ANALYSIS] = handler
    return app


def finish_in_handler(row, job: jobs.ClaimedJob) -> None:
    """A handler's last step: the job done."""
    job.secure()
    row.status, row.progress = JobStatus.DONE, 1.0
    db.session.commit()


def job_columns(app, job_id: int) -> tuple:
    with app.app_context():
        row = db.session.get(Analysis, job_id)
        return row.status, row.attempts, row.progress, row.worker


def test_a_worker_told_to_stop_finishes_its_job_then_stops(tmp_path):
    """A deploy's SIGTERM to `flask jobs work` on the database ended it at once: the job stayed "running" until
    JOBS_STALE_SECONDS, then started again from 0 with an attempt used up (three restarts failed a video)."""
    def handler(row, job):
        os.kill(os.getpid(), signal.SIGTERM)
        job.progress(0.5)
        finish_in_handler(row, job)

    app = external_app(tmp_path, handler)
    first = queue_job(app, jobs.JobKind.ANALYSIS, make_user(app, "alice"), minutes_ago=2)
    second = queue_job(app, jobs.JobKind.ANALYSIS, make_user(app, "bob"), minutes_ago=1)
    handler_before = signal.getsignal(signal.SIGTERM)
    jobs.poll_until_stopped(app)
    assert job_columns(app, first)[:3] == (JobStatus.DONE, 1, 1.0)
    assert job_columns(app, second) == (JobStatus.QUEUED, 0, 0.0, None)  # left for the next start
    assert signal.getsignal(signal.SIGTERM) is handler_before  # the handlers before it are back


def test_a_worker_told_twice_hands_its_job_back_and_stops_at_once(tmp_path):
    def handler(row, job):
        job.progress(0.5)
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        finish_in_handler(row, job)

    app = external_app(tmp_path, handler)
    job_id = queue_job(app, jobs.JobKind.ANALYSIS, make_user(app, "alice"), minutes_ago=1)
    jobs.poll_until_stopped(app)
    assert job_columns(app, job_id) == (JobStatus.QUEUED, 0, 0.0, None)  # as if never started: the attempt not counted


def test_a_worker_waits_out_a_database_outage_between_jobs(tmp_path, monkeypatch):
    """`flask jobs work` exited (a traceback, rc 1) when PostgreSQL stopped for 15 s or SQLite stayed locked past its
    busy timeout, idle or not, and a job it was running stayed "running" with no worker left to queue it again."""
    app = external_app(tmp_path, finish_in_handler)
    job_id = queue_job(app, jobs.JobKind.ANALYSIS, make_user(app, "alice"), minutes_ago=1)
    outages = iter([OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))])
    work_once = jobs.work_once

    def flaky_work_once(app_) -> bool:
        if (outage := next(outages, None)) is not None:
            raise outage
        if not work_once(app_):
            os.kill(os.getpid(), signal.SIGTERM)
            return False
        return True

    monkeypatch.setattr(jobs, "work_once", flaky_work_once)
    jobs.poll_until_stopped(app)
    assert job_columns(app, job_id)[:2] == (JobStatus.DONE, 1)


@pytest.mark.parametrize(("attempts_before", "status"), [(0, JobStatus.QUEUED), (2, JobStatus.FAILED)])
def test_a_job_the_database_failed_is_queued_again_not_failed(tmp_path, attempts_before, status):
    """A database locked past its busy timeout, or restarting, in the middle of a video failed it for good ("an
    internal error"), which only an administrator could undo; it is queued again (given up as interrupted, as a dead
    worker's job is, at JOBS_MAX_ATTEMPTS)."""
    def handler(row, job):
        job.progress(0.5)
        raise OperationalError("UPDATE analysis", {}, Exception("database is locked"))

    app = external_app(tmp_path, handler)
    job_id = queue_job(app, jobs.JobKind.ANALYSIS, make_user(app, "alice"), minutes_ago=1)
    with app.app_context():
        db.session.execute(db.update(Analysis).values(attempts=attempts_before))
        db.session.commit()
    assert jobs.work_once(app)
    assert job_columns(app, job_id)[:3] == (status, attempts_before + 1, 0.0 if status == JobStatus.QUEUED else 0.5)
    if status == JobStatus.FAILED:
        with app.app_context():
            assert db.session.get(Analysis, job_id).error == "The work was interrupted 3 times and was given up."


def test_a_job_that_could_not_write_its_files_says_the_disk_is_full(tmp_path):
    def handler(row, job):
        raise OSError(errno.ENOSPC, "No space left on device")

    app = external_app(tmp_path, handler)
    job_id = queue_job(app, jobs.JobKind.ANALYSIS, make_user(app, "alice"), minutes_ago=1)
    assert jobs.work_once(app)
    with app.app_context():
        failed = db.session.get(Analysis, job_id)
        assert (failed.status, failed.error) == (
            JobStatus.FAILED, "The server could not write what the work made (its disk is full or not writable); "
                              "the upload is kept.")
    with app.test_request_context(headers={"Accept-Language": "ko"}):
        assert reason(failed.error) != failed.error and web.i18n.servers_failure(failed.error)


def test_a_users_corrections_go_before_another_users_many_reanalyses(app):
    """Kinds are taken in JobKind's order: twelve "Analyse again" of one user held up another's track reading."""
    alice, bob = make_user(app, "alice"), make_user(app, "bob")
    for minutes_ago in range(12, 0, -1):
        queue_job(app, jobs.JobKind.REANALYSIS, alice, minutes_ago)
    reading = queue_job(app, jobs.JobKind.TRACK_READING, bob, minutes_ago=0)
    with app.app_context():
        claimed = jobs.claim_next()
        assert (claimed.kind, claimed.job_id) == (jobs.JobKind.TRACK_READING, reading)


def test_a_job_handed_back_again_and_again_is_given_up_in_the_end(app):
    """A hand-back costs no attempt, FREE_HAND_BACKS times: a server restarted at every run of a job (a health check
    that the job starves) ran it for ever; now later hand-backs count, and JOBS_MAX_ATTEMPTS gives it up."""
    job_id = queue_job(app, jobs.JobKind.ANALYSIS, make_user(app, "alice"), minutes_ago=1)
    attempts_after = []
    with app.app_context():
        for _ in range(jobs.FREE_HAND_BACKS + 2):
            assert jobs.claim(jobs.JobKind.ANALYSIS, job_id) is not None
            handed_back = jobs.release_held_jobs()
            attempts_after.append(db.session.get(Analysis, job_id, populate_existing=True).attempts)
            assert handed_back == [(jobs.JobKind.ANALYSIS, job_id, attempts_after[-1])]
    assert attempts_after == [0] * jobs.FREE_HAND_BACKS + [1, 2]
    with app.app_context():
        assert jobs.claim(jobs.JobKind.ANALYSIS, job_id) is not None  # the third attempt, handed back: given up
        assert jobs.release_held_jobs() == []
        job = db.session.get(Analysis, job_id, populate_existing=True)
        assert (job.status, job.attempts) == (JobStatus.FAILED, 3)
        assert job.error == "The work was interrupted 3 times and was given up."


def test_a_process_hands_back_only_the_jobs_it_holds(app):
    """Two containers' servers, each its own pid 1 on one host name, were one worker "host:1": stopping the idle one
    handed back the busy one's job."""
    job_id = queue_job(app, jobs.JobKind.ANALYSIS, make_user(app, "alice"), minutes_ago=1)
    same_host_and_pid = jobs.worker_name().rsplit(":", 1)[0] + ":0ther000"
    with app.app_context():
        db.session.execute(db.update(Analysis).values(status=JobStatus.RUNNING, attempts=1, worker=same_host_and_pid))
        db.session.commit()
        assert jobs.release_held_jobs() == []
        assert db.session.get(Analysis, job_id).status == JobStatus.RUNNING


def test_a_run_whose_job_was_handed_back_says_so(app):
    """Its log said "attempt 1 was taken over" (a run elsewhere), when its own process had handed the job back."""
    job_id = queue_job(app, jobs.JobKind.ANALYSIS, make_user(app, "alice"), minutes_ago=1)
    with app.app_context():
        claimed = jobs.claim(jobs.JobKind.ANALYSIS, job_id)
        jobs.release_held_jobs()
        with pytest.raises(jobs.LostClaim, match=f"analysis {job_id} attempt 1 was handed back to the queue"):
            claimed.progress(0.5)
