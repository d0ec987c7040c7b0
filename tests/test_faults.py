"""Faults: the server is SIGKILLed in the middle of video jobs, storage drifts from the database,
and several gunicorn processes write to one SQLite database at once.

After a restart every job finishes (or fails with its reason), nothing uploaded is lost, and
`flask maintenance check` finds no orphans; when files and rows do drift apart (a crash between
writing a file and committing its row, a file deleted by hand), the check reports and repairs it.
"""

from __future__ import annotations

import io
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.clips import another_copy, moving_faces_frames, write_video
from bench.load import run_load
from bench.server import AppServer, api_session, flask_command, prepare_instance
from extensions import db
from models import Analysis, JobStatus
from tests.conftest import upload, upload_files

SETTINGS = {"JOBS_STALE_SECONDS": 2, "JOBS_POLL_SECONDS": 0.5, "RATELIMIT_ENABLED": False}


def wait_for(condition, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


def start_jobs_then_stop_the_server(server: AppServer, clips: list[Path], stop: Callable[[], None]) -> list[int]:
    """Upload the clips, stop the server (`stop`) once the first job has made progress; the analysis ids."""
    url = server.start()
    session = api_session(url, "owner", "owner password")
    ids = []
    for clip in clips:
        content = another_copy(clip.read_bytes(), clip.name)  # the clips are one video: two copies of it
        response = session.post(url + "/api/v1/analyses", files={"file": (clip.name, content)}, timeout=60)
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])

    def first_job_under_way():
        document = session.get(f"{url}/api/v1/analyses/{ids[0]}", timeout=30).json()
        return document["status"] == "running" and document["progress"] > 0

    wait_for(first_job_under_way, timeout=120)
    stop()
    return ids


def test_sigkill_in_the_middle_of_video_jobs_loses_nothing(tmp_path, astronaut):
    instance = tmp_path / "instance"
    prepare_instance(instance, "owner", "owner password")
    clips = [write_video(tmp_path / f"clip{n}.mp4", moving_faces_frames(astronaut, 120, faces=2), fps=10)
             for n in range(2)]
    server = AppServer(instance, SETTINGS)
    try:
        ids = start_jobs_then_stop_the_server(server, clips, server.kill)
    finally:
        server.stop()  # after a failure before the kill: never leave a server behind
    database = sqlite3.connect(instance / "moodlens.sqlite")
    statuses = dict(database.execute("SELECT id, status FROM analysis"))
    assert statuses[ids[0]] == "running" and statuses[ids[1]] == "queued"

    with AppServer(instance, SETTINGS) as restarted:
        session = api_session(restarted.url, "owner", "owner password")

        def all_finished():
            documents = [session.get(f"{restarted.url}/api/v1/analyses/{n}", timeout=30).json() for n in ids]
            return documents if all(d["status"] in ("done", "failed") for d in documents) else None

        documents = wait_for(all_finished, timeout=240, interval=0.5)
    assert [d["status"] for d in documents] == ["done", "done"]
    assert all(len(d["tracks"]) == 2 and d["tracks"][0]["timeline"] for d in documents)
    attempts = dict(database.execute("SELECT id, attempts FROM analysis"))
    assert attempts == {ids[0]: 2, ids[1]: 1}
    for name, thumb in database.execute("SELECT stored_name, thumb_name FROM analysis"):
        assert (instance / "uploads" / name).stat().st_size > 0 and (instance / "uploads" / thumb).is_file()
    check = flask_command(instance, "maintenance", "check", "--min-age", "0")
    assert "0 problem(s) found" in check.stdout


def test_concurrent_users_on_several_gunicorn_workers_get_no_errors_and_no_locks():
    recorder, _, server_log = run_load(workers=2, clients=4, seconds=8)
    assert len(recorder.latencies["upload photo"]) >= 4
    assert sum(recorder.errors.values()) == 0, recorder.reasons
    assert "database is locked" not in server_log and "Traceback" not in server_log


