"""Copies: one user's second upload of the same bytes is answered with the first analysis (web: a note; API: 200,
`duplicate`), never with anyone else's; a failed one is analysed again; copies stored before count once in
insights, alerts, appearance counts and face groups; the migration hashes the stored files and goes back."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from skimage import data as skdata

import jobs
from bench import ROOT
from extensions import db
from inference.labels import DOG_EMOTIONS
from models import AlertRule, Analysis, Detection, JobStatus, Subject, User, utcnow
from services import analyses, reanalysis, subjects
from bench.fixtures import StoredAnalysis, make_subject, make_user, store_analyses
from tests.conftest import jpeg_bytes, upload, upload_files
from tests.test_api import bearer, post_file
from tests.test_identity import set_recognition
from tests.test_subjects import analysis_of

BEFORE_HASHES = "b9c0d1e2f3a4"


def analysis_count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Analysis.id)))


def notes(page: str) -> list[str]:
    """The flashed notes on a page."""
    return [" ".join(note.split()) for note in re.findall(r'<p class="flash[^"]*"[^>]*data-flashed>(.*?)</p>', page,
                                                           flags=re.DOTALL)]


def test_the_same_photo_twice_is_one_analysis_and_the_page_says_when_it_came(app, client, alice, astronaut_jpeg):
    first = analysis_of(upload(client, astronaut_jpeg, "astro.jpg"))
    files = upload_files(app)
    with app.app_context():  # uploaded at 20:00 UTC on 2 December: 3 December, 5 in the morning, in Seoul
        db.session.get(Analysis, first).created_at = datetime(2026, 12, 2, 20, 0)
        db.session.get(User, alice).time_zone = "Asia/Seoul"
        db.session.commit()
    again = upload(client, astronaut_jpeg, "same photo, shared again.jpg")
    assert again.status_code == 302 and analysis_of(again) == first
    assert analysis_count(app) == 1 and upload_files(app) == files  # not analysed or stored again
    page = client.get(again.location).get_data(as_text=True)
    assert notes(page) == ["You already uploaded this photo on December 3, 2026, 5:00 AM; here is its result."]
    with app.app_context():
        db.session.get(User, alice).locale = "ko"
        db.session.commit()
    upload(client, astronaut_jpeg, "once more.jpg")
    korean = client.get(f"/analyses/{first}").get_data(as_text=True)
    assert notes(korean) == ["이 사진은 2026년 12월 3일 오전 5:00에 이미 올렸어요. 그때의 결과예요."]
    assert notes(client.get(f"/analyses/{first}").get_data(as_text=True)) == []  # said once


def test_the_api_answers_a_copy_with_200_and_the_earlier_analysis(app, client, alice, astronaut_jpeg, coffee_jpeg):
    headers = bearer(client, "alice")
    created = post_file(client, headers, astronaut_jpeg)
    assert created.status_code == 201 and created.json["duplicate"] is False
    again = post_file(client, headers, astronaut_jpeg, "again.jpg")
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert again.json["id"] == created.json["id"] and again.json["filename"] == "photo.jpg"
    assert again.headers["Location"] == f"/api/v1/analyses/{created.json['id']}"
    assert {key: value for key, value in again.json.items() if key != "duplicate"} == \
        client.get(again.headers["Location"], headers=headers).json
    from_the_form = upload(client, astronaut_jpeg)  # the web form and the API know the same uploads
    assert analysis_of(from_the_form) == created.json["id"]
    other = post_file(client, headers, coffee_jpeg)
    assert other.status_code == 201 and other.json["duplicate"] is False and analysis_count(app) == 2


def test_another_users_upload_of_the_same_bytes_is_their_own(app, client, alice, bob_client, astronaut_jpeg):
    alices = analysis_of(upload(client, astronaut_jpeg))
    bobs = upload(bob_client, astronaut_jpeg)
    assert analysis_of(bobs) != alices and analysis_count(app) == 2
    assert notes(bob_client.get(bobs.location).get_data(as_text=True)) == []  # nothing says Alice had it
    make_user(app, "carol")
    answer = post_file(client, bearer(client, "carol"), astronaut_jpeg)
    assert answer.status_code == 201 and answer.json["duplicate"] is False
    assert answer.json["id"] not in (alices, analysis_of(bobs))


def test_a_queued_video_is_pointed_to_and_a_failed_one_is_analysed_again(app, client, alice, two_face_video):
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)  # videos stay queued
    video = two_face_video.read_bytes()
    queued = analysis_of(upload(client, video, "clip.mp4"))
    again = upload(client, video, "clip again.mp4")
    assert analysis_of(again) == queued
    note = notes(client.get(again.location).get_data(as_text=True))[0]
    assert note.startswith("You already uploaded this video on ") and note.endswith("; it is still being analysed.")
    headers = bearer(client, "alice")
    answer = post_file(client, headers, video, "clip.mp4")
    assert (answer.status_code, answer.json["duplicate"], answer.json["status"]) == (200, True, "queued")
    with app.app_context():
        db.session.get(Analysis, queued).status = JobStatus.FAILED
        db.session.commit()
    retried = post_file(client, headers, video, "clip.mp4")
    assert retried.status_code == 202 and retried.json["duplicate"] is False and retried.json["id"] != queued
    with app.app_context():  # done, by the models in use now
        finished = db.session.get(Analysis, retried.json["id"])
        finished.status = JobStatus.DONE
        for column, name in reanalysis.current_models().items():
            setattr(finished, column, name)
        db.session.commit()
    done = notes(client.get(upload(client, video).location).get_data(as_text=True))
    assert done[0].endswith("; here is its result.") and "this video" in done[0]


def test_bytes_stored_while_these_were_analysed_are_answered_with_that_analysis(app, client, alice, astronaut_jpeg,
                                                                                monkeypatch):
    """A form sent twice at once: the second request finds nothing, analyses, and meanwhile the first one stored
    the same bytes; it answers with that analysis and stores nothing."""
    analyze = analyses.analyze_photo
    earlier = []

    def while_another_request_stores_it(data: bytes, user_id: int | None = None):
        result = analyze(data, user_id)
        stored = analyses.save_photo_analysis(db.session.get(User, user_id), data, "first.jpg", *result,
                                              hashlib.sha256(data).hexdigest())  # what the other request does
        earlier.append(stored.analysis.id)
        return result

    monkeypatch.setattr(analyses, "analyze_photo", while_another_request_stores_it)
    answer = upload(client, astronaut_jpeg, "second.jpg")
    assert analysis_of(answer) == earlier[0] and analysis_count(app) == 1 and len(upload_files(app)) == 2


def add_readings(app, user_id: int, rows: list[tuple[str | None, str, int | None]]) -> list[int]:
    """Photo analyses of the last few days, oldest first, each (content hash, top emotion, subject id): one dog of
    that emotion assigned to the subject (or nobody)."""
    ids = []
    with app.app_context():
        for number, (digest, top, subject_id) in enumerate(rows):
            emotions = {label: (0.9 if label == top else 0.1 / (len(DOG_EMOTIONS) - 1)) for label in DOG_EMOTIONS}
            analysis = Analysis(user_id=user_id, original_name=f"dog{number}.jpg", stored_name=uuid.uuid4().hex,
                                format="jpeg", width=10, height=10, content_hash=digest,
                                created_at=utcnow() - timedelta(days=3, hours=-number))
            analysis.detections.append(Detection(position=1, kind="dog", x1=0, y1=0, x2=5, y2=5, score=0.9,
                                                 emotions=emotions, top=top, subject_id=subject_id))
            db.session.add(analysis)
            db.session.commit()
            ids.append(analysis.id)
    return ids


def test_copies_stored_before_count_once_in_insights_alerts_and_appearances(app, client, alice):
    """Rex looked sad in "3 of 3" appearances where two were one file: each file counts once; the copy where
    Rex is assigned counts when the first upload of that file has him nowhere; files without a hash count as they
    are."""
    rex = make_subject(app, alice, "Rex", "dog")
    add_readings(app, alice, [("a" * 64, "sad", rex), ("a" * 64, "sad", rex), ("a" * 64, "sad", rex),
                              ("b" * 64, "happy", rex), ("c" * 64, "sad", None), ("c" * 64, "sad", rex),
                              (None, "happy", rex), (None, "happy", rex)])
    with app.app_context():
        db.session.add(AlertRule(subject_id=rex, emotion="sad", share=0.3, days=7))
        db.session.commit()
    insights = client.get(f"/api/v1/subjects/{rex}/insights").json
    assert insights["count"] == 5  # a, b, c (its second upload), and the two without a hash
    assert (insights["alerts"][0]["count"], insights["alerts"][0]["matching"]) == (5, 2)
    assert client.get(f"/api/v1/subjects/{rex}").json["appearances"] == 5
    page = " ".join(client.get(f"/dashboard?subject={rex}").get_data(as_text=True).split())
    assert "5 appearances in 5 analyses." in page
    with app.app_context():
        assert len(subjects.newest_appearances(db.session.get(Subject, rex), 12)) == 5
    everyone = " ".join(client.get("/dashboard").get_data(as_text=True).split())
    assert "in 5 analyses." in everyone  # a, b, c and the two without a hash


def test_a_photo_uploaded_twice_before_makes_no_face_group(app, client, alice):
    """Two uploads of one photo are one photo of someone, not a group of two."""
    assert set_recognition(client, True).status_code == 302
    mirrored = np.ascontiguousarray(skdata.astronaut()[:, ::-1])
    one = analysis_of(upload(client, jpeg_bytes(mirrored), "one.jpg"))
    two = analysis_of(upload(client, jpeg_bytes(mirrored, comment=b"shared again"), "two.jpg"))
    page = " ".join(client.get("/subjects").get_data(as_text=True).split())
    assert "2 faces of someone you have not named" in page
    with app.app_context():  # as if the same bytes had come twice before uploads were checked
        db.session.get(Analysis, two).content_hash = db.session.get(Analysis, one).content_hash
        db.session.commit()
    page = " ".join(client.get("/subjects").get_data(as_text=True).split())
    assert "someone you have not named" not in page


def columns_of_analysis(app) -> set[str]:
    with app.app_context():
        return {column["name"] for column in sa.inspect(db.engine).get_columns("analysis")}


def test_the_migration_hashes_the_stored_files_and_goes_back(app, client, alice, astronaut_jpeg, coffee_jpeg):
    """On a database with rows: copies stored before get one hash, a row whose file is gone keeps NULL, and no
    detection is lost either way."""
    photo = analysis_of(upload(client, astronaut_jpeg, "astro.jpg"))
    cup = analysis_of(upload(client, coffee_jpeg, "cup.jpg"))
    copy_name, gone_name = f"{uuid.uuid4().hex}.jpeg", f"{uuid.uuid4().hex}.jpeg"
    (Path(app.config["UPLOAD_FOLDER"]) / copy_name).write_bytes(astronaut_jpeg)
    with app.app_context():
        original = db.session.get(Analysis, photo)
        for stored_name in (copy_name, gone_name):  # a copy stored before uploads were checked; a file gone since
            copy = Analysis(user_id=alice, original_name="copy.jpg", stored_name=stored_name, format="jpeg",
                            width=original.width, height=original.height)
            copy.detections.append(Detection(position=1, x1=0, y1=0, x2=5, y2=5, score=0.9, top="happy",
                                             emotions={"happy": 1.0}))
            db.session.add(copy)
        db.session.commit()
        detections = db.session.scalar(db.select(db.func.count(Detection.id)))
        db.session.remove()
        downgrade(directory=str(ROOT / "migrations"), revision=BEFORE_HASHES)
    assert "content_hash" not in columns_of_analysis(app) and analysis_count(app) == 4
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        hashes = db.session.execute(sa.text("SELECT content_hash FROM analysis ORDER BY id")).scalars().all()
        indexes = {index["name"] for index in sa.inspect(db.engine).get_indexes("analysis")}
        assert db.session.scalar(db.select(db.func.count(Detection.id))) == detections
    astronaut_hash, coffee_hash = (hashlib.sha256(content).hexdigest() for content in (astronaut_jpeg, coffee_jpeg))
    assert hashes == [astronaut_hash, coffee_hash, astronaut_hash, None]
    assert "ix_analysis_user_id_content_hash" in indexes
    assert analysis_of(upload(client, coffee_jpeg)) == cup  # uploads now find what the migration hashed


def test_a_file_whose_first_analysis_failed_counts_when_analysed_again(app, client, alice):
    """Mutant 17 (later_copy without "the earlier one is done"): bytes uploaded again after their first analysis
    failed were analysed again, yet the new result was taken for a copy of the failed one and left out of the
    dashboard's count (and of face groups)."""
    store_analyses(app, alice, [StoredAnalysis("first.jpg", "happy"), StoredAnalysis("again.jpg", "happy")])
    with app.app_context():
        first, again = db.session.scalars(db.select(Analysis).order_by(Analysis.id)).all()
        first.content_hash = again.content_hash = "a" * 64
        first.status, first.error = JobStatus.FAILED, "could not be read"
        again.status = JobStatus.DONE
        db.session.commit()
    page = " ".join(client.get("/dashboard").get_data(as_text=True).split())
    assert "in 2 analyses." in page
