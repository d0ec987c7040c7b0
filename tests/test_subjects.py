"""Subjects: create, assign faces and video tracks, per-subject dashboard and calendar, export, isolation."""

from __future__ import annotations

import csv
import io
import re

from extensions import db
from models import Detection, Subject
from tests.conftest import csrf_token, jpeg_bytes, upload


def add_subject(client, name: str, kind: str = "person"):
    token = csrf_token(client, "/subjects")
    return client.post("/subjects", data={"name": name, "kind": kind, "csrf_token": token})


def subject_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Subject.id).filter_by(name=name))


def assign(client, detection_id: int, subject: int, analysis_id: int):
    token = csrf_token(client, f"/analyses/{analysis_id}")
    return client.post(f"/detections/{detection_id}/subject",
                       data={f"d{detection_id}-subject": str(subject), "csrf_token": token})


def detections_of(app, analysis_id: int) -> list[int]:
    with app.app_context():
        return db.session.scalars(db.select(Detection.id).filter_by(analysis_id=analysis_id)
                                  .order_by(Detection.position)).all()


def analysis_of(response) -> int:
    return int(re.search(r"/analyses/(\d+)$", response.location).group(1))


def test_create_subjects_and_refuse_duplicates(app, client, alice):
    assert add_subject(client, "Rex", "dog").status_code == 302
    assert add_subject(client, "Rex", "dog").status_code == 400
    page = client.get("/subjects").get_data(as_text=True)
    assert "Rex" in page and "Dog" in page


def test_assign_faces_then_subject_dashboard_and_export(app, client, alice, two_faces, astronaut_jpeg,
                                                        two_face_video):
    add_subject(client, "Eileen")
    eileen = subject_id(app, "Eileen")
    photo = analysis_of(upload(client, jpeg_bytes(two_faces), "pair.jpg"))
    first, second = detections_of(app, photo)
    assert assign(client, first, eileen, photo).status_code == 302
    video = analysis_of(upload(client, two_face_video.read_bytes(), "clip.mp4"))
    track = detections_of(app, video)[0]
    assert assign(client, track, eileen, video).status_code == 302
    with app.app_context():
        assert db.session.get(Detection, second).subject_id is None

    page = client.get(f"/dashboard?subject={eileen}").get_data(as_text=True)
    assert "Eileen's dashboard" in page and "2 faces in 2 analyses" in page
    assert 'class="calendar"' in page and re.search(r'class="emo-\w+"><title>\d{4}-\d\d-\d\d: ', page)
    everyone = client.get("/dashboard").get_data(as_text=True)
    assert "4 faces in 2 analyses" in everyone

    rows = list(csv.DictReader(io.StringIO(client.get(f"/subjects/{eileen}/export.csv").get_data(as_text=True))))
    assert [row["media"] for row in rows] == ["image", "video"]
    assert abs(sum(float(rows[0][label]) for label in ("angry", "disgust", "fear", "happy", "sad", "surprise",
                                                        "neutral")) - 1) < 1e-3
    exported = client.get(f"/subjects/{eileen}/export.json").json
    assert exported["subject"]["name"] == "Eileen" and len(exported["history"]) == 2
    assert exported["history"][1]["timeline"]

    assign(client, first, 0, photo)  # unassign
    assert "1 face in 1 analysis" in client.get(f"/dashboard?subject={eileen}").get_data(as_text=True)


def test_deleting_a_subject_keeps_the_analyses(app, client, alice, astronaut_jpeg):
    add_subject(client, "Temp")
    temp = subject_id(app, "Temp")
    photo = analysis_of(upload(client, astronaut_jpeg))
    face = detections_of(app, photo)[0]
    assign(client, face, temp, photo)
    token = csrf_token(client, "/subjects")
    assert client.post(f"/subjects/{temp}/delete", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.get(Detection, face).subject_id is None
    assert client.get(f"/analyses/{photo}").status_code == 200


def test_subjects_are_private(app, client, alice, bob_client, astronaut_jpeg):
    add_subject(client, "Mine")
    mine = subject_id(app, "Mine")
    photo = analysis_of(upload(client, astronaut_jpeg))
    face = detections_of(app, photo)[0]
    assert bob_client.get(f"/dashboard?subject={mine}").status_code == 404
    assert bob_client.get(f"/subjects/{mine}/export.json").status_code == 404
    token = csrf_token(bob_client, "/subjects")
    assert bob_client.post(f"/subjects/{mine}/delete", data={"csrf_token": token}).status_code == 404
    assert bob_client.post(f"/detections/{face}/subject",
                           data={f"d{face}-subject": "0", "csrf_token": token}).status_code == 404
    add_subject(bob_client, "Bobs")
    bobs = subject_id(app, "Bobs")
    # Alice cannot assign her face to Bob's subject: it is not among her choices
    assert assign(client, face, bobs, photo).status_code == 400
    assert "Mine" not in bob_client.get("/subjects").get_data(as_text=True)
