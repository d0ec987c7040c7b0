"""A video's result page: what each track did in words, the player's data and its file (Range requests), and the
frame links that move the player (?t=) instead of opening a bare JPEG."""

from __future__ import annotations

import html
import json
import re
import unicodedata
from pathlib import Path

import pytest

from bench.clips import moving_faces_frames, write_video
from extensions import db
from insights.clip import clip_story, stretches
from models import Analysis, Detection, Subject
from tests.conftest import upload
from web.analyze import boxes_at, holds_until
from web.i18n import shortened

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
MOMENTS = ("The labels on the video read one moment at a time; the sections below sum up the whole clip, so the two "
           "can differ.")
NO_WHY = "To see what the model looked at, analyse a still photo: “Why?” explanations are made for photos only."


@pytest.fixture(scope="session")
def two_face_webm(tmp_path_factory, astronaut) -> Path:
    """4 s of two faces in VP8 WebM: a format Chromium plays (unlike MPEG-4 Part 2)."""
    return write_video(tmp_path_factory.mktemp("webm") / "two.webm", moving_faces_frames(astronaut, 40, faces=2),
                       codec="VP80")


def timeline(sequence: list[tuple[str, float]], step: float = 0.25) -> list[dict]:
    """A track's timeline: one (top emotion, its probability) per moment; the rest shared evenly."""
    points = []
    for index, (emotion, probability) in enumerate(sequence):
        emotions = {label: round((1 - probability) / (len(EMOTIONS) - 1), 4) for label in EMOTIONS}
        emotions[emotion] = probability
        points.append({"t": round(index * step, 3), "box": [10, 10, 60, 60], "emotions": emotions})
    return points


def shares(points: list[dict]) -> dict[str, float]:
    tops = [max(p["emotions"], key=p["emotions"].get) for p in points]
    return {label: tops.count(label) / len(tops) for label in EMOTIONS}


def test_happy_then_sad_is_told_as_such_not_as_unsure():
    points = timeline([("happy", 0.9)] * 21 + [("sad", 0.85)] * 19)
    story = clip_story(points, shares(points))
    assert story.text == "happy, then sad from 5.25 s" and not story.unsure  # as its list of changes says (not 5.2)
    assert named(story) == "happy, then sad"  # what its chance of a wrong reading is about
    assert [(s.emotion, s.start) for s in story.stretches] == [("happy", 0.0), ("sad", 5.25)]


def test_flickers_merge_into_their_neighbours_and_many_changes_are_told_by_share():
    flicker = timeline([("happy", 0.9)] * 10 + [("sad", 0.6)] * 2 + [("happy", 0.9)] * 10 + [("sad", 0.9)] * 18)
    assert [s.emotion for s in stretches(flicker)] == ["happy", "sad"]
    assert clip_story(flicker, shares(flicker)).changes == [{"t": 5.5, "from": "happy", "to": "sad"}]  # as told
    three = timeline([("happy", 0.9)] * 10 + [("neutral", 0.9)] * 10 + [("sad", 0.9)] * 20)
    assert clip_story(three, shares(three)).text == "happy, then neutral from 2.5 s, then sad from 5.0 s"
    alternating = timeline(([("happy", 0.9)] * 6 + [("sad", 0.9)] * 6) * 4)
    assert clip_story(alternating, shares(alternating)).text == "happy (50% of the time), sad (50%), 7 changes"
    assert named(clip_story(alternating, shares(alternating))) == "happy, sad"
    assert named(clip_story(three, shares(three))) == "happy, then neutral, then sad"
    steady = timeline([("neutral", 0.95)] * 12)
    assert clip_story(steady, shares(steady)).text == "neutral throughout"


