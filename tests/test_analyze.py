"""Photo upload, result page, history, deletion and isolation between users, in the web pages."""

from __future__ import annotations

import errno
import html
import io
import os
import re
import threading
import time
import unicodedata
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image

from bench.clips import another_copy
from bench.fixtures import StoredAnalysis, csrf_token, make_subject, make_user, store_analyses
from extensions import db
from inference.labels import reading_certainty
from models import Analysis, Detection, JobStatus, Media, User
from services import analyses, storage
from services.analyses import delete_analysis, history_months
from tests.conftest import jpeg_bytes, upload, upload_files


def analysis_id_from(response) -> int:
    return int(re.search(r"/analyses/(\d+)$", response.location).group(1))


def test_upload_shows_boxes_bars_and_comment(app, client, alice, astronaut_jpeg):
    response = upload(client, astronaut_jpeg, "astronaut.jpg")
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert page.count('class="face-box') == 1
    assert "Face 1:" in page and 'class="bar-chart"' in page and "is-top" in page
    with app.app_context():
        analysis = db.session.get(Analysis, analysis_id_from(response))
        assert analysis.shown_count == 1 and analysis.detections[0].kind == "human"
        assert analysis.top_emotion == analysis.detections[0].top
    assert len(upload_files(app)) == 2  # the photo and its thumbnail


def test_photo_without_faces_is_kept_with_a_clear_message(app, client, alice, coffee_jpeg):
    response = upload(client, coffee_jpeg, "coffee.jpg")
    page = client.get(response.location).get_data(as_text=True)
    assert "Nothing found" in page
    assert "coffee.jpg" in client.get("/analyses").get_data(as_text=True)


def test_bad_files_get_an_error_and_leave_nothing_behind(app, client, alice, astronaut_jpeg):
    cases = [(b"", 400), (b"just some text", 415), (astronaut_jpeg[:3000], 400)]
    for content, status in cases:
        response = upload(client, content, "bad.jpg")
        assert response.status_code == status
        assert 'class="field-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 0
    assert upload_files(app) == []


