"""Pages that list many things read them in a fixed number of queries, however many there are (one query per item
made a page of 40 faces or analyses cost 90 to 170 queries)."""

from __future__ import annotations

import uuid

import numpy as np
import sqlalchemy as sa

from bench.fixtures import login, make_user
from extensions import db
from inference.labels import DetectionKind
from models import Analysis, Detection, Explanation, FaceSignature, JobStatus, Media, Subject, User


def photos(app, user_id: int, count: int, faces: int) -> list[int]:
    """`count` photo analyses of `faces` signed faces each; their ids."""
    rng = np.random.default_rng(0)
    with app.app_context():
        stored = []
        for _ in range(count):
            analysis = Analysis(user_id=user_id, original_name="p.jpg", stored_name=uuid.uuid4().hex,
                                media=Media.IMAGE, format="jpeg", width=100, height=100, shown_count=faces)
            for position in range(1, faces + 1):
                face = Detection(position=position, kind=DetectionKind.HUMAN, x1=0, y1=0, x2=10, y2=10, score=0.9,
                                 emotions={"happy": 0.9, "sad": 0.1}, top="happy", uncertainty=0.1, uncertain=False,
                                 unsure_signals=[])
                face.signature = FaceSignature(user_id=user_id,
                                               vector=rng.standard_normal(128).astype(np.float32).tobytes())
                face.keep_reading()
                analysis.detections.append(face)
            db.session.add(analysis)
            stored.append(analysis)
        db.session.commit()
        return [analysis.id for analysis in stored]


def queries(app, client, url: str) -> int:
    with app.app_context():
        engine = db.engine
    sent = []
    count = lambda *_: sent.append(1)  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(sent)


def test_a_result_page_and_the_api_list_read_any_number_of_faces_in_the_same_queries(app):
    owner = make_user(app, "ann")
    with app.app_context():
        db.session.get(User, owner).recognize_faces = True
        db.session.add(Subject(user_id=owner, name="Ana", kind="person"))
        db.session.commit()
    client = app.test_client()
    login(client, "ann")
    few, many = photos(app, owner, 1, 2)[0], photos(app, owner, 1, 12)[0]
    assert queries(app, client, f"/analyses/{few}") == queries(app, client, f"/analyses/{many}")
    listed = queries(app, client, "/api/v1/analyses?per_page=100")
    photos(app, owner, 10, 3)
    assert queries(app, client, "/api/v1/analyses?per_page=100") == listed


def test_the_back_offices_jobs_page_reads_any_number_of_jobs_in_the_same_queries(app):
    make_user(app, "root", admin=True)
    admin = app.test_client()
    login(admin, "root")

    def failed_explanations(users: list[str]) -> None:  # each user's "Why?" of a face failed
        for name in users:
            face = photos(app, make_user(app, name), 1, 1)[0]
            with app.app_context():
                detection = db.session.scalar(db.select(Detection).filter_by(analysis_id=face))
                db.session.add(Explanation(detection=detection, status=JobStatus.FAILED, error="broken"))
                db.session.commit()

    failed_explanations(["ann", "ben"])
    shown = queries(app, admin, "/admin/jobs/")
    failed_explanations([f"user{number}" for number in range(8)])
    assert queries(app, admin, "/admin/jobs/") == shown


def test_the_back_offices_detections_list_names_any_number_of_owners_in_the_same_queries(app):
    """Its owner column read each row's account by itself: 5 queries for one owner, 24 for twenty."""
    make_user(app, "root", admin=True)
    admin = app.test_client()
    login(admin, "root")
    photos(app, make_user(app, "ann"), 1, 1)
    shown = queries(app, admin, "/admin/admin_detections/")
    for number in range(8):
        photos(app, make_user(app, f"user{number}"), 1, 1)
    assert queries(app, admin, "/admin/admin_detections/") == shown