def test_a_track_of_flickers_is_told_as_the_emotion_most_of_its_frames_had():
    """Three frames, sad, fear, sad: the first sad (at the edge, as short as the others) merged into the fear, then
    the last, and the card told "fear" over a chart of sad 67%."""
    points = timeline([("sad", 0.5), ("fear", 0.45), ("sad", 0.5)])
    story = clip_story(points, shares(points))
    assert [s.emotion for s in story.stretches] == ["sad"] and named(story) == "sad"
    points = timeline([("fear", 0.45), ("sad", 0.5), ("sad", 0.5), ("fear", 0.45), ("angry", 0.4)])
    assert [s.emotion for s in stretches(points)] == ["sad"]


def test_time_out_of_view_does_not_lengthen_the_emotion_before_it():
    """A joined pet's track: sad for half a second, 10 s out of view, then happy for 5 s. The sad half second is a
    flicker (as it would be without the gap), not a stretch of 10.5 s; the headline weighs time in view."""
    def away(points: list[dict], first_back: int) -> list[dict]:  # 10 s out of view before moment `first_back`
        return points[:first_back] + [{**point, "t": round(point["t"] + 10.0, 3)} for point in points[first_back:]]

    points = away(timeline([("sad", 0.9)] * 2 + [("happy", 0.9)] * 20), 2)
    parts = stretches(points)
    assert [s.emotion for s in parts] == ["happy"] and parts[0].seconds == pytest.approx(5.5)
    story = clip_story(points, shares(points))
    assert story.text == "happy (91% of the time)" and story.changes == []
    longer = away(timeline([("sad", 0.9)] * 8 + [("happy", 0.9)] * 20), 8)  # 2 s of sad is a stretch, gap or not
    assert [(s.emotion, s.seconds) for s in stretches(longer)] == [("sad", 2.0), ("happy", 5.0)]
    assert clip_story(longer, shares(longer)).reading.mix == pytest.approx({"sad": 2 / 7, "happy": 5 / 7})


def test_one_stretch_with_a_merged_flicker_is_mostly_not_throughout():
    """A short last change is merged into the stretch, but it counts in the share of time: the headline must not
    say "throughout" (and the page's "Changes" says other emotions came up only briefly)."""
    points = timeline([("happy", 0.5)] * 13 + [("sad", 0.4)] * 3)
    story = clip_story(points, shares(points))
    assert [s.emotion for s in story.stretches] == ["happy"]
    assert story.text == "unsure, perhaps happy (81% of the time)" and story.changes == []


def test_a_track_the_model_was_unsure_about_says_so():
    points = timeline([("happy", 0.4), ("sad", 0.35)] * 10)
    assert clip_story(points, shares(points)).unsure


def test_a_track_is_worded_as_sure_as_a_photo_of_its_emotions_would_be():
    """"probably" under 80% and "unsure, perhaps" under 50%, as on a photo's card, from the probability of the
    emotions told (a change between two clear emotions is not "unsure"); a flagged track is unsure whatever it is."""
    def story(sequence, uncertain=False):
        points = timeline(sequence)
        return clip_story(points, shares(points), uncertain)
    assert story([("happy", 0.9)] * 12).text == "happy throughout"
    assert story([("happy", 0.72)] * 12).text == "probably happy throughout"
    assert story([("happy", 0.45)] * 12).text == "unsure, perhaps happy throughout"
    assert story([("happy", 0.9)] * 12, uncertain=True).text == "unsure, perhaps happy throughout"
    changed = story([("happy", 0.7)] * 20 + [("sad", 0.75)] * 20)
    assert changed.text == "probably happy, then sad from 5.0 s" and changed.certainty == "probably"
    assert story([("happy", 0.9)] * 20 + [("sad", 0.85)] * 20).certainty == "sure"


def test_a_track_of_flickers_is_told_by_the_emotion_on_top_most_of_its_time():
    """Frames of fear, fear, sad, sad, fear were merged into one stretch of sad (the fear at the edge into the sad,
    then the first fear): "sad (40% of the time)" beside a chart of 60% fear."""
    points = timeline([("fear", 0.6)] * 2 + [("sad", 0.6)] * 2 + [("fear", 0.6)])
    story = clip_story(points, shares(points))
    assert [stretch.emotion for stretch in story.stretches] == ["fear"]
    assert story.text == "unsure, perhaps fear (60% of the time)"  # unsure: its sad frames read fear weakly


