"""Deletions that race with work under way: an account (deleted by its owner in another tab, or by an
administrator) or an analysis deleted while an upload is analysed or a background job runs. The request ends with a
clean answer, the job quietly, and no row or file is left behind."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import event

import jobs
from extensions import db
from models import Analysis, Detection, JobStatus, SignatureJob, User
from services import analyses, identity
from tests.conftest import csrf_token, login, make_app, make_user, upload, upload_files

ACCOUNT_GONE = "Your account was deleted meanwhile"
CHANGED_MEANWHILE = "What you were working on was deleted or changed meanwhile"


def in_another_tab(action: Callable[[], object]) -> None:
    """Run `action` as another tab's request would: in a thread of its own (its own session), to its end."""
    thread = threading.Thread(target=action)
    thread.start()
    thread.join()


def meanwhile(monkeypatch, module, name: str, action: Callable[[], object]) -> None:
    """Make `module.name` let another tab do `action` (once) before it runs."""
    original = getattr(module, name)

    def first_the_other_tab(*args, **kwargs):
        monkeypatch.setattr(module, name, original)
        in_another_tab(action)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, first_the_other_tab)


def account_deletion(app, username: str = "alice") -> Callable[[], object]:
    """The owner's "Delete my account", sent from a tab of their own (logged in there already)."""
    tab = app.test_client()
    login(tab, username)
    token = csrf_token(tab, "/account/delete")
    return lambda: tab.post("/account/delete", data={"current_password": "correct horse", "csrf_token": token})


def admin_deletion(app, view: str, row: Callable[[], int]) -> Callable[[], object]:
    """An administrator deleting a row from the back office's list `view` (admin_users, admin_analyses); `row()` is
    its id, asked for when the deletion is sent."""
    make_user(app, "root", admin=True)
    admin = app.test_client()
    login(admin, "root")
    token = csrf_token(admin, f"/admin/{view}/")

    def delete():
        answer = admin.post(f"/admin/{view}/delete/", data={"id": row(), "csrf_token": token, "url": f"/admin/{view}/"})
        assert answer.status_code == 302

    return delete


def user_id(app, username: str) -> int:
    with app.app_context():
        return User.named(username).id


def rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def assert_logged_out_with_the_reason(client, response) -> None:
    assert response.status_code == 303 and response.location == "/login"
    assert ACCOUNT_GONE in client.get("/login").get_data(as_text=True)
    assert client.get("/analyze").location.startswith("/login")


def assert_nothing_left(app) -> None:
    assert rows(app, Analysis) == rows(app, Detection) == rows(app, SignatureJob) == 0
    assert upload_files(app) == []


@pytest.mark.parametrize("deleted_by", ["owner", "admin"])
def test_an_account_deleted_while_its_photo_is_analysed_ends_the_upload_logged_out(app, client, alice, astronaut_jpeg,
                                                                                   monkeypatch, deleted_by):
    deletion = account_deletion(app) if deleted_by == "owner" else admin_deletion(app, "admin_users", lambda: alice)
    meanwhile(monkeypatch, analyses, "analyze_photo", deletion)
    assert_logged_out_with_the_reason(client, upload(client, astronaut_jpeg))
    assert rows(app, User) == (0 if deleted_by == "owner" else 1)  # the administrator's
    assert_nothing_left(app)


def test_an_account_deleted_just_after_its_photo_was_stored_ends_the_upload_logged_out(app, client, alice,
                                                                                      astronaut_jpeg, monkeypatch):
    """The rows were committed, then deleted with the account before the upload's last steps read them again."""
    meanwhile(monkeypatch, identity, "queue_signatures", account_deletion(app))
    assert_logged_out_with_the_reason(client, upload(client, astronaut_jpeg))
    assert_nothing_left(app)


def test_an_account_deleted_while_its_video_is_checked_ends_the_upload_logged_out(app, client, alice, two_face_video,
                                                                                 monkeypatch):
    meanwhile(monkeypatch, analyses, "probe_video", account_deletion(app))
    assert_logged_out_with_the_reason(client, upload(client, two_face_video.read_bytes(), "clip.mp4"))
    assert_nothing_left(app)


