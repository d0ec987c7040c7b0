"""Analysing again: a result made by earlier models than the ones in use now shows its owner "Read by an earlier
model" and an "Analyse again" button (web and API; a copy uploaded again says so too); the job replaces the result in
place, keeping the analysis, the rows of the detections it finds again (their ids and subjects) and nothing else of
the old reading; another user gets 404; a failed job leaves the old result as it was."""

from __future__ import annotations

import re

from flask_migrate import downgrade, upgrade
import sqlalchemy as sa

from bench import ROOT
from bench.fixtures import csrf_token, login, make_subject, make_user
from extensions import db
from inference import pipeline
from inference.errors import MediaError
from messages import Phrase
from models import Analysis, Detection, Explanation, JobStatus, Reanalysis
from services import analyses, reanalysis
from tests.conftest import jpeg_bytes, upload
from tests.test_api import bearer, post_file
from tests.test_copies import notes
from tests.test_subjects import analysis_of

EARLIER = "mtcnn (an earlier release)"
BUTTON = re.compile(r'<form method="post" action="/analyses/(\d+)/again">')


def made_by_earlier_models(app, analysis_id: int) -> None:
    """Record the analysis as made by a detector other than the one loaded now."""
    with app.app_context():
        db.session.get(Analysis, analysis_id).detector = EARLIER
        db.session.commit()


def detections(app, analysis_id: int) -> list[tuple]:
    """(id, position, box, top, emotions, subject) of each detection, in order."""
    with app.app_context():
        return [(d.id, d.position, d.box, d.top, d.emotions, d.subject_id)
                for d in db.session.get(Analysis, analysis_id).detections]


def again(client, analysis_id: int):
    token = csrf_token(client, f"/analyses/{analysis_id}")
    return client.post(f"/analyses/{analysis_id}/again", data={"csrf_token": token})


def test_the_button_is_only_for_the_owner_of_a_result_made_by_earlier_models(app, client, alice, bob_client,
                                                                             astronaut_jpeg):
    photo = analysis_of(upload(client, astronaut_jpeg))
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    assert "Read by an earlier model" not in page and not BUTTON.search(page)
    made_by_earlier_models(app, photo)
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    assert "Read by an earlier model." in page and BUTTON.search(page).group(1) == str(photo)
    assert bob_client.get(f"/analyses/{photo}").status_code == 404
    bobs_token = csrf_token(bob_client, "/analyze")
    assert bob_client.post(f"/analyses/{photo}/again", data={"csrf_token": bobs_token}).status_code == 404
    assert bob_client.get(f"/analyses/{photo}/again").status_code == 404
    make_user(app, "root", admin=True)
    admin = app.test_client()
    login(admin, "root")
    admins_view = admin.get(f"/analyses/{photo}").get_data(as_text=True)
    assert "read-only" in admins_view and "Read by an earlier model" not in admins_view
    assert admin.post(f"/analyses/{photo}/again", data={"csrf_token": csrf_token(admin, "/analyze")}).status_code == 404
    opened = client.get(f"/analyses/{photo}/again")  # the form's address opened: its page
    assert opened.status_code == 302 and opened.location == f"/analyses/{photo}"
    assert client.post(f"/analyses/{photo}/again").status_code == 400  # no CSRF token
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Reanalysis.id))) == 0


def test_analysing_again_keeps_the_analysis_the_faces_it_finds_again_and_their_subjects(app, client, alice,
                                                                                        two_faces):
    photo = analysis_of(upload(client, jpeg_bytes(two_faces), "two.jpg"))
    (first, *_), (second, *_) = before = detections(app, photo)
    ana, ben = make_subject(app, alice, "Ana"), make_subject(app, alice, "Ben")
    with app.app_context():
        analysis = db.session.get(Analysis, photo)
        created_at = analysis.created_at
        stale, moved = analysis.detections
        stale.subject_id, stale.emotions, stale.top = ana, {"sad": 1.0}, "sad"  # a reading the new one replaces
        stale.keep_reading()  # as kept when it was stored: the pages that count it read this
        stale.explanation = Explanation(status=JobStatus.DONE)  # "Why?" of that reading: made again on request
        moved.subject_id, moved.x1, moved.x2 = ben, 0, 10  # its box no longer overlaps the face found again
        analysis.detector, analysis.top_emotion = EARLIER, "sad"
        db.session.commit()
    answer = again(client, photo)
    assert answer.status_code == 302 and answer.location == f"/analyses/{photo}"
    after = detections(app, photo)
    assert after[0][:5] == before[0][:5] and after[0][5] == ana  # the same row, with the new reading, still Ana's
    assert len(after) == 2 and after[1][0] not in (first, second) and after[1][5] is None  # the moved one went
    with app.app_context():
        analysis = db.session.get(Analysis, photo)
        assert (analysis.created_at, analysis.status) == (created_at, JobStatus.DONE)
        assert analysis.detector == reanalysis.current_models()["detector"] and analysis.top_emotion != "sad"
        assert db.session.scalar(db.select(Reanalysis.status)) == JobStatus.DONE
        assert db.session.scalar(db.select(db.func.count(Explanation.id))) == 0
        kept = [(detection.reading_emotion, detection.reading_certainty) for detection in analysis.detections]
        for detection in analysis.detections:
            detection.keep_reading()  # read again from the new reading: what the pages must count
        assert kept == [(detection.reading_emotion, detection.reading_certainty) for detection in analysis.detections]
        assert all(emotion is not None for emotion, _ in kept)
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    assert "Read by an earlier model" not in page and "(<bdi>Ana</bdi>)" in page and "(<bdi>Ben</bdi>)" not in page
    assert client.post(f"/analyses/{photo}/again",  # made by today's models: nothing to do
                       data={"csrf_token": csrf_token(client, f"/analyses/{photo}")}).status_code == 302
    assert any("already made by the models in use now" in note
               for note in notes(client.get(f"/analyses/{photo}").get_data(as_text=True)))


