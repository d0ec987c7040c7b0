"""Every route that takes an id, walked with another user's ids: always 404; every form needs CSRF."""

from __future__ import annotations

import base64

import pytest
from flask import url_for

import models
from bench.fixtures import csrf_token
from extensions import db
from models import AlertRule, Analysis, ApiToken, Detection, Subject
from tests.conftest import SHIPPED_PASSWORD_HASH_METHOD, upload

SKIPPED_PREFIXES = ("/admin", "/static")


@pytest.fixture()
def alice_objects(app, client, alice, astronaut_jpeg, two_face_video):
    upload(client, astronaut_jpeg, "photo.jpg")
    upload(client, two_face_video.read_bytes(), "clip.mp4")
    token = csrf_token(client, "/subjects")
    client.post("/subjects", data={"name": "Secret", "kind": "dog", "csrf_token": token})
    with app.app_context():
        subject_id = db.session.scalar(db.select(Subject.id))
    rule = {"emotion": "sad", "percent": 40, "days": 7, "csrf_token": token}
    client.post(f"/subjects/{subject_id}/alerts", data=rule)
    basic = base64.b64encode(b"alice:correct horse").decode()
    client.post("/api/v1/tokens", headers={"Authorization": f"Basic {basic}"})  # a token of hers to revoke
    with app.app_context():
        objects = {
            "analysis_id": db.session.scalar(db.select(Analysis.id).filter_by(media="video")),
            "photo_id": db.session.scalar(db.select(Analysis.id).filter_by(media="image")),
            "detection_id": db.session.scalar(db.select(Detection.id)),
            "subject_id": subject_id,
            "rule_id": db.session.scalar(db.select(AlertRule.id)),
            "token_id": db.session.scalar(db.select(ApiToken.id)),
        }
    explained = client.post(f"/api/v1/analyses/{objects['photo_id']}/detections/1/explanation",
                            headers={"X-CSRFToken": token})  # so that its images exist for the owner
    assert explained.json["status"] == "done"
    return objects


def id_routes(app) -> list[tuple[str, str, dict]]:
    """(method, url, view args) for every non-admin route that takes an object id."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(SKIPPED_PREFIXES) or not any(arg.endswith("_id") for arg in rule.arguments):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, rule.endpoint, {arg: None for arg in rule.arguments}))
    return routes


def build(app, endpoint: str, args: dict, objects: dict) -> str:
    values = {name: objects.get(name) for name in args}
    if "position" in args:  # a detection of the photo: only photos are explained
        values.update(analysis_id=objects["photo_id"], position=1, method="occlusion")
        values = {name: value for name, value in values.items() if name in args}
    if "variant" in args:
        values["variant"] = "original"
    if "fmt" in args:
        values["fmt"] = "json"
    with app.test_request_context():
        return url_for(endpoint, **values)


def test_another_user_gets_404_on_every_id_route(app, client, alice_objects, bob_client):
    routes = id_routes(app)
    assert len(routes) >= 9
    token = csrf_token(bob_client, "/analyze")
    basic = base64.b64encode(b"bob:correct horse").decode()
    bearer = bob_client.post("/api/v1/tokens", headers={"Authorization": f"Basic {basic}"}).json["token"]
    for method, endpoint, args in routes:
        url = build(app, endpoint, args, alice_objects)
        headers = {"Authorization": f"Bearer {bearer}"} if url.startswith("/api/") else {}
        response = bob_client.open(url, method=method, headers=headers, data={"csrf_token": token})
        assert response.status_code == 404, f"{method} {url} answered {response.status_code} to another user"
        # ...and the owner really can reach it (the 404 is not an accident of the URL; a form's address leads on)
        if method == "GET":
            assert client.get(url, follow_redirects=True).status_code == 200, f"GET {url} fails for its owner"
    dashboard = f"/dashboard?subject={alice_objects['subject_id']}"  # an id in the query string
    assert bob_client.get(dashboard).status_code == 404 and client.get(dashboard).status_code == 200


def test_every_form_refuses_a_post_without_csrf_token(app, client, alice_objects):
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith(("/api/", "/admin")):
            continue
        url = build(app, rule.endpoint, {arg: None for arg in rule.arguments}, alice_objects)
        response = client.post(url, data={"username": "alice", "password": "correct horse", "name": "x"})
        if rule.endpoint in ("auth.login", "auth.register"):  # logged in already: sent where a log-in goes
            assert response.status_code == 302 and response.location.endswith("/analyze"), url
            continue
        assert response.status_code == 400, f"POST {url} accepted a request without a CSRF token"
        assert "This page was out of date" in response.get_data(as_text=True)
    assert client.get("/analyses").status_code == 200  # and nothing logged Alice out


def test_passwords_use_a_modern_hash(app, alice, monkeypatch):
    monkeypatch.setattr(models, "PASSWORD_HASH_METHOD", SHIPPED_PASSWORD_HASH_METHOD)  # not the tests' cheap one
    with app.app_context():
        user = db.session.get(models.User, alice)
        user.set_password("a new passphrase")
        assert user.password_hash.startswith("scrypt:")
        assert user.check_password("a new passphrase") and not user.check_password("correct horse")


def test_every_forms_address_answers_a_get_with_the_page_the_form_lives_on(app, client, alice_objects):
    """A refused form's page reloaded, or its address opened or shared, is a GET of an address that only took the
    form's POST: a 405 before. Now it goes to the form's page (for its owner; another user's is a 404, above)."""
    photo, face = alice_objects["photo_id"], alice_objects["detection_id"]
    with app.app_context():
        position = db.session.get(Detection, face).position
    expected = {"analyze.assign_subject": f"/analyses/{photo}#face-{position}",
                "identity.not_this_person": f"/analyses/{photo}#face-{position}",
                "analyze.explain": f"/analyses/{photo}#face-1", "identity.name_group": "/subjects",
                "dashboard.add_alert": f"/dashboard?subject={alice_objects['subject_id']}",
                "dashboard.weekly_report_setting": "/dashboard", "auth.set_time_zone": "/",
                "i18n.switch": "/"}
    answered = set()
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith(("/api/", "/admin/")):
            continue  # the back office's, as an administrator: tests/test_admin.py
        url = build(app, rule.endpoint, {arg: None for arg in rule.arguments}, alice_objects)
        response = client.get(url)
        assert response.status_code != 405 and client.head(url).status_code == response.status_code, url
        if rule.endpoint in expected:
            assert response.status_code == 302 and response.location == expected[rule.endpoint], url
            answered.add(rule.endpoint)
        assert client.get(url, follow_redirects=True).status_code == 200, url
    assert answered == set(expected)
    assert client.get(f"/analyses/{photo}/detections/99/explain").status_code == 404  # no such card: no page
    assert client.get("/analyses").status_code == 200  # a GET of the log-out address logged nobody out
