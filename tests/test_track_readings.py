"""A video's cat track that its owner says is a dog is read by the dog model in each of its frames, by a job
(services/track_readings.py): the card says so while it runs and shows the dog's emotions after, its dashboard counts
them; set back to a cat, a reading under way writes nothing; a failed reading says why and can be tried again;
analysing the video again reads the owner's dog again."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

import jobs
from bench.clips import write_video
from bench.fixtures import csrf_token, login, make_app, make_subject, make_user
from extensions import db
from inference.video import VideoAnalyzer, frames_of
from inference.labels import DOG_EMOTIONS
from models import Analysis, TrackReading
from services import storage
from tests.conftest import upload
from tests.test_copies_reanalysis import again, made_by_earlier_models
from tests import test_subjects
from tests.test_species import put_species
from tests.test_subjects import analysis_of

person_and_cat_analysis = test_subjects.person_and_cat_analysis  # a fixture: the astronaut's face (1) and a cat (2)


@pytest.fixture(scope="module")
def cat_clip(tmp_path_factory) -> bytes:
    """Two seconds of scikit-image's cat, moving: one cat track."""
    cat = np.ascontiguousarray(np.asarray(Image.fromarray(skdata.chelsea()).resize((448, 300))))
    path = tmp_path_factory.mktemp("clips") / "cat.mp4"
    return write_video(path, [np.roll(cat, shift, axis=1) for shift in range(0, 40, 2)]).read_bytes()


@pytest.fixture()
def waiting_app(tmp_path):
    """An app whose jobs wait until the test runs them (jobs.work_once), with alice logged in."""
    app = make_app(tmp_path)
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)
    alice = make_user(app, "alice")
    client = app.test_client()
    login(client, "alice")
    return app, client, alice


def run_jobs(app) -> None:
    while jobs.work_once(app):
        pass


def only_track(client, video: int) -> dict:
    return client.get(f"/api/v1/analyses/{video}").get_json()["tracks"][0]


def read_it(client, row_id: int, video: int):
    return client.post(f"/detections/{row_id}/reading",
                       data={"csrf_token": csrf_token(client, f"/analyses/{video}")})


def track_row_id(app, video: int) -> int:
    with app.app_context():
        return db.session.get(Analysis, video).detections[0].id


def test_a_cat_track_set_to_a_dog_is_read_by_the_dog_model_in_each_of_its_frames(app, client, alice, cat_clip):
    video = analysis_of(upload(client, cat_clip, "cat.mp4"))
    cat = only_track(client, video)
    assert (cat["kind"], cat["top"]) == ("cat", None)
    dog = put_species(client, video, cat["track_id"], "dog").get_json()  # the job runs at once (JOBS_MODE eager)
    assert (dog["kind"], dog["kind_read"], dog["reading_frames"]) == ("dog", "cat", None)
    assert dog["top"] in DOG_EMOTIONS and dog["summary"]["dominant"] in DOG_EMOTIONS
    assert [point["box"] for point in dog["timeline"]] == [point["box"] for point in cat["timeline"]]
    assert all(list(point["emotions"]) == list(DOG_EMOTIONS) for point in dog["timeline"])
    assert dog["summary"]["duration"] == cat["summary"]["duration"]
    page = client.get(f"/analyses/{video}").get_data(as_text=True)
    assert "Dog 1:" in page and "Share of time" in page and "You said this is a dog." in page
    assert "is reading it" not in page
    luna = make_subject(app, alice, "Luna", "dog")
    client.put(f"/api/v1/analyses/{video}/detections/{cat['track_id']}/subject", json={"subject": luna},
               headers={"X-CSRFToken": csrf_token(client, "/analyze")})
    dashboard = client.get(f"/dashboard?subject={luna}").get_data(as_text=True)
    assert "none of Luna’s appearances has emotions" not in dashboard
    exported = client.get(f"/subjects/{luna}/export.json").get_json()["history"][0]
    assert (exported["kind"], exported["kind_read"], exported["top"]) == ("dog", "cat", dog["top"])
    assert client.get(f"/subjects/{luna}/export.csv").get_data(as_text=True).splitlines()[1].endswith(",cat")
    back = put_species(client, video, cat["track_id"], "cat").get_json()
    assert (back["kind"], back["top"], back["timeline"]) == ("cat", None, cat["timeline"])
    with app.app_context():
        assert db.session.scalars(db.select(TrackReading)).all() == []


