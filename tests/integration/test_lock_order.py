"""Two writers at once on PostgreSQL, each at the moment the other holds rows it needs: neither may wait on the other
(PostgreSQL aborts one with "deadlock detected", a 500 or a failed job). One writer holds its first rows, the other
starts and waits on them, then the first goes on (services/access.py: the writers' order)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace

import pytest

import jobs
from extensions import db
from inference.labels import DetectionKind
from models import (Analysis, ApiToken, Detection, Explanation, JobStatus, Media, Reanalysis, RemovedUpload,
                    Subject, TrackReading, User)
from services import explanations, subjects, tokens
from services.access import changing, locked_detection
from services.analyses import delete_analysis
from tests.conftest import csrf_token, login, make_user

WAIT = 1.5  # seconds the first writer goes on holding its rows once the second has started (PostgreSQL's deadlock
            # check runs after one second of waiting)


def stored_video(app, user_id: int) -> tuple[int, int]:
    """A video analysis of the user's with a dog track (its species set by its owner): its id and the track's."""
    with app.app_context():
        analysis = Analysis(user_id=user_id, original_name="clip.mp4", stored_name=uuid.uuid4().hex,
                            media=Media.VIDEO, status=JobStatus.DONE, format="mp4", width=64, height=48, duration=1.0)
        track = Detection(position=1, track_id=1, kind=DetectionKind.DOG, kind_read=DetectionKind.CAT, x1=0, y1=0,
                          x2=5, y2=5, score=0.9, emotions={}, timeline=[], summary={})
        analysis.detections.append(track)
        db.session.add(analysis)
        db.session.commit()
        return analysis.id, track.id


def side_by_side(app, first: Callable[[threading.Event], None], second: Callable[[], None]) -> dict[str, str]:
    """Run `first` (which sets its event once it holds its rows, then holds them WAIT seconds more) and, once it holds
    them, `second`, each on a thread of its own with its own database session; what each ended with ("ok" or its
    error)."""
    holding, ended = threading.Event(), {}

    def run(name: str, work: Callable[[], None]) -> None:
        with app.app_context():
            try:
                work()
                ended[name] = "ok"
            except Exception as error:  # noqa: BLE001 (the test reports it)
                db.session.rollback()
                ended[name] = f"{type(error).__name__}: {error}"

    threads = [threading.Thread(target=run, args=("first", lambda: first(holding))),
               threading.Thread(target=run, args=("second", lambda: (holding.wait(10), second())))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return ended


def job_writing(kind: jobs.JobKind, job_id: int, then: Callable[[], None]) -> Callable[[threading.Event], None]:
    """A job's run from the moment it writes: its own row held (`secure`), then `then`, then its commit."""
    def write(holding: threading.Event) -> None:
        claim = jobs.claim(kind, job_id)
        claim.secure()
        holding.set()
        time.sleep(WAIT)
        then()
        db.session.commit()
    return write


@pytest.mark.parametrize("job", [jobs.JobKind.REANALYSIS, jobs.JobKind.TRACK_READING])
def test_an_upload_deleted_while_its_job_writes_waits_for_the_job(app, job):
    """"Analyse again" and a track's reading hold their own row, then the analysis; a deletion holding the analysis
    while it waited for the job's row was aborted as a deadlock (a 500, or the job failed)."""
    owner = make_user(app, "alice")
    analysis_id, track_id = stored_video(app, owner)
    with app.app_context():
        row = Reanalysis(analysis_id=analysis_id) if job == jobs.JobKind.REANALYSIS else TrackReading(
            detection_id=track_id)
        db.session.add(row)
        db.session.commit()
        then = (lambda: changing(db.session.get(Analysis, analysis_id))) if job == jobs.JobKind.REANALYSIS else (
            lambda: locked_detection(db.session.get(Detection, track_id)))
        ended = side_by_side(app, job_writing(job, row.id, then),
                             lambda: delete_analysis(db.session.get(Analysis, analysis_id)))
        assert ended == {"first": "ok", "second": "ok"}
        assert db.session.get(Analysis, analysis_id) is None


def test_an_administrator_deletes_an_upload_as_its_owner_would(app):
    """The back office deleted an upload by Flask-Admin's own delete, not the owner's: a track's reading job writing
    at the time deadlocked with it ("Failed to delete record"); now it waits, and the owner is told once."""
    owner = make_user(app, "alice")
    analysis_id, track_id = stored_video(app, owner)
    make_user(app, "root", admin=True)
    admin = app.test_client()
    login(admin, "root")
    token = csrf_token(admin, "/admin/admin_analyses/")
    with app.app_context():
        row = TrackReading(detection_id=track_id)
        db.session.add(row)
        db.session.commit()
        answers = []
        reading = job_writing(jobs.JobKind.TRACK_READING, row.id,
                              lambda: locked_detection(db.session.get(Detection, track_id)))
        ended = side_by_side(
            app, reading,
            lambda: answers.append(admin.post("/admin/admin_analyses/delete/", data={
                "id": analysis_id, "csrf_token": token, "url": "/admin/admin_analyses/", "reason": "Not a pet."})))
        assert ended == {"first": "ok", "second": "ok"} and answers[0].status_code == 302
        assert "Failed" not in admin.get(answers[0].location).get_data(as_text=True)
        assert db.session.get(Analysis, analysis_id) is None
        assert db.session.scalars(db.select(RemovedUpload.reason)).all() == ["Not a pet."]


