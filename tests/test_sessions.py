"""Accounts and sessions: revocable sessions, login limits keyed on the checked credentials and shared by
every process, no username discovery by timing, case-insensitive usernames, password change and reset."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from bench.fixtures import csrf_token, login, make_app, make_user
import models
from extensions import db
from models import RateLimitCounter, User
from bench import ROOT
from tests.test_api import basic

SESSION_COOKIES = ("session", "remember_token")
BEFORE_SESSION_TOKENS = "5e6f7a8b9c0d"  # the migration before user.session_token


def cookies_of(client) -> dict[str, str]:
    return {name: client.get_cookie(name).value for name in SESSION_COOKIES if client.get_cookie(name)}


def client_with(app, cookies: dict[str, str]):
    """A new browser holding copies of these cookies (a stolen or kept cookie)."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def logged_in(client) -> bool:
    return client.get("/analyze").status_code == 200


def logout(client) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client, "/analyze")})


def admin_client(app):
    make_user(app, "root", admin=True)
    admin = app.test_client()
    assert login(admin, "root").status_code == 302
    return admin


def admin_csrf(admin, path: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', admin.get(path).get_data(as_text=True)).group(1)


def change_password(client, current: str, new: str, confirm: str | None = None):
    return client.post("/account/password", data={
        "current_password": current, "password": new, "confirm": confirm or new,
        "csrf_token": csrf_token(client, "/account/password")})


# --- revocable sessions ---

def test_logout_ends_the_session_cookie_and_the_remember_me_cookie(app, client):
    make_user(app, "alice")
    login(client, "alice", remember=True)
    kept = cookies_of(client)
    assert set(kept) == set(SESSION_COOKIES)
    assert logged_in(client_with(app, {"remember_token": kept["remember_token"]}))  # as after a browser restart
    logout(client)
    assert not logged_in(client_with(app, kept))
    assert not logged_in(client_with(app, {"remember_token": kept["remember_token"]}))


def test_each_login_issues_a_new_remember_me_cookie(app, client):
    make_user(app, "alice")
    login(client, "alice", remember=True)
    first = cookies_of(client)["remember_token"]
    logout(client)
    login(client, "alice", remember=True)
    assert cookies_of(client)["remember_token"] != first


def test_login_starts_a_fresh_session(app, client):
    make_user(app, "alice")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    login(client, "alice")
    with client.session_transaction() as session:
        assert "planted" not in session and session["_user_id"]


def test_deactivation_by_admin_action_revokes_sessions_for_good(app, client):
    user_id = make_user(app, "alice")
    login(client, "alice", remember=True)
    kept = cookies_of(client)
    admin = admin_client(app)
    for action in ("deactivate", "activate"):
        admin.post("/admin/admin_users/action/", data={
            "action": action, "rowid": str(user_id), "csrf_token": admin_csrf(admin, "/admin/admin_users/")})
    with app.app_context():
        assert db.session.get(User, user_id).active
    assert not logged_in(client_with(app, kept))  # reactivated, yet the old cookies stay dead
    assert login(app.test_client(), "alice").status_code == 302


def test_deactivation_in_the_admin_edit_form_revokes_sessions(app, client):
    user_id = make_user(app, "alice")
    login(client, "alice", remember=True)
    kept = cookies_of(client)
    admin = admin_client(app)
    edit = f"/admin/admin_users/edit/?id={user_id}"
    for active in ({}, {"active": "y"}):  # unchecked, then checked again
        response = admin.post(edit, data={"username": "alice", "csrf_token": admin_csrf(admin, edit), **active})
        assert response.status_code == 302
    with app.app_context():
        assert db.session.get(User, user_id).active
    assert not logged_in(client_with(app, kept))


def test_a_deactivated_users_next_page_says_why_the_session_ended(app, client):
    user_id = make_user(app, "alice")
    login(client, "alice")
    admin = admin_client(app)
    admin.post("/admin/admin_users/action/", data={
        "action": "deactivate", "rowid": str(user_id), "csrf_token": admin_csrf(admin, "/admin/admin_users/")})
    page = client.get("/analyses", follow_redirects=True).get_data(as_text=True)
    assert ("This account has been deactivated: it cannot log in, and its uploads and results are kept as they were. "
            "To ask about it, contact whoever runs this Moodlens server.") in page and "Please log in" not in page
    later = client.get("/analyses", follow_redirects=True).get_data(as_text=True)
    assert "deactivated" not in later  # told once; a stranger's session (no account) is told to log in
    assert "Please log in" in later


def test_opening_the_log_out_address_asks_first(app, client):
    make_user(app, "alice")
    login(client, "alice")
    page = client.get("/logout").get_data(as_text=True)
    assert "Log out?" in page and "You are logged in as alice." in page and "Stay logged in" in page
    assert logged_in(client)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not logged_in(client)


# --- password change and reset ---

def test_password_change_needs_the_current_password_and_ends_other_sessions(app, client):
    make_user(app, "alice")
    login(client, "alice", remember=True)
    other_browser = app.test_client()
    login(other_browser, "alice")
    kept = cookies_of(client)
    assert 'href="/account/password"' in client.get("/account").get_data(as_text=True)  # from the account page

    wrong = change_password(client, "not my password", "brand new password")
    assert wrong.status_code == 400 and "not your current password" in wrong.get_data(as_text=True)
    assert change_password(client, "correct horse", "short").status_code == 400
    assert change_password(client, "correct horse", "brand new password", "other").status_code == 400
    assert logged_in(other_browser)

    same = change_password(client, "correct horse", "correct horse")
    assert same.status_code == 400 and "That is your current password; choose a new one." in same.get_data(
        as_text=True) and ">New password</label>" in same.get_data(as_text=True)
    token = client.post("/api/v1/tokens", headers=basic("alice", "correct horse")).get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/subjects", headers=bearer).status_code == 200

    response = change_password(client, "correct horse", "brand new password")
    assert response.status_code == 302 and response.location == "/account"  # back where the user started
    assert client.get("/api/v1/subjects", headers=bearer).status_code == 401  # a leaked password's tokens end too
    assert logged_in(client)  # this session goes on, and stays remembered with a new cookie
    assert logged_in(client_with(app, {"remember_token": cookies_of(client)["remember_token"]}))
    assert not logged_in(other_browser) and not logged_in(client_with(app, kept))
    told = other_browser.get("/analyses", follow_redirects=True).get_data(as_text=True)
    assert "Your session here was ended: you logged out in another browser, or your password was changed" in told
    assert login(app.test_client(), "alice").status_code == 401
    assert login(app.test_client(), "alice", "brand new password").status_code == 302


def test_password_change_is_for_logged_in_users_only(client):
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.location


@pytest.mark.parametrize("admin", [False, True])
def test_reset_password_command_keeps_the_role_and_ends_sessions(app, client, admin):
    make_user(app, "alice", admin=admin)
    login(client, "alice")
    assert client.post("/api/v1/tokens", headers=basic("alice")).status_code == 201
    result = app.test_cli_runner().invoke(args=["users", "reset-password", "Alice", "--password", "reset password"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = User.named("alice")
        assert user.is_admin is admin and user.check_password("reset password")
        assert user.tokens and all(token.revoked for token in user.tokens)
    assert not logged_in(client)
    assert "stays deactivated" not in result.output


def test_reset_password_command_says_a_deactivated_account_stays_so(app):
    """The administrator told the owner to log in with the new password, and the log-in was refused."""
    make_user(app, "alice")
    with app.app_context():
        User.named("alice").active = False
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["users", "reset-password", "alice", "--password", "reset password"])
    assert result.exit_code == 0 and "alice's account stays deactivated: they cannot log in until" in result.output


def test_reset_password_command_refuses_unknown_users_and_short_passwords(app):
    make_user(app, "alice")
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["users", "reset-password", "nobody", "--password", "long enough"])
    assert unknown.exit_code != 0 and "no user" in unknown.output
    short = runner.invoke(args=["users", "reset-password", "alice", "--password", "short"])
    assert short.exit_code != 0 and "A password has 8 to 128 characters." in short.output
    with app.app_context():
        assert User.named("alice").check_password("correct horse")
        User.named("alice").username = "alicia"
        db.session.commit()
    renamed = runner.invoke(args=["users", "reset-password", "Alice", "--password", "long enough"])
    assert renamed.exit_code != 0 and "an administrator renamed 'alice' to 'alicia'." in renamed.output


# --- usernames ---

def test_usernames_are_unique_case_insensitively(app, client):
    make_user(app, "alice")
    response = client.post("/register", data={"username": "Alice", "password": "long enough",
                                              "confirm": "long enough", "csrf_token": csrf_token(client, "/register")})
    assert response.status_code == 400 and "taken" in response.get_data(as_text=True)
    assert login(client, "ALICE").status_code == 302
    assert client.post("/api/v1/tokens", headers=basic("aLiCe")).status_code == 201
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_create_admin_finds_an_existing_user_whatever_the_case(app):
    make_user(app, "boss")
    result = app.test_cli_runner().invoke(args=["users", "create-admin", "BOSS", "--password", "long password"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert [(u.username, u.is_admin) for u in db.session.scalars(db.select(User))] == [("boss", True)]


def test_unknown_usernames_cost_a_password_hash_check(app, client, monkeypatch):
    make_user(app, "alice")
    checks = []
    real_check = models.check_password_hash
    monkeypatch.setattr(models, "check_password_hash", lambda *args: checks.append(args) or real_check(*args))
    for name in ("alice", "nobody"):
        assert login(client, name, "wrong password").status_code == 401
        assert client.post("/api/v1/tokens", headers=basic(name, "wrong password")).status_code == 401
    assert len(checks) == 4
    assert checks[2][0].split("$")[0] == checks[0][0].split("$")[0]  # same method and cost as a real hash


def test_migration_lowercases_usernames_and_renames_later_case_variants(app):
    names = ["Alice", "bob", "alice", "ALICE", "alice-3", "Carol"]
    users = sa.table("user", sa.column("id"), sa.column("username"), sa.column("password_hash"),
                     sa.column("is_admin"), sa.column("active"), sa.column("created_at"))
    with app.app_context():  # back to before this change, with the names it allowed
        downgrade(directory=str(ROOT / "migrations"), revision=BEFORE_SESSION_TOKENS)
        db.session.execute(users.insert(), [
            {"id": n, "username": name, "password_hash": "x", "is_admin": False, "active": True,
             "created_at": models.utcnow()} for n, name in enumerate(names, start=1)])
        db.session.commit()
        upgrade(directory=str(ROOT / "migrations"))
        rows = db.session.execute(db.select(User.username, User.session_token).order_by(User.id)).all()
    # the oldest of each case variant keeps the name; "alice-3" existed, so user 3 becomes "alice-3-2"
    assert [name for name, _ in rows] == ["alice", "bob", "alice-3-2", "alice-4", "alice-3", "carol"]
    assert len({token for _, token in rows}) == len(rows) and all(len(token) >= 40 for _, token in rows)


# --- login limits ---

@pytest.fixture()
def limited_app(app, tmp_path):
    """The `app` database (PostgreSQL in tests/integration) behind an app with login limits of 3 a minute."""
    return make_app(tmp_path / "limited", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                    RATELIMIT_ENABLED=True, LOGIN_LIMITS="3 per minute")


def test_token_endpoint_limits_the_account_of_the_basic_credentials_not_a_decoy_field(limited_app):
    limited_app.config["LOGIN_ACCOUNT_LIMITS"] = "3 per hour"
    make_user(limited_app, "target")
    client, owners_script = limited_app.test_client(), limited_app.test_client()
    assert owners_script.post("/api/v1/tokens", headers=basic("target")).status_code == 201  # its device cookie

    def guess(n: int, password: str, address: int):  # each with another decoy name
        return client.post("/api/v1/tokens", headers=basic("target", password), data={"username": f"decoy{n}"},
                           environ_base={"REMOTE_ADDR": f"10.0.0.{address}"}).status_code

    assert [guess(n, f"guess {n}", n) for n in range(3)] == [401, 401, 401]  # from three addresses: under attack
    assert [guess(3, "guess 3", 3), guess(9, "correct horse", 9)] == [429, 429]  # without the device cookie
    assert owners_script.post("/api/v1/tokens", headers=basic("target")).status_code == 201
    make_user(limited_app, "other")
    assert client.post("/api/v1/tokens", headers=basic("other"), environ_base={"REMOTE_ADDR": "10.0.0.3"}
                       ).status_code == 201


def test_one_address_makes_a_few_accounts_an_hour(tmp_path):
    """Each account has its own upload limits and analysis slot: 60 accounts in 6 s multiplied them."""
    limited = make_app(tmp_path / "register", RATELIMIT_ENABLED=True, REGISTER_LIMITS="2 per hour")

    def register(name: str, address: str = "10.0.0.1"):  # each from a browser of its own
        client = limited.test_client()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/register").get_data(as_text=True))
        return client.post("/register", environ_base={"REMOTE_ADDR": address}, data={
            "username": name, "password": "correct horse", "confirm": "correct horse", "csrf_token": token.group(1)})

    assert [register(name).status_code for name in ("ann", "ben")] == [302, 302]
    refused = register("cat")
    assert refused.status_code == 429 and "Too many new accounts from this address" in refused.get_data(as_text=True)
    assert register("dan", "10.0.0.2").status_code == 302  # another address
    assert [register(name, f"2001:db8::{n}").status_code for n, name in enumerate(("eve", "fay", "gus"))] == \
        [302, 302, 429]  # the addresses of one IPv6 /64 are one client
    assert register("hal", "2001:db8:0:1::1").status_code == 302  # another /64


def test_sign_up_forms_sent_back_to_correct_make_no_account_and_are_limited_apart(tmp_path):
    """Five forms with a mistake (a name taken, passwords that differ) refused a sixth, right one as "Too many new
    accounts" while one had been made: only accounts made count against REGISTER_LIMITS; every form sent counts
    against REGISTER_ATTEMPT_LIMITS, so that guessing taken names stays slow."""
    limited = make_app(tmp_path / "register", RATELIMIT_ENABLED=True, REGISTER_LIMITS="2 per hour",
                       REGISTER_ATTEMPT_LIMITS="8 per hour")

    def register(name: str, confirm: str = "correct horse") -> int:  # each from a browser of its own, one address
        client = limited.test_client()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/register").get_data(as_text=True))
        return client.post("/register", data={"username": name, "password": "correct horse", "confirm": confirm,
                                              "csrf_token": token.group(1)}).status_code

    make_user(limited, "taken")
    assert [register("taken"), register("new", "correct hose"), register("taken"), register("new")] == \
        [400, 400, 400, 302]
    assert [register("taken"), register("other")] == [400, 302]
    assert register("third") == 429  # the accounts made
    assert [register("taken"), register("taken")] == [429, 429]


def test_a_sign_up_refused_by_the_forms_limit_gives_its_count_of_accounts_back(tmp_path):
    """Refused before the view by REGISTER_ATTEMPT_LIMITS, a form had been counted against REGISTER_LIMITS first
    and kept that count: an account fewer for the address."""
    limited = make_app(tmp_path / "register", RATELIMIT_ENABLED=True, REGISTER_LIMITS="5 per hour",
                       REGISTER_ATTEMPT_LIMITS="3 per hour")
    make_user(limited, "taken")
    client = limited.test_client()
    token = csrf_token(client, "/register")
    sent = [client.post("/register", data={"username": "taken", "password": "correct horse",
                                           "confirm": "correct horse", "csrf_token": token}).status_code
            for _ in range(4)]
    assert sent == [400, 400, 400, 429]
    with limited.app_context():
        counts = sorted(db.session.scalars(db.select(RateLimitCounter.count)).all())
    assert counts == [0, 4]  # no account made; four forms sent


def test_sign_ups_sent_at_once_make_no_more_accounts_than_the_limit(tmp_path):
    """Counted only after an account was made, six sent at once all passed the check while the first were still
    hashing their passwords: six accounts against a limit of two."""
    limited = make_app(tmp_path / "register", RATELIMIT_ENABLED=True, REGISTER_LIMITS="2 per hour")
    browsers = [limited.test_client() for _ in range(6)]
    tokens = [re.search(r'name="csrf_token"[^>]*value="([^"]+)"', browser.get("/register").get_data(as_text=True))[1]
              for browser in browsers]
    together, answers = threading.Barrier(len(browsers)), {}

    def sign_up(index: int) -> None:
        together.wait()
        answers[index] = browsers[index].post("/register", data={
            "username": f"burst{index}", "password": "correct horse", "confirm": "correct horse",
            "csrf_token": tokens[index]}).status_code

    threads = [threading.Thread(target=sign_up, args=(index,)) for index in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers.values()) == [302, 302, 429, 429, 429, 429]
    with limited.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 2


def test_a_count_given_back_after_its_window_ended_opens_no_window_below_zero(tmp_path, monkeypatch):
    """In any storage (here the in-memory one, as Redis's): a sign-up that made no account, answered after the
    window it was counted in had ended, gave its count back to a new window, at -1: one more account than the limit."""
    from services import accounts
    limited = make_app(tmp_path / "register", RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://",
                       REGISTER_LIMITS="1 per 3 seconds", REGISTER_ATTEMPT_LIMITS="100 per hour")
    register, slow = accounts.register, threading.Event()

    def slow_taken(*args, **kwargs):  # "taken", answered once the window is over
        if slow.is_set():
            time.sleep(3.2)
            return None
        return register(*args, **kwargs)

    monkeypatch.setattr(accounts, "register", slow_taken)

    def sign_up(name: str) -> int:
        client = limited.test_client()
        return client.post("/register", data={"username": name, "password": "correct horse",
                                              "confirm": "correct horse", "csrf_token": csrf_token(client, "/register")}
                           ).status_code

    slow.set()
    assert sign_up("late") == 400
    slow.clear()
    assert [sign_up("ann"), sign_up("ben")] == [302, 429]


def test_login_limits_are_counted_in_the_database_by_default(limited_app, monkeypatch):
    from models import RateLimitCounter
    from web.limiter_storage import DatabaseStorage

    assert limited_app.config["RATELIMIT_STORAGE_URI"] == "database://"
    make_user(limited_app, "target")
    client = limited_app.test_client()
    assert [login(client, "target", "guess").status_code for _ in range(4)] == [401, 401, 401, 429]
    with limited_app.app_context():
        counts = db.session.scalars(db.select(RateLimitCounter.count)).all()
        # attempts per account and address (the fourth refused: the check stops there) and per address, wrong
        # passwords per account
        assert sorted(counts) == [3, 3, 4]
        storage = DatabaseStorage()
        with ThreadPoolExecutor(4) as pool:  # concurrent increments: none lost, none counted twice
            counted = list(pool.map(lambda _: with_context(limited_app, storage.incr, "together", 60), range(40)))
        assert sorted(counted) == list(range(1, 41))
        now = time.time()
        monkeypatch.setattr("web.limiter_storage.time.time", lambda: now)
        assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
        assert storage.get("k") == 3 and storage.get_expiry("k") == pytest.approx(now + 60)
        now += 61  # the minute's windows are over: a new one starts, and the ended counters are dropped
        assert storage.get("k") == 0 and storage.incr("k", 60, amount=2) == 2
        # "k", and the account's wrong passwords of the hour (LOGIN_ACCOUNT_LIMITS)
        assert db.session.scalar(db.select(db.func.count()).select_from(RateLimitCounter)) == 2
        assert storage.incr("k", 60, amount=-1) == 1 and storage.incr("k", 60, amount=-5) == 0  # given back: >= 0
        now += 61  # given back after its window ended: no new window at -1 (one attempt more than the limit)
        assert storage.incr("k", 60, amount=-1) == 0 and storage.get("k") == 0 and storage.incr("k", 60) == 1
        storage.clear("k")
        assert storage.get("k") == 0 and storage.check()


def with_context(app, function, *args):
    with app.app_context():
        return function(*args)


def guesses_across_gunicorn_workers(instance: Path, settings: dict, limit: int, guesses: int = 24
                                    ) -> tuple[list[int], set[str]]:
    """24 concurrent wrong passwords for one account through three gunicorn processes with LOGIN_LIMITS of
    `limit` a minute, once every process has loaded the app: (the statuses, the pids of the processes that
    answered them)."""
    import requests

    from bench.server import AppServer, prepare_instance

    settings = {**settings, "RATELIMIT_ENABLED": True, "LOGIN_LIMITS": f"{limit} per minute"}
    prepare_instance(instance, "owner", "owner password", settings)
    with AppServer(instance, settings, workers=3) as server, ThreadPoolExecutor(8) as pool:
        until_every_worker_answers(server, pool, workers=3)
        statuses = list(pool.map(lambda n: requests.post(server.url + "/api/v1/tokens", timeout=60,
                                                         auth=("owner", f"guess {n}")).status_code, range(guesses)))
    return statuses, set(re.findall(r"answered-by <(\d+)> 4(?:01|29)", server.log.read_text()))


def until_every_worker_answers(server, pool: ThreadPoolExecutor, workers: int, seconds: float = 90) -> None:
    """Send rounds of concurrent page loads (not limited) until `workers` processes have answered: gunicorn
    answers as soon as its first worker has loaded the app, and on a busy machine the burst that follows could
    all go to that one while the others still load."""
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        list(pool.map(lambda _: requests.get(server.url + "/login", timeout=60), range(8)))
        if len(set(re.findall(r"answered-by <(\d+)> 200", server.log.read_text()))) >= workers:
            return


@pytest.fixture()
def access_log_pids(monkeypatch):
    """gunicorn writes each answer's worker pid to its log (read by guesses_across_gunicorn_workers)."""
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--access-logfile - --access-logformat 'answered-by %(p)s %(s)s'")


def test_login_limits_hold_across_gunicorn_workers(tmp_path, access_log_pids):
    """Three gunicorn processes, concurrent guesses: the limit holds for them together, not per process."""
    statuses, answered_by = guesses_across_gunicorn_workers(tmp_path, {"SECRET_KEY": "multi-process"}, limit=5)
    assert sorted(statuses) == [401] * 5 + [429] * (len(statuses) - 5)
    assert len(answered_by) >= 2, "all guesses went to one worker: the test proved nothing"


def test_the_deactivation_message_names_the_administrators_contact_when_one_is_set(app, client):
    user_id = make_user(app, "alice")
    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    app.config["ADMIN_CONTACT"] = "help@moodlens.example"
    response = client.post("/login", data={"username": "alice", "password": "correct horse",
                                            "csrf_token": csrf_token(client, "/login")})
    page = response.get_data(as_text=True)
    assert response.status_code == 401 and "To ask about it, contact help@moodlens.example." in page
    assert "whoever runs" not in page