def test_maintenance_check_reports_then_repairs_drift(app, client, alice, astronaut_jpeg):
    assert upload(client, astronaut_jpeg).status_code == 302
    folder = Path(app.config["UPLOAD_FOLDER"])
    with app.app_context():
        photo = db.session.scalar(db.select(Analysis))
        stored, thumb = folder / photo.stored_name, folder / photo.thumb_name
        thumb.unlink()
        db.session.add(Analysis(user_id=alice, media="video", status="queued", original_name="lost.mp4",
                                stored_name="0" * 32 + ".mp4", format="mp4", width=320, height=240))
        db.session.commit()
    orphan, fresh = folder / ("f" * 32 + ".jpeg"), folder / ("e" * 32 + ".jpeg")
    orphan.write_bytes(b"left by a crash before its row was committed")
    fresh.write_bytes(b"an upload in progress")
    an_hour_ago = time.time() - 3600
    os.utime(orphan, (an_hour_ago, an_hour_ago))

    runner = app.test_cli_runner()
    report = runner.invoke(args=["maintenance", "check"])
    assert report.exit_code == 1
    assert f"orphan file: {orphan}" in report.output and str(fresh) not in report.output
    assert "has no " + thumb.name in report.output and "(queued) has no " + "0" * 32 in report.output
    assert "3 problem(s) found" in report.output

    assert runner.invoke(args=["maintenance", "check", "--repair"]).exit_code == 0
    assert not orphan.exists() and fresh.exists() and thumb.stat().st_size > 0
    with app.app_context():
        lost = db.session.scalar(db.select(Analysis).filter_by(original_name="lost.mp4"))
        assert lost.status == "failed" and "missing" in lost.error
    assert set(upload_files(app)) == {stored, thumb, fresh}
    after = runner.invoke(args=["maintenance", "check"])
    assert after.exit_code == 0 and "0 problem(s) found" in after.output  # the failed row tells its owner why


def test_a_database_outage_is_a_503_with_retry_after_and_the_session_outlives_it(app, client, alice, tmp_path):
    """The database file cannot be opened (a server down or restarting): pages and the API answer 503 with
    Retry-After, in plain words, drawn for no one; once it is back the same cookie is still logged in."""
    database = tmp_path / "test.sqlite"
    with app.app_context():
        db.engine.dispose()
    database.rename(tmp_path / "away.sqlite")
    database.mkdir()  # SQLite cannot open a folder: "unable to open database file"
    try:
        page = client.get("/analyses")
        missing = client.get("/no-such-page")  # an error page reads the user too
        api = client.get("/api/v1/analyses", headers={"Authorization": "Bearer some-token"})
        posted = client.post("/analyze", data={"file": (io.BytesIO(b"x"), "a.jpg")})
    finally:
        database.rmdir()
        (tmp_path / "away.sqlite").rename(database)
    for response in (page, missing, api, posted):
        assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "The database cannot be reached just now" in page.get_data(as_text=True)
    assert "Log in" in page.get_data(as_text=True)  # drawn for no one: reading the user needs the database
    assert api.json["error"].startswith("The database cannot be reached just now")
    assert client.get("/analyses").status_code == 200


def test_a_programming_error_of_the_database_stays_a_500_with_its_traceback(app, client, alice, caplog):
    """SQLite raises OperationalError for "no such column" too (a migration not run): no outage to wait out, so no
    503 with Retry-After, and the log keeps the traceback."""
    with app.app_context():
        db.session.execute(db.text("ALTER TABLE analysis DROP COLUMN stated_duration"))
        db.session.commit()
    response = client.get("/analyses")
    assert response.status_code == 500 and "Retry-After" not in response.headers
    assert "no such column" in caplog.text and "Traceback" in caplog.text


@pytest.mark.parametrize("workers", [0, 1], ids=["flask run", "gunicorn"])
def test_a_server_stopped_with_sigterm_hands_its_running_job_back(tmp_path, astronaut, workers):
    """A restart (SIGTERM: systemd, a deploy) left the job it was running "running" until JOBS_STALE_SECONDS, then
    ran it again from 0 with an attempt used up: three restarts in one video's analysis failed it for good."""
    instance = tmp_path / "instance"
    prepare_instance(instance, "owner", "owner password")
    clip = write_video(tmp_path / "clip.mp4", moving_faces_frames(astronaut, 120, faces=2), fps=10)
    server = AppServer(instance, {**SETTINGS, "JOBS_STALE_SECONDS": 600}, workers=workers)
    try:
        [analysis_id] = start_jobs_then_stop_the_server(server, [clip], server.stop)
    finally:
        server.stop()
    database = sqlite3.connect(instance / "moodlens.sqlite")
    row = database.execute("SELECT status, attempts, progress, worker FROM analysis WHERE id = ?", (analysis_id,))
    assert row.fetchone() == ("queued", 0, 0.0, None)  # as if never started: the next start takes it at once


