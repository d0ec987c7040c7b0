"""Accounts: register, log in (remember me), log out, CSRF, deactivation."""

from __future__ import annotations

import base64
import html
import io
import re
import unicodedata

import pytest
from itsdangerous import URLSafeSerializer

from bench.fixtures import csrf_token, login, make_app, make_user
from extensions import db, limiter
from models import Subject, User
from sqlalchemy.exc import OperationalError


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
    assert re.search(r'aria-describedby="username-hint"[^>]*>\s*<p class="hint" id="username-hint">2 to 32 characters: '
                     r'English or Korean letters, digits', client.get("/register").get_data(as_text=True))
    short_name = client.post("/register", data={"username": "a", "password": "long enough", "confirm": "long enough",
                                                "csrf_token": token}).get_data(as_text=True)
    assert "Use 2 to 32 characters: English or Korean letters, digits, dots, dashes and underscores." in short_name
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


def test_a_korean_reader_signs_up_with_a_hangul_name_and_logs_in_however_it_was_typed(app, client):
    """Hangul syllables are letters of a username (stored composed: the same name pasted as loose jamo, as a file
    name from a Mac can hold it, is the same account); another script's letters, which could pass for Latin ones
    ("аlice" with a Cyrillic a), are refused with the rule."""
    token = csrf_token(client, "/register")
    loose = unicodedata.normalize("NFD", "김민수")
    assert len(loose) == 8
    made = client.post("/register", data={"username": loose, "password": "long enough", "confirm": "long enough",
                                          "csrf_token": token})
    assert made.status_code == 302
    with app.app_context():
        assert User.named("김민수").username == "김민수"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/analyze")})
    assert login(client, "김민수", "long enough").status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/analyze")})
    assert login(client, loose, "long enough").status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/analyze")})
    cyrillic = client.post("/register", data={"username": "\u0430lice", "password": "long enough",
                                              "confirm": "long enough", "csrf_token": csrf_token(client, "/register")})
    assert cyrillic.status_code == 400
    said = cyrillic.get_data(as_text=True)
    assert "Use English or Korean letters, digits, dots, dashes and underscores only." in said


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


def test_a_log_in_without_remember_me_drops_a_remember_cookie_an_ended_session_left(app, client):
    """Carol was remembered in this browser; logging out elsewhere ended that session and left its cookie here. She
    logs in here without "Remember me", then changes her password: the browser must not remember her for a year
    (on a shared computer, the next person would be in her account)."""
    make_user(app, "carol")
    login(client, "carol", remember=True)
    assert client.get_cookie("remember_token") is not None
    elsewhere = app.test_client()
    login(elsewhere, "carol")
    elsewhere.post("/logout", data={"csrf_token": csrf_token(elsewhere, "/analyze")})
    assert client.get("/analyze").status_code == 302
    login(client, "carol")
    assert client.get_cookie("remember_token") is None
    form = {"current_password": "correct horse", "password": "new horse 2", "confirm": "new horse 2"}
    changed = client.post("/account/password", data={**form, "csrf_token": csrf_token(client, "/analyze")})
    assert changed.status_code == 302 and client.get_cookie("remember_token") is None


def test_logging_out_leaves_nothing_of_the_account_in_the_session_cookie(app, client, alice):
    """What the session kept (the user's id, a deleted subject's way back) is not left for the next person at a
    shared browser to decode."""
    token = csrf_token(client, "/subjects")
    client.post("/subjects", data={"name": "Rex", "kind": "dog", "csrf_token": token})
    with app.app_context():
        rex = db.session.scalars(db.select(Subject).filter_by(name="Rex")).one().id
    client.post(f"/subjects/{rex}/delete", data={"csrf_token": token})
    client.post("/logout", data={"csrf_token": csrf_token(client, "/analyze")})
    kept = app.session_interface.get_signing_serializer(app).loads(client.get_cookie("session").value)
    assert set(kept) <= {"_flashes", "csrf_token"}, kept  # the CSRF secret is no one's
    assert client.get("/analyze").status_code == 302


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


