"""JSON API v1: tokens, analyses, error codes and isolation."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import sys
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from bench import ROOT
from bench.fixtures import StoredAnalysis, csrf_token, login, make_app, make_subject, make_user, store_analyses
from extensions import db
from inference.pipeline import get_pipeline
from models import AlertRule, Analysis, ApiToken, Media, Subject, User, utcnow
from tests.conftest import DATA, upload_files
from tests.integration.test_lock_order import WAIT, side_by_side



def basic(username: str, password: str = "correct horse") -> dict:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def bearer(client, username: str) -> dict:
    response = client.post("/api/v1/tokens", headers=basic(username))
    assert response.status_code == 201
    return {"Authorization": f"Bearer {response.json['token']}"}


def post_file(client, headers, content: bytes, name: str = "photo.jpg"):
    return client.post("/api/v1/analyses", headers=headers, data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


@pytest.fixture()
def api_users(app):
    make_user(app, "ann")
    make_user(app, "ben")


def test_token_then_analysis_round_trip(app, client, api_users, astronaut_jpeg):
    headers = bearer(client, "ann")
    created = post_file(client, headers, astronaut_jpeg, "astro.jpg")
    assert created.status_code == 201
    body = created.json
    assert set(body) >= {"id", "status", "media", "created_at", "width", "height", "detections", "model"}
    assert body["media"] == "image" and body["status"] == "done" and (body["width"], body["height"]) == (512, 512)
    face = body["detections"][0]
    assert face["kind"] == "human" and len(face["box"]) == 4
    assert sum(face["emotions"].values()) == pytest.approx(1.0, abs=1e-4)
    assert face["top"] == max(face["emotions"], key=face["emotions"].get)
    assert set(body["model"]) == {"detector"}  # the emotion model is each reading's own
    assert body.pop("duplicate") is False  # only the upload's answer says whether the bytes were new
    fetched = client.get(f"/api/v1/analyses/{body['id']}", headers=headers)
    assert fetched.status_code == 200 and fetched.json == body
    listing = client.get("/api/v1/analyses?per_page=5", headers=headers).json
    assert listing["total"] == 1 and listing["items"][0]["id"] == body["id"]
    assert client.get("/api/v1/analyses?page=2&per_page=100", headers=headers).json["items"] == []  # past the end
    for paging in ("page=-1", "page=0", "page=1.5", "page=abc", "page=" + "9" * 5000, "page=1000000001",
                   "per_page=0", "per_page=101", "per_page=abc", "page=\u0661"):  # an Arabic-Indic one
        refused = client.get(f"/api/v1/analyses?{paging}", headers=headers)  # was another page, said nothing
        assert refused.status_code == 400 and "is a whole number from 1 to" in refused.json["error"], paging


def test_the_list_takes_the_history_pages_filters(app, client):
    ann, ben = make_user(app, "ann"), make_user(app, "ben")
    mia, bens_cat = make_subject(app, ann, "Mia"), make_subject(app, ben, "Tom", "cat")
    store_analyses(app, ann, [StoredAnalysis("mia.jpg", "happy", mia),
                              StoredAnalysis("mia.mp4", "happy", mia, Media.VIDEO), StoredAnalysis("sad.jpg", "sad")])
    headers = bearer(client, "ann")

    def names(query: str) -> list[str]:
        listing = client.get(f"/api/v1/analyses?{query}", headers=headers)
        assert listing.status_code == 200 and listing.json["total"] == len(listing.json["items"])
        return [item["filename"] for item in listing.json["items"]]

    assert names(f"subject={mia}&media=image") == ["mia.jpg"] and names("emotion=happy") == ["mia.mp4", "mia.jpg"]
    assert names("media=&emotion=&subject=") == ["sad.jpg", "mia.mp4", "mia.jpg"]  # empty: no filter
    assert client.get(f"/api/v1/analyses?subject={bens_cat}", headers=headers).status_code == 404

    def refused(query: str) -> tuple[int, str]:
        answer = client.get(f"/api/v1/analyses?{query}", headers=headers)
        return answer.status_code, answer.json["error"]

    # a script's typo is told, not answered with every analysis as if each matched (the page's form shows what it
    # lists; a script sees no form)
    for junk in ("0", "-1", "x", str(10 ** 20)):
        assert refused(f"subject={junk}") == (404, f"No subject {junk}.")
    assert refused("media=gif") == (400, "Unknown media gif: ask for image or video.")
    assert refused("emotion=happpy")[0] == 400 and refused("emotion=happpy")[1].startswith("Unknown emotion happpy")
    assert names("name=MIA.JPG") == ["mia.jpg"]
    longest = "a" * 116 + ".jpg"  # as long as a kept file name gets: searched whole
    store_analyses(app, ann, [StoredAnalysis(longest)])
    assert names(f"name={longest}") == [longest]
    assert refused(f"name=b{longest}") == (400, "A file name search has at most 120 characters, as file names are "
                                                "kept.")  # cut, it matched the longest name


def test_tokens_are_stored_hashed_and_can_be_revoked(app, client, api_users):
    headers = bearer(client, "ann")
    plain = headers["Authorization"].split()[1]
    with app.app_context():
        stored = db.session.scalars(db.select(ApiToken)).one()
        assert stored.token_hash != plain and stored.token_hash == ApiToken.hash(plain)
    assert client.delete("/api/v1/tokens/current", headers=headers).status_code == 204
    revoked = client.get("/api/v1/analyses", headers=headers)
    said = ("The token was revoked (by its owner, by a password change, or when an administrator deactivated the "
            "account): make a new one.")
    assert revoked.status_code == 401 and revoked.json["error"] == said  # told apart from expired, as documented
    challenge = f'Bearer realm=moodlens, error=invalid_token, error_description="{said}"'
    assert revoked.headers["WWW-Authenticate"] == challenge


TOKEN_FIELDS = {"id", "name", "created_at", "expires_at", "last_used_at"}


def test_a_user_lists_their_tokens_and_revokes_any_of_them_by_id(app, client, api_users):
    made = client.post("/api/v1/tokens", headers=basic("ann"), json={"name": "  laptop script "})
    assert made.status_code == 201 and made.headers["Location"] == f"/api/v1/tokens/{made.json['id']}"
    assert set(made.json) == TOKEN_FIELDS | {"token", "token_type"} and made.json["name"] == "laptop script"
    laptop = {"Authorization": f"Bearer {made.json['token']}"}
    phone, bens = bearer(client, "ann"), bearer(client, "ben")  # no name
    one = client.get(made.headers["Location"], headers=phone)  # where the 201 said it lives
    assert one.status_code == 200 and one.json == {**{key: made.json[key] for key in TOKEN_FIELDS}, "current": False}
    assert client.get(made.headers["Location"], headers=laptop).json["current"] is True
    listing = client.get("/api/v1/tokens", headers=phone)
    assert listing.status_code == 200
    items = listing.json["items"]
    assert [(item["name"], item["current"]) for item in items] == [(None, True), ("laptop script", False)]
    assert all(set(item) == TOKEN_FIELDS | {"current"} for item in items)  # newest first, never a hash
    with app.app_context():
        hashes = db.session.scalars(db.select(ApiToken.token_hash)).all()
    assert not any(secret in listing.get_data(as_text=True) for secret in [*hashes, made.json["token"]])
    laptop_id = made.json["id"]
    bens_ids = [item["id"] for item in client.get("/api/v1/tokens", headers=bens).json["items"]]
    assert len(bens_ids) == 1 and laptop_id not in bens_ids

    others = client.delete(f"/api/v1/tokens/{laptop_id}", headers=bens)  # another user's: as if there were none
    assert others.status_code == 404 and others.json == {"error": f"No token {laptop_id}."}
    assert client.get(f"/api/v1/tokens/{laptop_id}", headers=bens).json == {"error": f"No token {laptop_id}."}
    assert client.delete("/api/v1/tokens/999999", headers=bens).json == {"error": "No token 999999."}
    assert client.get("/api/v1/analyses", headers=laptop).status_code == 200

    assert client.delete(f"/api/v1/tokens/{laptop_id}", headers=phone).status_code == 204  # the lost laptop's
    assert client.get("/api/v1/analyses", headers=laptop).status_code == 401
    assert client.delete(f"/api/v1/tokens/{laptop_id}", headers=phone).status_code == 404  # revoked: gone from view
    assert client.get(f"/api/v1/tokens/{laptop_id}", headers=phone).status_code == 404
    assert [item["current"] for item in client.get("/api/v1/tokens", headers=phone).json["items"]] == [True]


@pytest.mark.parametrize("body", [{"name": "x" * 41}, {"name": 7}, {"name": "\u202eevil"}, {"name": "\x00"},
                                  ["laptop"], "laptop"])
def test_a_token_name_that_is_too_long_or_unreadable_is_refused(app, client, api_users, body):
    response = client.post("/api/v1/tokens", headers=basic("ann"), json=body)
    assert response.status_code == 400 and response.json["error"]
    assert client.post("/api/v1/tokens", headers=basic("ann", "wrong"), json=body).status_code == 401
    with app.app_context():
        assert db.session.scalars(db.select(ApiToken)).all() == []


def test_a_token_name_sent_other_than_as_json_is_refused_not_dropped(app, client, api_users):
    """A form's name=..., or JSON without its Content-Type, made a token named nothing; no body at all is fine."""
    form = client.post("/api/v1/tokens", headers=basic("ann"), data={"name": "laptop"})
    untyped = client.post("/api/v1/tokens", headers=basic("ann"), data='{"name": "laptop"}')
    assert (form.status_code, untyped.status_code) == (400, 400)
    assert untyped.json["error"] == "Send a JSON object (Content-Type: application/json)."
    assert client.post("/api/v1/tokens", headers=basic("ann")).json["name"] is None

    def send_in_chunks(body: bytes):
        return client.post("/api/v1/tokens", input_stream=io.BytesIO(body), environ_overrides={
            "wsgi.input_terminated": True}, headers={**basic("ann"), "Transfer-Encoding": "chunked"})

    empty = [client.post("/api/v1/tokens", headers={**basic("ann"), "Content-Type": "application/json"}, data=b""),
             send_in_chunks(b"")]  # no body, as curl -d '' or a client that always streams sends it
    assert [(answer.status_code, answer.json["name"]) for answer in empty] == [(201, None), (201, None)]
    chunked = send_in_chunks(b"name=" + b"x" * 100_000)  # read no further than a JSON body may be
    assert chunked.status_code == 400 and chunked.json["error"].startswith("Send a JSON object")
    long_form = client.post("/api/v1/tokens", headers=basic("ann"), data={"name": "x" * 100_000})
    assert long_form.status_code == 400 and long_form.json["error"].startswith("Send a JSON object")  # not a "file"
    assert client.post("/api/v1/tokens", headers=basic("ann"), json={"name": "laptop"}).json["name"] == "laptop"


