"""One reading per appearance everywhere: a group photo's badge says what most of its faces show ("mixed" when
they disagree) in the cards' words, and dashboards, insights, alerts and exports count a video track as its page
tells its story, not by its whole-clip mean probabilities."""

from __future__ import annotations

import csv
import io
import uuid

from extensions import db
from inference.labels import HUMAN_EMOTIONS, Certainty, Reading
from insights.alerts import Rule, check_rule
from insights.reading import Overall, overall_reading
from models import Analysis, Detection, Subject, utcnow
from services.analyses import set_top_emotion
from services.insights import history_of


def face(emotions: dict[str, float], uncertain: bool = False) -> Reading:
    """A face's reading as its card words it."""
    full = dict.fromkeys(HUMAN_EMOTIONS, 0.0) | emotions
    return Detection(top=max(full, key=full.get), emotions=full, uncertain=uncertain).reading


def test_a_group_photos_badge_is_what_most_faces_show_as_sure_as_they_are_or_mixed():
    probably_happy, probably_neutral = face({"happy": 0.73, "neutral": 0.24}), face({"neutral": 0.71, "happy": 0.2})
    assert overall_reading([("human", probably_happy), ("human", probably_neutral)]) == Overall(None, None)
    sure_happy, sure_sad = face({"happy": 0.9}), face({"sad": 0.85})
    assert overall_reading([("human", sure_happy), ("human", probably_happy), ("human", sure_sad)]) == Overall(
        "happy", Certainty.PROBABLY)  # two of three faces, as sure as the less sure of them
    assert overall_reading([("human", sure_happy), ("human", sure_sad)]).mixed
    unsure_neutral = face({"neutral": 0.45, "happy": 0.3}, uncertain=True)
    assert overall_reading([("human", sure_happy), ("human", unsure_neutral), ("human", unsure_neutral)]) == Overall(
        "happy", Certainty.SURE)  # the unsure cards are not counted while a sure one is
    assert overall_reading([("human", unsure_neutral)] * 2) == Overall("neutral", Certainty.UNSURE)
    dog = Reading("relaxed", Certainty.SURE, {"relaxed": 1.0})
    assert overall_reading([("dog", dog), ("human", sure_happy), ("cat", None)]) == Overall("happy", Certainty.SURE)
    assert overall_reading([("dog", dog)]) == Overall("relaxed", Certainty.SURE)
    assert overall_reading([("cat", None)]) is None


def stored_photo(app, user_id: int, name: str, faces: list[dict[str, float]]) -> int:
    """A photo analysis with one face per probability dict, its top emotion set as an upload's is."""
    with app.app_context():
        analysis = Analysis(user_id=user_id, original_name=name, stored_name=uuid.uuid4().hex,
                            format="jpeg", width=10, height=10, shown_count=len(faces))
        for position, emotions in enumerate(faces, start=1):
            full = dict.fromkeys(HUMAN_EMOTIONS, 0.0) | emotions
            analysis.detections.append(Detection(position=position, x1=0, y1=0, x2=5, y2=5, score=0.9,
                                                 emotions=full, top=max(full, key=full.get), uncertain=False))
        set_top_emotion(analysis)
        db.session.add(analysis)
        db.session.commit()
        return analysis.id


def test_the_history_badges_a_split_group_mixed_and_words_a_reading_as_its_card(app, client, alice):
    split = stored_photo(app, alice, "group.jpg", [{"happy": 0.73, "neutral": 0.24}, {"neutral": 0.71, "happy": 0.2}])
    stored_photo(app, alice, "smile.jpg", [{"happy": 0.73, "neutral": 0.24}])
    with app.app_context():
        assert db.session.get(Analysis, split).top_emotion is None  # the "neutral" filter does not list it
    page = client.get("/analyses").get_data(as_text=True)
    assert '<span class="pill" title="Its faces show different emotions.">mixed</span>' in page
    assert '<span class="pill emo-happy">probably happy</span>' in page
    assert "emo-neutral" not in page
    assert "group.jpg" not in client.get("/analyses?emotion=neutral").get_data(as_text=True)


def moment(t: float, emotions: dict[str, float], labels: tuple[str, ...] = HUMAN_EMOTIONS) -> dict:
    return {"t": t, "box": [0, 0, 5, 5], "emotions": dict.fromkeys(labels, 0.0) | emotions,
            **({"uncertain": False} if labels == HUMAN_EMOTIONS else {})}


