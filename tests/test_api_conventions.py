"""JSON API v1 as a script meets it: the headers of its errors (Allow, WWW-Authenticate, rate limits), JSON errors
for a bearer token on the file URLs, 204s without a body type, and the exports fetched with a token."""

from __future__ import annotations

import csv
import io

from bench.fixtures import StoredAnalysis, login, make_app, make_subject, make_user, store_analyses
from extensions import db
from models import Analysis, Media
from tests.test_api import basic, bearer, post_file


def test_a_method_the_address_does_not_take_is_a_405_that_names_those_it_takes(app, client):
    make_user(app, "ann")
    answer = client.put("/api/v1/analyses", headers=bearer(client, "ann"))
    assert answer.status_code == 405 and answer.is_json
    assert set(answer.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert answer.json["error"] == "This address does not take PUT; it takes GET, HEAD, OPTIONS, POST."
    options = [client.options(url, headers=headers) for url, headers in (
        ("/api/v1/analyses", {}), ("/api/v1/subjects/7", bearer(client, "ann")))]  # before, and whatever, the token
    assert [(answer.status_code, answer.content_type, answer.data) for answer in options] == [(204, None, b"")] * 2
    assert set(options[1].headers["Allow"].split(", ")) == {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH"}
    # the web pages keep their words about forms, and say what the address takes too
    page = client.put("/login")
    assert page.status_code == 405 and "form" in page.get_data(as_text=True) and "POST" in page.headers["Allow"]


def test_a_401_says_a_bearer_token_is_wanted(app, client):
    make_user(app, "ann")
    missing = client.get("/api/v1/analyses")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer realm=moodlens"
    wrong = client.get("/api/v1/subjects", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == ('Bearer realm=moodlens, error=invalid_token, error_description="The '
                                                 'token is not one this server knows: mistyped or cut short, its '
                                                 'account deleted, or ended over a month ago."')
    assert client.post("/api/v1/tokens", headers=basic("ann", "wrong")).headers["WWW-Authenticate"].startswith("Basic")


def test_a_bad_token_on_a_file_url_is_a_json_401_not_a_page(app, client, astronaut_jpeg):
    make_user(app, "ann")
    headers = bearer(client, "ann")
    original = post_file(client, headers, astronaut_jpeg).json["files"]["original"]
    assert client.get(original, headers=headers).status_code == 200
    answer = client.get(original, headers={"Authorization": "Bearer revoked-or-mistyped"})
    assert answer.status_code == 401 and answer.is_json
    assert answer.json["error"].startswith("The token is not one this server knows")


def test_a_script_is_answered_in_english_whatever_language_it_asks_for(app, client):
    """The API keeps English sentences (README), but a refused token, a deactivated account and a removed upload were
    told in Korean to a client sending Accept-Language: ko; a cat's report PNG answered a Korean HTML page."""
    from models import SubjectKind, User

    ann = make_user(app, "ann")
    tom = make_subject(app, ann, "Tom", SubjectKind.CAT)
    korean = {"Accept-Language": "ko"}
    headers = {**bearer(client, "ann"), **korean}
    unknown = client.get("/api/v1/analyses", headers={**korean, "Authorization": "Bearer mistyped"})
    assert unknown.json["error"].startswith("The token is not one this server knows")
    report = client.get(f"/subjects/{tom}/report.png", headers=headers)
    assert report.status_code == 404 and report.json["error"].startswith("Cats have no weekly report yet")
    login(client, "ann")  # a browser still reads its pages in its language
    page = client.get(f"/subjects/{tom}/report.png", headers=korean)
    assert page.status_code == 404 and "고양이는 아직 주간 보고서가 없어요" in page.get_data(as_text=True)
    with app.app_context():
        db.session.get(User, ann).active = False
        db.session.commit()
    refused = client.get("/api/v1/analyses", headers=headers)
    assert refused.status_code == 401 and refused.json["error"].startswith("This account has been deactivated")


def test_a_queued_videos_thumbnail_is_told_to_come_later_not_that_nothing_is_there(app, client):
    from models import JobStatus, User

    ann = make_user(app, "ann")
    with app.app_context():
        video = Analysis(user=db.session.get(User, ann), media=Media.VIDEO, status=JobStatus.QUEUED,
                         original_name="walk.mp4", stored_name="walk.mp4", format="mp4", width=64, height=48)
        db.session.add(video)
        db.session.commit()
        video_id = video.id
    answer = client.get(f"/analyses/{video_id}/thumb", headers=bearer(client, "ann"))
    assert answer.status_code == 404 and answer.json["error"].startswith("This video's thumbnail is made once")


def test_a_204_has_no_body_and_no_content_type(app, client):
    ann = make_user(app, "ann")
    mia = make_subject(app, ann, "Mia")
    headers = bearer(client, "ann")
    for path in (f"/api/v1/subjects/{mia}", "/api/v1/tokens/current"):
        answer = client.delete(path, headers=headers)
        assert answer.status_code == 204 and answer.data == b"" and "Content-Type" not in answer.headers


def test_the_exports_take_the_bearer_token(app, client):
    ann = make_user(app, "ann")
    make_user(app, "ben")
    mia = make_subject(app, ann, "Mia")
    store_analyses(app, ann, [StoredAnalysis("mia.jpg", "happy", mia)])
    headers = bearer(client, "ann")
    rows = list(csv.DictReader(io.StringIO(client.get(f"/subjects/{mia}/export.csv", headers=headers).text)))
    assert [(row["filename"], row["top"]) for row in rows] == [("mia.jpg", "happy")]
    assert client.get(f"/subjects/{mia}/export.json", headers=headers).is_json
    account = client.get("/account/export.json", headers=headers)
    assert account.status_code == 200 and account.json["user"]["username"] == "ann"
    assert client.get(f"/subjects/{mia}/export.csv", headers=bearer(client, "ben")).status_code == 404
    assert client.get(f"/subjects/{mia}/export.csv").status_code == 302  # a browser without a session logs in


def test_rate_limited_answers_say_when_to_try_again(tmp_path, astronaut_jpeg):
    """Only a 429 says when to try again: Flask-Limiter's Retry-After on every answer it counted told a client to wait
    a minute before polling a video's 202, or before sending a corrupt file again."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, UPLOAD_LIMITS="2 per minute")
    make_user(app, "ann")
    client = app.test_client()
    headers = bearer(client, "ann")
    corrupt = post_file(client, headers, astronaut_jpeg[:2000])
    first = post_file(client, headers, astronaut_jpeg)
    assert (corrupt.status_code, first.status_code, first.headers["X-RateLimit-Remaining"]) == (400, 201, "0")
    assert "Retry-After" not in corrupt.headers and "Retry-After" not in first.headers
    second = post_file(client, headers, astronaut_jpeg)
    assert second.status_code == 429 and second.is_json and "Too many uploads" in second.json["error"]
    assert 0 < int(second.headers["Retry-After"]) <= 60 and second.headers["X-RateLimit-Limit"] == "2"


def test_the_rate_limit_headers_of_a_token_request_count_down_to_the_429(tmp_path):
    """Tokens made and wrong passwords alike count at the client's address: the headers say so, each answer one
    fewer left (they said 10 after each token made, a right password clearing the account-and-client count)."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="4 per minute")
    make_user(app, "ann")
    client = app.test_client()
    answers = [client.post("/api/v1/tokens", headers=basic("ann", password))
               for password in ("correct horse", "correct horse", "wrong", "correct horse", "correct horse")]
    assert [answer.status_code for answer in answers] == [201, 201, 401, 201, 429]
    assert [answer.headers["X-RateLimit-Remaining"] for answer in answers[:4]] == ["3", "2", "1", "0"]


def test_a_404_says_what_was_not_found(app, client):
    ann, ben = make_user(app, "ann"), make_user(app, "ben")
    store_analyses(app, ann, [StoredAnalysis("clip.mp4", "happy", media=Media.VIDEO)])
    store_analyses(app, ben, [StoredAnalysis("bens.jpg", "sad")])
    headers = bearer(client, "ann")
    clip = client.get("/api/v1/analyses", headers=headers).json["items"][0]["id"]
    bens = client.get("/api/v1/analyses", headers=bearer(client, "ben")).json["items"][0]["id"]

    def error(path: str) -> str:
        answer = client.get(path, headers=headers)
        assert answer.status_code == 404 and answer.is_json
        return answer.json["error"]

    assert error(f"/api/v1/analyses/{clip}/detections/1/explanation").startswith("Nothing to explain at position 1:")
    assert error(f"/api/v1/analyses/{clip}/detections/9/explanation") == f"Analysis {clip} has no detection 9."
    assert error(f"/api/v1/analyses/{bens}") == f"No analysis {bens}."  # another user's reads as one that never was
    assert error("/api/v1/analyses/99") == "No analysis 99."
    login(client, "ann")
    assert "Nothing is here" in client.get(f"/analyses/{bens}").get_data(as_text=True)  # a page keeps its words


def test_a_video_track_has_the_position_and_top_a_photo_detection_has(app, client, two_face_video):
    """A client that reads both kinds needed `track_id` and `summary.dominant` for a video, `position` and `top` for a
    photo; a track now has both names (the old ones stay), and `top` and `certainty` as its page words it."""
    make_user(app, "ann")
    headers = bearer(client, "ann")
    video_id = post_file(client, headers, two_face_video.read_bytes(), "clip.mp4").json["id"]
    tracks = client.get(f"/api/v1/analyses/{video_id}", headers=headers).json["tracks"]  # eager jobs: done
    assert tracks and all(track["position"] == track["track_id"] for track in tracks)
    with app.app_context():  # `top` and `certainty` as the page words each track (its reading), not its `dominant`
        readings = [(d.reading.emotion, d.reading.certainty) for d in db.session.get(Analysis, video_id).detections]
    assert [(track["top"], track["certainty"]) for track in tracks] == readings
    crop = client.get(f"/analyses/{video_id}/detections/{tracks[-1]['position']}/crop.jpg", headers=headers)
    assert crop.status_code == 200 and crop.mimetype == "image/jpeg"


def test_an_address_with_nothing_at_it_is_a_404_in_a_scripts_words(app, client):
    make_user(app, "ann")
    answer = client.get("/api/v1/analysis/1", headers=bearer(client, "ann"))  # "analysis": a typo
    assert answer.status_code == 404 and answer.json == {"error": "Nothing is at this address."}
    assert "another tab" in client.get("/no-such-page").get_data(as_text=True)  # a page keeps its words