def test_many_changes_are_told_by_the_main_emotions_and_their_number_not_perhaps_changing():
    """Not "unsure, perhaps changing 3 times: happy 68% of the time, angry 32%": what is unsure is the emotion,
    not how often it changed."""
    points = timeline(([("happy", 0.4)] * 9 + [("angry", 0.35)] * 6) * 2)
    assert clip_story(points, shares(points)).text == "unsure, perhaps happy (60% of the time), angry (40%), 3 changes"
    assert clip_story([{"t": 0.0, "box": [0, 0, 1, 1], "emotions": {}}], {}) is None  # a cat: no emotions


def analysed_video(app, client, data: bytes, name: str) -> int:
    response = upload(client, data, name)
    assert response.status_code == 302
    return int(re.search(r"/analyses/(\d+)$", response.location).group(1))


def test_the_page_tells_each_tracks_story_and_embeds_the_players_data(app, client, alice, two_face_webm):
    analysis_id = analysed_video(app, client, two_face_webm.read_bytes(), "two.webm")
    with app.app_context():  # make track 1 happy for 2 s, then sad, as the stored result of such a clip
        detection = db.session.scalars(db.select(Detection).filter_by(analysis_id=analysis_id)).first()
        points = [{**point, "emotions": timeline([("happy" if point["t"] < 2.0 else "sad", 0.9)])[0]["emotions"]}
                  for point in detection.timeline]
        detection.timeline = points
        detection.summary = {**detection.summary, "share": shares(points)}
        db.session.commit()
        change = next(point["t"] for point in points if point["t"] >= 2.0)
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    heading = re.search(r'<h2 id="track-\d+">Face 1: (.*?)</h2>', page, re.S).group(1)
    assert '<span class="emo-text emo-happy">happy</span>, then <span class="emo-text emo-sad">sad</span>' in heading
    assert f"happy, then sad from {change:.1f} s" in re.sub(r"<[^>]+>", "", heading)
    assert "not sure about this one" not in page.split("Face 2")[0]
    tracks = json.loads(re.search(r'<script type="application/json" id="player-tracks">(.*?)</script>', page,
                                  re.S).group(1))
    assert [track["title"] for track in tracks] == ["Face 1", "Face 2"]
    assert len(tracks[0]["points"][0]) == 8 and tracks[0]["points"][-1][5] == "sad" and tracks[1]["tag"] == "2"
    assert tracks[0]["points"][0][7] == "sure"  # the frame's face reading: 90%, not flagged
    assert 'src="/static/player.js"' in page and "<script>" not in page  # no inline script (CSP)
    assert f'data-video-url="/analyses/{analysis_id}/original"' in page
    table = page[page.index("Emotion probabilities over time for face 1"):]
    numbers = re.findall(r"<tr><th scope=\"row\">([\d.]+\W+s)</th><td>(\d+%)</td>", table[:table.index("</table>")])
    assert numbers and len(numbers) <= len(points) and numbers[-1][1] != "0%"  # the timeline's numbers as text
    assert re.search(r'aria-valuetext="At [\d.]+ s: Face 1 ', page)  # the slider says what is on screen


def track_rows(app, analysis_id: int) -> list[Detection]:
    return db.session.scalars(db.select(Detection).filter_by(analysis_id=analysis_id)
                              .order_by(Detection.position)).all()


def named(story) -> str:
    """The emotions a story names, as its chance of a wrong reading names them (English)."""
    return "".join(piece for piece, _ in story.named)


