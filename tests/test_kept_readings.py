"""Each detection keeps its reading when its analysis is stored, so the pages that count many (dashboards, the
history, the exports) never read a video track's timeline; a row stored before is read from its timeline until
`flask maintenance readings` keeps its reading, and sets its analysis's top emotion as its badge says."""

from __future__ import annotations

import csv
import io
import re
import uuid
from contextlib import contextmanager

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from bench import ROOT
from extensions import db
from inference.labels import DOG_EMOTIONS, HUMAN_EMOTIONS, Certainty, Reading
from inference.detectors import Detection as FoundFace
from inference.pipeline import Classified, DetectionResult, ImageResult
from inference.video import TrackResult, VideoResult
from insights.reading import reading_of
from models import Analysis, Detection, Media, User
from services.analyses import keep_readings, photo_analysis, store_video_result
from tests.test_api import bearer
from tests.test_readings import make_person, moment, stored_photo, stored_track

BEFORE_KEPT_READINGS = "d2e3f4a5b6c7"
MODELS = {"detector": "test", "classifier": "test"}

GIVEN = "Analyses stored before readings were kept, given theirs: {}\n"  # flask maintenance readings


def computed(detection: Detection) -> Reading | None:
    """The reading its page computes, from its probabilities (a video track: from its timeline)."""
    return reading_of(detection.top, detection.emotions, detection.uncertain, detection.uncertainty,
                      detection.timeline, detection.summary)


def kept(detection: Detection) -> tuple:
    return detection.reading_emotion, detection.reading_certainty, detection.reading_mix


def weak_angry_then_happy() -> VideoResult:
    """One face: 6 s of a weak angry, then 4 s of a clear happy (its page: "probably angry, then happy from 6.0 s"),
    sampled once a second, as the video job finishes a track."""
    track = TrackResult(1, "human")
    for second in range(10):
        read = {"angry": 0.55, "happy": 0.4} if second < 6 else {"happy": 0.99}
        emotions = {label: value + 0.001 for label, value in (dict.fromkeys(HUMAN_EMOTIONS, 0.0) | read).items()}
        track.add(float(second), FoundFace((0, 0, 5, 5), 0.9), Classified(emotions, max(read, key=read.get), 0.1,
                                                                             False, []))
    return VideoResult(width=64, height=64, duration=10.0, fps_sampled=1.0, frames_analysed=10,
                       tracks=[track.finish(1.0)], models=MODELS, classifiers={"human": "test"}, poster_time=0.0)


def analysed_video(app, user_id: int, subject_id: int) -> int:
    """The video analysed and stored as the video job stores it, its track assigned to the subject."""
    with app.app_context():
        video = Analysis(user_id=user_id, media=Media.VIDEO, original_name="clip.mp4", stored_name=uuid.uuid4().hex,
                         format="mp4", width=64, height=64)
        store_video_result(video, weak_angry_then_happy())
        video.detections[0].subject_id = subject_id
        db.session.add(video)
        db.session.commit()
        return video.id


def test_a_stored_video_and_photo_keep_the_readings_their_pages_compute(app, alice):
    ana = make_person(app, alice)
    video_id = analysed_video(app, alice, ana)
    faces = [DetectionResult("human", [0, 0, 5, 5], 0.9, dict.fromkeys(HUMAN_EMOTIONS, 0.0) | emotions,
                        max(emotions, key=emotions.get), 0.1, False, [])
             for emotions in ({"happy": 0.73, "neutral": 0.24}, {"neutral": 0.71, "happy": 0.2}, {"sad": 0.95})]
    with app.app_context():
        photo = photo_analysis(db.session.get(User, alice), ImageResult(64, 64, "jpeg", faces, MODELS, {}),
                               "group.jpg", uuid.uuid4().hex)
        db.session.add(photo)
        db.session.commit()
        photo_id = photo.id
        db.session.expunge_all()
        track = db.session.get(Analysis, video_id).detections[0]
        assert kept(track) == ("angry", Certainty.PROBABLY, computed(track).mix)
        assert track.reading == computed(track) and track.story.text == "probably angry, then happy from 6.0 s"
        detections = db.session.get(Analysis, photo_id).detections
        assert [kept(face)[:2] for face in detections] == [("happy", "probably"), ("neutral", "probably"),
                                                          ("sad", "sure")]
        assert all(face.reading == computed(face) for face in detections)
        assert db.session.get(Analysis, photo_id).top_emotion is None  # mixed


@contextmanager
def statements_run(app):
    """The SQL statements run inside the block."""
    run: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(connection, cursor, statement, *args) -> None:
        run.append(statement)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield run
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def reads_a_timeline(statement: str) -> bool:
    """The statement reads detection.timeline other than where no reading was kept (READING_COLUMNS' CASE)."""
    return re.search(r"(?<!THEN )detection\.timeline", statement) is not None


