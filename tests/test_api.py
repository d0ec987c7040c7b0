"""JSON API v1: tokens, analyses, error codes and isolation."""

from __future__ import annotations

import base64
import io

import pytest

from extensions import db
from models import ApiToken, utcnow
from tests.conftest import csrf_token, make_user, upload_files


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
    assert set(body["model"]) == {"detector", "classifier"}
    fetched = client.get(f"/api/v1/analyses/{body['id']}", headers=headers)
    assert fetched.status_code == 200 and fetched.json == body
    listing = client.get("/api/v1/analyses?per_page=5", headers=headers).json
    assert listing["total"] == 1 and listing["items"][0]["id"] == body["id"]


def test_tokens_are_stored_hashed_and_can_be_revoked(app, client, api_users):
    headers = bearer(client, "ann")
    plain = headers["Authorization"].split()[1]
    with app.app_context():
        stored = db.session.scalars(db.select(ApiToken)).one()
        assert stored.token_hash != plain and stored.token_hash == ApiToken.hash(plain)
    assert client.delete("/api/v1/tokens/current", headers=headers).status_code == 204
    assert client.get("/api/v1/analyses", headers=headers).status_code == 401


def test_expired_token_is_refused(app, client, api_users):
    headers = bearer(client, "ann")
    with app.app_context():
        db.session.scalars(db.select(ApiToken)).one().expires_at = utcnow()
        db.session.commit()
    response = client.get("/api/v1/analyses", headers=headers)
    assert response.status_code == 401 and "error" in response.json


def test_auth_errors(client, api_users):
    assert client.post("/api/v1/tokens", headers=basic("ann", "wrong")).status_code == 401
    assert client.post("/api/v1/tokens").status_code == 401
    response = client.get("/api/v1/analyses")
    assert response.status_code == 401 and response.json["error"]
    assert client.get("/api/v1/analyses", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_error_codes_are_json_and_leave_nothing(app, client, api_users, astronaut_jpeg):
    headers = bearer(client, "ann")
    no_file = client.post("/api/v1/analyses", headers=headers, data={}, content_type="multipart/form-data")
    assert no_file.status_code == 400 and no_file.json["error"]
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


def test_session_auth_needs_csrf_header_for_posts(app, client, alice, coffee_jpeg):
    assert client.get("/api/v1/analyses").status_code == 200
    assert post_file(client, {}, coffee_jpeg).status_code == 400
    token = csrf_token(client, "/analyze")
    assert post_file(client, {"X-CSRFToken": token}, coffee_jpeg).status_code == 201