def words(page: str) -> str:
    """A page's text as read: without tags, its entities unescaped."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def heading(page: str, title: str) -> str:
    """A track's heading as read: its words, without tags (nor the no-break space before its "· seen for")."""
    return html.unescape(re.sub(r"<[^>]+>", "", re.search(rf'<h2 id="track-\d+">{title}: (.*?)<span class="meta">',
                                                          page, re.S).group(1))).strip()


def test_the_players_percent_is_the_one_its_wording_reads(app, client, alice, two_face_webm):
    """0.7949 is "probably happy (79%)": the page sent it rounded to 0.795, which the player showed as 80%, and the
    server's own line under the player read it as 80% too."""
    analysis_id = analysed_video(app, client, two_face_webm.read_bytes(), "two.webm")
    with app.app_context():
        for track in track_rows(app, analysis_id):
            track.timeline = [{**point, "uncertain": False, "emotions": timeline([("happy", 0.7949)])[0]["emotions"]}
                              for point in track.timeline]
        db.session.commit()
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    assert "At 0.0 s: Face 1 probably happy (79%), Face 2 probably happy (79%)" in page
    tracks = json.loads(re.search(r'id="player-tracks">(.*?)</script>', page, re.S).group(1))
    assert {(point[6], point[7]) for track in tracks for point in track["points"]} == {(79, "probably")}