def test_the_api_answers_410_for_an_account_deleted_during_its_upload(app, client, alice, astronaut_jpeg, monkeypatch):
    token = client.post("/api/v1/tokens", headers={"Authorization": "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ=="}).json["token"]
    meanwhile(monkeypatch, analyses, "analyze_photo", account_deletion(app))
    script = app.test_client()
    answer = script.post("/api/v1/analyses", data={"file": (io.BytesIO(astronaut_jpeg), "a.jpg")},
                         headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data")
    assert answer.status_code == 410 and ACCOUNT_GONE in answer.json["error"]
    assert_nothing_left(app)


def test_an_analysis_an_admin_deleted_just_after_it_was_stored_gets_a_409_not_a_500(app, client, alice,
                                                                                   astronaut_jpeg, monkeypatch):
    def newest() -> int:
        with app.app_context():
            return db.session.scalar(db.select(db.func.max(Analysis.id)))

    meanwhile(monkeypatch, identity, "queue_signatures", admin_deletion(app, "admin_analyses", newest))
    answer = upload(client, astronaut_jpeg)
    assert answer.status_code == 409 and CHANGED_MEANWHILE in answer.get_data(as_text=True)
    assert client.get("/analyze").status_code == 200  # still logged in
    assert_nothing_left(app)


def test_an_upload_stored_as_the_account_row_goes_is_deleted_with_it(app, client, alice, astronaut_jpeg):
    """The deletion had found no analysis left, then the other tab's upload committed, then the account's row went:
    the database's cascade took the upload's rows but left its files. (SQLite: PostgreSQL's row lock, taken before
    this statement, would keep the other tab's upload waiting here for good.)"""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("the other tab's upload would wait for the row lock this test holds it at")
    uploader = app.test_client()
    login(uploader, "alice")
    answers = []

    def upload_in_the_other_tab(connection, cursor, statement, *args):
        if statement.replace('"', "").startswith("DELETE FROM user ") and not answers:  # before it takes a lock
            answers.append(None)
            in_another_tab(lambda: answers.append(upload(uploader, astronaut_jpeg).status_code))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", upload_in_the_other_tab)
    deletion = account_deletion(app)
    try:
        assert deletion().status_code == 302
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", upload_in_the_other_tab)
    assert answers == [None, 302] and rows(app, User) == 0
    assert_nothing_left(app)


@pytest.fixture()
def queued_app(tmp_path):
    """An app whose jobs wait until the test runs them, with Alice logged in (face recognition on)."""
    app = make_app(tmp_path)
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)
    alice = make_user(app, "alice")
    with app.app_context():
        db.session.get(User, alice).recognize_faces = True
        db.session.commit()
    client = app.test_client()
    login(client, "alice")
    return app, client, alice


@pytest.fixture()
def jobs_log(caplog, monkeypatch):
    """What the jobs module logs (the migrations' logging.config turned its logger off)."""
    logger = logging.getLogger("jobs")
    monkeypatch.setattr(logger, "disabled", False)
    logger.addHandler(caplog.handler)
    with caplog.at_level("INFO", logger="jobs"):
        yield caplog
    logger.removeHandler(caplog.handler)


def assert_quiet(log) -> None:
    """No warning from this test's requests and jobs. An embedded worker's loop ("moodlens-jobs") is another app's:
    queued_app's jobs wait for the test, and a daemon worker left by an earlier test, its database gone, logged
    "cannot reach the database or the queue" into this capture now and then."""
    assert not [record for record in log.records
                if record.levelno >= logging.WARNING and record.threadName != "moodlens-jobs"], log.text


@pytest.mark.parametrize("deleted_by", ["owner", "admin"])
@pytest.mark.parametrize("kind", [jobs.JobKind.ANALYSIS, jobs.JobKind.SIGNATURES])
def test_a_claimed_job_whose_account_is_gone_when_it_runs_ends_quietly(queued_app, two_face_video, astronaut_jpeg,
                                                                       jobs_log, kind, deleted_by):
    app, client, alice = queued_app
    if kind == jobs.JobKind.ANALYSIS:
        upload(client, two_face_video.read_bytes(), "clip.mp4")
    else:
        upload(client, astronaut_jpeg)
    deletion = account_deletion(app) if deleted_by == "owner" else admin_deletion(app, "admin_users", lambda: alice)
    with app.app_context():
        claimed = jobs.claim(kind, db.session.scalar(db.select(jobs.ROWS[kind].id)))
        assert claimed is not None
        in_another_tab(deletion)
        jobs.run_job(claimed)
    assert_quiet(jobs_log)
    assert "was deleted" in jobs_log.text
    assert_nothing_left(app)


def test_a_video_job_whose_account_goes_while_it_runs_ends_quietly(queued_app, two_face_video, jobs_log,
                                                                   monkeypatch):
    """The account's deletion takes the video's file away from under the analysis."""
    app, client, _ = queued_app
    upload(client, two_face_video.read_bytes(), "clip.mp4")
    meanwhile(monkeypatch, analyses, "analyze_video", account_deletion(app))
    assert jobs.work_once(app) is True
    assert_quiet(jobs_log)
    assert_nothing_left(app)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).where(Analysis.status == JobStatus.FAILED)) == 0
