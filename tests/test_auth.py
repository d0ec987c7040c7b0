"""Accounts: register, log in (remember me), log out, CSRF, deactivation."""

from __future__ import annotations

import base64
import re

from bench.fixtures import csrf_token, login, make_app, make_user
from bench.server import free_port
from extensions import db
from models import User


def test_register_logs_in_and_hashes_the_password(app, client):
    token = csrf_token(client, "/register")
    response = client.post("/register", data={"username": "carol", "password": "s3cret-pass",
                                              "confirm": "s3cret-pass", "csrf_token": token})
    assert response.status_code == 302 and response.location.endswith("/analyze")
    assert client.get("/analyze").status_code == 200
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(username="carol"))
        assert user.password_hash != "s3cret-pass" and user.check_password("s3cret-pass")


def test_register_rejects_taken_name_short_password_and_mismatch(app, client):
    make_user(app, "carol")
    token = csrf_token(client, "/register")
    taken = client.post("/register", data={"username": "carol", "password": "long enough",
                                           "confirm": "long enough", "csrf_token": token})
    assert taken.status_code == 400 and "taken" in taken.get_data(as_text=True)
    short = client.post("/register", data={"username": "dave", "password": "short", "confirm": "short",
                                           "csrf_token": token})
    assert short.status_code == 400
    said = short.get_data(as_text=True)  # the app's words, in the place of the field's hint: one message
    assert re.search(r'aria-describedby="password-error"[^>]*>\s*'
                     r'<p class="field-error" id="password-error" role="alert">Use 8 to 128 characters.</p>\s*'
                     r'</div>', said)
    assert ">8 to 128 characters.<" not in said and "password-hint" not in said
    assert re.search(r'aria-describedby="password-hint"[^>]*>\s*<p class="hint" id="password-hint">8 to 128 '
                     r'characters.</p>', client.get("/register").get_data(as_text=True))  # the rule the error names
    assert re.search(r'aria-describedby="username-hint"[^>]*>\s*<p class="hint" id="username-hint">3 to 32 characters: '
                     r'letters, digits', client.get("/register").get_data(as_text=True))  # the rules, before an error
    korean = client.post("/register", data={"username": "dave", "password": "short", "confirm": "short",
                                            "csrf_token": token}, headers={"Accept-Language": "ko"})
    assert korean.status_code == 400 and "8자에서 128자 사이로 써 주세요." in korean.get_data(as_text=True)
    mismatch = client.post("/register", data={"username": "dave", "password": "long enough",
                                              "confirm": "different one", "csrf_token": token})
    assert "do not match" in mismatch.get_data(as_text=True)
    pasted = "p" * 129  # a password manager's long one: refused with the reason, not cut to 128 by the browser
    assert not re.search(r'<input[^>]*maxlength[^>]*name="(password|confirm)"|name="(password|confirm)"[^>]*maxlength',
                         client.get("/register").get_data(as_text=True))
    too_long = client.post("/register", data={"username": "dave", "password": pasted, "confirm": pasted,
                                              "csrf_token": token})
    assert too_long.status_code == 400 and "Use 8 to 128 characters." in too_long.get_data(as_text=True)


def test_login_wrong_password_and_logout(app, client):
    make_user(app, "erin")
    assert login(client, "erin", "wrong password").status_code == 401
    assert client.get("/analyze").status_code == 302  # still anonymous
    assert login(client, "erin").status_code == 302
    assert client.get("/analyze").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/analyze")})
    assert client.get("/analyze").status_code == 302


def test_remember_me_sets_a_persistent_cookie(app, client):
    make_user(app, "frank")
    response = login(client, "frank", remember=True)
    assert any(cookie.startswith("remember_token=") for cookie in response.headers.getlist("Set-Cookie"))


def test_forms_without_csrf_token_are_refused(app, client):
    make_user(app, "gina")
    response = client.post("/login", data={"username": "gina", "password": "correct horse"})
    assert response.status_code == 400
    assert client.get("/analyze").status_code == 302