def test_a_subject_deleted_while_a_face_is_assigned_to_it(app, monkeypatch):
    """Assigning holds the analysis's detections, then the subject; deleting the subject held it, then waited for
    the detections it unassigns: a deadlock. Now the appearances are let go first, and the assignment lands before
    the deletion (which undoes it)."""
    owner = make_user(app, "alice")
    analysis_id, _ = stored_video(app, owner)
    with app.app_context():
        subject = Subject(user_id=owner, name="Rex", kind="dog")
        db.session.add(subject)
        db.session.flush()
        assigned, unassigned = (Detection(position=position, track_id=position, kind=DetectionKind.DOG, x1=0, y1=0,
                                          x2=5, y2=5, score=0.9, emotions={}, timeline=[], summary={},
                                          analysis_id=analysis_id, subject_id=subject.id if position == 2 else None)
                                for position in (2, 3))
        db.session.add_all([assigned, unassigned])
        db.session.commit()
        subject_id, detection_id = subject.id, unassigned.id
    lock = subjects.locked_detection

    def assign(holding: threading.Event) -> None:  # subjects.assign, holding the detections a while
        def locked_a_while(detection: Detection) -> Detection:
            held = lock(detection)
            holding.set()
            time.sleep(WAIT)
            return held

        monkeypatch.setattr(subjects, "locked_detection", locked_a_while)
        subjects.assign(db.session.get(Detection, detection_id), subject_id)

    with app.app_context():
        ended = side_by_side(app, assign, lambda: subjects.delete_subject(db.session.get(Subject, subject_id)))
        assert ended == {"first": "ok", "second": "ok"}
        assert db.session.get(Subject, subject_id) is None
        assert db.session.scalars(db.select(Detection.subject_id).where(Detection.subject_id.is_not(None))).all() == []


def stored_photo(app, user_id: int) -> tuple[int, int]:
    """A photo analysis of the user's with one face read as happy: its id and the face's."""
    with app.app_context():
        analysis = Analysis(user_id=user_id, original_name="face.jpg", stored_name=uuid.uuid4().hex,
                            media=Media.IMAGE, status=JobStatus.DONE, format="jpeg", width=64, height=48)
        face = Detection(position=1, kind=DetectionKind.HUMAN, x1=0, y1=0, x2=40, y2=40, score=0.99,
                         emotions={"happy": 0.9, "sad": 0.1})
        analysis.detections.append(face)
        db.session.add(analysis)
        db.session.commit()
        return analysis.id, face.id


def test_two_whys_asked_at_once_never_pass_the_cap_together(app, monkeypatch):
    """Two under way, two more asked at once (two web processes): one is queued, the other told to wait (both were
    queued: each counted two under way before the other's row was committed). On SQLite too: tests/test_explain.py."""
    ended = two_whys_at_once(app, monkeypatch)
    assert ended["first"] == "ok" and ended["second"].startswith("TooMany"), ended


def two_whys_at_once(app, monkeypatch) -> dict[str, str]:
    """A user with two explanations under way asks for two more at once, the first held between its count and its
    commit: what each request ended with."""
    user = make_user(app, "ana")
    photos = [stored_photo(app, user) for _ in range(4)]
    with app.app_context():
        db.session.add_all(Explanation(detection_id=face, status=JobStatus.QUEUED, requested_by_id=user)
                           for _, face in photos[:2])
        db.session.commit()
    first_holds, queue_row = {}, jobs.queue_row

    def slow_queue_row(kind: jobs.JobKind, row) -> bool:  # the first request, counted, waits before its commit
        if (holding := first_holds.pop("event", None)) is not None:
            holding.set()
            time.sleep(WAIT)
        return queue_row(kind, row)

    def ask(photo: tuple[int, int]) -> None:
        analysis = db.session.get(Analysis, photo[0])
        explanations.start(analysis, analysis.detections[0], db.session.get(User, user))

    def first(holding: threading.Event) -> None:
        first_holds["event"] = holding
        ask(photos[2])

    monkeypatch.setattr(jobs, "queue_row", slow_queue_row)
    monkeypatch.setattr(jobs, "job_queue", lambda: SimpleNamespace(submit=lambda kind, job_id: None))  # queued only
    return side_by_side(app, first, lambda: ask(photos[3]))


def test_two_tokens_asked_at_once_never_pass_the_most_an_account_holds(app, monkeypatch):
    """One place left, two tokens asked for at once (two web processes): one is issued, the other refused (both were
    issued: each counted one place left before the other's row was committed). On SQLite too: tests/test_api.py."""
    ended = two_tokens_at_once(app, monkeypatch)
    assert ended == {"first": "ok", "second": ended["second"], "working": "50"}, ended
    assert ended["second"].startswith("Conflict"), ended


def two_tokens_at_once(app, monkeypatch) -> dict[str, str]:
    """A user one token short of the most an account may hold asks for two at once, the first held between its
    count and its commit: what each request ended with."""
    user = make_user(app, "ana")
    with app.app_context():
        owner = db.session.get(User, user)
        db.session.add_all(ApiToken.issue(owner, timedelta(days=1), None)[0]
                           for _ in range(tokens.MAX_LIVE_TOKENS - 1))
        db.session.commit()
    first_holds, made = {}, ApiToken.issue

    def slow_issue(*args, **kwargs) -> tuple[ApiToken, str]:  # the first request, counted, waits before its commit
        if (holding := first_holds.pop("event", None)) is not None:
            holding.set()
            time.sleep(WAIT)
        return made(*args, **kwargs)

    def ask() -> None:
        tokens.issue(db.session.get(User, user), None)

    def first(holding: threading.Event) -> None:
        first_holds["event"] = holding
        ask()

    monkeypatch.setattr(ApiToken, "issue", staticmethod(slow_issue))
    ended = side_by_side(app, first, ask)
    with app.app_context():
        ended["working"] = str(len(tokens.live_tokens(db.session.get(User, user))))
    return ended
