"""Days, weeks and times of day on the user's own clock: the browser's time zone comes with the log-in and
registration forms, times are shown in it, and a Seoul morning is counted on its Monday, not on UTC's Sunday."""

from __future__ import annotations

from datetime import datetime

from extensions import db
from models import User
from services.insights import history_of
from tests.conftest import csrf_token, make_user
from tests.test_owner_pages import appearances, subject_of

SUNDAY_NIGHT_UTC = datetime(2026, 11, 29, 23, 30)  # Monday 30 November, 8:30 in Seoul


def log_in(client, username: str, time_zone: str):
    client.post("/logout", data={"csrf_token": csrf_token(client, "/about")})
    return client.post("/login", data={"username": username, "password": "correct horse", "time_zone": time_zone,
                                       "csrf_token": csrf_token(client, "/login")})


def zone_of_user(app, user_id: int) -> str | None:
    with app.app_context():
        return db.session.get(User, user_id).time_zone


def test_the_login_and_registration_forms_carry_the_browsers_time_zone(app, client):
    page = client.get("/login").get_data(as_text=True)
    assert 'name="time_zone"' in page and "time-zone.js" in page
    assert "time-zone.js" in client.get("/register").get_data(as_text=True)
    user_id = make_user(app, "mina")
    assert log_in(client, "mina", "Asia/Seoul").status_code == 302
    assert zone_of_user(app, user_id) == "Asia/Seoul"


def test_a_zone_this_machine_does_not_know_changes_nothing(app, client):
    user_id = make_user(app, "mina")
    assert log_in(client, "mina", "Asia/Seoul").status_code == 302
    assert log_in(client, "mina", "../../etc/passwd").status_code == 302
    assert zone_of_user(app, user_id) == "Asia/Seoul"


def test_registering_keeps_the_zone(app, client):
    response = client.post("/register", data={"username": "joon", "password": "correct horse",
                                              "confirm": "correct horse", "time_zone": "America/New_York",
                                              "csrf_token": csrf_token(client, "/register")})
    assert response.status_code == 302
    with app.app_context():
        assert User.named("joon").time_zone == "America/New_York"


def test_times_are_shown_and_counted_on_the_users_clock(app, client):
    user_id = make_user(app, "mina")
    rex = subject_of(app, user_id, "Rex", "dog")
    appearances(app, user_id, rex, "dog", "happy", 1, SUNDAY_NIGHT_UTC)
    log_in(client, "mina", "UTC")
    assert "November 29, 2026, 11:30 PM UTC" in client.get("/analyses").get_data(as_text=True)

    log_in(client, "mina", "Asia/Seoul")
    assert "November 30, 2026, 8:30 AM<" in client.get("/analyses").get_data(as_text=True)
    with app.app_context():
        moment = history_of(db.session.get(User, user_id).subjects[0]).times[0]
    assert moment == datetime(2026, 11, 30, 8, 30)  # Monday morning: the day, week and part of day users see
    answer = client.get(f"/api/v1/subjects/{rex}/insights?week=2026-W49").get_json()
    assert answer["time_zone"] == "Asia/Seoul"