@pytest.mark.parametrize(("body", "said"), [
    (b'{"name": "Rex", "note": NaN}', "NaN is not a JSON number."),
    (b'{"name": "Rex", "note": -Infinity}', "-Infinity is not a JSON number."),
    (b'{"name": "Rex", "note": 1e400}', "1e400 is too large a number."),
    (b'{"name": "Rex", "note": ' + b"9" * 5000 + b"}",
     f"a whole number has more than {sys.get_int_max_str_digits()} digits."),
    (b'{"name": "Rex",}', "Expecting property name enclosed in double quotes at line 1, column 16."),
    (b'{"name": "R\xffx"}', "it is not UTF-8 text."),
    (b" ", "Send a JSON object (Content-Type: application/json).")])
def test_a_body_that_is_not_standard_json_is_refused_saying_why(app, client, api_users, body, said):
    """Python's decoder reads NaN and Infinity (1e400 too), which JSON has not, and a number too long for it was told
    "Send a JSON object" like a form: each is a 400 that says what is wrong, in a field the app reads or not."""
    ann = bearer(client, "ann")
    refused = client.post("/api/v1/subjects", headers=ann, data=body, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json["error"] in (f"The body is not JSON this API reads: {said}", said)
    assert client.get("/api/v1/subjects", headers=ann).json["items"] == []


def test_a_tokens_last_use_is_kept_to_the_minute_not_on_every_request(app, client, api_users):
    headers = bearer(client, "ann")
    with app.app_context():
        assert db.session.scalars(db.select(ApiToken)).one().last_used_at is None  # made, not used
    client.get("/api/v1/analyses", headers=headers)
    with app.app_context():
        token = db.session.scalars(db.select(ApiToken)).one()
        first_use = token.last_used_at
        assert first_use is not None and utcnow() - first_use < timedelta(minutes=1)
        token.last_used_at = first_use - timedelta(seconds=30)  # used half a minute ago
        db.session.commit()
    client.get("/api/v1/analyses", headers=headers)
    with app.app_context():
        assert db.session.scalars(db.select(ApiToken)).one().last_used_at == first_use - timedelta(seconds=30)
        db.session.scalars(db.select(ApiToken)).one().last_used_at = first_use - timedelta(minutes=2)
        db.session.commit()
    listed = client.get("/api/v1/tokens", headers=headers).json["items"][0]["last_used_at"]
    with app.app_context():
        assert db.session.scalars(db.select(ApiToken)).one().last_used_at > first_use - timedelta(seconds=1)
    assert listed is not None


def test_tokens_made_before_names_were_kept_are_listed_unnamed_and_unused(app, client, api_users):
    with app.app_context():
        downgrade(directory=str(ROOT / "migrations"), revision="b0c1d2e3f4a6")
        db.session.execute(sa.text(
            "INSERT INTO api_token (user_id, token_hash, created_at, expires_at, revoked) VALUES (1, :hash,"
            " '2026-12-01 10:00:00', '2999-01-01 00:00:00', :revoked)"),
            {"hash": ApiToken.hash("old-token"), "revoked": False})  # a boolean on PostgreSQL too
        db.session.commit()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    items = client.get("/api/v1/tokens", headers={"Authorization": "Bearer old-token"}).json["items"]
    assert [(item["name"], item["current"]) for item in items] == [(None, True)]
    assert items[0]["last_used_at"] is not None  # this call used it


def test_expired_token_is_refused(app, client, api_users):
    headers = bearer(client, "ann")
    with app.app_context():
        db.session.scalars(db.select(ApiToken)).one().expires_at = utcnow()
        db.session.commit()
    response = client.get("/api/v1/analyses", headers=headers)
    assert response.status_code == 401 and response.json["error"] == "The token expired: make a new one."
    assert 'error_description="The token expired: make a new one."' in response.headers["WWW-Authenticate"]
    korean = client.get("/api/v1/analyses", headers={**headers, "Accept-Language": "ko"})  # a script: English
    assert korean.json["error"] == response.json["error"] and korean.headers["WWW-Authenticate"].isascii()


def test_auth_errors(client, api_users):
    assert client.post("/api/v1/tokens", headers=basic("ann", "wrong")).status_code == 401
    assert client.post("/api/v1/tokens").status_code == 401
    response = client.get("/api/v1/analyses")
    assert response.status_code == 401 and response.json["error"]
    assert client.get("/api/v1/analyses", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_token_asked_without_basic_credentials_is_told_how_to_send_them(client, api_users):
    """Credentials in a JSON body are not read (it names the token): the answer says to use HTTP Basic, not that
    the password is wrong."""
    response = client.post("/api/v1/tokens", json={"username": "ann", "password": "correct horse"})
    assert response.status_code == 401 and "HTTP Basic" in response.json["error"]
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    wrong = client.post("/api/v1/tokens", headers=basic("ann", "wrong"))
    assert wrong.status_code == 401 and wrong.json["error"] == "Invalid username or password."


def test_a_deactivated_account_is_told_so_by_the_api(app, client, api_users):
    """Its token stops working with the reason, and a new one is refused with it (the right password only: a wrong
    one hears "invalid"), in English whatever language the script asks for, as the API's every sentence."""
    headers = bearer(client, "ann")
    with app.app_context():
        db.session.scalar(db.select(User).filter_by(username="ann")).active = False
        db.session.commit()
    refused = client.get("/api/v1/analyses", headers=headers)
    assert refused.status_code == 401 and "deactivated" in refused.json["error"]
    asked = client.post("/api/v1/tokens", headers=basic("ann"))
    assert asked.status_code == 403 and "deactivated" in asked.json["error"]
    assert "deactivated" not in client.post("/api/v1/tokens", headers=basic("ann", "wrong")).json["error"]
    korean = client.post("/api/v1/tokens", headers={**basic("ann"), "Accept-Language": "ko"})
    assert korean.status_code == 403 and korean.json["error"] == asked.json["error"]
    assert client.get("/api/v1/analyses", headers=basic("ben")).status_code == 401  # Basic is for /tokens only


def test_wrong_passwords_through_a_proxy_never_lock_the_owner_out_of_the_token_exchange(tmp_path):
    """Behind the HTTPS proxy, ten wrong passwords a minute from one address kept the owner, at another, out for ever
    (429 for the right password); the guessing address is still refused after LOGIN_LIMITS, as JSON."""
    from bench.fixtures import make_app

    app = make_app(tmp_path, PRODUCTION=True, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute")
    make_user(app, "carol")
    client = app.test_client()

    def exchange(password: str, address: str):
        return client.post("/api/v1/tokens", headers={**basic("carol", password), "X-Forwarded-For": address},
                           base_url="https://localhost")

    assert [exchange(f"wrong{n}", "198.51.100.7").status_code for n in range(3)] == [401] * 3
    refused = exchange("correct horse", "198.51.100.7")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.json["error"].startswith("Too many log-in attempts")
    assert exchange("correct horse", "203.0.113.5").status_code == 201


def test_error_codes_are_json_and_leave_nothing(app, client, api_users, astronaut_jpeg):
    headers = bearer(client, "ann")
    no_file = client.post("/api/v1/analyses", headers=headers, data={}, content_type="multipart/form-data")
    assert no_file.status_code == 400 and "photo or video" in no_file.json["error"]
    both = [(io.BytesIO(astronaut_jpeg), "a.jpg"), (io.BytesIO(astronaut_jpeg), "b.jpg")]
    two_files = client.post("/api/v1/analyses", headers=headers, content_type="multipart/form-data",
                            data={"file": both})
    assert two_files.status_code == 400 and "one photo or video" in two_files.json["error"]
    assert post_file(client, headers, b"").status_code == 400
    assert post_file(client, headers, b"%PDF-1.4 not an image", "doc.jpg").status_code == 415
    assert post_file(client, headers, astronaut_jpeg[:2000]).status_code == 400
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    too_big = post_file(client, headers, astronaut_jpeg)
    assert too_big.status_code == 413 and too_big.json["error"]
    assert client.get("/api/v1/analyses", headers=headers).json["total"] == 0
    assert upload_files(app) == []


def test_users_cannot_reach_each_others_analyses(client, api_users, astronaut_jpeg):
    ann, ben = bearer(client, "ann"), bearer(client, "ben")
    analysis_id = post_file(client, ann, astronaut_jpeg).json["id"]
    assert client.get(f"/api/v1/analyses/{analysis_id}", headers=ben).status_code == 404
    assert client.delete(f"/api/v1/analyses/{analysis_id}", headers=ben).status_code == 404
    assert client.get("/api/v1/analyses", headers=ben).json["total"] == 0
    assert client.delete(f"/api/v1/analyses/{analysis_id}", headers=ann).status_code == 204
    assert client.get(f"/api/v1/analyses/{analysis_id}", headers=ann).status_code == 404


def test_an_administrators_token_reads_only_their_own_uploads(app, client, api_users, astronaut_jpeg):
    """An admin in a browser session may read anyone's analysis and its files (the back office, a result page read
    as an admin); their API token may not: a token leaked from a script must not open every user's photos."""
    make_user(app, "root", admin=True)
    analysis = post_file(client, bearer(client, "ann"), astronaut_jpeg).json
    root = bearer(client, "root")
    addresses = [f"/api/v1/analyses/{analysis['id']}", analysis["files"]["original"], analysis["files"]["thumbnail"],
                 f"/api/v1/analyses/{analysis['id']}/detections/1/explanation"]
    assert [client.get(address, headers=root).status_code for address in addresses] == [404] * 4
    assert client.post(addresses[3], headers=root).status_code == 404
    login(client, "root")
    assert [client.get(address).status_code for address in addresses] == [200] * 4


def test_session_auth_needs_csrf_header_for_posts(app, client, alice, coffee_jpeg):
    assert client.get("/api/v1/analyses").status_code == 200
    assert post_file(client, {}, coffee_jpeg).status_code == 400
    token = csrf_token(client, "/analyze")
    assert post_file(client, {"X-CSRFToken": token}, coffee_jpeg).status_code == 201


def test_over_https_a_session_post_without_a_referer_is_told_so(tmp_path):
    """Flask-WTF's strict check over HTTPS wants a Referer naming the site: a script with the right X-CSRFToken was
    told its token was missing or invalid, and a browser that sends no referrers that its form was out of date."""
    app = make_app(tmp_path, PRODUCTION=True)
    make_user(app, "pat")
    client = app.test_client()
    https = {"base_url": "https://localhost"}
    login = {"username": "pat", "password": "correct horse", "csrf_token": csrf_token(client, "/login", **https)}
    assert client.post("/login", data=login, headers={"Referer": "https://localhost/login"}, **https).status_code == 302
    token = csrf_token(client, "/analyze", **https)
    posted = client.post("/api/v1/subjects", json={"name": "Rex"}, headers={"X-CSRFToken": token}, **https)
    assert posted.status_code == 400 and "needs a Referer header naming this site" in posted.json["error"]
    posted = client.post("/api/v1/subjects", json={"name": "Rex"}, **https,
                         headers={"X-CSRFToken": token, "Referer": "https://localhost/analyze"})
    assert posted.status_code == 201
    form = client.post("/logout", data={"csrf_token": token}, **https)
    assert form.status_code == 400 and "without saying which page of this site it came from" in form.text
    assert "out of date" not in form.text


def create_subject(client, headers, name: str, kind: str | None = None):
    return client.post("/api/v1/subjects", headers=headers, json={"name": name, **({"kind": kind} if kind else {})})


def test_a_json_body_sent_in_chunks_is_refused_past_the_limit_not_read_as_cut(client, api_users):
    """A body of unknown length (Transfer-Encoding: chunked) was read to the limit and parsed cut short: "Send a JSON
    object" for a body that was only too long; one that fits is read whole."""
    ann = bearer(client, "ann")

    def send_in_chunks(body: bytes):
        return client.post("/api/v1/subjects", input_stream=io.BytesIO(body), environ_overrides={
            "wsgi.input_terminated": True}, headers={**ann, "Content-Type": "application/json",
                                                     "Transfer-Encoding": "chunked"})

    too_long = send_in_chunks(json.dumps({"name": "Rex", "kind": "dog", "note": "x" * 70_000}).encode())
    assert too_long.status_code == 413 and too_long.json["error"] == "A JSON body is at most 64 KB."
    fits = json.dumps({"name": "Rex", "kind": "dog"}).encode()
    assert send_in_chunks(fits.ljust(64 * 1024)).status_code == 201  # JSON may end in spaces


def test_subjects_are_listed_created_and_deleted(client, api_users):
    ann, ben = bearer(client, "ann"), bearer(client, "ben")
    created = create_subject(client, ann, " Rex ", "dog")
    assert created.status_code == 201 and created.json["name"] == "Rex" and created.json["kind"] == "dog"
    assert created.json["appearances"] == 0 and created.json["emotion_model"] is True
    assert client.get(created.location, headers=ann).json == created.json
    assert create_subject(client, ann, "Eileen").json["kind"] == "person"
    assert create_subject(client, ann, "Tom", "cat").json["emotion_model"] is False
    assert [s["name"] for s in client.get("/api/v1/subjects", headers=ann).json["items"]] == ["Eileen", "Rex", "Tom"]

    duplicate = create_subject(client, ann, "Rex", "dog")
    assert duplicate.status_code == 409 and "Rex" in duplicate.json["error"]
    for lookalike in ("rex", "Re\u200bx", "ＲＥＸ"):  # another case, an invisible character, full-width letters
        assert create_subject(client, ann, lookalike, "cat").status_code == 409, lookalike
    for body in ({"name": "", "kind": "dog"}, {"name": "x" * 65}, {"name": "Ok", "kind": "horse"},
                 {"name": 7}, {"name": "Ok", "kind": ["dog"]}, ["Rex"], {"name": "\u200b"}, {"name": "a\u0000b"},
                 {"name": "Tab\there"}, {"name": " \u2060\u00a0"}, {"name": "Rex\u202e"}, {"name": "\u3164"},
                 {"name": "\u0301\ufe0f"}, {"name": "\u2800"}, {"name": "x\u2028y"}, {"name": "x\u2029y"},
                 {"name": "Rex\uffff"}, {"name": "Rex\ufdd0"}, {"name": "Rex\U0001fffe"}):
        refused = client.post("/api/v1/subjects", headers=ann, json=body)
        assert refused.status_code == 400 and refused.json["error"], body
    assert client.post("/api/v1/subjects", headers=ann, data="name=Rex").status_code == 400
    assert client.get("/api/v1/subjects", headers=ben).json["items"] == []

    rex = created.json["id"]
    renamed = client.patch(f"/api/v1/subjects/{rex}", headers=ann, json={"name": "Rexy"})
    assert renamed.status_code == 200 and renamed.json == {**created.json, "name": "Rexy"}
    assert client.patch(f"/api/v1/subjects/{rex}", headers=ann, json={"name": "eileen"}).status_code == 409
    for body in ({}, {"name": ""}, {"name": 7}, ["Rex"], {"name": "Rex", "kind": "cat"}):  # a kind is not changed
        assert client.patch(f"/api/v1/subjects/{rex}", headers=ann, json=body).status_code == 400, body
    assert client.get(f"/api/v1/subjects/{rex}", headers=ann).json["name"] == "Rexy"
    assert client.patch(f"/api/v1/subjects/{rex}", headers=ben, json={"name": "Mine"}).status_code == 404
    assert client.get(f"/api/v1/subjects/{rex}", headers=ben).status_code == 404
    assert client.delete(f"/api/v1/subjects/{rex}", headers=ben).status_code == 404
    assert client.delete(f"/api/v1/subjects/{rex}", headers=ann).status_code == 204
    assert client.get(f"/api/v1/subjects/{rex}", headers=ann).status_code == 404
    assert client.get("/api/v1/subjects").status_code == 401


def test_a_detection_is_assigned_to_a_subject_of_its_kind_only(app, client, api_users, astronaut_jpeg):
    ann, ben = bearer(client, "ann"), bearer(client, "ben")
    analysis_id = post_file(client, ann, astronaut_jpeg).json["id"]
    eileen = create_subject(client, ann, "Eileen").json["id"]
    rex = create_subject(client, ann, "Rex", "dog").json["id"]
    bens = create_subject(client, ben, "Bea").json["id"]
    url = f"/api/v1/analyses/{analysis_id}/detections/1/subject"

    assigned = client.put(url, headers=ann, json={"subject": eileen})
    assert assigned.status_code == 200 and assigned.json["subject"] == eileen and assigned.json["position"] == 1
    assert client.get(f"/api/v1/analyses/{analysis_id}", headers=ann).json["detections"][0]["subject"] == eileen
    assert client.get(f"/api/v1/subjects/{eileen}", headers=ann).json["appearances"] == 1

    wrong_kind = client.put(url, headers=ann, json={"subject": rex})
    assert wrong_kind.status_code == 400 and "Rex is a dog" in wrong_kind.json["error"]
    for body in ({"subject": bens}, {"subject": "1"}, {"subject": True}, {"subject": 2**70}, [eileen], {},
                 {"subjekt": None}):  # a missing "subject" is refused: only an explicit null unassigns
        assert client.put(url, headers=ann, json=body).status_code == 400, body
    nested = "[" * 30_000 + "]" * 30_000  # deeper than the JSON decoder's recursion: a 400 like any bad JSON
    huge = '{"name": "x", "kind": [' + "[]," * 30_000 + "[]]}"  # a 90 KB body: not parsed (100 MB cost 2.5 GB)
    for send in (client.put, client.post):
        refused = send(url if send == client.put else "/api/v1/subjects", headers=ann, data=nested,
                       content_type="application/json")
        assert refused.status_code == 400 and refused.json["error"].endswith("it is nested too deep.")
        too_big = send(url if send == client.put else "/api/v1/subjects", headers=ann, data=huge,
                       content_type="application/json")
        assert too_big.status_code == 413 and too_big.json["error"] == "A JSON body is at most 64 KB."
    page = app.test_client()  # a logged-in browser's call (its CSRF check read the body first, under the upload limit)
    login(page, "ann")
    token = csrf_token(page, "/subjects")
    session_call = page.post("/api/v1/subjects", data=huge, content_type="application/json",
                             headers={"X-CSRFToken": token})
    assert session_call.status_code == 413 and session_call.json["error"] == "A JSON body is at most 64 KB."
    assert client.put(url, headers=ben, json={"subject": bens}).status_code == 404
    assert client.put(f"/api/v1/analyses/{analysis_id}/detections/9/subject", headers=ann,
                      json={"subject": eileen}).status_code == 404
    assert client.get(f"/api/v1/analyses/{analysis_id}", headers=ann).json["detections"][0]["subject"] == eileen

    assert client.put(url, headers=ann, json={"subject": None}).json["subject"] is None
    client.put(url, headers=ann, json={"subject": eileen})
    assert client.delete(f"/api/v1/subjects/{eileen}", headers=ann).status_code == 204
    assert client.get(f"/api/v1/analyses/{analysis_id}", headers=ann).json["detections"][0]["subject"] is None


def test_a_video_track_is_assigned_and_its_files_fetched_with_a_token(client, api_users, two_face_video):
    ann, ben = bearer(client, "ann"), bearer(client, "ben")
    video_id = post_file(client, ann, two_face_video.read_bytes(), "clip.mp4").json["id"]
    video = client.get(f"/api/v1/analyses/{video_id}", headers=ann).json  # eager jobs: done at once
    eileen = create_subject(client, ann, "Eileen").json["id"]
    track = video["tracks"][1]["track_id"]
    response = client.put(f"/api/v1/analyses/{video['id']}/detections/{track}/subject", headers=ann,
                          json={"subject": eileen})
    assert response.status_code == 200 and response.json["track_id"] == track and response.json["subject"] == eileen

    frame = client.get(video["files"]["frame"] + "?t=1.5", headers=ann)
    assert frame.status_code == 200 and frame.mimetype == "image/jpeg"
    assert client.get(video["files"]["thumbnail"], headers=ann).mimetype == "image/jpeg"
    assert client.get(video["files"]["original"], headers=ann).mimetype == "video/mp4"
    assert client.get(video["files"]["frame"], headers=ben).status_code == 404


def test_files_the_api_links_to_are_fetched_with_a_bearer_token(app, client, api_users, astronaut_jpeg):
    ann, ben = bearer(client, "ann"), bearer(client, "ben")
    analysis = post_file(client, ann, astronaut_jpeg).json
    files = analysis["files"]
    assert files["frame"] is None
    no_frame = client.get(f"/analyses/{analysis['id']}/frame?t=1", headers=ann)
    assert no_frame.status_code == 404 and "of a photo, which has no frames" in no_frame.json["error"]
    original = client.get(files["original"], headers=ann)
    assert original.status_code == 200 and original.mimetype == "image/jpeg" and original.data == astronaut_jpeg
    assert client.get(files["thumbnail"], headers=ann).mimetype == "image/jpeg"
    explanation = client.post(f"/api/v1/analyses/{analysis['id']}/detections/1/explanation", headers=ann).json
    image = client.get(explanation["images"][0]["url"], headers=ann)
    assert image.status_code == 200 and image.mimetype == "image/png"
    eileen = create_subject(client, ann, "Eileen").json["id"]
    client.put(f"/api/v1/analyses/{analysis['id']}/detections/1/subject", headers=ann, json={"subject": eileen})
    chart = client.get(f"/subjects/{eileen}/report.png", headers=ann)  # the weekly report's charts, as the page's
    assert chart.status_code == 200 and chart.mimetype == "image/png"
    assert client.get(f"/subjects/{eileen}/report.png", headers=ben).status_code == 404

    other = client.get(files["original"], headers=ben)
    assert other.status_code == 404 and other.json["error"]
    assert client.get(files["original"], headers={"Authorization": "Bearer nope"}).status_code == 401
    anonymous = client.get(files["original"])
    assert anonymous.status_code == 302 and "/login" in anonymous.location


def test_each_reading_names_the_model_that_made_it(app, client, api_users):
    """A face names the face model, a dog the dog model (never the two joined), a cat none: no cat model ships."""
    pipeline = get_pipeline()
    headers = bearer(client, "ann")
    people_and_cat = post_file(client, headers, (DATA / "people-with-a-cat.jpg").read_bytes(), "people.jpg").json
    beagle = post_file(client, headers, (DATA / "beagle-close-up.jpg").read_bytes(), "beagle.jpg").json
    named = {(d["kind"], d["classifier"]) for d in people_and_cat["detections"] + beagle["detections"]}
    assert named == {("human", pipeline.classifier.name), ("cat", None), ("dog", pipeline.dog_classifier.name)}
    assert "dog_emotion_head" in pipeline.dog_classifier.name and "dog" not in pipeline.classifier.name


def test_older_analyses_get_their_readings_models_from_the_one_line_they_kept(app, client, api_users):
    """The migration splits the line that listed every model ("face + dog") by the kind each read."""
    face = "emotion_fer2013: vgg+vgg"
    dog = "efficientnet-lite0 ensemble of 3 (dog_emotion_head, test macro-F1 0.541)"
    cat = "efficientnet-lite0 + linear head (cat_emotion_head, test macro-F1 0.512)"
    with app.app_context():
        downgrade(directory=str(ROOT / "migrations"), revision="a8b9c0d1e2f3")
        for name, line in (("old.jpg", f"{face} + {dog}"), ("cats.jpg", f"{face} + {dog} + {cat}"),
                           ("faces.jpg", face)):
            db.session.execute(sa.text(
                "INSERT INTO analysis (user_id, created_at, media, status, original_name, stored_name, format, width,"
                " height, face_count, classifier, progress, attempts) VALUES (1, '2026-12-01 10:00:00', 'image',"
                " 'done', :name, :name, 'jpeg', 10, 10, 0, :line, 1.0, 0)"), {"name": name, "line": line})
        db.session.commit()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        kept = dict(db.session.execute(sa.select(Analysis.original_name, Analysis.classifiers)).all())
    assert kept == {"old.jpg": {"human": face, "dog": dog}, "cats.jpg": {"human": face, "dog": dog, "cat": cat},
                    "faces.jpg": {"human": face}}


def test_without_a_proxy_in_front_a_client_cannot_choose_its_address(tmp_path):
    """PRODUCTION trusted one proxy's X-Forwarded-For: where clients reach the app directly, each guess could name
    another address and get LOGIN_LIMITS of its own. PROXY_HOPS=0 counts the address the connection came from."""
    from bench.fixtures import make_app

    app = make_app(tmp_path, PRODUCTION=True, PROXY_HOPS=0, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute")
    make_user(app, "carol")
    client = app.test_client()
    statuses = [client.post("/api/v1/tokens", headers={**basic("carol", f"wrong{n}"), "X-Forwarded-For": f"10.0.0.{n}"},
                            base_url="https://localhost").status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_a_hangul_username_gets_a_token_as_curl_sends_it(app, client):
    """curl -u 김민수:PASSWORD sends the name's UTF-8 bytes in base64: it names the account."""
    make_user(app, "김민수")
    assert client.post("/api/v1/tokens", headers=basic("김민수")).status_code == 201


def test_an_account_holds_a_bounded_number_of_working_tokens_and_long_expired_ones_go(app, client, monkeypatch):
    """A script making a token each run piled them up (and every list walked them all): past MAX_LIVE_TOKENS, a 409
    saying what to do (the account page's form says it under the name); tokens expired over a month ago are deleted
    when the next one is made."""
    from services import tokens
    monkeypatch.setattr(tokens, "MAX_LIVE_TOKENS", 2)
    user = make_user(app, "ann")
    with app.app_context():
        old = ApiToken(user_id=user, token_hash="0" * 64, expires_at=utcnow() - timedelta(days=31))
        db.session.add(old)
        db.session.commit()
        old_id = old.id
    made = [client.post("/api/v1/tokens", headers=basic("ann")) for _ in range(3)]
    assert [answer.status_code for answer in made] == [201, 201, 409]
    assert made[2].json["error"].startswith("You have 2 working API tokens, the most an account may hold")
    assert made[2].json["error"].endswith("(on your account page, or DELETE /api/v1/tokens/ID).")  # a script's way too
    with app.app_context():
        assert db.session.get(ApiToken, old_id) is None and db.session.scalar(db.select(db.func.max(ApiToken.id))) == 3
        assert db.session.scalar(db.select(db.func.count(ApiToken.id))) == 2
    login(client, "ann")
    page = client.get("/account").get_data(as_text=True)
    assert "revoke one you no longer use to make another." in page and 'action="/account/tokens"' not in page
    form = {"current_password": "correct horse", "name": "laptop", "form_id": "f1",
            "csrf_token": csrf_token(client, "/account")}
    refused = client.post("/account/tokens", data=form)
    assert refused.status_code == 400 and "You have 2 working API tokens" in refused.get_data(as_text=True)
    client.delete("/api/v1/tokens/current", headers={"Authorization": f"Bearer {made[0].json['token']}"})
    assert client.post("/account/tokens", data=form).status_code == 201  # the refused form, sent again, makes one


def test_a_token_refused_for_room_lets_the_account_go_before_the_password_is_counted(tmp_path, monkeypatch):
    """The 409 held the account (SQLite: the whole database) while the log-in limits wrote their count on a
    connection of their own: it waited out the 10 s busy timeout, every other user's writes with it, and the
    password check went uncounted ("database is locked")."""
    from services import tokens
    from web import login_limits
    monkeypatch.setattr(tokens, "MAX_LIVE_TOKENS", 1)
    app = make_app(tmp_path, RATELIMIT_ENABLED=True)
    client = app.test_client()
    make_user(app, "ann")
    held_while_counting = []
    settle = login_limits._settle

    def counting() -> None:  # can another connection write, as the limits' count does?
        with sqlite3.connect(db.engine.url.database, timeout=0) as other:
            try:
                other.execute("BEGIN IMMEDIATE")
                held_while_counting.append(False)
            except sqlite3.OperationalError:
                held_while_counting.append(True)
            other.rollback()
        settle()

    monkeypatch.setattr(login_limits, "_settle", counting)
    assert [client.post("/api/v1/tokens", headers=basic("ann")).status_code for _ in range(2)] == [201, 409]
    assert held_while_counting == [False, False]


def test_two_tokens_asked_at_once_never_pass_the_most_an_account_holds_on_sqlite(app, monkeypatch):
    """As on PostgreSQL (tests/integration/test_lock_order.py): both requests counted 49 before either committed, and
    the account held 51."""
    from tests.integration.test_lock_order import two_tokens_at_once
    ended = two_tokens_at_once(app, monkeypatch)
    assert ended == {"first": "ok", "second": ended["second"], "working": "50"}, ended
    assert ended["second"].startswith("Conflict"), ended


def test_alert_rules_are_added_listed_and_removed_through_the_api(app, client, api_users):
    """The alerts had no API: a script could read whether a rule fired, never make or remove one."""
    ann, ben = bearer(client, "ann"), bearer(client, "ben")
    rex = create_subject(client, ann, "Rex", "dog").json["id"]
    url = f"/api/v1/subjects/{rex}/alerts"
    made = client.post(url, headers=ann, json={"emotion": "sad", "share": 0.4, "days": 7})
    rule = made.json
    assert made.status_code == 201 and made.headers["Location"] == f"/api/v1/alerts/{rule['id']}"
    assert rule == {"id": rule["id"], "emotion": "sad", "share": 0.4, "days": 7}
    [listed] = client.get(url, headers=ann).json["items"]
    assert listed["rule"] == rule and listed["fired"] is False and listed["count"] == 0
    assert client.get(made.headers["Location"], headers=ann).json == listed
    assert client.get(made.headers["Location"], headers=ben).json == {"error": f"No alert rule {rule['id']}."}
    assert client.get(f"/api/v1/subjects/{rex}/insights", headers=ann).json["alerts"] == [listed]
    again = client.post(url, headers=ann, json={"emotion": "sad", "share": 0.4, "days": 7})
    assert again.status_code == 409 and again.json["error"] == "Rex has this alert already."
    refused = [client.post(url, headers=ann, json=body).json["error"] for body in (
        {"emotion": "disgust", "share": 0.4, "days": 7}, {"emotion": "sad", "share": 0.425, "days": 7},
        {"emotion": "sad", "share": 1, "days": 7}, {"emotion": "sad", "share": "0.4", "days": 7},
        {"emotion": "sad", "share": 0.4, "days": 7.5}, {"emotion": "sad", "share": 0.4, "days": 91},
        {"emotion": "sad", "share": True, "days": 7})]
    assert refused[0] == "The emotion is one of angry, happy, relaxed, sad." and len(set(refused[1:5])) == 2
    tom = create_subject(client, ann, "Tom", "cat").json["id"]
    cat = client.post(f"/api/v1/subjects/{tom}/alerts", headers=ann, json={"emotion": "sad", "share": 0.4, "days": 7})
    assert cat.status_code == 400 and "no emotion model for cats" in cat.json["error"]
    assert client.post(url, headers=ben, json={"emotion": "sad", "share": 0.4, "days": 7}).status_code == 404
    assert client.delete(f"/api/v1/alerts/{rule['id']}", headers=ben).json["error"] == f"No alert rule {rule['id']}."
    nan = client.post(url, headers={**ann, "Content-Type": "application/json"},
                      data='{"emotion": "sad", "share": NaN, "days": 7}')  # Python's JSON reads NaN; the API not
    assert nan.status_code == 400 and nan.json["error"].endswith("NaN is not a JSON number.")
    assert client.delete(f"/api/v1/alerts/{rule['id']}", headers=ann).status_code == 204
    assert client.get(url, headers=ann).json["items"] == []
    assert client.delete(f"/api/v1/alerts/{rule['id']}", headers=ann).status_code == 404
    assert client.get(f"/api/v1/alerts/{rule['id']}", headers=ann).status_code == 404


def test_a_subject_holds_a_bounded_number_of_alert_rules(client, api_users, monkeypatch):
    """Every dashboard and insights answer checks each rule: a script looping on POST made as many as it liked."""
    from services import insights
    monkeypatch.setattr(insights, "MAX_ALERTS", 2)
    ann = bearer(client, "ann")
    mia = create_subject(client, ann, "Mia").json["id"]
    made = [client.post(f"/api/v1/subjects/{mia}/alerts", headers=ann, json={"emotion": "sad", "share": share,
                                                                              "days": 7}) for share in (0.3, 0.4, 0.5)]
    assert [answer.status_code for answer in made] == [201, 201, 409]
    assert made[2].json["error"] == "Mia has 2 alerts, as many as a person or pet may: remove one to add another."


def test_two_identical_alerts_asked_at_once_make_one_rule(app, monkeypatch):
    """Both requests looked for the rule before either wrote it, and every notice then showed twice: the second now
    waits for the account the first holds, and finds its rule."""
    from services import insights
    user = make_user(app, "ana")
    rex = make_subject(app, user, "Rex", "dog")
    looked = insights._room_for_alert

    def slow_look(*args) -> None:  # the first request, having looked, waits before it writes
        looked(*args)
        if (holding := first_holds.pop("event", None)) is not None:
            holding.set()
            time.sleep(WAIT)

    def ask() -> None:
        insights.add_alert(db.session.get(Subject, rex), "sad", 0.4, 7)

    def first(holding: threading.Event) -> None:
        first_holds["event"] = holding
        ask()

    first_holds: dict = {}
    monkeypatch.setattr(insights, "_room_for_alert", slow_look)
    ended = side_by_side(app, first, ask)
    assert ended["first"] == "ok" and ended["second"] == "Conflict: Rex has this alert already.", ended
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AlertRule.id))) == 1


def test_a_token_expired_lately_still_says_it_expired_after_another_is_made(app, client):
    """Mutant 45 (issue deletes every expired token, not only those expired over KEPT_AFTER_EXPIRY ago): a script
    whose token expired yesterday, once its owner had made new ones, was told "The token is not valid" instead of
    "The token expired: make a new one."."""
    make_user(app, "ann")
    headers = bearer(client, "ann")
    with app.app_context():
        db.session.scalars(db.select(ApiToken)).one().expires_at = utcnow() - timedelta(days=1)
        db.session.commit()
    for _ in range(2):  # (the newest row is never deleted: SQLite would give its id to the next one)
        assert client.post("/api/v1/tokens", headers=basic("ann")).status_code == 201
    response = client.get("/api/v1/analyses", headers=headers)
    assert response.status_code == 401 and response.json["error"] == "The token expired: make a new one."
