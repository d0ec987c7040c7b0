"""Flask-Admin: admins only; user moderation; deleting an analysis deletes its files."""

from __future__ import annotations

import re

from extensions import db
from models import Analysis, User
from tests.conftest import login, make_user, upload, upload_files


def test_admin_is_refused_to_others(app, client, alice):
    for path in ("/admin/", "/admin/admin_users/", "/admin/admin_analyses/", "/admin/admin_detections/"):
        assert client.get(path).status_code == 403
        anonymous = app.test_client().get(path)
        assert anonymous.status_code == 302 and "/login" in anonymous.location


def test_admin_lists_and_deletes_an_analysis_with_its_files(app, client, alice, astronaut_jpeg):
    upload(client, astronaut_jpeg, "astro.jpg")
    make_user(app, "root", admin=True)
    admin = app.test_client()
    login(admin, "root")
    listing = admin.get("/admin/admin_analyses/").get_data(as_text=True)
    assert "astro.jpg" in listing and "alice" in listing
    assert admin.get("/admin/admin_detections/").status_code == 200
    assert "alice" in admin.get("/admin/admin_analyses/?search=astro").get_data(as_text=True)
    with app.app_context():
        analysis_id = db.session.scalar(db.select(Analysis.id))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*csrf', listing)
    csrf = next(group for group in token.groups() if group)
    response = admin.post("/admin/admin_analyses/delete/", data={"id": analysis_id, "csrf_token": csrf,
                                                                 "url": "/admin/admin_analyses/"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Analysis, analysis_id) is None
    assert upload_files(app) == []


def test_admin_can_deactivate_a_user(app, client, alice):
    make_user(app, "root", admin=True)
    admin = app.test_client()
    login(admin, "root")
    page = admin.get("/admin/admin_users/").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    admin.post("/admin/admin_users/action/", data={"action": "deactivate", "rowid": str(alice), "csrf_token": csrf})
    with app.app_context():
        assert db.session.get(User, alice).active is False
    assert client.get("/analyze").status_code == 302


def test_create_admin_command(app):
    result = app.test_cli_runner().invoke(args=["users", "create-admin", "boss", "--password", "long password"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(db.select(User).filter_by(username="boss")).is_admin
