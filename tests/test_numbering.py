"""Faces and animals are numbered apart wherever a number is shown ("Face 1-3", "Cat 1"), while a detection's
`position` stays its address in URLs: the result and video pages, the boxes' tags, the API, the exports and the
admin's list."""

from __future__ import annotations

import html
import json
import re
import uuid

import pytest

from extensions import db
from models import Analysis, Detection, JobStatus, Media
from bench.fixtures import login, make_user
from tests.conftest import csv_rows
from tests.test_api import bearer
from tests.test_i18n import KOREAN
from tests.test_subjects import add_subject, assign, subject_id

FACE = {"happy": 0.9, "sad": 0.1}
FACE_TOPS = (0.9, 0.6, 0.4)  # the photo's faces in turn: "happy", "probably happy", "unsure, perhaps happy"


def face_reading(index: int) -> dict[str, float]:
    top = FACE_TOPS[index % len(FACE_TOPS)]
    return {"happy": top, "sad": (1 - top) / 2, "neutral": (1 - top) / 2}


def store_photo(app, user_id: int, kinds: list[str]) -> tuple[int, list[int]]:
    """A photo analysis written straight to the database with one detection of each kind, in that order; its id
    and its detections' ids."""
    with app.app_context():
        analysis = Analysis(user_id=user_id, original_name="mixed.jpg", stored_name=uuid.uuid4().hex,
                            format="jpeg", width=400, height=300, shown_count=len(kinds), top_emotion="happy")
        for position, kind in enumerate(kinds, start=1):
            emotions, top = (face_reading(position - 1), "happy") if kind == "human" else ({}, None)
            analysis.detections.append(Detection(position=position, kind=kind, x1=40 * position, y1=100,
                                                 x2=40 * position + 30, y2=130, score=0.9, emotions=emotions, top=top,
                                                 uncertain=False if top else None))
        db.session.add(analysis)
        db.session.commit()
        return analysis.id, [d.id for d in analysis.detections]


def store_video(app, user_id: int, kinds: list[str]) -> int:
    """A finished video analysis written straight to the database, one two-second track of each kind (track ids 1,
    2, …); each face's readings, "happy" at 90%, were flagged unsure."""
    with app.app_context():
        analysis = Analysis(user_id=user_id, original_name="clip.mp4", stored_name=uuid.uuid4().hex,
                            media=Media.VIDEO, status=JobStatus.DONE, format="mp4", width=320, height=240,
                            duration=2.0, fps_sampled=2.0, poster_time=0.0, shown_count=len(kinds))
        for track_id, kind in enumerate(kinds, start=1):
            emotions, top = (FACE, "happy") if kind == "human" else ({}, None)
            box = [60 * track_id, 50, 60 * track_id + 40, 90]
            timeline = [{"t": t, "box": box, "emotions": emotions} for t in (0.0, 0.5, 1.0, 1.5, 2.0)]
            summary = {"mean": emotions, "dominant": top, "share": {top: 1.0} if top else {}, "duration": 2.0}
            analysis.detections.append(Detection(position=track_id, track_id=track_id, kind=kind, x1=box[0], y1=50,
                                                 x2=box[2], y2=90, score=0.9, emotions=emotions, top=top,
                                                 uncertain=True if top else None, timeline=timeline, summary=summary,
                                                 transitions=[]))
        db.session.add(analysis)
        db.session.commit()
        return analysis.id


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture()
def mixed_photo(app, alice) -> tuple[int, list[int]]:
    """Three faces, then a cat, then a dog (positions 1-5)."""
    return store_photo(app, alice, ["human", "human", "human", "cat", "dog"])


def test_the_result_page_numbers_each_kind_on_its_own_and_keeps_the_positions_as_addresses(client, mixed_photo):
    analysis_id, _ = mixed_photo
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    headings = [text_of(heading).split(":")[0].split(" · ")[0] for heading in re.findall(r"<h2>(.*?)</h2>", page)]
    assert headings == ["Face 1", "Face 2", "Face 3", "Cat 1", "Dog 1"]
    tags = re.findall(r'<text x="-?[\d.]+em"[^>]*>([^<]+)</text>', page)
    assert tags == ["1", "2", "3", "Cat 1", "Dog 1"]  # a bare "1" on the cat would read as Face 1's
    assert re.findall(r'id="face-(\d+)"', page) == ["1", "2", "3", "4", "5"]  # anchors: positions, as before
    assert f'/analyses/{analysis_id}/detections/3/explain' in page
    assert "Cat 4" not in page and "Dog 5" not in page