def test_two_files_in_one_upload_are_refused_as_the_api_refuses_them(app, client, alice, astronaut_jpeg,
                                                                      coffee_jpeg):
    """A crafted form with two files under the file field's name had the first analysed, silently."""
    files = [(io.BytesIO(astronaut_jpeg), "one.jpg"), (io.BytesIO(coffee_jpeg), "two.jpg")]
    response = client.post("/analyze", data={"file": files, "csrf_token": csrf_token(client, "/analyze")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "Send one photo or video at a time." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 0
    assert upload_files(app) == []


def test_upload_over_the_size_limit_is_refused(app, client, alice, astronaut):
    app.config["MAX_CONTENT_LENGTH"] = 20_000
    response = upload(client, jpeg_bytes(astronaut), "big.jpg")
    assert response.status_code == 413
    assert "larger than the 0.0191 MB limit" in response.get_data(as_text=True)
    assert upload_files(app) == []


def test_history_is_paginated_newest_first(app, client, alice, coffee_jpeg):
    for number in range(14):
        upload(client, another_copy(coffee_jpeg, f"{number}"), f"cup{number:02d}.jpg")
    first = client.get("/analyses").get_data(as_text=True)
    assert "cup13.jpg" in first and "cup00.jpg" not in first and "Page 1 of 2" in first
    second = client.get("/analyses?page=2").get_data(as_text=True)
    assert "cup00.jpg" in second and "cup13.jpg" not in second
    past_the_end = client.get("/analyses?page=999")
    assert past_the_end.status_code == 302 and past_the_end.location.endswith("/analyses?page=2")


def test_a_history_thumbnail_is_cropped_onto_the_face(client, alice, astronaut, coffee_jpeg):
    """On a phone the thumbnail is a square crop: of a wide photo whose face is at its right edge, the right end; of
    a photo without a face, the default (the middle of a wide one)."""
    wide = np.concatenate([np.full((512, 1024, 3), 200, np.uint8), astronaut], axis=1)  # the face near x 1250 of 1536
    upload(client, jpeg_bytes(wide), "right.jpg")
    upload(client, coffee_jpeg, "cup.jpg")
    page = client.get("/analyses").get_data(as_text=True)
    found = re.findall(r'class="(focus[^"]*|)">\s*<span class="history-title">([^<]+)<', page)
    assert {name: focus for focus, name in found} == {"right.jpg": "focus-x4", "cup.jpg": ""}


def listed(client, query: str = "") -> list[str]:
    """The analyses' names that the history page with this query string lists, in order."""
    page = client.get(f"/analyses?{query}")
    assert page.status_code == 200
    return re.findall(r'class="history-title">([^<]+)<', page.get_data(as_text=True))


@pytest.fixture()
def mixed_history(app, alice) -> dict[str, int]:
    """Alice's subjects Mia (a person) and Rex (a dog), and five analyses of theirs and of no one."""
    mia, rex = make_subject(app, alice, "Mia"), make_subject(app, alice, "Rex", "dog")
    store_analyses(app, alice, [StoredAnalysis("mia-happy.jpg", "happy", mia),
                                StoredAnalysis("mia-sad.mp4", "sad", mia, Media.VIDEO),
                                StoredAnalysis("rex-happy.jpg", "happy", rex),
                                StoredAnalysis("nobody-sad.jpg", "sad"),
                                StoredAnalysis("empty.jpg")])
    return {"mia": mia, "rex": rex}


def test_history_filters_narrow_and_combine(client, mixed_history):
    mia, rex = mixed_history["mia"], mixed_history["rex"]
    assert listed(client) == ["empty.jpg", "nobody-sad.jpg", "rex-happy.jpg", "mia-sad.mp4", "mia-happy.jpg"]
    assert listed(client, f"subject={mia}") == ["mia-sad.mp4", "mia-happy.jpg"]
    assert listed(client, f"subject={rex}") == ["rex-happy.jpg"]
    assert listed(client, "media=video") == ["mia-sad.mp4"]
    assert listed(client, "media=image&emotion=sad") == ["nobody-sad.jpg"]
    assert listed(client, "emotion=happy") == ["rex-happy.jpg", "mia-happy.jpg"]
    assert listed(client, f"subject={mia}&media=image&emotion=happy") == ["mia-happy.jpg"]
    page = client.get(f"/analyses?subject={mia}&emotion=sad").get_data(as_text=True)
    assert "1 analysis matches these filters" in page and 'href="/analyses">Clear filters' in page
    assert f'<option value="{mia}" data-kind="person" selected>Mia (person)' in page
    assert '<option value="sad" selected>' in page
    assert '<option value="" selected>All types' in page


def test_history_finds_a_file_by_part_of_its_name_in_any_case(client, mixed_history):
    assert listed(client, "name=HAPPY") == ["rex-happy.jpg", "mia-happy.jpg"]
    assert listed(client, "name=+mia-++&media=video") == ["mia-sad.mp4"]  # spaces around it do not count
    assert listed(client, "name=%25") == listed(client, "name=_") == []  # % and _ match only themselves
    assert listed(client, "name=happy+rex") == ["rex-happy.jpg"]  # its words, in any order (walk-through)
    page = client.get("/analyses?name=rex").get_data(as_text=True)
    assert 'name="name" value="rex"' in page and "1 analysis matches these filters" in page
    assert client.get("/api/v1/analyses?name=sad").get_json()["total"] == 2


def test_history_finds_a_name_typed_decomposed_or_with_invisible_characters_as_names_are_kept(app, client, alice):
    """A "café" pasted from a macOS file name (e + a combining accent) found nothing; nor did a search with a
    zero-width space or two spaces where the kept name has one."""
    from services.analyses import clean_original_name
    store_analyses(app, alice, [StoredAnalysis(clean_original_name(name)) for name in
                                ("café au lait.jpg", "spaced   name.jpg", "김민수.jpg", "other.jpg", "a \u200b b.jpg")])
    assert listed(client, "name=a+b") == ["a b.jpg"]  # kept "a  b.jpg" (two spaces) could not be found
    assert listed(client, "name=cafe%CC%81") == ["café au lait.jpg"]
    assert listed(client, "name=caf%E2%80%8B%C3%A9+%20au") == ["café au lait.jpg"]
    assert listed(client, "name=spaced+++name") == ["spaced name.jpg"]
    assert listed(client, "name=" + quote(unicodedata.normalize("NFD", "김민수"))) == ["김민수.jpg"]  # jamo


def test_with_a_subject_the_emotion_filter_and_the_badge_read_that_subject(app, client, alice):
    """A video of a happy person beside Rex, sad throughout: overall it reads happy (people first), but Rex's history
    finds it under "sad", not "happy", and its card there says sad."""
    rex = make_subject(app, alice, "Rex", "dog")
    store_analyses(app, alice, [StoredAnalysis("walk.mp4", "happy", media=Media.VIDEO)])
    with app.app_context():
        analysis = db.session.scalars(db.select(Analysis)).one()
        dog = Detection(position=2, kind="dog", x1=6, y1=0, x2=9, y2=5, score=0.9, emotions={"sad": 1.0}, top="sad",
                        subject_id=rex)
        dog.keep_reading()
        analysis.detections.append(dog)
        db.session.commit()
    assert listed(client, "emotion=happy") == ["walk.mp4"]  # the whole video
    assert listed(client, f"subject={rex}&emotion=happy") == []
    assert listed(client, f"subject={rex}&emotion=sad") == ["walk.mp4"]
    card = client.get(f"/analyses?subject={rex}").get_data(as_text=True).split('class="history-title"')[1]
    assert "Rex: " in card and "sad" in card and "happy" not in card


def test_history_filters_are_kept_by_the_page_links(app, client, alice):
    store_analyses(app, alice, [StoredAnalysis(f"cup{number:02d}.jpg", "happy") for number in range(13)]
                   + [StoredAnalysis("frown.jpg", "sad")])
    first = client.get("/analyses?emotion=happy").get_data(as_text=True)
    assert "Page 1 of 2" in first and 'href="/analyses?page=2&amp;emotion=happy"' in first
    assert listed(client, "emotion=happy&page=2") == ["cup00.jpg"]
    past_the_end = client.get("/analyses?emotion=happy&page=9")
    assert past_the_end.status_code == 302 and past_the_end.location.endswith("/analyses?page=2&emotion=happy")


def test_a_long_history_links_to_its_newest_and_oldest_pages_beyond_the_next_ones(app, client, alice):
    """Only "Newer" and "Older": a history of 19 pages took fifteen clicks back to its September."""
    store_analyses(app, alice, [StoredAnalysis(f"cup{number:02d}.jpg", "happy") for number in range(10)])
    middle = client.get("/analyses?per_page=2&page=3").get_data(as_text=True)
    assert "<title>History · Page 3 of 5 · Moodlens</title>" in middle
    assert 'href="/analyses?page=1&amp;per_page=2"><span aria-hidden="true">&laquo;</span> Newest' in middle
    assert 'href="/analyses?page=5&amp;per_page=2">Oldest <span aria-hidden="true">&raquo;</span>' in middle
    assert 'rel="prev"><span aria-hidden="true">&larr;</span> Newer' in middle  # arrows are not read aloud
    second = client.get("/analyses?per_page=2&page=2").get_data(as_text=True)  # "Newer" is the first page already
    assert "Newest" not in second and "Oldest" in second
    assert "Oldest" not in client.get("/analyses?per_page=2&page=4").get_data(as_text=True)


def test_history_narrows_to_a_month_on_the_users_clock(app, client, alice):
    """A long history reached its September by paging back; a month counts on the user's clock (a photo uploaded at
    16:30 UTC on 31 August was uploaded in September in Seoul)."""
    from datetime import datetime
    from models import User
    store_analyses(app, alice, [StoredAnalysis("august.jpg", created_at=datetime(2026, 8, 31, 14, 0)),
                                StoredAnalysis("seoul-september.jpg", created_at=datetime(2026, 8, 31, 16, 30)),
                                StoredAnalysis("september.jpg", created_at=datetime(2026, 9, 20, 9, 0)),
                                StoredAnalysis("october.jpg", created_at=datetime(2026, 10, 1, 9, 0))])
    with app.app_context():
        db.session.get(User, alice).time_zone = "Asia/Seoul"
        db.session.commit()
    assert listed(client, "month=2026-09") == ["september.jpg", "seoul-september.jpg"]
    assert listed(client, "month=2026-08") == ["august.jpg"]
    page = client.get("/analyses?month=2026-09").get_data(as_text=True)
    assert '<option value="2026-09" selected>September 2026</option>' in page and '"2026-08">August 2026' in page
    assert "2 analyses match these filters" in page and 'href="/analyses">Clear filters' in page
    assert "<option value=\"2026-07\"" not in page  # from the first upload's month on
    assert listed(client, "month=2026-9") == listed(client, "") != []  # the form never sends it: no filter
    api = client.get("/api/v1/analyses?month=2026-10").get_json()
    assert [item["filename"] for item in api["items"]] == ["october.jpg"]
    for month in ("September", "٢٠٢٦-10", "２０２６-10", "1969-12"):  # ASCII digits only, from 1970
        refused = client.get(f"/api/v1/analyses?month={quote(month)}")
        assert refused.status_code == 400 and "YYYY-MM, from 1970-01" in refused.get_json()["error"], month
    outside = client.get("/analyses?month=2025-01").get_data(as_text=True)  # none then: named, and selected
    assert '<option value="2025-01" selected>January 2025</option>' in outside


def test_history_page_size_is_kept_by_the_page_links_and_the_filter_form(app, client, alice):
    store_analyses(app, alice, [StoredAnalysis(f"cup{number:02d}.jpg", "happy") for number in range(7)]
                   + [StoredAnalysis("frown.jpg", "sad")])
    second = client.get("/analyses?emotion=happy&per_page=3&page=2").get_data(as_text=True)
    assert "Page 2 of 3" in second
    assert 'href="/analyses?page=1&amp;emotion=happy&amp;per_page=3" rel="prev"' in second
    assert 'href="/analyses?page=3&amp;emotion=happy&amp;per_page=3" rel="next"' in second
    assert '<input type="hidden" name="per_page" value="3">' in second  # applying other filters keeps it too
    assert 'href="/analyses?per_page=3">Clear filters' in second
    assert listed(client, "emotion=happy&per_page=3&page=3") == ["cup00.jpg"]
    past_the_end = client.get("/analyses?emotion=happy&per_page=3&page=9")
    assert past_the_end.location.endswith("/analyses?page=3&emotion=happy&per_page=3")
    too_many = client.get("/analyses?per_page=500").get_data(as_text=True)  # kept as the size shown: 48
    assert 'name="per_page" value="48"' in too_many
    usual = client.get("/analyses?per_page=12").get_data(as_text=True)
    assert 'name="per_page"' not in usual  # the usual size needs no parameter


def test_history_filter_on_someone_elses_subject_is_not_found(app, client, mixed_history):
    bob = make_user(app, "bob")
    bobs_dog = make_subject(app, bob, "Rex", "dog")
    store_analyses(app, bob, [StoredAnalysis("bobs-rex.jpg", "happy", bobs_dog)])
    for subject_id in (bobs_dog, bobs_dog + 100):  # another user's, and none at all: the same answer
        response = client.get(f"/analyses?subject={subject_id}")
        assert response.status_code == 404 and "bobs-rex.jpg" not in response.get_data(as_text=True)
    assert f'value="{bobs_dog}"' not in client.get("/analyses").get_data(as_text=True)


def test_history_ignores_filter_values_that_name_nothing(client, mixed_history):
    everything = listed(client)
    for query in ("subject=abc", "subject=-1", "subject=0", f"subject={10**30}", "subject=", "media=gif",
                  "media=VIDEO", "emotion=HAPPY", "emotion=%3Cscript%3E", "emotion=", "page=x&per_page=y",
                  "subject=1.5&media[]=video&emotion=happy%01"):  # (a NUL is a 400: test_hostile_requests)
        assert listed(client, query) == everything, query


def test_an_empty_filtered_history_says_so(app, client, mixed_history):
    page = client.get("/analyses?emotion=fear").get_data(as_text=True)
    assert "No analyses match these filters" in page and "Nothing here yet" not in page
    assert 'href="/analyses">Show all your analyses' in page and 'name="emotion"' in page  # the form stays


def test_empty_history_and_dashboard_have_empty_states(client, alice):
    assert "Nothing here yet" in client.get("/analyses").get_data(as_text=True)
    assert "No data yet" in client.get("/dashboard").get_data(as_text=True)


def test_delete_removes_rows_and_files(app, client, alice, astronaut_jpeg):
    analysis_id = analysis_id_from(upload(client, astronaut_jpeg))
    token = csrf_token(client, f"/analyses/{analysis_id}")
    assert client.post(f"/analyses/{analysis_id}/delete", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.get(Analysis, analysis_id) is None
        assert db.session.scalar(db.select(db.func.count(Detection.id))) == 0
    assert upload_files(app) == []
    assert client.get(f"/analyses/{analysis_id}/original").status_code == 404


def test_delete_removes_a_poster_written_after_the_analysis_was_read(app, client, alice, two_face_video):
    """A video's job writes its poster and commits while the delete waits for the row: the poster, which the row
    read before did not name yet, was left behind."""
    analysis_id = analysis_id_from(upload(client, two_face_video.read_bytes(), "clip.mp4"))
    with app.app_context():
        analysis = db.session.get(Analysis, analysis_id)
        poster = storage.upload_path(analysis.thumb_name)
        analysis.thumb_name = None  # as the row read before the job finished
        delete_analysis(analysis)
    assert not poster.exists() and upload_files(app) == []


def test_the_upload_form_starts_loading_the_models_once(app, client, alice, monkeypatch):
    """The first upload after a start waited about 3 s for the models: the form starts loading them, in a thread."""
    app.config["LOAD_MODELS_EARLY"] = True
    loads = []

    class NotLoadedYet:
        def if_loaded(self):
            return None

        def __call__(self):
            loads.append(threading.current_thread().name)

    monkeypatch.setattr(analyses, "get_pipeline", NotLoadedYet())
    monkeypatch.setattr(analyses, "_models_asked", threading.Event())
    assert client.get("/analyze").status_code == client.get("/analyze").status_code == 200
    for _ in range(100):
        if loads:
            break
        time.sleep(0.05)
    assert loads == ["load-models"]


def test_a_videos_thumbnail_is_as_small_as_a_photos(app, client, alice, two_face_video):
    """The poster frame was kept at 1280 px, a few hundred kB a video on the history page, which shows it 96 px
    wide (the player reads the video's own frames)."""
    analysis_id = analysis_id_from(upload(client, two_face_video.read_bytes(), "clip.mp4"))
    thumbnail = Image.open(io.BytesIO(client.get(f"/analyses/{analysis_id}/thumb").data))
    assert thumbnail.format == "JPEG" and max(thumbnail.size) == storage.THUMB_SIZE  # the clip is 640 x 360


def test_other_users_see_404_for_everything(app, client, alice, bob_client, astronaut_jpeg):
    analysis_id = analysis_id_from(upload(client, astronaut_jpeg))
    for path in (f"/analyses/{analysis_id}", f"/analyses/{analysis_id}/original", f"/analyses/{analysis_id}/thumb"):
        assert client.get(path).status_code == 200
        assert bob_client.get(path).status_code == 404
    token = csrf_token(bob_client, "/analyze")
    assert bob_client.post(f"/analyses/{analysis_id}/delete", data={"csrf_token": token}).status_code == 404
    assert "astronaut" not in bob_client.get("/analyses").get_data(as_text=True)
    assert len(upload_files(app)) == 2


def test_files_are_served_with_safe_headers(client, alice, astronaut_jpeg):
    analysis_id = analysis_id_from(upload(client, astronaut_jpeg))
    response = client.get(f"/analyses/{analysis_id}/original")
    assert response.mimetype == "image/jpeg"
    page = client.get(f"/analyses/{analysis_id}")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data == astronaut_jpeg


def test_the_original_is_saved_under_the_name_it_was_uploaded_under(client, alice, astronaut_jpeg):
    """"Save image as" offered "original.jpg"; a name whose ending says another type gets the stored one's."""
    from werkzeug.http import parse_options_header
    for sent, saved in (("얼굴 사진.jpg", "얼굴 사진.jpg"), ("scan.png", "scan.png.jpeg"), ("me.JPG", "me.JPG")):
        analysis_id = analysis_id_from(upload(client, another_copy(astronaut_jpeg, sent), sent))
        disposition = client.get(f"/analyses/{analysis_id}/original").headers["Content-Disposition"]
        assert parse_options_header(disposition) == ("inline", {"filename": saved}), disposition


def test_pages_need_login(client):
    for path in ("/analyze", "/analyses", "/dashboard", "/analyses/1"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.location


def test_dashboard_counts_faces_per_emotion(app, client, alice, astronaut_jpeg, two_faces):
    upload(client, astronaut_jpeg)
    upload(client, jpeg_bytes(two_faces))
    page = client.get("/dashboard").get_data(as_text=True)
    assert "3 faces in 2 analyses" in page
    with app.app_context():  # the charts count the readings not worded "unsure"
        tops = [d.top for d in db.session.scalars(db.select(Detection))
                if reading_certainty(d.emotions[d.top], d.uncertain) != "unsure"]
    top = max(set(tops), key=tops.count)
    assert re.search(rf'<tr><th scope="row">[^<]+</th>.*<td>{len(tops)}</td></tr>', page)
    assert re.search(rf'</title><rect [^>]*class="emo-{top}"/>', page)  # the calendar's day
    assert client.get("/dashboard?period=week").status_code == 200


def test_each_face_says_where_it_is_on_the_photo_to_a_screen_reader(app, client, alice, two_faces):
    """Without seeing the numbered boxes, "Face 1" and "Face 2" could not be told apart."""
    page = client.get(upload(client, jpeg_bytes(two_faces), "pair.jpg").location).get_data(as_text=True)
    places = re.findall(r'<span class="visually-hidden"> · (.*?)</span></h2>', page)
    assert len(places) == 2 and places[0] != places[1] and all(place.startswith(("on the", "in the", "at the"))
                                                                 for place in places)


def test_a_confident_reading_gives_its_chance_of_being_wrong_too(app, client, alice, astronaut_jpeg):
    """Not only unsure readings: every face's card says how likely its reading is wrong, as the About page says."""
    response = upload(client, astronaut_jpeg, "astronaut.jpg")
    with app.app_context():
        face = db.session.get(Analysis, analysis_id_from(response)).detections[0]
        assert not face.unsure
        chance, top = round(100 * face.uncertainty), face.top
    page = client.get(response.location).get_data(as_text=True)
    reading = re.search(r'<p class="hint chance">(.*?)</p>', page).group(1)
    assert re.sub(r"<[^>]+>", "", reading) == f"Estimated chance that this reading ({top}) is wrong: {chance}%."


def test_the_emotion_filter_offers_the_emotions_of_the_models_that_read_the_users_uploads(client, mixed_history):
    """Faces only: the seven face emotions, not a dog's "relaxed" nor the cats' "other" (no cat model yet)."""
    page = client.get("/analyses").get_data(as_text=True)
    offered = re.findall(r'<option value="(\w+)"[^>]*>', page.split('name="emotion"')[1].split("</select>")[0])
    assert offered == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def test_the_emotion_filter_of_a_chosen_dog_offers_the_dogs_emotions(app, client, alice, mixed_history):
    """Rex chosen: his model's four emotions, not a face's "disgust"; an emotion filtered on that his model has not
    (an older link) stays in the list, selected, so that the form shows what the page lists."""
    def offered(query: str) -> list[str]:
        page = client.get(f"/analyses?{query}").get_data(as_text=True)
        return re.findall(r'<option value="(\w+)"( selected)?>', page.split('name="emotion"')[1].split("</select>")[0])

    rex = mixed_history["rex"]
    assert offered(f"subject={rex}") == [("angry", ""), ("happy", ""), ("relaxed", ""), ("sad", "")]
    assert offered(f"subject={rex}&emotion=disgust")[-1] == ("disgust", " selected")
    empty = html.unescape(client.get(f"/analyses?subject={rex}&emotion=fear").get_data(as_text=True))
    assert "No reading of Rex can be “fear”: the model that reads Rex does not have that emotion." in empty
    assert "Readings the models were unsure of are left out" not in empty.split("No analyses match")[1]
    tom = make_subject(app, alice, "Tom", "cat")
    cats = html.unescape(client.get(f"/analyses?subject={tom}&emotion=happy").get_data(as_text=True))
    assert "No reading of Tom can be “happy”: there is no emotion model for cats yet." in cats  # not "does not have"


def test_a_crowd_is_read_by_its_largest_faces_and_says_so(app, client, alice, two_faces, monkeypatch):
    """A crowd of 400 faces took 7.6 s of CPU and made a result page of 2.7 MB: a photo's largest
    MOST_READ_PER_PHOTO faces and animals are read, and the page and the API say how many it holds."""
    from inference import pipeline
    monkeypatch.setattr(pipeline, "MOST_READ_PER_PHOTO", 1)
    response = upload(client, jpeg_bytes(two_faces), "crowd.jpg")
    page = " ".join(client.get(response.headers["Location"]).get_data(as_text=True).split())
    assert "The photo holds 2 faces and animals; the 1 largest were read." in page
    with app.app_context():
        analysis = db.session.scalars(db.select(Analysis)).one()
        assert analysis.found_count == 2 and analysis.shown_count == len(analysis.detections) == 1
    answer = client.get(f"/api/v1/analyses/{analysis.id}").get_json()
    assert answer["found"] == 2 and len(answer["detections"]) == 1


def test_the_history_offers_this_month(app, alice):
    """Mutant 55 (while month < last): the month filter of a history begun this month offered no month."""
    with app.app_context():
        db.session.add(Analysis(user_id=alice, media=Media.IMAGE, status=JobStatus.DONE, original_name="a.jpg",
                                stored_name="a.jpeg", format="jpeg", width=64, height=64))
        db.session.commit()
        assert len(history_months(db.session.get(User, alice))) == 1


def test_a_delete_while_the_storage_is_read_only_is_a_503_and_deletes_nothing(app, client, alice, astronaut_jpeg,
                                                                             read_only_uploads):
    """A storage remounted read-only: the delete answered 500 once its rows were gone, its files left behind."""
    analysis_id = analysis_id_from(upload(client, astronaut_jpeg))
    files = upload_files(app)
    token = csrf_token(client, f"/analyses/{analysis_id}")
    response = client.post(f"/analyses/{analysis_id}/delete", data={"csrf_token": token})
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert "its storage is not writable), so nothing was deleted." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Analysis, analysis_id) is not None
    assert upload_files(app) == files


def test_a_file_that_cannot_be_deleted_is_left_to_the_repair_and_the_delete_goes_on(app, client, alice,
                                                                                   astronaut_jpeg, monkeypatch):
    """The storage went read-only between the check and the files' turn: the rows are gone (the user asked), the files
    logged and found by `flask maintenance check` as orphans, never a 500."""
    analysis_id = analysis_id_from(upload(client, astronaut_jpeg))
    files, unlink = upload_files(app), os.unlink

    def refuse_uploads(path, *args, **options):
        if Path(path).parent == Path(app.config["UPLOAD_FOLDER"]):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return unlink(path, *args, **options)

    monkeypatch.setattr(os, "unlink", refuse_uploads)
    token = csrf_token(client, f"/analyses/{analysis_id}")
    assert client.post(f"/analyses/{analysis_id}/delete", data={"csrf_token": token}).status_code == 302
    monkeypatch.undo()
    assert upload_files(app) == files
    report = app.test_cli_runner().invoke(args=["maintenance", "check", "--min-age", "0"])
    assert all(f"orphan file: {path}" in report.output for path in files)