def test_maintenance_repair_rebuilds_a_videos_poster(app, client, alice, two_face_video):
    """`check --repair` said "repaired" but rebuilt photos' thumbnails only: a video's poster stayed missing."""
    assert upload(client, two_face_video.read_bytes(), "clip.mp4").status_code == 302
    with app.app_context():
        video = db.session.scalar(db.select(Analysis))
        poster = Path(app.config["UPLOAD_FOLDER"]) / video.thumb_name
    assert video.status == "done"
    made = poster.read_bytes()
    poster.unlink()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["maintenance", "check", "--repair"]).exit_code == 0
    assert poster.read_bytes()[:3] == made[:3] == b"\xff\xd8\xff" and abs(len(poster.read_bytes()) - len(made)) < 200
    after = runner.invoke(args=["maintenance", "check"])
    assert after.exit_code == 0 and "0 problem(s) found" in after.output


def test_the_maintenance_check_leaves_a_live_uploads_overlays_alone(app, client, alice, astronaut_jpeg):
    """Mutant 12 (overlays matched against stored names, not their stems): every "Why?" overlay of every live
    upload was reported as an orphan, and `--repair` deleted them."""
    assert upload(client, astronaut_jpeg).status_code == 302
    with app.app_context():
        stored = db.session.scalar(db.select(Analysis.stored_name))
    folder = Path(app.config["EXPLAIN_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    live = folder / f"{Path(stored).stem}-1-occlusion.png"
    orphan = folder / "0123456789abcdef-1-occlusion.png"
    live.write_bytes(b"png")
    orphan.write_bytes(b"png")
    runner = app.test_cli_runner()
    report = runner.invoke(args=["maintenance", "check", "--min-age", "0"])
    assert orphan.name in report.output and live.name not in report.output
    assert "1 problem(s) found" in report.output
    assert runner.invoke(args=["maintenance", "check", "--min-age", "0", "--repair"]).exit_code == 0
    assert live.is_file() and not orphan.exists()


def test_a_repair_keeps_a_finished_analysis_whose_upload_is_gone(app, client, alice, astronaut_jpeg):
    """Mutant 13 (the repair fails any analysis whose upload is gone): a finished photo's result, reported only by
    the module's rule, was turned into a failed job by `flask maintenance check --repair`."""
    assert upload(client, astronaut_jpeg).status_code == 302
    with app.app_context():
        photo = db.session.scalar(db.select(Analysis))
        (Path(app.config["UPLOAD_FOLDER"]) / photo.stored_name).unlink()
        photo_id, found = photo.id, len(photo.detections)
    runner = app.test_cli_runner()
    report = runner.invoke(args=["maintenance", "check", "--min-age", "0"])
    assert "(done) has no" in report.output
    assert runner.invoke(args=["maintenance", "check", "--min-age", "0", "--repair"]).exit_code == 0
    with app.app_context():
        photo = db.session.get(Analysis, photo_id)
        assert photo.status == JobStatus.DONE and photo.error is None and len(photo.detections) == found > 0


def test_a_repair_goes_on_past_a_poster_it_cannot_make_again(app, client, alice, two_face_video):
    """A video whose poster is gone and whose upload was cut short (a disk error) stopped the repair with a
    traceback, every change it had made to the database undone, the next day's run stopping there again."""
    assert upload(client, two_face_video.read_bytes(), "clip.mp4").status_code == 302
    with app.app_context():
        video = db.session.scalar(db.select(Analysis))
        folder = Path(app.config["UPLOAD_FOLDER"])
        (folder / video.thumb_name).unlink()
        (folder / video.stored_name).write_bytes(two_face_video.read_bytes()[:3000])
        db.session.add(Analysis(user_id=alice, media="video", status="queued", original_name="lost.mp4",
                                stored_name="0" * 32 + ".mp4", format="mp4", width=320, height=240))
        db.session.commit()
    assert app.test_cli_runner().invoke(args=["maintenance", "check", "--repair"]).exit_code == 0
    with app.app_context():
        lost = db.session.scalar(db.select(Analysis).filter_by(original_name="lost.mp4"))
        assert lost.status == JobStatus.FAILED  # the repair's other changes stand