def test_the_card_says_the_track_is_being_read_and_setting_it_back_stops_the_reading(waiting_app, cat_clip):
    app, client, alice = waiting_app
    video = analysis_of(upload(client, cat_clip, "cat.mp4"))
    run_jobs(app)
    track_id = only_track(client, video)["track_id"]
    dog = put_species(client, video, track_id, "dog").get_json()
    assert (dog["top"], dog["reading_frames"]["status"]) == (None, "queued")
    page = client.get(f"/analyses/{video}").get_data(as_text=True)
    assert "You said this is a dog. The dog model is reading it in each of the video’s frames" in page
    assert "progress.js" in page and 'class="comment reading-frames" data-status-url' in page
    status = client.get(f"/api/v1/analyses/{video}/detections/{track_id}/reading")
    assert (status.status_code, status.get_json()["status"]) == (202, "queued")
    make_user(app, "root", admin=True)
    admin = app.test_client()
    login(admin, "root")
    jobs_page = admin.get("/admin/jobs/").get_data(as_text=True)
    assert "Video track read as its owner’s species" in jobs_page and "cat.mp4</a> · Dog 1" in jobs_page
    luna = make_subject(app, alice, "Luna", "dog")
    client.put(f"/api/v1/analyses/{video}/detections/{track_id}/subject", json={"subject": luna},
               headers={"X-CSRFToken": csrf_token(client, "/analyze")})
    dashboard = client.get(f"/dashboard?subject={luna}").get_data(as_text=True)
    assert "none of Luna’s appearances has emotions" in dashboard and "no emotion model for cats" not in dashboard
    assert put_species(client, video, track_id, "cat").get_json()["reading_frames"] is None  # its job is deleted
    run_jobs(app)
    assert only_track(client, video)["top"] is None
    put_species(client, video, track_id, "dog")
    client.put(f"/api/v1/analyses/{video}/detections/{track_id}/subject", json={"subject": luna},
               headers={"X-CSRFToken": csrf_token(client, "/analyze")})
    unread = client.get(f"/api/v1/subjects/{luna}/insights").get_json()
    run_jobs(app)
    assert only_track(client, video)["top"] in DOG_EMOTIONS
    assert client.get(f"/api/v1/subjects/{luna}/insights").get_json() != unread  # not the cached insights
    status = client.get(f"/api/v1/analyses/{video}/detections/{track_id}/reading")
    assert (status.status_code, status.get_json()["status"]) == (200, "none")
    refused = client.post(f"/api/v1/analyses/{video}/detections/{track_id}/reading",
                          headers={"X-CSRFToken": csrf_token(client, "/analyze")})
    assert refused.status_code == 409  # read already


def test_a_failed_reading_says_why_and_can_be_tried_again(waiting_app, cat_clip):
    app, client, _ = waiting_app
    video = analysis_of(upload(client, cat_clip, "cat.mp4"))
    run_jobs(app)
    put_species(client, video, only_track(client, video)["track_id"], "dog")
    with app.app_context():
        path = storage.upload_path(db.session.get(Analysis, video).stored_name)
    kept = path.read_bytes()
    path.unlink()
    run_jobs(app)
    page = client.get(f"/analyses/{video}").get_data(as_text=True)
    assert "Reading it in the video’s frames failed: The uploaded file is missing" in page and "Try again" in page
    path.write_bytes(kept)
    assert read_it(client, track_row_id(app, video), video).status_code == 302
    run_jobs(app)
    assert only_track(client, video)["top"] in DOG_EMOTIONS
    again_page = read_it(client, track_row_id(app, video), video)  # read already: it says so, changes nothing
    assert again_page.status_code == 302
    assert "does not wait for a reading" in client.get(again_page.location).get_data(as_text=True)


def test_analysing_a_video_again_reads_the_owners_dog_in_its_frames(app, client, alice, cat_clip):
    video = analysis_of(upload(client, cat_clip, "cat.mp4"))
    track_id = only_track(client, video)["track_id"]
    put_species(client, video, track_id, "dog")
    made_by_earlier_models(app, video)
    assert again(client, video).status_code == 302
    dog = only_track(client, video)
    assert (dog["kind"], dog["kind_read"], dog["reading_frames"]) == ("dog", "cat", None)
    assert dog["top"] in DOG_EMOTIONS


def test_only_the_owner_asks_and_a_face_or_a_photo_waits_for_no_reading(app, client, alice, bob_client, cat_clip,
                                                                         person_and_cat_analysis):
    video = analysis_of(upload(client, cat_clip, "cat.mp4"))
    track_id = only_track(client, video)["track_id"]
    assert bob_client.get(f"/api/v1/analyses/{video}/detections/{track_id}/reading").status_code == 404
    assert read_it(bob_client, track_row_id(app, video), video).status_code == 404
    for position in (1, 2):  # the photo's face and cat: never read in frames
        answer = client.post(f"/api/v1/analyses/{person_and_cat_analysis}/detections/{position}/reading",
                             headers={"X-CSRFToken": csrf_token(client, "/analyze")})
        assert answer.status_code == 400
    answer = client.post(f"/api/v1/analyses/{video}/detections/{track_id}/reading",
                         headers={"X-CSRFToken": csrf_token(client, "/analyze")})
    assert answer.status_code == 409  # a cat's track, as the models read it: it waits until its owner sets it to a dog
    assert answer.json["error"].startswith("This track does not wait for a reading of its frames: its owner did not")
    put_species(client, video, track_id, "dog")
    put_species(client, video, track_id, "cat")
    with app.app_context():  # a track set before its frames were read: the owner asks for it
        track = db.session.get(Analysis, video).detections[0]
        track.kind, track.kind_read, track.models_reading = "dog", "cat", {"emotions": {}, "top": None}
        db.session.commit()
    assert "Read it as a dog" in client.get(f"/analyses/{video}").get_data(as_text=True)
    answer = client.post(f"/api/v1/analyses/{video}/detections/{track_id}/reading",
                         headers={"X-CSRFToken": csrf_token(client, "/analyze")})
    assert answer.status_code == 200 and only_track(client, video)["top"] in DOG_EMOTIONS


def test_a_reading_under_way_writes_nothing_once_its_owner_sets_the_track_back(waiting_app, cat_clip, monkeypatch):
    app, client, _ = waiting_app
    video = analysis_of(upload(client, cat_clip, "cat.mp4"))
    run_jobs(app)
    track_id = only_track(client, video)["track_id"]
    put_species(client, video, track_id, "dog")
    read = VideoAnalyzer.read_track_as

    def read_then_set_back(self, *args):  # the owner says "cat" again while the frames are being read
        track = read(self, *args)
        assert put_species(client, video, track_id, "cat").status_code == 200
        return track

    monkeypatch.setattr(VideoAnalyzer, "read_track_as", read_then_set_back)
    run_jobs(app)
    cat = only_track(client, video)
    assert (cat["kind"], cat["kind_read"], cat["top"], cat["reading_frames"]) == ("cat", None, None, None)
    assert all(point["emotions"] == {} for point in cat["timeline"])


def test_analysing_again_while_a_reading_waits_reads_the_new_tracks_once(waiting_app, cat_clip):
    app, client, _ = waiting_app
    video = analysis_of(upload(client, cat_clip, "cat.mp4"))
    run_jobs(app)
    put_species(client, video, only_track(client, video)["track_id"], "dog")
    made_by_earlier_models(app, video)
    assert again(client, video).status_code == 302
    run_jobs(app)
    dog = only_track(client, video)
    assert (dog["kind"], dog["kind_read"], dog["reading_frames"]) == ("dog", "cat", None) and dog["top"] in DOG_EMOTIONS
    with app.app_context():
        assert [job.status for job in db.session.scalars(db.select(TrackReading))] == ["done"]


def test_a_tracks_moments_are_matched_to_the_frames_they_were_read_from(tmp_path):
    """Sampled again at the analysis's rate, each moment gets its own frame (each frame here is one grey level, its
    index), across a gap where a joined pet was out of view; a moment with no frame is left out."""
    frames = [np.full((32, 32, 3), 10 * index, np.uint8) for index in range(20)]  # 2 s at 10 fps, sampled at 4:
    clip = write_video(tmp_path / "levels.mp4", frames)  # 0.0, 0.3, 0.5, 0.8, 1.0, 1.3, 1.5, 1.8 s
    times = (0.0, 0.3, 1.15, 1.5, 1.8, 9.0)  # 1.15 and 9.0: no frame sampled there
    moments = [{"t": t, "box": [0, 0, 8, 8], "emotions": {}, "uncertain": None} for t in times]
    found = [(moment["t"], int(round(frame.mean() / 10))) for moment, frame in frames_of(clip, 4.0, 60.0, moments)]
    assert found == [(0.0, 0), (0.3, 3), (1.5, 15), (1.8, 18)]


def test_a_tracks_reading_as_its_owners_species_sets_its_analysiss_top_emotion(app, client, alice, cat_clip):
    """Mutant 25 (run_track_reading_job without set_top_emotion): a cat track its owner set to a dog got the dog
    model's reading, but its video kept no top emotion: the history's badge and its emotion filter left it out."""
    video = analysis_of(upload(client, cat_clip, "cat.mp4"))
    cat = only_track(client, video)
    dog = put_species(client, video, cat["track_id"], "dog").get_json()  # the job runs at once (JOBS_MODE eager)
    assert dog["top"] is not None
    with app.app_context():
        assert db.session.get(Analysis, video).top_emotion == dog["top"]