def stored_track(app, user_id: int, subject_id: int | None, timeline: list[dict], uncertainty: float | None = 0.1,
                 kind: str = "human") -> int:
    """A video with one face (or `kind`) track assigned to the subject, its summary as the video job stores it: the
    whole-clip mean probabilities as its emotions, the emotion with the most frames as its top."""
    labels = tuple(timeline[0]["emotions"])
    share: dict[str, float] = {}
    for point in timeline:
        top = max(point["emotions"], key=point["emotions"].get)
        share[top] = share.get(top, 0.0) + 1 / len(timeline)
    mean = {label: sum(point["emotions"][label] for point in timeline) / len(timeline) for label in labels}
    dominant = max(share, key=share.get)
    summary = {"dominant": dominant, "share": share, "mean": mean, "duration": float(len(timeline)),
               "frames": len(timeline)}
    with app.app_context():
        video = Analysis(user_id=user_id, media="video", status="done", original_name="clip.mp4",
                         stored_name=uuid.uuid4().hex, format="mp4", width=64, height=64,
                         duration=float(len(timeline)), fps_sampled=1.0, created_at=utcnow(), shown_count=1)
        video.detections.append(Detection(
            position=1, track_id=1, kind=kind, x1=0, y1=0, x2=5, y2=5, score=0.9, emotions=mean, top=dominant,
            uncertain=None if kind != "human" else False, uncertainty=uncertainty,
            unsure_signals=None if kind != "human" else [], timeline=timeline, summary=summary,
            transitions=[], subject_id=subject_id))
        set_top_emotion(video)
        db.session.add(video)
        db.session.commit()
        return video.id


def make_person(app, user_id: int) -> int:
    with app.app_context():
        subject = Subject(user_id=user_id, name="Ana", kind="person")
        db.session.add(subject)
        db.session.commit()
        return subject.id


def test_dashboards_alerts_and_exports_count_a_track_as_its_page_tells_it(app, client, alice):
    """6 s of a weak angry, then 4 s of a clear happy: the page tells "probably angry, then happy from 6.0 s"; its
    mean probabilities lean happy, and their angry (its top by time) is weak: the dashboards left it out as
    unsure, and its history counted it as happy."""
    ana = make_person(app, alice)
    timeline = [moment(t, {"angry": 0.55, "happy": 0.4}) for t in range(6)] + \
               [moment(t, {"happy": 0.99}) for t in range(6, 10)]
    video = stored_track(app, alice, ana, timeline)
    with app.app_context():
        track = db.session.get(Analysis, video).detections[0]
        assert track.story.text == "probably angry, then happy from 6.0 s"
        history = history_of(db.session.get(Subject, ana))
        assert [history.classes[top] for top in history.tops] == ["angry"] and history.flagged == [False]
        assert check_rule(history, Rule("angry", 0.5, 7), utcnow())["share"] == 1.0
    dashboard = client.get(f"/dashboard?subject={ana}").get_data(as_text=True)
    assert "unsure reading was not counted" not in dashboard
    assert '<span class="pill emo-angry">probably angry</span>' in dashboard  # its appearance, as its page words it
    assert '<span class="pill emo-angry">probably angry</span>' in client.get("/analyses").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(client.get(f"/subjects/{ana}/export.csv").get_data(as_text=True))))
    assert [(row["top"], row["certainty"], row["unsure"]) for row in rows] == [("angry", "probably", "false")]


def test_a_track_its_page_calls_unsure_is_left_out_as_unsure_whatever_its_mean(app, client, alice):
    """A clear happy face whose frames' mean chance of a wrong reading reaches one half: the page says "unsure,
    perhaps happy throughout"; its mean (95% happy) counted it as a sure happy."""
    ana = make_person(app, alice)
    video = stored_track(app, alice, ana, [moment(t, {"happy": 0.95}) for t in range(4)], uncertainty=0.6)
    with app.app_context():
        assert db.session.get(Analysis, video).detections[0].story.text == "unsure, perhaps happy throughout"
        history = history_of(db.session.get(Subject, ana))
        assert history.flagged == [True] and check_rule(history, Rule("happy", 0.5, 7), utcnow())["unsure"] == 1
    dashboard = client.get(f"/dashboard?subject={ana}").get_data(as_text=True)
    assert "1 unsure reading was not counted." in dashboard
    assert '<span class="pill emo-happy unsure">unsure, perhaps happy</span>' in dashboard  # outlined, not filled