def test_the_box_tags_rectangle_is_as_wide_as_its_text(client, mixed_photo):
    page = client.get(f"/analyses/{mixed_photo[0]}").get_data(as_text=True)
    rectangle = r'<rect x="[^"]+" y="[^"]+" width="([\d.]+)em" height="1.6em">'
    widths = [float(width) for width in re.findall(rectangle, page)]
    assert widths[:3] == [1.6, 1.6, 1.6] and min(widths[3:]) > 3  # "Cat 1" needs more than a digit's square


def test_a_korean_page_tags_the_animals_in_korean(client, mixed_photo):
    page = client.get(f"/analyses/{mixed_photo[0]}", headers=KOREAN).get_data(as_text=True)
    assert re.findall(r'<text x="-?[\d.]+em"[^>]*>([^<]+)</text>', page) == ["1", "2", "3", "고양이 1", "개 1"]


def test_the_api_gives_each_detection_its_number_and_its_position(client, mixed_photo):
    document = client.get(f"/api/v1/analyses/{mixed_photo[0]}", headers=bearer(client, "alice")).get_json()
    assert [(d["kind"], d["number"], d["position"]) for d in document["detections"]] == [
        ("human", 1, 1), ("human", 2, 2), ("human", 3, 3), ("cat", 1, 4), ("dog", 1, 5)]


def test_a_videos_tracks_are_numbered_per_kind_on_the_page_and_in_the_player(app, client, alice):
    analysis_id = store_video(app, alice, ["human", "dog", "human", "cat"])
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    headings = [text_of(heading).split(":")[0] for heading in re.findall(r'<h2 id="track-\d+">(.*?)</h2>', page, re.S)]
    assert headings == ["Face 1", "Dog 1", "Face 2", "Cat 1"]
    assert re.findall(r'class="overlay-label">([^<:]+)', page) == ["1", "Dog 1", "2", "Cat 1"]
    player = json.loads(html.unescape(re.search(r'id="player-tracks">(.*?)</script>', page, re.S).group(1)))
    assert [(track["title"], track["tag"]) for track in player] == [
        ("Face 1", "1"), ("Dog 1", "Dog 1"), ("Face 2", "2"), ("Cat 1", "Cat 1")]
    assert re.findall(r'id="face-(\d+)"', page) == ["1", "2", "3", "4"]  # anchors: track ids, as before


def test_the_saved_note_and_the_admin_list_use_the_number_within_the_kind(app, client, alice, mixed_photo):
    analysis_id, detections = mixed_photo
    add_subject(client, "Tom", "cat")
    saved = assign(client, detections[3], subject_id(app, "Tom"), analysis_id)
    assert "Saved: Cat 1 is Tom, and counts in Tom&#39;s history." in client.get(saved.location).get_data(as_text=True)
    make_user(app, "root", admin=True)
    admin = app.test_client()
    login(admin, "root")
    listing = admin.get("/admin/admin_detections/?sort=0").get_data(as_text=True)
    cells = re.findall(r'<td class="col-(kind|number|position)">(.*?)</td>', listing, re.S)
    kind_number_position = [tuple(text_of(cell) for _, cell in cells[start:start + 3])
                            for start in range(0, len(cells), 3)]
    assert kind_number_position == [("person", "1", "1"), ("person", "2", "2"), ("person", "3", "3"), ("cat", "1", "4"),
                                    ("dog", "1", "5")]


def test_the_csv_exports_give_each_reading_its_kind_its_number_and_the_pages_wording(app, client, alice, mixed_photo):
    store_video(app, alice, ["dog", "human"])
    rows = csv_rows(client.get("/account/export.csv"))
    assert "face" not in rows[0]
    columns = ("media", "kind", "number", "top", "certainty", "unsure")
    assert [tuple(row[name] for name in columns) for row in rows] == [
        ("image", "human", "1", "happy", "sure", "false"), ("image", "human", "2", "happy", "probably", "false"),
        ("image", "human", "3", "happy", "unsure", "true"), ("image", "cat", "1", "", "", ""),
        ("image", "dog", "1", "", "", ""),
        ("video", "dog", "1", "", "", ""),
        ("video", "human", "1", "happy", "unsure", "true")]  # the page: "unsure, perhaps happy"
    analysis_id, detections = mixed_photo
    add_subject(client, "Tom", "cat")
    tom = subject_id(app, "Tom")
    assign(client, detections[3], tom, analysis_id)
    [row] = csv_rows(client.get(f"/subjects/{tom}/export.csv"))
    assert list(row)[:8] == ["analysis_id", "created_at", "media", "filename", "kind", "number", "top", "certainty"]
    assert (row["kind"], row["number"]) == ("cat", "1")  # its position, 4, stays in URLs only
    [reading] = client.get(f"/subjects/{tom}/export.json").get_json()["history"]
    assert (reading["kind"], reading["number"], reading["certainty"]) == ("cat", 1, None) and "face" not in reading