def test_the_pages_show_the_kept_reading_and_read_no_timeline(app, client, alice):
    ana = make_person(app, alice)
    video_id = analysed_video(app, alice, ana)
    with app.app_context():  # a timeline that would now tell "happy", written past the ORM (which would keep its
        track = db.session.get(Analysis, video_id).detections[0]  # reading): the pages go by what was kept
        db.session.execute(sa.update(Detection).where(Detection.id == track.id)
                           .values(timeline=[moment(t, {"happy": 0.99}) for t in range(10)]))
        db.session.commit()
    pages = (f"/dashboard?subject={ana}", "/analyses", "/account/export.csv", f"/subjects/{ana}/export.csv")
    with statements_run(app) as run:
        shown = {url: client.get(url).get_data(as_text=True) for url in pages}
    assert [statement for statement in run if reads_a_timeline(statement)] == []
    assert '<span class="pill emo-angry">probably angry</span>' in shown[f"/dashboard?subject={ana}"]
    assert '<span class="pill emo-angry">probably angry</span>' in shown["/analyses"]
    for export in pages[2:]:
        assert ",angry,probably," in shown[export]
    with statements_run(app) as run:
        client.get(f"/analyses/{video_id}")
    assert any(reads_a_timeline(statement) for statement in run)  # the check sees a page that reads it


def test_a_row_stored_before_is_read_from_its_timeline_until_maintenance_keeps_it(app, client, alice):
    ana = make_person(app, alice)
    timeline = [moment(t, {"angry": 0.55, "happy": 0.4}) for t in range(6)] + \
               [moment(t, {"happy": 0.99}) for t in range(6, 10)]
    video = stored_track(app, alice, ana, timeline)  # written straight to the database: nothing kept
    group = stored_photo(app, alice, "group.jpg", [{"happy": 0.73, "neutral": 0.24}, {"neutral": 0.71, "happy": 0.2}])
    with app.app_context():
        db.session.get(Analysis, group).top_emotion = "neutral"  # its mean's argmax, as analyses stored before kept
        db.session.commit()
        track = db.session.get(Analysis, video).detections[0]
        assert kept(track) == (None, None, None) and track.reading == Reading("angry", Certainty.PROBABLY,
                                                                              computed(track).mix, 0.726)
    assert '<span class="pill emo-angry">probably angry</span>' in client.get(f"/dashboard?subject={ana}").get_data(
        as_text=True)
    assert "group.jpg" not in client.get("/analyses?emotion=neutral").get_data(as_text=True)  # the filter reads
    runner = app.test_cli_runner()                                                            # the kept readings
    assert runner.invoke(args=["maintenance", "readings"]).output == GIVEN.format(2)
    assert runner.invoke(args=["maintenance", "readings"]).output == GIVEN.format(0)
    with app.app_context():
        track = db.session.get(Analysis, video).detections[0]
        assert kept(track) == ("angry", "probably", computed(track).mix)
        assert all(kept(face)[0] for face in db.session.get(Analysis, group).detections)
        assert db.session.get(Analysis, group).top_emotion is None  # "mixed"
    assert "group.jpg" in client.get("/analyses?emotion=neutral").get_data(as_text=True)  # its second face


def detection_columns(app) -> set[str]:
    with app.app_context():
        return {column["name"] for column in sa.inspect(db.engine).get_columns("detection")}


def test_the_migration_adds_the_kept_readings_and_goes_back(app, alice):
    video = analysed_video(app, alice, make_person(app, alice))
    with app.app_context():
        db.session.remove()
        downgrade(directory=str(ROOT / "migrations"), revision=BEFORE_KEPT_READINGS)
    assert not {"reading_emotion", "reading_certainty", "reading_mix"} & detection_columns(app)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        track = db.session.get(Analysis, video).detections[0]
        assert kept(track) == (None, None, None) and track.timeline  # kept again by `flask maintenance readings`
        assert track.reading == computed(track)


def test_a_stored_reading_edited_through_the_orm_keeps_its_new_reading(app, client, alice):
    """The app writes a reading only with its analysis; a script's or a test's edit of a stored one (its emotions,
    its flag, its timeline) keeps the new reading too, so no page counts a stale one."""
    ana = make_person(app, alice)
    video_id = analysed_video(app, alice, ana)
    with app.app_context():
        track = db.session.get(Analysis, video_id).detections[0]
        assert track.reading_emotion == "angry"
        track.timeline = [moment(t, {"happy": 0.99}) for t in range(10)]
        db.session.commit()
        reading = computed(track)
        assert reading.emotion == "happy" and (track.reading_emotion, track.reading_certainty) == (
            reading.emotion, reading.certainty)