def basic_auth(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def from_address(app, address: str):
    """A browser of its own (no cookies yet) at `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_an_account_under_attack_refuses_every_browser_but_those_that_logged_in_to_it_before(tmp_path):
    """Past LOGIN_ACCOUNT_LIMITS wrong passwords at an account, a client without its device cookie is refused
    outright, the right password too (before, each address still had a guess a minute, so enough addresses had any
    number); the owner's browsers that proved the password before (a log-in, a token exchange) log in as usual."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute", LOGIN_ACCOUNT_LIMITS="4 per hour")
    make_user(app, "carol")
    laptop, script = from_address(app, "10.9.8.7"), from_address(app, "10.9.8.8")
    assert login(laptop, "carol").status_code == 302
    laptop.post("/logout", data={"csrf_token": csrf_token(laptop, "/analyze")})  # the device cookie outlives it
    assert script.post("/api/v1/tokens", headers=basic_auth("carol", "correct horse")).status_code == 201
    first, second = from_address(app, "10.0.0.1"), from_address(app, "10.0.0.2")
    assert [login(first, "carol", f"guess {n}").status_code for n in range(2)] == [401, 401]
    assert [login(second, "carol", f"guess {n}").status_code for n in range(2)] == [401, 401]  # 4: under attack
    for n in range(3, 6):
        refused = login(from_address(app, f"10.0.0.{n}"), "carol", "correct horse")  # the owner on a new browser
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "Too many log-in attempts for this account; try again later" in refused.get_data(as_text=True)
    korean = from_address(app, "10.0.0.6")
    korean.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ko"
    assert "전에 로그인한 적 있는 브라우저에서" in login(korean, "carol").get_data(as_text=True)
    assert [login(laptop, "carol", "typo").status_code, login(laptop, "carol").status_code] == [401, 302]
    assert login(script, "carol").status_code == 302
    make_user(app, "other")  # other accounts are not under attack
    bot = from_address(app, "10.0.0.3")
    assert [login(bot, "other", "typo").status_code, login(bot, "other").status_code] == [401, 302]


def test_an_account_s_name_with_invisible_characters_counts_against_that_account(tmp_path):
    """The log-in form drops zero-width spaces and soft hyphens from a name; the per-account limits read the name as
    sent, so "car\u200bol" had a count of its own: any number of guesses at carol, and her right password from a new
    address logged in while her account refused new browsers."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute", LOGIN_ACCOUNT_LIMITS="2 per hour")
    make_user(app, "carol")
    names = ["car\u200bol", "c\u00adarol\ufeff", "carol\u2060"]
    assert [login(from_address(app, f"10.0.1.{n}"), name, "guess").status_code for n, name in enumerate(names)] \
        == [401, 401, 429]
    assert login(from_address(app, "10.0.1.9"), "carol\u200b").status_code == 429  # under attack: a new browser


def hidden_fields(form: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', form)}


def carol_and_her_admin(tmp_path):
    """An app whose accounts refuse new browsers past 2 wrong passwords an hour, carol's account, an administrator
    logged in, and carol's edit page in the back office."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute", LOGIN_ACCOUNT_LIMITS="2 per hour")
    carol = make_user(app, "carol")
    make_user(app, "root", admin=True)
    admin = from_address(app, "10.9.9.9")
    assert login(admin, "root").status_code == 302
    return app, carol, admin, f"/admin/admin_users/edit/?id={carol}"


def test_an_administrator_sees_until_when_an_account_refuses_new_browsers_and_can_lift_it(tmp_path):
    """An account under attack had no way out but waiting, up to an hour: its owner on a new phone was refused, and
    the back office did not show it. The account's page says until when, and its button lets every browser in."""
    app, carol, admin, edit = carol_and_her_admin(tmp_path)
    assert "Let new browsers log in" not in admin.get(edit).get_data(as_text=True)
    assert [login(from_address(app, f"10.0.0.{n}"), "carol", "guess").status_code for n in range(2)] == [401, 401]
    phone = from_address(app, "10.0.1.1")
    assert login(phone, "carol").status_code == 429
    page = html.unescape(admin.get(edit).get_data(as_text=True))
    assert re.search(r"Too many wrong passwords: until \w+ \d+, \d{4}, \d+:\d\d [AP]M UTC, this account refuses "
                     r"every log-in from a browser or script that has not logged in to it before", page)
    form = re.search(r'<form method="POST" action="(/admin/admin_users/action/)".*?</form>', page, re.S)
    lifted = admin.post(form.group(1), data=hidden_fields(form.group(0)))
    assert lifted.status_code == 302 and lifted.location.endswith(edit)
    page = html.unescape(admin.get(edit).get_data(as_text=True))
    assert "carol can log in from any browser again." in page and "Too many wrong passwords" not in page
    assert login(phone, "carol").status_code == 302
    again = admin.post(form.group(1), data=hidden_fields(form.group(0)) | {"url": "/admin/admin_users/"})
    assert "None of the chosen accounts was refusing new browsers." in admin.get(again.location).get_data(as_text=True)
    assert [login(from_address(app, f"10.0.2.{n}"), "carol", "guess").status_code for n in range(2)] == [401, 401]
    limiter._storage_dead = True  # as after a storage error elsewhere: Flask-Limiter counts in memory meanwhile
    try:
        assert "Too many wrong passwords" in admin.get(edit).get_data(as_text=True)  # read from the storage itself
        admin.post(form.group(1), data=hidden_fields(form.group(0)))
    finally:
        limiter._storage_dead = False
    assert login(from_address(app, "10.0.3.1"), "carol").status_code == 302  # the storage's counter was cleared


def test_lifting_a_refusal_is_refused_in_words_while_the_counters_cannot_be_read_and_is_moot_without_limits(
        tmp_path, monkeypatch):
    from web import limiter_storage

    app, carol, admin, edit = carol_and_her_admin(tmp_path)
    fields = {"action": "lift_login_refusal", "rowid": str(carol), "url": edit,
              "csrf_token": csrf_token(admin, "/admin/admin_users/")}

    def unreachable(self, key: str) -> int:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(limiter_storage.DatabaseStorage, "get", unreachable)
    assert admin.get(edit).status_code == 200
    lifted = admin.post("/admin/admin_users/action/", data=fields, follow_redirects=True)
    assert "The log-in counters cannot be reached just now" in lifted.get_data(as_text=True)
    monkeypatch.undo()
    off = make_app(tmp_path / "off")
    make_user(off, "root", admin=True)
    other_admin = off.test_client()
    login(other_admin, "root")
    moot = other_admin.post("/admin/admin_users/action/", follow_redirects=True, data=fields | {
        "rowid": "1", "url": "/admin/admin_users/", "csrf_token": csrf_token(other_admin, "/admin/admin_users/")})
    assert moot.status_code == 200 and "None of the chosen accounts was refusing" in moot.get_data(as_text=True)


def test_guesses_from_a_hundred_addresses_at_an_account_under_attack_are_all_refused(tmp_path, monkeypatch):
    """Once an account was under attack, each address still had its password checked once a minute: a hundred
    addresses, a hundred guesses. Now none of them is checked."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute", LOGIN_ACCOUNT_LIMITS="5 per hour")
    make_user(app, "carol")
    assert [login(from_address(app, f"10.0.0.{n}"), "carol", "guess").status_code for n in range(5)] == [401] * 5
    checked = []
    monkeypatch.setattr(User, "check_password", lambda user, password: checked.append(password) or False)
    addresses = [f"198.51.100.{n}" for n in range(50)] + [f"2001:db8:{n:x}::1" for n in range(50)]
    statuses = {login(from_address(app, address), "carol", f"guess at {address}").status_code for address in addresses}
    assert statuses == {429} and checked == []


def test_ipv6_addresses_of_one_64_share_one_allowance(tmp_path):
    """Keyed by the whole address, every address of one /64 (2^64 of them, all one client's) had LOGIN_LIMITS of
    its own. An IPv4 client seen through a dual-stack socket (::ffff:a.b.c.d) or 6to4 is its IPv4 address."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute")
    statuses = [login(from_address(app, f"2001:db8::{n:x}"), f"name{n}", "guess").status_code for n in range(1, 6)]
    assert statuses == [401, 401, 401, 429, 429]
    assert "Too many log-in attempts; wait a minute." in login(from_address(app, "2001:db8::ffff:1"), "x", "y"
                                                               ).get_data(as_text=True)
    assert login(from_address(app, "2001:db8:0:1::1"), "name9", "guess").status_code == 401  # another /64
    assert [login(from_address(app, address), f"name{n}", "guess").status_code
            for n, address in enumerate(["10.0.0.1", "::ffff:10.0.0.1", "10.0.0.1", "::ffff:10.0.0.1"])
            ] == [401, 401, 401, 429]
    sixtofour = [login(from_address(app, f"2002:c000:201:{n:x}::1"), f"six{n}", "guess").status_code for n in range(4)]
    assert sixtofour == [401, 401, 401, 429]  # 6to4: 192.0.2.1's /48 (65,536 /64s) is that one address


def test_a_renamed_account_has_one_limit_under_both_names(tmp_path):
    """A log-in takes an account's name from before an administrator renamed it (it is told the new one), and the
    limits counted the two names apart: twice the guesses."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute", LOGIN_ACCOUNT_LIMITS="3 per hour")
    user_id = make_user(app, "olivia")
    with app.app_context():
        db.session.get(User, user_id).username = "olive"
        db.session.commit()
    assert [login(from_address(app, "10.0.0.1"), "olivia", "guess").status_code,
            login(from_address(app, "10.0.0.2"), "OLIVIA", "guess").status_code,
            login(from_address(app, "10.0.0.3"), "olive", "guess").status_code] == [401, 401, 401]
    assert [login(from_address(app, "10.0.0.4"), "olive", "guess").status_code,
            login(from_address(app, "10.0.0.5"), "olivia", "guess").status_code] == [429, 429]


def test_the_device_cookie_names_nothing_outlives_the_session_and_cannot_be_forged(tmp_path):
    """What the browser keeps to be known while its account is under attack: signed, HttpOnly, SameSite=Lax, no
    name or id in it; one made up or altered is no cookie."""
    other_server = make_app(tmp_path / "other", SECRET_KEY="another key")  # first: the limiter is the last app's
    make_user(other_server, "carol")
    elsewhere = other_server.test_client()
    login(elsewhere, "carol")
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute", LOGIN_ACCOUNT_LIMITS="1 per hour",
                   SECRET_KEY="device-cookie-test")
    user_id = make_user(app, "carol")
    browser = app.test_client()
    response = login(browser, "carol")
    device = next(cookie for cookie in response.headers.getlist("Set-Cookie") if cookie.startswith("moodlens_device="))
    assert "HttpOnly" in device and "SameSite=Lax" in device and "Max-Age=" in device
    value = browser.get_cookie("moodlens_device").value
    said = URLSafeSerializer("no key needed to read it").load_payload(value.rsplit(".", 2)[0].encode())
    assert set(said) == {"device", "accounts"} and len(said["accounts"]) == 1
    assert "carol" not in value + str(said) and str(user_id) not in said["accounts"]
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/analyze")})
    assert browser.get_cookie("moodlens_device").value == value
    assert login(from_address(app, "10.0.0.1"), "carol", "guess").status_code == 401  # under attack
    forged = from_address(app, "10.0.0.2")
    forged.set_cookie("moodlens_device", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert login(forged, "carol").status_code == 429
    forged.set_cookie("moodlens_device", elsewhere.get_cookie("moodlens_device").value)
    assert login(forged, "carol").status_code == 429
    assert login(browser, "carol").status_code == 302
    make_user(app, "dave")  # a second account on this browser: first, the other kept, one device
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/analyze")})
    assert login(browser, "dave").status_code == 302
    now = URLSafeSerializer("").load_payload(browser.get_cookie("moodlens_device").value.rsplit(".", 2)[0].encode())
    assert now["device"] == said["device"] and now["accounts"][1:] == said["accounts"] != now["accounts"][:1]


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
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute", LOGIN_ACCOUNT_LIMITS="4 per hour")
    make_user(app, "target")
    attacker = app.test_client()
    assert [login(attacker, "target", f"guess {n}").status_code for n in range(2)] == [401, 401]
    basic = basic_auth("target", "guess")
    assert [attacker.post("/api/v1/tokens", headers=basic).status_code for _ in range(2)] == [401, 429]
    elsewhere = app.test_client()  # the account's fourth wrong password: under attack, for the form too
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert [elsewhere.post("/api/v1/tokens", headers=basic).status_code, login(elsewhere, "target", "guess").status_code
            ] == [401, 429]


def test_a_name_no_account_can_have_is_a_wrong_name(app, client):
    """A NUL character in the name (which PostgreSQL refuses in a query) made the log-in a 500; a name longer than
    any account's is looked up nowhere."""
    make_user(app, "carol")
    for name in ("carol\x00", "c" * 5000):
        assert login(client, name).status_code in (400, 401)
        assert client.post("/api/v1/tokens", headers=basic_auth(name, "correct horse")).status_code == 401


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


def test_logins_are_still_limited_while_the_counters_storage_is_away(tmp_path, refused_port):
    """Redis down: every log-in and upload was a 500. Each process now counts in its memory until it is back."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute",
                   RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{refused_port}/0")
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


@pytest.mark.parametrize("key", ["...", "changeme", "x" * 15])
def test_production_refuses_to_start_with_a_secret_key_anyone_could_guess(tmp_path, key):
    """deploy.md's `export SECRET_KEY=...`, copied as it stands, signed every session with three dots: anyone could
    forge a cookie for any account."""
    with pytest.raises(RuntimeError, match=r"SECRET_KEY is \d+ characters long; with PRODUCTION it must be at least"):
        make_app(tmp_path, PRODUCTION=True, SECRET_KEY=key)
    assert make_app(tmp_path / "dev", SECRET_KEY=key).config["SECRET_KEY"] == key  # a developer's choice
    assert len(make_app(tmp_path / "made", PRODUCTION=True, SECRET_KEY="").config["SECRET_KEY"]) == 64  # generated
    strong = bytes(range(16))  # os.urandom(16), Flask's own advice: 16 bytes
    assert make_app(tmp_path / "bytes", PRODUCTION=True, SECRET_KEY=strong).config["SECRET_KEY"] == strong


def test_development_config_keeps_plain_http_cookies(app, client):
    make_user(app, "dev")
    response = login(client, "dev")
    assert "Secure" not in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers


def change_password(client, old: str, new: str):
    return client.post("/account/password", data={"current_password": old, "password": new, "confirm": new,
                                                  "csrf_token": csrf_token(client, "/account/password")})


def under_attack() -> str:
    """LOGIN_ACCOUNT_LIMITS that refuse every attempt from a client without the account's device cookie, as past the
    cap: whatever was counted before (in a long test run the limiter, one per process, may have switched to its
    in-memory counters and back meanwhile, losing some)."""
    return "0 per hour"


def test_a_new_password_voids_the_device_cookies_made_with_the_old_one(tmp_path):
    """The cookie's mark was a digest of the account's id alone: browsers that once logged in with a password that
    was since changed (a phished one, an ex-partner's) kept their own allowance of guesses at the new one while the
    account was under attack (20 such cookies: 200 checked passwords a minute against a cap of 50 an hour)."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute", LOGIN_ACCOUNT_LIMITS="2 per hour")
    make_user(app, "carol")
    thief, owner = from_address(app, "10.0.0.1"), from_address(app, "10.9.8.7")
    assert login(thief, "carol").status_code == 302 and login(owner, "carol").status_code == 302
    assert change_password(owner, "correct horse", "new horse 22").status_code == 302  # the thief's session ends
    app.config["LOGIN_ACCOUNT_LIMITS"] = under_attack()
    assert login(from_address(app, "10.0.1.1"), "carol", "new horse 22").status_code == 429  # a stranger
    assert login(thief, "carol", "guess").status_code == 429  # its cookie vouches for nothing now
    owner.post("/logout", data={"csrf_token": csrf_token(owner, "/analyze")})
    assert login(owner, "carol", "new horse 22").status_code == 302  # the browser that changed it still does


def test_the_browser_an_account_was_registered_with_is_known_under_attack_a_copied_session_is_not(tmp_path):
    """Registering gave no device cookie: under attack, the newcomer could not log back in from the browser they
    registered with. A session's cookie alone (copied by a thief) is no device cookie: under attack it gets no guess
    at the password change, while the owner's browser changes the password as usual."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute", LOGIN_ACCOUNT_LIMITS="2 per hour")
    newcomer = from_address(app, "10.9.8.7")
    registered = newcomer.post("/register", data={"username": "nina", "password": "correct horse",
                                                  "confirm": "correct horse",
                                                  "csrf_token": csrf_token(newcomer, "/register")})
    assert registered.status_code == 302 and newcomer.get_cookie("moodlens_device") is not None
    make_user(app, "carol")
    owner, thief = from_address(app, "10.9.8.8"), from_address(app, "10.0.9.9")
    assert login(owner, "carol").status_code == 302
    thief.set_cookie("session", owner.get_cookie("session").value)
    app.config["LOGIN_ACCOUNT_LIMITS"] = under_attack()
    assert login(from_address(app, "10.0.1.1"), "nina", "correct horse").status_code == 429  # a stranger
    assert change_password(thief, "guess", "new horse 33").status_code == 429
    assert change_password(owner, "correct horse", "new horse 22").status_code == 302
    newcomer.post("/logout", data={"csrf_token": csrf_token(newcomer, "/analyze")})
    assert login(newcomer, "nina").status_code == 302


def test_a_file_sent_as_a_text_field_is_a_400_not_a_500(app, client):
    """Flask-WTF merged uploaded files into every form's data, and a length check of a file raised a 500."""
    make_user(app, "carol")
    for path, fields in (("/login", {"username": "carol", "password": (io.BytesIO(b"not a password"), "p.txt")}),
                         ("/register", {"username": (io.BytesIO(b"not a name"), "name.txt"),
                                        "password": "correct horse", "confirm": "correct horse"})):
        response = client.post(path, data={**fields, "csrf_token": csrf_token(client, path)},
                               content_type="multipart/form-data")
        assert response.status_code in (400, 401), (path, response.status_code)
    assert login(client, "carol").status_code == 302
    changed = client.post("/account/password", data={"current_password": (io.BytesIO(b"x"), "p.txt"),
                                                     "password": "new horse 22", "confirm": "new horse 22",
                                                     "csrf_token": csrf_token(client, "/account/password")},
                          content_type="multipart/form-data")
    assert changed.status_code == 400


def test_an_unknown_name_is_counted_by_a_short_digest(tmp_path):
    """The limiter's keys held the name as typed, before the form checked it: 30 log-ins with 500 KB names put
    32 MB in Redis (the in-memory fallback likewise), for an hour."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_LIMITS="30 per minute", RATELIMIT_STORAGE_URI="memory://")
    assert login(from_address(app, "10.0.0.1"), "x" * 400_000, "guess").status_code == 400
    keys = list(limiter.limiter.storage.storage)  # the memory storage's counters
    assert keys and max(len(key) for key in keys) < 200