def test_weights_trained_again_under_the_same_name_make_a_result_out_of_date(app, client, alice, astronaut_jpeg):
    """A model trained again may keep its name ("emotion_fer2013: vgg+vgg"): its weights' fingerprint, kept with each
    analysis, tells. An analysis made before fingerprints were kept is judged by the names alone."""
    photo = analysis_of(upload(client, astronaut_jpeg))
    with app.app_context():
        analysis = db.session.get(Analysis, photo)
        assert analysis.weights == reanalysis.current_models()["weights"] and analysis.weights.startswith("human:")
        assert not reanalysis.out_of_date(analysis)
        analysis.weights = "human:000000000000 + dog:000000000000"  # the same names, other weights
        assert reanalysis.out_of_date(analysis)
        analysis.weights = None  # made before fingerprints were kept
        assert not reanalysis.out_of_date(analysis)


def test_the_models_in_use_are_told_without_loading_them_as_a_loaded_pipeline_records_them(monkeypatch):
    """What a result is compared with comes from the weights files (names, fingerprints) and is exactly what an
    analysis made by the loaded pipeline records."""
    loaded = pipeline.get_pipeline()
    monkeypatch.setattr(pipeline.get_pipeline, "_loaded", None)  # as in a web process that has analysed nothing yet
    pipeline.shipped_models.cache_clear()
    told = reanalysis.current_models()
    assert pipeline.get_pipeline.if_loaded() is None
    assert told == analyses.model_names(loaded.models) and told["weights"].startswith("human:")


def test_a_result_page_does_not_load_the_models(app, client, alice, astronaut_jpeg, monkeypatch):
    """A web process that has not loaded the models shows a result, says whether it is out of date and answers its
    API document without loading them (seconds and hundreds of MB, for the names of the models)."""
    headers = bearer(client, "alice")
    photo = post_file(client, headers, astronaut_jpeg).json["id"]

    def never(*_args, **_kwargs):
        raise AssertionError("the models were loaded")

    monkeypatch.setattr(pipeline.get_pipeline, "_loaded", None)
    monkeypatch.setattr(pipeline, "Pipeline", never)
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    assert "Face 1" in page and "Read by an earlier model" not in page
    made_by_earlier_models(app, photo)
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    assert "Read by an earlier model." in page and BUTTON.search(page)
    assert client.get(f"/api/v1/analyses/{photo}", headers=headers).json["reanalysis"]["out_of_date"] is True
    assert pipeline.get_pipeline.if_loaded() is None


def test_a_failed_reanalysis_leaves_the_old_result(app, client, alice, astronaut_jpeg, monkeypatch):
    photo = analysis_of(upload(client, astronaut_jpeg))
    made_by_earlier_models(app, photo)
    before = detections(app, photo)

    def unreadable(*_args, **_kwargs):
        raise MediaError(Phrase("The file is not a photo or video we can read."))

    monkeypatch.setattr(analyses, "analyze_photo", unreadable)
    assert again(client, photo).status_code == 302
    assert detections(app, photo) == before
    with app.app_context():
        analysis = db.session.get(Analysis, photo)
        assert (analysis.status, analysis.detector) == (JobStatus.DONE, EARLIER)
        assert db.session.scalar(db.select(Reanalysis.status)) == JobStatus.FAILED
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    assert "Analysing it again failed: The file is not a photo or video we can read." in " ".join(page.split())
    assert BUTTON.search(page) and "Face 1" in page  # the old result, and the button to try again
    monkeypatch.undo()
    assert again(client, photo).status_code == 302
    assert "Read by an earlier model" not in client.get(f"/analyses/{photo}").get_data(as_text=True)


