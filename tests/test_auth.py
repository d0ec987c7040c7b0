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


def test_login_is_rate_limited_per_address_and_a_guess_counts_against_no_one_else(tmp_path):
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute")
    make_user(app, "target")
    attacker = app.test_client()
    statuses = [login(attacker, "target", f"guess {n}").status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    refused = login(attacker, "target")  # the right password too: this address used up its attempts
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many log-in attempts" in refused.get_data(as_text=True)
    # another address logs in to the account the guesses were at, and guesses on its own count
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert login(elsewhere, "target", "typo").status_code == 401
    assert login(elsewhere, "target").status_code == 302


def test_wrong_passwords_from_other_addresses_never_lock_the_owner_out(tmp_path):
    """Every attempt counted against the account name, from anywhere: ten wrong passwords a minute kept its owner
    out for ever, the right password answered 429."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute")
    make_user(app, "carol")
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        attacker = app.test_client()
        attacker.environ_base["REMOTE_ADDR"] = address
        assert [login(attacker, "carol", f"guess {n}").status_code for n in range(4)] == [401, 401, 401, 429]
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert login(owner, "carol").status_code == 302
    password_change = {"current_password": "correct horse", "password": "new horse 2", "confirm": "new horse 2"}
    for address in ("10.0.0.4", "10.0.0.5"):  # more guesses, while the owner is logged in
        attacker = app.test_client()
        attacker.environ_base["REMOTE_ADDR"] = address
        assert [login(attacker, "carol", f"guess {n}").status_code for n in range(3)] == [401, 401, 401]
    changed = owner.post("/account/password", data={**password_change,
                                                      "csrf_token": csrf_token(owner, "/account/password")})
    assert changed.status_code == 302 and changed.location.endswith("/account")


def test_guesses_spread_over_many_addresses_get_one_a_minute_each_once_an_account_is_under_attack(tmp_path):
    """Past LOGIN_ACCOUNT_LIMITS wrong passwords for one account, an address that guessed wrong at it waits for the
    next window; an address that did not still has the right password checked."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute", LOGIN_ACCOUNT_LIMITS="4 per hour")
    make_user(app, "carol")

    def from_address(address: str):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client

    first, second = from_address("10.0.0.1"), from_address("10.0.0.2")
    assert [login(first, "carol", f"guess {n}").status_code for n in range(2)] == [401, 401]
    assert [login(second, "carol", f"guess {n}").status_code for n in range(2)] == [401, 401]  # 4: under attack
    for n in range(3, 6):
        bot = from_address(f"10.0.0.{n}")
        assert login(bot, "carol", "guess").status_code == 401
        refused = login(bot, "carol", "correct horse")  # its one guess a minute is spent, whatever it sends
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "Too many log-in attempts for this account" in refused.get_data(as_text=True)
    assert login(first, "carol", "guess 2").status_code == 429
    owner = from_address("10.9.8.7")  # the owner, from an address of their own: a right password costs nothing
    assert [login(owner, "carol").status_code, login(from_address("10.9.8.7"), "carol").status_code] == [302, 302]
    make_user(app, "other")  # other accounts are not under attack
    bot = from_address("10.0.0.3")
    assert [login(bot, "other", "typo").status_code, login(bot, "other").status_code] == [401, 302]


def test_a_wrong_current_password_counts_against_the_log_in_limits(tmp_path):
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute")
    make_user(app, "carol")
    owner = app.test_client()
    assert login(owner, "carol").status_code == 302
    token = csrf_token(owner, "/account/password")

    def change(current: str):
        return owner.post("/account/password", data={"current_password": current, "password": "new horse 2",
                                                     "confirm": "new horse 2", "csrf_token": token})

    assert [change("typo").status_code for _ in range(2)] == [400, 400]  # the log-in was the first attempt
    refused = change("correct horse")
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_the_log_in_form_and_the_token_exchange_share_one_limit(tmp_path):
    """Each route had its own counter, so an account took twice LOGIN_LIMITS guesses a minute."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute", LOGIN_ACCOUNT_LIMITS="3 per hour")
    make_user(app, "target")
    attacker = app.test_client()
    assert [login(attacker, "target", f"guess {n}").status_code for n in range(2)] == [401, 401]
    basic = {"Authorization": "Basic " + base64.b64encode(b"target:guess").decode()}
    assert [attacker.post("/api/v1/tokens", headers=basic).status_code for _ in range(2)] == [401, 429]
    elsewhere = app.test_client()  # the account's third wrong password: under attack, for the form too
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert [elsewhere.post("/api/v1/tokens", headers=basic).status_code, login(elsewhere, "target", "guess").status_code
            ] == [401, 429]


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
