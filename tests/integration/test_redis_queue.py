"""The Redis engine in-process (RQ's SimpleWorker in burst mode): what happens when Redis is away,
when a job is enqueued twice, and where the rate-limit counters go."""

from __future__ import annotations

import os
import signal
import time

from bench.fixtures import login, make_app, make_user
import jobs
from extensions import db
from models import Analysis
from app import create_app
from tests.conftest import upload


def redis_app(tmp_path, database_url: str, redis_url: str):
    return make_app(tmp_path, SQLALCHEMY_DATABASE_URI=database_url, JOBS_MODE="redis", REDIS_URL=redis_url)


def upload_as_alice(app, content: bytes) -> None:
    client = app.test_client()
    make_user(app, "alice")
    login(client, "alice")
    assert upload(client, content, "clip.mp4").status_code == 302


def only_analysis(app) -> Analysis:
    with app.app_context():
        return db.session.scalar(db.select(Analysis))


def test_a_video_uploaded_while_redis_is_down_runs_once_a_worker_can_reach_it(tmp_path, database_url, redis_server,
                                                                              two_face_video, refused_port):
    app = redis_app(tmp_path, database_url, f"redis://127.0.0.1:{refused_port}/0")
    upload_as_alice(app, two_face_video.read_bytes())
    assert only_analysis(app).status == "queued"  # kept, not lost

    app.config["REDIS_URL"] = redis_server.url  # Redis is back; a worker starts
    queue = jobs.RedisQueue(app)
    queue.recover()  # the janitor finds the waiting analysis and enqueues it
    assert queue.queue.count == 1
    queue.work(burst=True)
    analysis = only_analysis(app)
    assert (analysis.status, analysis.attempts, analysis.shown_count) == ("done", 1, 2)
    assert queue.queue.count == 0


def test_a_job_a_worker_took_while_the_database_was_away_runs_once_it_is_back(tmp_path, database_url, redis_server,
                                                                                two_face_video, refused_port):
    """RQ files the job as failed (and keeps it a week) when its worker cannot claim it; the row stays queued, so
    the janitor, which only looked for jobs missing from Redis, left it waiting for ever."""
    app = redis_app(tmp_path, database_url, redis_server.url)
    queue = app.extensions["moodlens_jobs"]
    queue.queue.empty()
    upload_as_alice(app, two_face_video.read_bytes())
    cut_off = create_app({"SQLALCHEMY_DATABASE_URI": f"postgresql://127.0.0.1:{refused_port}/gone", "TESTING": True,
                          "JOBS_MODE": "redis", "REDIS_URL": redis_server.url, "SECRET_KEY": "test-secret"},
                         instance_path=str(tmp_path / "cut-off"))
    jobs.RedisQueue(cut_off).work(burst=True)  # the worker's database is away
    assert only_analysis(app).status == "queued" and queue.queue.count == 0
    queue.recover()
    assert queue.queue.count == 0  # not at once: a job that keeps failing is tried once in JOBS_STALE_SECONDS
    app.config["JOBS_STALE_SECONDS"] = 0
    queue.recover()
    queue.recover()  # a second janitor finds it queued again, and leaves it
    assert queue.queue.count == 1
    app.config["JOBS_STALE_SECONDS"] = 3600  # the worker's own janitor would take over its running job at once
    queue.work(burst=True)
    analysis = only_analysis(app)
    assert (analysis.status, analysis.attempts, analysis.shown_count) == ("done", 1, 2)


def test_a_job_enqueued_twice_runs_once(tmp_path, database_url, redis_server, two_face_video):
    app = redis_app(tmp_path, database_url, redis_server.url)
    queue = app.extensions["moodlens_jobs"]
    queue.queue.empty()
    upload_as_alice(app, two_face_video.read_bytes())
    analysis_id = only_analysis(app).id
    queue.queue.enqueue(jobs.execute, analysis_id)  # a janitor and the web tier raced
    assert queue.queue.count == 2
    queue.work(burst=True)
    analysis = only_analysis(app)
    assert (analysis.status, analysis.attempts) == ("done", 1)
    assert analysis.worker == jobs.worker_name()  # this process


def test_rate_limits_are_counted_in_redis_when_there_is_one(tmp_path, database_url, redis_server):
    app = redis_app(tmp_path, database_url, redis_server.url)
    assert app.config["RATELIMIT_STORAGE_URI"] == redis_server.url
    assert make_app(tmp_path / "plain").config["RATELIMIT_STORAGE_URI"] == "database://"  # shared without Redis


def test_a_worker_started_while_redis_is_down_waits_for_it(tmp_path, database_url, redis_server, monkeypatch):
    """It exited at once (SimpleWorker asks Redis for its address when it is made), and a deployment's workers
    were gone until someone noticed."""
    from redis.exceptions import ConnectionError as RedisDown
    from rq import SimpleWorker

    app = redis_app(tmp_path, database_url, redis_server.url)
    app.config["JOBS_POLL_SECONDS"] = 0.01
    attempts = []

    class ComesUpOnTheThirdTry(SimpleWorker):
        def __init__(self, *args, **kwargs):
            attempts.append(len(attempts) + 1)
            if len(attempts) < 3:
                raise RedisDown("Connection refused")
            super().__init__(*args, **kwargs)

    monkeypatch.setattr("rq.SimpleWorker", ComesUpOnTheThirdTry)
    app.extensions["moodlens_jobs"].queue.empty()
    app.extensions["moodlens_jobs"].work(burst=True)
    assert attempts == [1, 2, 3]


def test_a_worker_whose_loop_ends_on_an_error_starts_again(tmp_path, database_url, redis_server, monkeypatch):
    """RQ's loop quits on any error between jobs: with Redis gone as a job ended, its heartbeat failed, then its own
    teardown (which raised), and a deployment's worker was gone for good, every later job left waiting. It is made
    again until it is asked to stop."""
    from redis.exceptions import ConnectionError as RedisDown
    from rq import SimpleWorker

    app = redis_app(tmp_path, database_url, redis_server.url)
    app.config["JOBS_POLL_SECONDS"] = 0.01
    runs = []

    class EndsOnErrorsTwice(SimpleWorker):
        def work(self, *args, **kwargs):
            runs.append(len(runs) + 1)
            if len(runs) == 1:
                raise RedisDown("Connection refused")  # the teardown could not reach Redis either
            self.asked_to_stop = len(runs) == 3  # the second run ended on an error (RQ logs it and returns)
            return False

    monkeypatch.setattr("rq.SimpleWorker", EndsOnErrorsTwice)
    app.extensions["moodlens_jobs"].work()
    assert runs == [1, 2, 3]


def test_a_job_stopped_at_its_time_limit_names_the_limit_it_was_queued_with(tmp_path, database_url, redis_server,
                                                                            two_face_video, monkeypatch):
    """RQ enforces the limit the queuing process gave the job; the reason named the worker's own setting."""
    from rq.timeouts import JobTimeoutException

    import services.analyses

    app = redis_app(tmp_path, database_url, redis_server.url)
    app.config["JOBS_TIMEOUT_SECONDS"] = 120
    queue = app.extensions["moodlens_jobs"]
    queue.queue.empty()
    upload_as_alice(app, two_face_video.read_bytes())

    def runs_past_its_limit(*args):
        raise JobTimeoutException("Task exceeded maximum timeout value (120 seconds)")

    monkeypatch.setattr(services.analyses, "analyze_video", runs_past_its_limit)
    app.config["JOBS_TIMEOUT_SECONDS"] = 3600  # the worker's own setting
    queue.work(burst=True)
    assert only_analysis(app).error == "The work took longer than 2 minutes and was stopped; the upload is kept."


def test_a_worker_asked_to_stop_while_it_waits_to_start_again_stops(tmp_path, database_url, redis_server,
                                                                      monkeypatch):
    """SIGTERM during the wait reaches the last worker's handler, which raises StopRequested (it is not busy): the
    process ended with a traceback, and a supervisor restarting on failure would have started it again."""
    from rq import SimpleWorker
    from rq.exceptions import StopRequested

    app = redis_app(tmp_path, database_url, redis_server.url)

    class EndsOnAnError(SimpleWorker):
        def work(self, *args, **kwargs):
            return False

    def signalled_while_waiting(seconds):
        raise StopRequested()

    monkeypatch.setattr("rq.SimpleWorker", EndsOnAnError)
    monkeypatch.setattr(jobs.time, "sleep", signalled_while_waiting)
    app.extensions["moodlens_jobs"].work()  # returns


def test_a_worker_asked_twice_to_stop_hands_its_job_back_and_puts_it_on_redis_again(tmp_path, database_url,
                                                                                     redis_server, two_face_video,
                                                                                     monkeypatch):
    """RQ's cold shutdown (a second SIGTERM or Ctrl-C, a second or more after the first) ends the job with a
    SystemExit, which RQ files as failed: the job stayed "running" until JOBS_STALE_SECONDS, then ran again with an
    attempt used up (the database and the external worker hand it back)."""
    import services.analyses

    app = redis_app(tmp_path, database_url, redis_server.url)
    queue = app.extensions["moodlens_jobs"]
    queue.queue.empty()
    upload_as_alice(app, two_face_video.read_bytes())
    analyze_video = services.analyses.analyze_video

    def stopped_twice(*args, **kwargs):
        monkeypatch.setattr(services.analyses, "analyze_video", analyze_video)  # the next run reads the video
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1.1)  # RQ ignores a second signal within a second of the first
        os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError("the second signal should have stopped the job")

    monkeypatch.setattr(services.analyses, "analyze_video", stopped_twice)
    handler_before = signal.getsignal(signal.SIGTERM)
    queue.work(burst=True)
    analysis = only_analysis(app)
    assert (analysis.status, analysis.attempts, analysis.progress, analysis.worker) == ("queued", 0, 0.0, None)
    assert queue.queue.count == 1  # on Redis again at once, not after JOBS_STALE_SECONDS
    assert signal.getsignal(signal.SIGTERM) is handler_before
    queue.work(burst=True)
    analysis = only_analysis(app)
    assert (analysis.status, analysis.attempts, analysis.handed_back) == ("done", 1, 1)