def test_a_confident_track_says_probably_and_its_chance_of_a_wrong_reading_as_a_photo_card(app, client, alice,
                                                                                           two_face_webm):
    """A face read at 72% happy all along is "probably happy throughout" with "Estimated chance that this reading
    (happy) is wrong: 26%." under it (its frames' mean), as its photo's card says "probably happy (72%)" and its
    chance; a track read before the rule has no figure to give."""
    analysis_id = analysed_video(app, client, two_face_webm.read_bytes(), "two.webm")
    with app.app_context():
        first, second = track_rows(app, analysis_id)
        for track, probability in ((first, 0.72), (second, 0.9)):
            track.timeline = [{**point, "uncertain": False,
                               "emotions": timeline([("happy", probability)])[0]["emotions"]}
                              for point in track.timeline]
            track.summary = {**track.summary, "share": shares(track.timeline)}
        first.uncertain, first.uncertainty, first.unsure_signals = False, 0.26, []
        second.uncertain = second.uncertainty = None
        db.session.commit()
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    assert heading(page, "Face 1") == "probably happy throughout" and heading(page, "Face 2") == "happy throughout"
    assert re.findall(r'class="overlay-label">(.*?)</text>', page) == ["1: probably happy", "2: happy"]
    assert "At 0.0 s: Face 1 probably happy (72%), Face 2 happy (90%)" in page
    tracks = json.loads(re.search(r'id="player-tracks">(.*?)</script>', page, re.S).group(1))
    assert {point[7] for point in tracks[0]["points"]} == {"probably"}  # the script's overlay words it alike
    assert "probably {emotion}" in page.replace("&#34;", '"')
    assert page.count('class="hint chance"') == 1
    assert words(page).count(NO_WHY) == 1  # once for the page's two tracks: why they have no "Why?"
    assert words(page).count(MOMENTS) == 1  # why a label ("probably happy") may differ from its track's heading
    assert "Estimated chance that this reading (happy) is wrong: 26%." in words(page.split('id="face-2"')[0])
    # "Changes" is about the top emotion, which "probably happy throughout" above does not contradict
    assert words(page).count("No change: the top emotion was happy throughout.") == 2
    assert "lovely smile" in words(page.split('id="face-2"')[1]) and words(page).count("lovely smile") == 1  # sure only
    korean = client.get(f"/analyses/{analysis_id}", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert heading(korean, "얼굴 1") == "아마도 행복 (내내)"
    assert "이 판독(행복)이 틀렸을 추정 확률: 26%." in words(korean)
    assert "“왜?” 설명은 사진에서만 볼 수 있어요." in words(korean)
    assert re.findall(r'class="overlay-label">(.*?)</text>', korean)[0] == "1: 아마도 행복"
    with app.app_context():  # most frames sure, but their mean chance of a wrong reading over one half: unsure
        track_rows(app, analysis_id)[0].uncertainty = 0.55
        db.session.commit()
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    assert heading(page, "Face 1") == "unsure, perhaps happy throughout"
    assert "the model&#39;s members disagree, or" in page and 'class="hint chance"' not in page


def test_a_dog_track_that_changes_between_clear_moods_gets_the_chance_of_what_it_tells(app, client, alice,
                                                                                       two_face_webm):
    """Happy at 90%, then sad at 90%: its chance of a wrong reading is 10%, not 1 - its mean happiness over the
    whole clip (about 50%, which would contradict a reading not called unsure)."""
    analysis_id = analysed_video(app, client, two_face_webm.read_bytes(), "two.webm")
    with app.app_context():
        first = track_rows(app, analysis_id)[0]
        half = len(first.timeline) // 2
        moods = [{"happy": 0.9, "angry": 0.04, "relaxed": 0.03, "sad": 0.03}] * half
        moods += [{"happy": 0.03, "angry": 0.04, "relaxed": 0.03, "sad": 0.9}] * (len(first.timeline) - half)
        first.timeline = [{"t": point["t"], "box": point["box"], "emotions": emotions, "uncertain": None}
                          for point, emotions in zip(first.timeline, moods)]
        first.kind, first.uncertain, first.uncertainty, first.unsure_signals = "dog", None, None, None
        first.summary = {**first.summary, "share": {"happy": half / len(moods), "sad": 1 - half / len(moods),
                                                    "angry": 0.0, "relaxed": 0.0}}
        first.emotions = {"happy": 0.47, "angry": 0.04, "relaxed": 0.03, "sad": 0.46}
        first.top = "happy"
        db.session.commit()
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    assert heading(page, "Dog 1").startswith("happy, then sad from ")
    assert "Estimated chance that this reading (happy, then sad) is wrong: 10%." in words(page)


def test_a_track_assigned_to_a_subject_is_named_on_the_video(app, client, alice, two_face_webm):
    analysis_id = analysed_video(app, client, two_face_webm.read_bytes(), "two.webm")
    with app.app_context():
        first, second = db.session.scalars(db.select(Detection).filter_by(analysis_id=analysis_id)
                                           .order_by(Detection.position)).all()
        first.subject = Subject(user_id=alice, name="Ana", kind="person")
        second.subject = Subject(user_id=alice, name="Bartholomew Jones", kind="person")
        db.session.commit()
        moment = first.timeline[0]["t"]
    page = client.get(f"/analyses/{analysis_id}?t={moment}").get_data(as_text=True)
    tracks = json.loads(re.search(r'<script type="application/json" id="player-tracks">(.*?)</script>', page,
                                  re.S).group(1))
    assert [(track["title"], track["tag"]) for track in tracks] == [
        ("Face 1 (\u2068Ana\u2069)", "\u2068Ana\u2069"),
        ("Face 2 (\u2068Bartholomew Jones\u2069)", "\u2068Bartholomew\u2026\u2069")]
    assert re.search('class="overlay-label">\u2068Ana\u2069: ', page)  # the frame drawn without scripts too


@pytest.mark.parametrize(("name", "limit", "label"), [
    ("Família 👨\u200d👩\u200d👧", 12, "Família\u2026"),  # not "a couple": the family emoji stays whole or goes
    ("Ben 🇰🇷🇰🇷🇰🇷🇰🇷🇰🇷", 12, "Ben 🇰🇷🇰🇷🇰🇷\u2026"),  # flags by pairs
    (unicodedata.normalize("NFD", "Zoë Chloë Z"), 11, "Zo\u00eb Chlo\u2026"),  # a combining diaeresis stays on its e
    ("Wave 👋🏽👋🏽👋🏽👋🏽👋🏽", 11, "Wave 👋🏽👋🏽\u2026"),  # and a skin tone on its hand
    ("Ana", 12, "Ana")])
def test_a_long_name_is_shortened_between_visible_characters(name, limit, label):
    assert unicodedata.normalize("NFC", shortened(name, limit)) == label


def test_the_overlay_words_a_weak_reading_without_a_flag_as_a_photo_would(app, client, alice, two_face_webm):
    """A dog's frames carry no unsure flag: a 40% top emotion is still "unsure, perhaps", as on its photo's page
    and in the track's heading."""
    analysis_id = analysed_video(app, client, two_face_webm.read_bytes(), "two.webm")
    with app.app_context():
        first = db.session.scalars(db.select(Detection).filter_by(analysis_id=analysis_id)
                                   .order_by(Detection.track_id)).first()
        first.timeline = [{"t": point["t"], "box": point["box"], "emotions": timeline([("happy", 0.4)])[0]["emotions"]}
                          for point in first.timeline]
        db.session.commit()
    page = client.get(f"/analyses/{analysis_id}?t=2").get_data(as_text=True)
    assert re.findall(r'class="overlay-label">(.*?)</text>', page)[0] == "1: unsure, perhaps happy"
    tracks = json.loads(re.search(r'id="player-tracks">(.*?)</script>', page, re.S).group(1))
    assert all(point[7] == "unsure" for point in tracks[0]["points"])


def test_a_merged_flicker_is_left_out_of_the_changes_and_the_page_says_so(app, client, alice, two_face_webm):
    """The raw changes list a half-second flicker the story merges: the page's list leaves it out and says that
    emotions under a second are left out; a track without a merged flicker has no such note."""
    analysis_id = analysed_video(app, client, two_face_webm.read_bytes(), "two.webm")
    flicker = timeline([("happy", 0.9)] * 10 + [("sad", 0.6)] * 2 + [("happy", 0.9)] * 10 + [("sad", 0.9)] * 18)
    raw = [{"t": 2.5, "from": "happy", "to": "sad"}, {"t": 3.0, "from": "sad", "to": "happy"},
           {"t": 5.5, "from": "happy", "to": "sad"}]
    with app.app_context():
        first = db.session.scalars(db.select(Detection).filter_by(analysis_id=analysis_id)
                                   .order_by(Detection.track_id)).first()
        first.timeline, first.summary, first.transitions = flicker, {**first.summary, "share": shares(flicker)}, raw
        db.session.commit()
    page = " ".join(client.get(f"/analyses/{analysis_id}").get_data(as_text=True).split())
    changes = re.search(r'<ol class="transitions">(.*?)</ol>', page).group(1)
    assert re.findall(r"([\d.]+ s)</a>", changes) == ["5.5 s"]
    assert page.count("Emotions that lasted less than a second are left out here") == 1


def test_frame_links_move_the_player_and_work_without_scripts(app, client, alice, two_face_webm):
    analysis_id = analysed_video(app, client, two_face_webm.read_bytes(), "two.webm")
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    links = re.findall(r'<a href="([^"]+)" data-t="([^"]+)"', page)
    assert len(links) >= 6 and all(href.startswith(f"/analyses/{analysis_id}?t=") and href.endswith("#player")
                                   for href, _ in links)
    assert f'/analyses/{analysis_id}/frame?t=' not in "".join(href for href, _ in links)  # no bare JPEG
    at_two = client.get(f"/analyses/{analysis_id}?t=2").get_data(as_text=True)
    assert 'value="2.00"' in at_two and f"/analyses/{analysis_id}/frame?t=2.00" in at_two
    assert at_two.count('class="face-box emo-') == 2 and "At 2.0 s: Face 1" in at_two  # boxes drawn by the server
    assert 'At 0.0 s' in client.get(f"/analyses/{analysis_id}?t=-5").get_data(as_text=True)
    assert client.get(f"/analyses/{analysis_id}?t=abc").status_code == 200


def test_the_overlay_says_unsure_where_a_frames_reading_was(app, client, alice, two_face_webm):
    analysis_id = analysed_video(app, client, two_face_webm.read_bytes(), "two.webm")
    with app.app_context():  # the first track's reading was unsure from 1 s on; older analyses have no flag
        first, second = db.session.scalars(db.select(Detection).filter_by(analysis_id=analysis_id)
                                           .order_by(Detection.track_id)).all()
        first.timeline = [{**point, "uncertain": point["t"] >= 1.0} for point in first.timeline]
        second.timeline = [{key: value for key, value in point.items() if key != "uncertain"}
                           for point in second.timeline]
        db.session.commit()
        emotion = first.timeline[-1]["emotions"]
        top = max(emotion, key=emotion.get)
    page = client.get(f"/analyses/{analysis_id}?t=2").get_data(as_text=True)
    labels = re.findall(r'class="overlay-label">(.*?)</text>', page)
    assert labels[0] == f"1: unsure, perhaps {top}" and "unsure" not in labels[1]
    assert re.search(rf"At 2.0 s: Face 1 unsure, perhaps {top} \(\d+%\), Face 2 \w+ \(", page)
    assert "1: unsure" not in client.get(f"/analyses/{analysis_id}?t=0").get_data(as_text=True)
    tracks = json.loads(re.search(r'id="player-tracks">(.*?)</script>', page, re.S).group(1))
    assert tracks[0]["points"][-1][7] == "unsure" and tracks[1]["points"][-1][7] != "unsure"
    assert "unsure, perhaps {emotion}" in page.replace("&#34;", '"')  # the script's words
    korean = client.get(f"/analyses/{analysis_id}?t=2", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert re.findall(r'class="overlay-label">(.*?)</text>', korean)[0].startswith("1: 확실하지 않음, 어쩌면 ")


def test_the_overlay_draws_the_boxes_of_one_analysed_frame_only(app, client, alice, early_face_video):
    """Between the last analysed frame with the early face and the first with the two later ones, both moments are
    within the tolerance: the page draws the boxes of the nearer frame, never the early face with the later two."""
    analysis_id = analysed_video(app, client, early_face_video.read_bytes(), "early.mp4")
    with app.app_context():
        analysis = db.session.get(Analysis, analysis_id)
        early, *later = [track.timeline for track in analysis.detections]
        tolerance, poster = 0.75 / analysis.fps_sampled, analysis.poster_time
    gone, came = early[-1]["t"], later[0][0]["t"]
    assert came - gone < 2 * tolerance  # both moments are within the tolerance of a time between them

    def labels(seconds: float) -> list[str]:
        page = client.get(f"/analyses/{analysis_id}?t={seconds:.3f}").get_data(as_text=True)
        return [label.split(":")[0] for label in re.findall(r'class="overlay-label">(.*?)</text>', page)]
    assert labels(gone + 0.4 * (came - gone)) == ["1"]
    assert labels(gone + 0.6 * (came - gone)) == ["2", "3"]
    assert labels(poster) == ["2", "3"] and labels(0) == ["1"]


def test_the_last_analysed_frame_stands_for_the_end_of_the_clip(app, client, alice, early_face_video):
    """The slider reaches the clip's end, up to a sampling step after its last analysed frame: the faces of that frame
    stay drawn there ("nothing detected" before), while a face that left earlier is not drawn after it left."""
    face = {"title": "Face 1", "tag": "1", "points": [[t / 4, 0, 0, 1, 1, "happy", 0.9, False] for t in range(8)]}
    assert holds_until([face], 2.0, 1.5 * 0.25) == 2.0 and boxes_at([face], 2.0, 0.1875, 2.0)[0]["tag"] == "1"
    assert boxes_at([face], 2.0, 0.1875) == []  # without the reach, the end is too far from 1.75 s
    face["points"] = face["points"][:5]  # gone after 1 s
    assert holds_until([face], 2.0, 0.375) == 0.0 and boxes_at([face], 2.0, 0.1875, 0.0) == []
    face["points"] = [[t, 0, 0, 1, 1, "happy", 0.9, False] for t in (0, 0.25, 1.75)]  # away from 0.5 s to 1.5 s
    assert [bool(boxes_at([face], t, 0.1875, 2.0)) for t in (0.3, 1.0, 1.6, 2.0)] == [True, False, True, True]
    analysis_id = analysed_video(app, client, early_face_video.read_bytes(), "early.mp4")
    with app.app_context():
        duration = db.session.get(Analysis, analysis_id).duration
    page = client.get(f"/analyses/{analysis_id}?t={duration:.3f}").get_data(as_text=True)
    assert [label.split(":")[0] for label in re.findall(r'class="overlay-label">(.*?)</text>', page)] == ["2", "3"]


def test_the_original_is_served_with_its_type_and_byte_ranges(app, client, alice, bob_client, two_face_webm):
    data = two_face_webm.read_bytes()
    analysis_id = analysed_video(app, client, data, "two.webm")
    whole = client.get(f"/analyses/{analysis_id}/original")
    assert whole.status_code == 200 and whole.mimetype == "video/webm" and whole.headers["Accept-Ranges"] == "bytes"
    part = client.get(f"/analyses/{analysis_id}/original", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert client.get(f"/analyses/{analysis_id}/original", headers={"Range": f"bytes={len(data) + 10}-"}
                      ).status_code == 416
    assert bob_client.get(f"/analyses/{analysis_id}/original", headers={"Range": "bytes=0-9"}).status_code == 404
    with app.app_context():
        assert db.session.get(Analysis, analysis_id).format == "webm"


def test_a_video_without_an_emotion_reading_has_neither_hint_about_readings(app, client, alice, two_face_webm):
    """Tracks with no emotion model (cats) have no "Why?" to miss and no label reading to compare with a heading."""
    analysis_id = analysed_video(app, client, two_face_webm.read_bytes(), "two.webm")
    with app.app_context():
        for track in track_rows(app, analysis_id):
            track.top = None
        db.session.commit()
    page = words(client.get(f"/analyses/{analysis_id}").get_data(as_text=True))
    assert NO_WHY not in page and MOMENTS not in page


def test_the_frame_strip_shows_each_analysed_frame_once_and_keeps_its_place_while_loading(app, client, alice,
                                                                                          two_face_webm):
    """A 1 s clip at 4 frames a second showed one frame at 0.17 s and again at 0.33 s; a thumbnail not loaded yet
    took no room, so the ones after it moved up as each arrived."""
    from web.analyze import strip_times

    assert strip_times(1.0, [0.0, 0.25, 0.5, 0.75]) == [0.0, 0.25, 0.5, 0.75]
    assert strip_times(1.0, [0.0, 0.3, 0.5, 0.8]) == [0.0, 0.3, 0.5, 0.8]  # the frames' own times, 10 fps sampled
    assert strip_times(3.0, []) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]  # nothing seen: evenly spaced
    analysis_id = analysed_video(app, client, two_face_webm.read_bytes(), "two.webm")
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    strip = re.findall(r'<img src="/analyses/\d+/frame\?t=([0-9.]+)" alt="" loading="lazy" width="96" height="(\d+)">',
                       page)
    tracks = json.loads(re.search(r'id="player-tracks">(.*?)</script>', page, re.S).group(1))
    moments = {f"{point[0]:.2f}" for track in tracks for point in track["points"]}
    assert {t for t, _ in strip} <= moments and len({t for t, _ in strip}) == len(strip) == 6  # analysed, once each
    with app.app_context():
        video = db.session.get(Analysis, analysis_id)
        assert {int(height) for _, height in strip} == {round(96 * video.height / video.width)}