def test_a_stale_form_says_so_in_plain_words_and_a_stale_login_form_logs_nobody_out(app, client, alice):
    refused = client.post("/subjects", data={"name": "Rex", "kind": "dog", "csrf_token": "stale"})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "This page was out of date" in page and "CSRF token" not in page
    # a log-in form left open in a second tab, sent once logged in: where a log-in would go
    again = client.post("/login", data={"username": "alice", "password": "correct horse", "csrf_token": "stale"})
    assert again.status_code == 302 and again.location.endswith("/analyze")


def test_login_ignores_offsite_next(app, client):
    make_user(app, "hank")
    token = csrf_token(client, "/login")
    response = client.post("/login?next=//evil.example/x",
                           data={"username": "hank", "password": "correct horse", "csrf_token": token})
    assert response.location.endswith("/analyze")


def test_deactivated_user_is_logged_out_at_once(app, client, alice):
    assert client.get("/analyze").status_code == 200
    with app.app_context():
        db.session.get(User, alice).active = False
        db.session.commit()
    assert client.get("/analyze").status_code == 302
    assert login(client, "alice").status_code == 401


def test_login_is_rate_limited_per_account_and_per_address(tmp_path):
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute")
    make_user(app, "target")
    attacker = app.test_client()
    statuses = [login(attacker, "target", f"guess {n}").status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    # the account stays locked from another address too, while other accounts are not
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert login(elsewhere, "target").status_code == 429
    make_user(app, "other")
    assert login(elsewhere, "other").status_code == 302


def test_the_log_in_form_and_the_token_exchange_share_one_limit_per_account(tmp_path):
    """Each route had its own counter, so an account took twice LOGIN_LIMITS guesses a minute."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute")
    make_user(app, "target")
    attacker = app.test_client()
    assert [login(attacker, "target", f"guess {n}").status_code for n in range(2)] == [401, 401]
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    basic = {"Authorization": "Basic " + base64.b64encode(b"target:guess").decode()}
    assert [elsewhere.post("/api/v1/tokens", headers=basic).status_code for _ in range(2)] == [401, 429]


def test_basic_credentials_werkzeug_cannot_decode_are_no_credentials(client):
    """base64 with characters outside ASCII made Werkzeug raise ValueError: a 500, before any log-in."""
    for header in ("Basic \u00e9", "Basic YTpi\u00ff"):
        response = client.post("/api/v1/tokens", headers={"Authorization": header})
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == 'Basic realm="moodlens"'


def test_two_registrations_of_one_name_at_once_give_one_account_and_a_message(app, client, monkeypatch):
    """The second passed the name check before the first committed, and its insert gave a 500."""
    make_user(app, "twin")
    monkeypatch.setattr(User, "named", staticmethod(lambda name: None))  # as checked a moment before
    form = {"username": "twin", "password": "correct horse", "confirm": "correct horse"}
    response = client.post("/register", data={**form, "csrf_token": csrf_token(client, "/register")})
    assert response.status_code == 400 and "That username is taken." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_logins_are_still_limited_while_the_counters_storage_is_away(tmp_path):
    """Redis down: every log-in and upload was a 500. Each process now counts in its memory until it is back."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute",
                   RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    make_user(app, "target")
    attacker = app.test_client()
    assert [login(attacker, "target", f"guess {n}").status_code for n in range(4)] == [401, 401, 401, 429]


def test_production_config_sends_secure_cookies_and_hsts(tmp_path):
    app = make_app(tmp_path, PRODUCTION=True)
    make_user(app, "pat")
    client = app.test_client()
    response = login(client, "pat", remember=True)
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and all("Secure" in cookie and "HttpOnly" in cookie for cookie in cookies)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_development_config_keeps_plain_http_cookies(app, client):
    make_user(app, "dev")
    response = login(client, "dev")
    assert "Secure" not in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers
