"""One reading per appearance everywhere: dashboards, insights, alerts and exports count a video track as its
page tells its story, not by its whole-clip mean probabilities."""

from __future__ import annotations

import csv
import io
import uuid

from extensions import db
from inference.labels import HUMAN_EMOTIONS
from insights.alerts import Rule, check_rule
from models import Analysis, Detection, Subject, utcnow
from services.insights import history_of


def moment(t: float, emotions: dict[str, float]) -> dict:
    return {"t": t, "box": [0, 0, 5, 5], "emotions": dict.fromkeys(HUMAN_EMOTIONS, 0.0) | emotions,
            "uncertain": False}


def stored_track(app, user_id: int, subject_id: int, timeline: list[dict], uncertainty: float = 0.1) -> int:
    """A video with one face track assigned to the subject, its summary as the video job stores it: the
    whole-clip mean probabilities as its emotions, the emotion with the most time as its top."""
    share: dict[str, float] = {}
    for point in timeline:
        top = max(point["emotions"], key=point["emotions"].get)
        share[top] = share.get(top, 0.0) + 1 / len(timeline)
    mean = {label: sum(point["emotions"][label] for point in timeline) / len(timeline) for label in HUMAN_EMOTIONS}
    dominant = max(share, key=share.get)
    summary = {"dominant": dominant, "share": share, "mean": mean, "duration": float(len(timeline)),
               "frames": len(timeline)}
    with app.app_context():
        video = Analysis(user_id=user_id, media="video", status="done", original_name="clip.mp4",
                         stored_name=uuid.uuid4().hex, format="mp4", width=64, height=64,
                         duration=float(len(timeline)), fps_sampled=1.0, created_at=utcnow(), face_count=1)
        video.detections.append(Detection(
            position=1, track_id=1, x1=0, y1=0, x2=5, y2=5, score=0.9, emotions=mean, top=dominant,
            uncertain=False, uncertainty=uncertainty, unsure_signals=[], timeline=timeline, summary=summary,
            transitions=[], subject_id=subject_id))
        video.top_emotion = dominant
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
    assert '<span class="pill emo-happy">unsure, perhaps happy</span>' in dashboard