def test_the_api_the_exports_and_the_page_give_a_dog_track_one_reading_and_one_chance(app, client, alice):
    """6 s of angry with one-frame flickers of relaxed, then 4 s of relaxed: the page tells "angry, then relaxed from
    5.5 s" (the last angry frame, at 5.75 s, is a flicker into the relaxed). Most frames are relaxed (its card's
    "Share of time" chart puts relaxed first; its summary's `dominant`),
    but the badge, exports and filters counted it as angry (the longer stretch, flickers included) while the API
    said relaxed; and the API's `uncertainty` was 1 - the mean of relaxed, the page's 1 - the story's confidence."""
    angry, relaxed = {"angry": 0.7, "relaxed": 0.3}, {"relaxed": 0.8, "angry": 0.2}
    timeline = [moment(i / 4, relaxed if i % 3 == 1 else angry, DOG_EMOTIONS) for i in range(24)] + \
               [moment(i / 4, relaxed, DOG_EMOTIONS) for i in range(24, 40)]
    video = stored_track(app, alice, None, timeline, uncertainty=None, kind="dog")
    with app.app_context():
        keep_readings(db.session.get(Analysis, video))  # as an upload keeps it
        db.session.commit()
        track = db.session.get(Analysis, video).detections[0]
        assert track.top == "relaxed" and track.story.text.endswith("angry, then relaxed from 5.5 s")
        chance = track.chance_wrong
        assert chance is not None and abs(chance - (1 - track.story.confidence)) < 0.02
    page = client.get(f"/analyses/{video}").get_data(as_text=True)
    assert f"is wrong: {chance:.0%}." in page
    api = client.get(f"/api/v1/analyses/{video}", headers=bearer(client, "alice"))
    found = api.json["tracks"][0]
    assert (found["top"], found["summary"]["dominant"]) == ("relaxed", "relaxed")
    assert found["uncertainty"] == chance and found["certainty"] == track.reading.certainty
    with statements_run(app) as run:
        row = next(csv.DictReader(io.StringIO(client.get("/account/export.csv").get_data(as_text=True))))
    assert not any(reads_a_timeline(statement) for statement in run)  # the kept reading has the chance's figure
    assert row["top"] == "relaxed" and float(row["uncertainty"]) == chance
    assert "clip.mp4" in client.get("/analyses?emotion=relaxed").get_data(as_text=True)
    assert "clip.mp4" not in client.get("/analyses?emotion=angry").get_data(as_text=True)


def test_readings_kept_before_their_confidence_are_kept_again_as_the_page_now_tells_them(app, client, alice):
    """A pet's track joined across 10 s out of view, kept when that time counted for the emotion before it (sad):
    `flask maintenance readings` (run by the set-up) keeps it again, as its page now tells it (happy)."""
    timeline = [moment(i / 4, {"sad": 0.9, "happy": 0.1}, DOG_EMOTIONS) for i in range(2)] + \
               [moment(10 + i / 4, {"happy": 0.9, "sad": 0.1}, DOG_EMOTIONS) for i in range(2, 22)]
    video = stored_track(app, alice, None, timeline, uncertainty=None, kind="dog")
    with app.app_context():
        db.session.execute(sa.update(Detection).values(  # as kept before: no confidence, the old story's emotion
            reading_emotion="sad", reading_certainty="sure", reading_mix={"sad": 0.7, "happy": 0.3}, reading_changes=1))
        db.session.commit()
        assert db.session.get(Analysis, video).detections[0].reading.emotion == "sad"
    assert app.test_cli_runner().invoke(args=["maintenance", "readings"]).output == GIVEN.format(1)
    with app.app_context():
        track = db.session.get(Analysis, video).detections[0]
        assert kept(track)[0] == "happy" and track.reading_confidence == track.story.confidence
        assert db.session.get(Analysis, video).top_emotion == "happy"


def test_readings_worded_before_the_words_followed_the_printed_percent_are_worded_again(app, alice):
    """0.4969 was kept as "unsure" though its page prints 50%, 0.7993 as "probably" though it prints 80%: `flask
    maintenance readings` words them as the pages now do, once; a face flagged unsure stays unsure."""
    photo = stored_photo(app, alice, "edge.jpg", [{"happy": 0.4969, "sad": 0.4}, {"happy": 0.7993, "sad": 0.2},
                                                  {"happy": 0.4969, "sad": 0.4}])
    with app.app_context():
        faces = db.session.get(Analysis, photo).detections
        faces[2].uncertain = True
        for face, (confidence, worded) in zip(faces, ((0.4969, "unsure"), (0.7993, "probably"), (0.4969, "unsure"))):
            face.reading_emotion, face.reading_certainty, face.reading_confidence = "happy", worded, confidence
            face.reading_mix, face.reading_changes = {"happy": 1.0}, 0
        db.session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["maintenance", "readings"]).output == GIVEN.format(1)
    with app.app_context():
        assert [face.reading_certainty for face in db.session.get(Analysis, photo).detections] == [
            Certainty.PROBABLY, Certainty.SURE, Certainty.UNSURE]
    assert runner.invoke(args=["maintenance", "readings"]).output == GIVEN.format(0)
