"""Honest uncertainty: the ensemble's members' outputs reach inference on both backends, the "unsure" rule flags
members that disagree and leaves a confident real reading alone, the flag reaches the API and the pages, and
unsure readings do not make an alert fire."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import numpy as np
import pytest
import torch

from bench.fixtures import csrf_token
from extensions import db
from bench.faces import unsure_because
from inference.backends import OnnxRunner, onnx_path_for
from inference.classifiers import EmotionClassifier
from inference.labels import DOG_EMOTIONS, HUMAN_EMOTIONS, Certainty
from inference.pipeline import Pipeline, face_crops
from inference.specs import HUMAN_WEIGHTS
from inference.uncertainty import (FEATURES, MEMBERS_SPLIT, UncertaintyRule, UnsureSignal, frequent_signals,
                                   load_uncertainty_rule, signals, weak_reading_chance)
from insights.alerts import Rule, check_rule
from insights.history import History
from models import Analysis, Detection, JobStatus, Media, Subject, utcnow
from services.analyses import HistoryFilter, newest_first
from training.face_sets import PipelineReadings
from training.uncertainty import SignalProbe, read_signals
from tests.conftest import csv_rows, jpeg_bytes, upload

ANGRY, HAPPY, SAD = (HUMAN_EMOTIONS.index(name) for name in ("angry", "happy", "sad"))


def one_hot_ish(index: int, sure: float) -> np.ndarray:
    """Probabilities with `sure` on one class and the rest spread evenly."""
    row = np.full(len(HUMAN_EMOTIONS), (1 - sure) / (len(HUMAN_EMOTIONS) - 1))
    row[index] = sure
    return row


@pytest.fixture(scope="module", params=["onnx", "torch"])
def pipeline(request):
    if request.param == "onnx" and not onnx_path_for(HUMAN_WEIGHTS).is_file():
        pytest.skip("no ONNX exports: run `python -m training.export` (the set-up does)")
    return Pipeline(device="cpu", backend=request.param)


def test_members_that_disagree_make_a_reading_unsure():
    """Constructed member outputs: two members each sure of a different emotion (their geometric mean is flat)
    against two members sure of the same one."""
    split = np.stack([one_hot_ish(HAPPY, 0.9), one_hot_ish(SAD, 0.9)])[None]
    agreed = np.stack([one_hot_ish(HAPPY, 0.95), one_hot_ish(HAPPY, 0.9)])[None]
    shown_split, shown_agreed = one_hot_ish(HAPPY, 0.45)[None], one_hot_ish(HAPPY, 0.9)[None]
    features = signals(np.concatenate([shown_split, shown_agreed]), np.concatenate([split, agreed]))
    assert features[0, 1] > 0.5 and features[0, 2] == 1  # Jensen-Shannon divergence, split vote
    assert features[1, 1] < 0.01 and features[1, 2] == 0
    for rule in (load_uncertainty_rule(HUMAN_WEIGHTS), MEMBERS_SPLIT):
        assert rule.unsure(rule.score(shown_split, split)).all()
        assert not rule.unsure(rule.score(shown_agreed, agreed)).any()


WEAK, DISAGREE = UnsureSignal.WEAK, UnsureSignal.MEMBERS_DISAGREE


def test_the_signals_that_made_a_reading_unsure_are_named():
    """Weak: flat probabilities from members that agree; both: members sure of different emotions (their average
    is flat too); none for a confident reading; the members alone under the rule without a fitted one, and under a
    rule where disagreement weighs more than weakness."""
    rule = load_uncertainty_rule(HUMAN_WEIGHTS)
    flat = one_hot_ish(HAPPY, 0.35)
    split = np.stack([one_hot_ish(HAPPY, 0.9), one_hot_ish(SAD, 0.9)])
    sure = one_hot_ish(HAPPY, 0.9)
    features = signals(np.stack([flat, one_hot_ish(HAPPY, 0.45), sure]),
                       np.stack([np.stack([flat, flat]), split, np.stack([sure, sure])]))
    assert rule.unsure(rule.score_signals(features)).tolist() == [True, True, False]
    assert rule.because(features) == [[WEAK], [WEAK, DISAGREE], []]
    assert MEMBERS_SPLIT.because(features) == [[], [DISAGREE], []]
    mostly_members = UncertaintyRule(coefficients=(1.0, 8.0, 0.0), intercept=-2.0, threshold=0.5)
    agreeing_but_apart = signals(one_hot_ish(HAPPY, 0.7)[None],
                                 np.stack([one_hot_ish(HAPPY, 0.95), one_hot_ish(HAPPY, 0.3)])[None])
    assert mostly_members.because(agreeing_but_apart) == [[DISAGREE]]  # same top emotion, far apart


def test_a_tracks_signals_are_those_of_most_of_its_unsure_frames():
    assert frequent_signals([["weak"], ["weak", "members_disagree"], [], ["weak"]]) == ["weak"]
    assert frequent_signals([["members_disagree"], ["weak"]]) == ["weak", "members_disagree"]
    assert frequent_signals([[], []]) == []


def test_the_rule_is_fitted_on_each_faces_signals_read_through_the_pipeline(tmp_path, astronaut):
    """training.uncertainty puts a probe in the rule's place to collect the signals of the largest face of each
    labelled photo, as the app read it."""
    (tmp_path / "val" / "happy").mkdir(parents=True)
    (tmp_path / "val" / "happy" / "astronaut.jpg").write_bytes(jpeg_bytes(astronaut))
    pipeline, probe = Pipeline(device="cpu", backend="torch"), SignalProbe()
    face = pipeline.analyze_bytes(jpeg_bytes(astronaut)).detections[0]
    pipeline.classifier.uncertainty_rule = probe
    features, wrong = read_signals(pipeline, probe, f"{tmp_path}:val", 0)
    assert features.shape == (1, len(FEATURES)) and wrong.tolist() == [False]
    assert abs(features[0, 0] - (1 - face.emotions["happy"])) < 1e-4  # weakness: 1 - the top probability


def test_the_benchmark_counts_the_unsure_faces_by_what_made_them_unsure():
    probabilities = np.stack([one_hot_ish(HAPPY, 0.4), one_hot_ish(SAD, 0.4), one_hot_ish(HAPPY, 0.4),
                              one_hot_ish(HAPPY, 0.9), np.full(len(HUMAN_EMOTIONS), np.nan)])
    readings = PipelineReadings(probabilities, np.array([HAPPY, HAPPY, HAPPY, HAPPY, HAPPY]),
                                np.array([True, True, True, True, False]), np.array([0.6, 0.7, 0.8, 0.1, np.nan]),
                                np.array([True, True, True, False, False]),
                                [["weak"], ["weak"], ["weak", "members_disagree"], [], []])
    line, figures = unsure_because(readings)
    assert figures == {"weak": {"faces": 2, "accuracy": 0.5}, "weak + members_disagree": {"faces": 1, "accuracy": 1.0}}
    assert line == "unsure because: weak 2 (accuracy 0.500); weak + members_disagree 1 (accuracy 1.000)"


def test_the_shipped_rule_is_the_fitted_one():
    rule = load_uncertainty_rule(HUMAN_WEIGHTS)
    assert rule != MEMBERS_SPLIT and 0 < rule.threshold < 1
    assert rule.coefficients[1] > 0  # more disagreement, more unsure


def test_a_real_face_read_confidently_is_not_unsure_on_either_backend(pipeline, astronaut):
    face = pipeline.analyze_bytes(jpeg_bytes(astronaut)).detections[0]
    assert face.top == "happy" and face.emotions["happy"] > 0.7
    assert face.uncertain is False and 0 <= face.uncertainty < pipeline.classifier.uncertainty_rule.threshold
    assert face.unsure_signals == []


def test_torch_and_onnx_give_the_same_members_and_the_same_flag(astronaut):
    if not onnx_path_for(HUMAN_WEIGHTS).is_file():
        pytest.skip("no ONNX exports")
    onnx, plain = EmotionClassifier(HUMAN_WEIGHTS, "cpu", "onnx"), EmotionClassifier(HUMAN_WEIGHTS, "cpu", "torch")
    assert isinstance(onnx.runner, OnnxRunner)
    detector = Pipeline(device="cpu", backend="torch").detector
    crops = face_crops(astronaut, detector.detect(astronaut), 48)
    rng = np.random.default_rng(0)  # and crops that are no face at all, where the members may disagree
    crops = np.concatenate([crops, rng.integers(0, 255, (6, 48, 48), dtype=np.uint8)])
    for flip_tta in (True, False):
        ensemble, members = onnx.both_logits(crops, flip_tta)
        torch_ensemble, torch_members = plain.both_logits(crops, flip_tta)
        assert members.shape == (len(crops), 2, len(HUMAN_EMOTIONS))
        np.testing.assert_allclose(members, torch_members, atol=1e-4)
        np.testing.assert_allclose(ensemble, torch_ensemble, atol=1e-4)
        if not flip_tta:  # the ensemble is the mean of its members' log-probabilities
            expected = torch.from_numpy(members).log_softmax(2).mean(1).numpy()
            np.testing.assert_allclose(ensemble, expected, atol=1e-5)
        onnx_scores, torch_scores = onnx.read(crops, flip_tta)[1], plain.read(crops, flip_tta)[1]
        np.testing.assert_allclose(onnx_scores, torch_scores, atol=1e-4)
        np.testing.assert_array_equal(onnx.uncertainty_rule.unsure(onnx_scores),
                                      plain.uncertainty_rule.unsure(torch_scores))


def test_unsure_readings_are_left_out_of_an_alert():
    now = utcnow()
    sad = one_hot_ish(SAD, 0.8)
    times = [now - timedelta(hours=12 * i) for i in range(8, 0, -1)]
    vectors = np.tile(sad, (8, 1))
    sure = check_rule(History(HUMAN_EMOTIONS, times, vectors, list(range(8))), Rule("sad", 0.5, 7), now)
    assert sure["fired"] and sure["unsure"] == 0
    unsure = check_rule(History(HUMAN_EMOTIONS, times, vectors, list(range(8)), [True] * 7 + [False]),
                        Rule("sad", 0.5, 7), now)
    assert not unsure["fired"] and unsure["count"] == 1 and unsure["unsure"] == 7
    # the data behind it lists every day with a reading: days of unsure readings only counted none, and were left out
    assert sum(day["unsure"] for day in unsure["days"]) == 7 and sum(day["count"] for day in unsure["days"]) == 1
    assert len(unsure["days"]) == len({moment.date() for moment in times})


def add_face_readings(app, user_id: int, subject_id: int, emotions: dict, count: int, uncertain: bool | None,
                      because: list[str] | None = None, kind: str = "human") -> list[int]:
    """`count` photo analyses of one face (or animal of `kind`) each, an hour apart; their ids, newest first."""
    analyses = []
    with app.app_context():
        for hours in range(count):
            analysis = Analysis(user_id=user_id, original_name=f"face{hours}.jpg", stored_name=uuid.uuid4().hex,
                                format="jpeg", width=10, height=10, created_at=utcnow() - timedelta(hours=hours + 1))
            analysis.detections.append(Detection(position=1, kind=kind, x1=0, y1=0, x2=5, y2=5, score=0.9,
                                                 emotions=emotions, top=max(emotions, key=emotions.get),
                                                 subject_id=subject_id, uncertain=uncertain,
                                                 uncertainty=None if uncertain is None else 0.9 * uncertain,
                                                 unsure_signals=because))
            db.session.add(analysis)
            analyses.append(analysis)
        db.session.commit()
        return [analysis.id for analysis in analyses]


def test_an_alert_does_not_fire_from_unsure_readings_in_the_app(app, client, alice):
    with app.app_context():
        subject = Subject(user_id=alice, name="Ana", kind="person")
        db.session.add(subject)
        db.session.commit()
        ana = subject.id
    sad = dict(zip(HUMAN_EMOTIONS, map(float, one_hot_ish(SAD, 0.8))))
    add_face_readings(app, alice, ana, sad, 6, uncertain=True)
    token = csrf_token(client, f"/dashboard?subject={ana}")
    page = client.post(f"/subjects/{ana}/alerts", data={"emotion": "sad", "percent": 50, "days": 7,
                                                       "csrf_token": token}, follow_redirects=True)
    assert "Alert added" in page.get_data(as_text=True) and "looked <span" not in page.get_data(as_text=True)
    add_face_readings(app, alice, ana, sad, 3, uncertain=False)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "in 3 of 3 appearances (100%)" in page and "6 unsure readings were not counted." in page
    page = client.get(f"/dashboard?subject={ana}").get_data(as_text=True)  # each insight says what it left out
    assert "to look for patterns (3 so far). 6 unsure readings were not counted." in page
    assert "to check for changes (3 so far). 6 unsure readings were not counted." in page


def add_cat(app, user_id: int) -> None:
    """One photo analysis with one cat (no emotion model: no top emotion)."""
    with app.app_context():
        cat = Analysis(user_id=user_id, original_name="cat.jpg", stored_name=uuid.uuid4().hex, format="jpeg",
                       width=10, height=10)
        cat.detections.append(Detection(position=1, kind="cat", x1=0, y1=0, x2=5, y2=5, score=0.9, emotions={}))
        db.session.add(cat)
        db.session.commit()


def bar_values(page: str) -> dict[str, str]:
    return dict(re.findall(r'<span class="bar-label">(\w+)</span>.*?<span class="bar-value">([^<]+)</span>', page,
                           re.DOTALL))


def test_the_dashboards_charts_leave_unsure_readings_out_and_its_summary_counts_cats(app, client, alice):
    """The distribution, trend and calendar count the readings the insights beside them count (neither flagged unsure
    nor weak) and say how many were left out; the line above them counts every face and animal found, cats too."""
    flagged = dict(zip(HUMAN_EMOTIONS, map(float, one_hot_ish(ANGRY, 0.7))))
    weak = dict(zip(HUMAN_EMOTIONS, map(float, one_hot_ish(SAD, 0.35))))  # not flagged, worded "unsure"
    happy = dict(zip(HUMAN_EMOTIONS, map(float, one_hot_ish(HAPPY, 0.9))))
    add_face_readings(app, alice, None, flagged, 3, uncertain=True)
    add_face_readings(app, alice, None, weak, 2, uncertain=False)
    add_face_readings(app, alice, None, happy, 2, uncertain=False)
    add_cat(app, alice)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "7 faces, 1 cat in 8 analyses. 5 unsure readings were not counted." in page
    assert {bar_values(page)[name] for name in ("angry", "sad")} == {"0"} and bar_values(page)["happy"] == "2"
    squares = re.findall(r'<g><title>[^<]*</title><rect [^>]*class="(emo-\w+)"/></g>', page)  # the calendar's
    assert set(squares) == {"emo-happy"}


def test_a_dashboard_with_only_cats_says_what_was_found(app, client, alice):
    add_cat(app, alice)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "1 cat in 1 analysis." in page and "Nothing to chart yet" in page and "No data yet" not in page


def test_the_flag_reaches_the_api_and_the_page_and_old_analyses_still_render(app, client, alice, astronaut_jpeg):
    response = upload(client, astronaut_jpeg, "astronaut.jpg")
    analysis_id = int(response.location.rsplit("/", 1)[1])
    face = client.get(f"/api/v1/analyses/{analysis_id}").json["detections"][0]
    assert face["uncertain"] is False and 0 <= face["uncertainty"] < 0.5
    surprised = dict(zip(HUMAN_EMOTIONS, map(float, one_hot_ish(HUMAN_EMOTIONS.index("surprise"), 0.7))))
    with app.app_context():
        subject = Subject(user_id=alice, name="Ana", kind="person")
        db.session.add(subject)
        db.session.commit()
        ana = subject.id
    add_face_readings(app, alice, ana, surprised, 1, uncertain=True)
    add_face_readings(app, alice, ana, surprised, 1, uncertain=None)  # analysed before the rule existed
    with app.app_context():
        flagged, old = db.session.scalars(db.select(Analysis.id).where(Analysis.original_name == "face0.jpg")
                                          .order_by(Analysis.id)).all()
    page = client.get(f"/analyses/{flagged}").get_data(as_text=True)
    assert "unsure, perhaps" in page and "the model&#39;s members disagree" in page
    old_page = client.get(f"/analyses/{old}")
    assert old_page.status_code == 200 and "unsure, perhaps" not in old_page.get_data(as_text=True)
    document = client.get(f"/api/v1/analyses/{old}").json["detections"][0]
    assert document["uncertain"] is None and document["uncertainty"] is None


def test_the_video_page_says_unsure_for_a_track_whose_frames_were_mostly_unsure(app, client, alice, two_face_video):
    response = upload(client, two_face_video.read_bytes(), "clip.mp4")
    with app.app_context():
        tracks = db.session.scalars(db.select(Detection).order_by(Detection.track_id)).all()
        assert all(isinstance(track.uncertain, bool) for track in tracks)
        for track in tracks:
            track.uncertain = track.track_id == tracks[0].track_id
        first = tracks[0].id
        db.session.commit()
    page = client.get(response.location).get_data(as_text=True)
    assert page.count("the model&#39;s members disagree") == 1 and "unsure, perhaps" in page
    with app.app_context():  # as analysed now: with what made most of its unsure frames unsure
        track = db.session.get(Detection, first)
        track.uncertainty, track.unsure_signals = 0.58, ["weak", "members_disagree"]
        db.session.commit()
    page = client.get(response.location).get_data(as_text=True)
    assert page.count("the likeliest emotion has a low probability and the networks that make up the model read "
                      "this face differently, so the estimated chance that this reading is wrong is 58%") == 1
    with app.app_context():  # most moments unsure, yet their mean score under one half: no figure to contradict it
        db.session.get(Detection, first).uncertainty = 0.37
        db.session.commit()
    page = client.get(response.location).get_data(as_text=True)
    assert "wrong is 37%" not in page and page.count("the model&#39;s members disagree") == 1


def make_person(app, user_id: int, name: str = "Ana") -> int:
    with app.app_context():
        subject = Subject(user_id=user_id, name=name, kind="person")
        db.session.add(subject)
        db.session.commit()
        return subject.id


def test_the_page_says_which_signal_made_a_reading_unsure(app, client, alice, astronaut_jpeg):
    ana = make_person(app, alice)
    surprised = dict(zip(HUMAN_EMOTIONS, map(float, one_hot_ish(HUMAN_EMOTIONS.index("surprise"), 0.45))))
    cases = {("weak",): "Unsure: the likeliest emotion has a low probability, so the estimated chance that this "
                        "reading is wrong is 90%.",
             ("members_disagree",): "Unsure: the networks that make up the model read this face differently, so the "
                                    "estimated chance that this reading is wrong is 90%.",
             ("weak", "members_disagree"): "Unsure: the likeliest emotion has a low probability and the networks "
                                           "that make up the model read this face differently, so the estimated "
                                           "chance that this reading is wrong is 90%"}
    for because, words in cases.items():
        analysis = add_face_readings(app, alice, ana, surprised, 1, uncertain=True, because=list(because))[0]
        page = client.get(f"/analyses/{analysis}").get_data(as_text=True)
        assert words in page and "unsure, perhaps" in page and "members disagree, or" not in page
        assert client.get(f"/api/v1/analyses/{analysis}").json["detections"][0]["unsure_signals"] == list(because)
    korean = client.get(f"/analyses/{analysis}", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "가장 가능성 높은 감정의 확률도 낮고, 모델을 이루는 신경망들이 이 얼굴을 서로 다르게 읽었어요" in korean
    assert "틀렸을 추정 확률: 90%" in korean
    photo = int(upload(client, astronaut_jpeg, "astronaut.jpg").location.rsplit("/", 1)[1])
    assert client.get(f"/api/v1/analyses/{photo}").json["detections"][0]["unsure_signals"] == []


def test_a_weak_reading_is_worded_alike_for_dogs_and_faces(app, client, alice):
    """A weak dog reading said "take the chart with a pinch of salt" with no figure, where a face says "so the
    estimated chance that this reading is wrong is 79%". The dog model is calibrated on held-out photos, so its figure
    is 1 - the top probability; a face read before the rule has no figure, and its sentence keeps the shape."""
    rex, ana = make_person(app, alice, "Rex"), make_person(app, alice)
    with app.app_context():
        db.session.get(Subject, rex).kind = "dog"
        db.session.commit()
    perhaps_angry = dict(zip(DOG_EMOTIONS, (0.37, 0.3, 0.18, 0.15)))
    dog = add_face_readings(app, alice, rex, perhaps_angry, 1, uncertain=None, kind="dog")[0]
    weak_face = dict(zip(HUMAN_EMOTIONS, map(float, one_hot_ish(SAD, 0.45))))
    before_the_rule = add_face_readings(app, alice, ana, weak_face, 1, uncertain=None)[0]
    page = client.get(f"/analyses/{dog}").get_data(as_text=True)
    assert ("Unsure: the likeliest emotion has a low probability, so the estimated chance that this reading is wrong "
            "is 63%.") in page
    assert "pinch of salt" not in page
    korean = client.get(f"/analyses/{dog}", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "틀렸을 추정 확률: 63%" in korean
    page = client.get(f"/analyses/{before_the_rule}").get_data(as_text=True)
    assert "Unsure: the likeliest emotion has a low probability, so this reading may well be wrong." in page


def test_the_export_carries_the_unsure_flag_and_score(app, client, alice):
    ana = make_person(app, alice)
    sad = dict(zip(HUMAN_EMOTIONS, map(float, one_hot_ish(SAD, 0.6))))
    add_face_readings(app, alice, ana, sad, 1, uncertain=None)  # before the rule: empty (the oldest row)
    add_face_readings(app, alice, ana, sad, 1, uncertain=False)
    add_face_readings(app, alice, ana, sad, 1, uncertain=True, because=["weak"])
    rows = csv_rows(client.get(f"/subjects/{ana}/export.csv"))
    assert [(row["unsure"], row["uncertain"], row["uncertainty"]) for row in rows] == [
        ("false", "", ""), ("false", "false", "0.0"), ("true", "true", "0.9")]  # JSON's words, not Python's True
    history = client.get(f"/subjects/{ana}/export.json").json["history"]
    assert [(row["uncertain"], row["uncertainty"], row["unsure_signals"]) for row in history] == [
        (None, None, None), (False, 0.0, None), (True, 0.9, ["weak"])]


def test_the_export_says_unsure_wherever_the_page_does_a_weak_dog_reading_too(app, client, alice):
    """`unsure` is the page's word (flagged, or a weak top emotion) for every reading, where `uncertain` is only
    the face rule's flag: a dog's weak reading is unsure in the export, as insights count it."""
    rex = make_person(app, alice)
    with app.app_context():
        db.session.get(Subject, rex).kind = "dog"
        db.session.commit()
    perhaps_angry = dict(zip(DOG_EMOTIONS, (0.37, 0.3, 0.18, 0.15)))
    sure_happy = dict(zip(DOG_EMOTIONS, (0.05, 0.85, 0.05, 0.05)))
    for emotions in (perhaps_angry, sure_happy):
        add_face_readings(app, alice, rex, emotions, 1, uncertain=None, kind="dog")
    rows = csv_rows(client.get(f"/subjects/{rex}/export.csv"))
    assert [(row["unsure"], row["uncertain"]) for row in rows] == [("true", ""), ("false", "")]
    history = client.get(f"/subjects/{rex}/export.json").json["history"]
    assert [(row["unsure"], row["uncertain"]) for row in history] == [(True, None), (False, None)]
    chances = [row["uncertainty"] for row in history]  # the page's "estimated chance that this reading is wrong"
    assert chances == [pytest.approx(0.63), pytest.approx(0.15)] and [float(row["uncertainty"]) for row in rows] == \
        pytest.approx(chances)


def test_a_dogs_chance_of_a_wrong_reading_has_four_places_as_a_faces_score_has():
    """1 - 0.8366 is 0.16340000000000002 in floats: the API and the exports give 0.1634; cats have no such figure."""
    assert weak_reading_chance("dog", 0.8366) == 0.1634
    assert weak_reading_chance("cat", 0.8366) is None


@pytest.mark.parametrize("probability", [0.4949, 0.4969, 0.495, 0.5, 0.7949, 0.785, 0.795, 0.7993, 0.8,
                                         np.float32(0.7996)])
def test_a_reading_is_worded_by_the_percent_shown_beside_it(probability):
    """"probably happy (80%)" for 0.7993 stood beside "happy (80%)" for 0.8, "unsure, perhaps angry (50%)" for 0.4969
    beside "probably angry (50%)": the word now follows the figure the page prints (Babel's rounding)."""
    from babel.numbers import format_percent

    from inference.labels import Certainty, certainty

    shown = int(format_percent(probability, locale="en").removesuffix("%"))
    expected = Certainty.UNSURE if shown < 50 else Certainty.PROBABLY if shown < 80 else Certainty.SURE
    assert certainty(probability) == expected


def test_the_emotion_filter_leaves_unsure_readings_out(app, alice):
    """Mutant 47 (narrow() without the certainty condition): "happy" listed photos whose only face was "unsure,
    perhaps happy", which the dashboards leave out."""
    with app.app_context():
        for name, certainty in (("sure.jpg", Certainty.SURE), ("unsure.jpg", Certainty.UNSURE)):
            analysis = Analysis(user_id=alice, media=Media.IMAGE, status=JobStatus.DONE, original_name=name,
                                stored_name=f"{name}.jpeg", format="jpeg", width=64, height=64)
            db.session.add(Detection(analysis=analysis, position=1, x1=0, y1=0, x2=9, y2=9, score=0.9,
                                     emotions={"happy": 0.5, "sad": 0.5}, top="happy", reading_emotion="happy",
                                     reading_certainty=certainty))
        db.session.commit()
        listed = db.session.scalars(newest_first(alice, HistoryFilter(emotion="happy"))).all()
        assert [analysis.original_name for analysis in listed] == ["sure.jpg"]