def test_a_copy_of_a_result_made_by_earlier_models_says_so_and_offers_the_button(app, client, alice, astronaut_jpeg):
    photo = analysis_of(upload(client, astronaut_jpeg))
    made_by_earlier_models(app, photo)
    repeated = upload(client, astronaut_jpeg, "again.jpg")
    assert analysis_of(repeated) == photo
    page = client.get(repeated.location).get_data(as_text=True)
    assert notes(page)[0].endswith("its result was made by an earlier model, and you can have it analysed again "
                                   "below.")
    assert BUTTON.search(page)
    with app.app_context():  # nothing was analysed again on its own
        assert db.session.get(Analysis, photo).detector == EARLIER
        assert db.session.scalar(db.select(db.func.count(Reanalysis.id))) == 0


def test_the_api_analyses_again_on_request_only_for_the_owner(app, client, alice, astronaut_jpeg):
    headers = bearer(client, "alice")
    created = post_file(client, headers, astronaut_jpeg)
    photo = created.json["id"]
    assert created.json["reanalysis"] == {"out_of_date": False, "status": "none", "progress": 0.0,
                                          "url": f"/api/v1/analyses/{photo}/reanalysis"}
    up_to_date = client.post(f"/api/v1/analyses/{photo}/reanalysis", headers=headers)
    assert up_to_date.status_code == 409 and "already made by the models in use now" in up_to_date.json["error"]
    for status, said in ((JobStatus.QUEUED, "its first analysis is still under way"),
                         (JobStatus.FAILED, "its analysis failed")):  # no result to redo: not "already made"
        with app.app_context():
            db.session.get(Analysis, photo).status = status
            db.session.commit()
        refused = client.post(f"/api/v1/analyses/{photo}/reanalysis", headers=headers)
        assert refused.status_code == 409 and said in refused.json["error"], refused.json
    with app.app_context():
        db.session.get(Analysis, photo).status = JobStatus.DONE
        db.session.commit()
    made_by_earlier_models(app, photo)
    copy = post_file(client, headers, astronaut_jpeg)
    assert (copy.status_code, copy.json["duplicate"], copy.json["reanalysis"]["out_of_date"]) == (200, True, True)
    make_user(app, "bob")
    bobs = bearer(client, "bob")
    assert client.post(f"/api/v1/analyses/{photo}/reanalysis", headers=bobs).status_code == 404
    assert client.get(f"/api/v1/analyses/{photo}/reanalysis", headers=bobs).status_code == 404
    before = detections(app, photo)
    done = client.post(f"/api/v1/analyses/{photo}/reanalysis", headers=headers)
    assert done.status_code == 200 and done.json["status"] == "done" and done.json["out_of_date"] is False
    assert done.json["progress"] == 1.0
    assert "Location" not in done.headers  # ended: nothing to ask again (while queued: a 202 with Location here)
    assert [row[0] for row in detections(app, photo)] == [row[0] for row in before]
    assert client.get(f"/api/v1/analyses/{photo}", headers=headers).json["reanalysis"]["status"] == "done"


def test_a_video_analysed_again_keeps_its_tracks_and_their_subjects(app, client, alice, two_face_video):
    video = analysis_of(upload(client, two_face_video.read_bytes(), "two.mp4"))
    before = detections(app, video)
    assert len(before) == 2
    ana = make_subject(app, alice, "Ana")
    with app.app_context():
        db.session.get(Detection, before[0][0]).subject_id = ana
        db.session.commit()
    made_by_earlier_models(app, video)
    assert BUTTON.search(client.get(f"/analyses/{video}").get_data(as_text=True))
    assert again(client, video).status_code == 302
    after = detections(app, video)
    assert [row[0] for row in after] == [row[0] for row in before] and after[0][5] == ana
    assert "Read by an earlier model" not in client.get(f"/analyses/{video}").get_data(as_text=True)


def test_the_migration_adds_the_job_table_and_goes_back(app):
    with app.app_context():
        db.session.remove()
        downgrade(directory=str(ROOT / "migrations"), revision="9009b754e7c0")
        assert "reanalysis" not in sa.inspect(db.engine).get_table_names()
        upgrade(directory=str(ROOT / "migrations"))
        assert "reanalysis" in sa.inspect(db.engine).get_table_names()


def test_analysing_again_pairs_each_old_detection_with_one_new_one_at_most(app):
    """Mutant 20 (`matches` without its "old row not used yet"): two new faces overlapping one old face both took
    its row, so the result kept one of them only (and the old row twice)."""
    def face(box: list[int]) -> Detection:
        return Detection(position=1, kind="human", x1=box[0], y1=box[1], x2=box[2], y2=box[3], score=0.9)

    old = [face([0, 0, 100, 100])]
    new = [face([0, 0, 100, 100]), face([0, 0, 100, 90])]
    taken = reanalysis.matches(old, new)
    assert list(taken) == [0] and taken[0] is old[0]
