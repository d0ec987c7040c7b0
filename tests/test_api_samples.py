"""docs/api.md shows real answers of the API, trimmed: every field it shows, at every level, is one the API answers
with, and none the API answers with is left out, so the page cannot drift from the API unseen."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import numpy as np
import pytest

from bench import ROOT
from bench.fixtures import add_history, make_subject, make_user
from bench.synthetic import draw, mood
from inference.labels import DOG_EMOTIONS
from models import utcnow
from tests.test_api import bearer, post_file

EMOTION_KEYED = {"emotions", "mean", "share", "mix", "change"}  # keyed by the model's emotions: a face's or a dog's


def samples() -> dict[str, object]:
    """docs/api.md's JSON blocks by their name (```json NAME)."""
    page = (ROOT / "docs" / "api.md").read_text()
    return {name: json.loads(body) for name, body in re.findall(r"```json (\w+)\n(.*?)\n```", page, re.S)}


def shape_gaps(shown: object, answered: object, path: str = "") -> list[str]:
    """Where `shown` and `answered` differ in their fields (dicts' keys, lists' first items, recursively)."""
    if isinstance(shown, dict) and isinstance(answered, dict):
        if path.rsplit(".", 1)[-1] in EMOTION_KEYED:
            return []
        gaps = [f"{path}.{key}: {'not answered' if key in shown else 'not shown'}"
                for key in sorted(shown.keys() ^ answered.keys())]
        return gaps + [gap for key in shown.keys() & answered.keys()
                       for gap in shape_gaps(shown[key], answered[key], f"{path}.{key}")]
    if isinstance(shown, list) and isinstance(answered, list) and shown and answered:
        return shape_gaps(shown[0], answered[0], f"{path}[0]")
    return []


@pytest.fixture()
def answers(app, client, two_face_video) -> dict[str, object]:
    """The API's answers of the kinds docs/api.md shows."""
    ann = make_user(app, "ann")
    headers = bearer(client, "ann")
    photo = post_file(client, headers, (ROOT / "tests" / "data" / "people-with-a-cat.jpg").read_bytes(), "cat.jpg")
    video = post_file(client, headers, two_face_video.read_bytes(), "two.mp4")
    rex = make_subject(app, ann, "Rex", "dog")
    history = draw(np.random.default_rng(1), [mood(DOG_EMOTIONS, {"happy": 0.6, "relaxed": 0.3})] * 20)
    add_history(app, ann, rex, history, start=utcnow() - timedelta(days=20))
    client.post(f"/api/v1/subjects/{rex}/alerts", headers=headers, json={"emotion": "happy", "share": 0.5, "days": 7})
    return {"photo": photo.json, "video": client.get(f"/api/v1/analyses/{video.json['id']}", headers=headers).json,
            "subjects": client.get("/api/v1/subjects", headers=headers).json,
            "insights": client.get(f"/api/v1/subjects/{rex}/insights", headers=headers).json}


def test_the_api_pages_samples_have_the_fields_the_api_answers_with(answers):
    shown = samples()
    assert shown.keys() == answers.keys()
    assert answers["video"]["status"] == "done" and answers["insights"]["profile"]["enough"]
    assert answers["insights"]["alerts"] and shown["insights"]["alerts"]  # the rule's fields and its window's, shown
    gaps = [f"{name}{gap}" for name, sample in shown.items() for gap in shape_gaps(sample, answers[name])]
    assert gaps == []


def test_a_field_left_out_of_a_sample_is_found():
    """The check itself: a field missing at any depth, or one too many, is named."""
    answered = {"tracks": [{"timeline": [{"t": 0.0, "box": [1, 2, 3, 4]}], "summary": {"share": {"sad": 1.0}}}]}
    shown = {"tracks": [{"timeline": [{"t": 0.0}], "summary": {"share": {"happy": 1.0}}, "extra": 1}]}
    assert shape_gaps(shown, answered) == [".tracks[0].extra: not answered", ".tracks[0].timeline[0].box: not shown"]
