"""Days, weeks and times of day on the user's own clock: the browser's time zone comes with the log-in and
registration forms, times are shown in it, and a Seoul morning is counted on its Monday, not on UTC's Sunday."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask_login import login_user

from bench.fixtures import csrf_token, make_user
from extensions import db
from models import AlertRule, User
from services.insights import history_of
from web.i18n import clock_name
from tests.conftest import csv_text
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


@pytest.mark.parametrize(("reported", "kept"), [("Asia/Calcutta", "Asia/Kolkata"), ("Europe/Kiev", "Europe/Kyiv"),
                                                ("Asia/Katmandu", "Asia/Kathmandu"), ("UTC", "UTC")])
def test_a_zone_an_old_name_reports_is_kept_under_its_name_now(app, client, reported, kept):
    """Chromium reports "Asia/Calcutta": the account page's menu listed the old id apart from "Kolkata"."""
    user_id = make_user(app, "mina")
    assert log_in(client, "mina", reported).status_code == 302
    assert zone_of_user(app, user_id) == kept
    assert f'<option value="{kept}" selected' in client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize("crafted", ["Factory", "localtime"])
def test_zone_names_the_pages_cannot_format_are_refused(app, client, crafted):
    """zoneinfo knows "Factory" and "localtime" (the server's own zone), Flask-Babel's pytz does not: every page
    with a time on it gave a 500."""
    user_id = make_user(app, "mina")
    assert log_in(client, "mina", crafted).status_code == 302
    assert zone_of_user(app, user_id) is None
    assert client.get("/analyses").status_code == 200


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
    assert moment == datetime(2026, 11, 30, 8, 30, tzinfo=ZoneInfo("Asia/Seoul"))  # Monday morning, as users see it
    answer = client.get(f"/api/v1/subjects/{rex}/insights?week=2026-W49").get_json()
    assert answer["time_zone"] == "Asia/Seoul"


def test_the_hour_a_fall_back_repeats_keeps_its_order_and_counts_in_alerts(app, client, monkeypatch):
    """New York, 1 November 2026: 1:10 and 1:40 EDT, then 1:10 EST, asked at 1:20 EST. On the naive wall clock
    the 1:40 photo came after "now", so a one-day alert saw two photos of three."""
    monkeypatch.setattr("services.clock.utcnow", lambda: datetime(2026, 11, 1, 6, 20))
    user_id = make_user(app, "nick")
    rex = subject_of(app, user_id, "Rex", "dog")
    for minutes in (10, 40, 70):  # 5:10, 5:40 and 6:10 UTC
        appearances(app, user_id, rex, "dog", "sad", 1, datetime(2026, 11, 1, 5) + timedelta(minutes=minutes))
    with app.app_context():
        db.session.add(AlertRule(subject_id=rex, emotion="sad", share=0.5, days=1))
        db.session.commit()
    log_in(client, "nick", "America/New_York")
    with app.app_context():
        history = history_of(db.session.get(User, user_id).subjects[0])
    assert [moment.strftime("%H:%M %Z") for moment in history.times] == ["01:10 EDT", "01:40 EDT", "01:10 EST"]
    alert = client.get(f"/api/v1/subjects/{rex}/insights").get_json()["alerts"][0]
    assert (alert["count"], alert["fired"], alert["since"]) == (3, True, "2026-10-31")


def test_a_time_in_the_hour_a_fall_back_repeats_names_its_zone(app, client):
    """Berlin, 25 October 2026: two photos an hour apart both at 2:30 AM on the clock; their pages tell them apart
    (CEST, then CET), and a time outside that hour is written as before."""
    user_id = make_user(app, "greta")
    rex = subject_of(app, user_id, "Rex", "dog")
    for moment in (datetime(2026, 10, 25, 0, 30), datetime(2026, 10, 25, 1, 30), datetime(2026, 10, 25, 2, 30)):
        appearances(app, user_id, rex, "dog", "happy", 1, moment)  # UTC: 2:30 CEST, 2:30 CET, 3:30 CET
    log_in(client, "greta", "Europe/Berlin")
    history = client.get("/analyses").get_data(as_text=True)
    assert "October 25, 2026, 2:30 AM CEST<" in history and "October 25, 2026, 2:30 AM CET<" in history
    assert "October 25, 2026, 3:30 AM<" in history


@pytest.mark.parametrize(("zone", "words"), [
    ("America/New_York", "Eastern Time"), ("Australia/Lord_Howe", "Lord Howe Time"),
    (None, "Coordinated Universal Time"), ("Etc/GMT+12", "GMT-12:00"),
    ("GMT", "Greenwich Mean Time"),  # not CLDR's "Unknown Region (GMT) Time"
])
def test_the_readers_clock_is_named_whatever_the_season(app, zone, words):
    """The time-of-day sentence counts summer and winter readings alike: "Eastern Standard Time" was wrong for half
    of them."""
    user_id = make_user(app, "mina")
    with app.test_request_context():
        user = db.session.get(User, user_id)
        user.time_zone = zone
        login_user(user)
        assert clock_name() == words


@pytest.mark.parametrize(("language", "zone", "words"), [
    ("en", "America/New_York", "Eastern Time (New York)"), ("ko", "America/New_York", "미 동부 시간 (뉴욕)"),
    ("ko", "Europe/Berlin", "중부유럽 시간 (베를린)"), ("ko", "Etc/GMT+12", "GMT-12:00"),
    ("en", "UTC", "Coordinated Universal Time"),
])
def test_the_device_zone_is_named_as_the_account_zone_is_in_the_pages_language(app, client, language, zone, words):
    """The offer named the account's zone in Korean and this device's city in English ("미 동부 시간 (New York)")."""
    make_user(app, "mina")
    log_in(client, "mina", "Asia/Seoul")
    answer = client.get("/time-zone/name", query_string={"zone": zone}, headers={"Accept-Language": language})
    assert answer.status_code == 200 and answer.get_json() == {"zone": zone, "name": words}


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "localtime", "A" * 300])
def test_a_zone_this_server_does_not_know_gets_no_name(client, zone):
    answer = client.get("/time-zone/name", query_string={"zone": zone})
    assert answer.status_code == 400 and "does not know this time zone" in answer.get_data(as_text=True)


def test_exports_give_each_time_on_the_owners_clock_too(app, client):
    user_id = make_user(app, "mina")
    rex = subject_of(app, user_id, "Rex", "dog")
    appearances(app, user_id, rex, "dog", "happy", 1, SUNDAY_NIGHT_UTC.replace(microsecond=250_000))
    log_in(client, "mina", "Asia/Seoul")
    exported = client.get(f"/subjects/{rex}/export.json").get_json()
    assert exported["time_zone"] == "Asia/Seoul"
    assert (exported["history"][0]["created_at"], exported["history"][0]["local_time"]) == (
        "2026-11-29T23:30:00Z", "2026-11-30T08:30:00+09:00")  # Monday in Seoul, as the pages count it
    rows = [row.split(",") for row in csv_text(client.get(f"/subjects/{rex}/export.csv")).splitlines()]
    assert rows[0][:2] == ["analysis_id", "created_at"] and rows[0][-2:] == ["local_time", "kind_read"]  # added last
    assert (rows[1][1], rows[1][-2:]) == ("2026-11-29T23:30:00Z", ["2026-11-30T08:30:00+09:00", ""])


def test_a_logged_in_user_can_switch_to_this_devices_zone(app, client):
    """A traveller who stays logged in: every page carries the offer (time-zone.js shows it when the browser's zone
    differs); it saves a zone this machine knows, and refuses others."""
    user_id = make_user(app, "mina")
    log_in(client, "mina", "Asia/Seoul")
    page = client.get("/analyses").get_data(as_text=True)
    assert 'data-account-zone="Asia/Seoul"' in page and "time-zone.js" in page
    switch = {"next": "/analyses", "csrf_token": csrf_token(client, "/analyses")}
    moved = client.post("/time-zone", data={**switch, "time_zone": "America/New_York"})
    assert moved.status_code == 303 and moved.location.endswith("/analyses")
    assert zone_of_user(app, user_id) == "America/New_York"
    unknown = client.post("/time-zone", data={**switch, "time_zone": "Factory"}, follow_redirects=True)
    assert "does not know this device&#39;s time zone" in unknown.get_data(as_text=True)
    assert client.post("/time-zone", data={"time_zone": "Europe/Paris", "next": "/analyses"}).status_code == 400
    assert zone_of_user(app, user_id) == "America/New_York"


def test_a_log_in_that_moves_the_account_to_another_clock_says_so(app, client):
    """Logging in from a browser in another zone moved every time, day and alert window without a word."""
    user_id = make_user(app, "mina")

    def landing(zone: str) -> str:
        logged_in = log_in(client, "mina", zone)
        assert logged_in.status_code == 302
        return client.get(logged_in.location).get_data(as_text=True).replace("&#39;", "'")

    assert "Times are now shown" not in landing("Europe/Berlin")  # the first zone: no news
    assert "Times are now shown" not in landing("Europe/Paris")  # the same clock all year
    assert zone_of_user(app, user_id) == "Europe/Paris"
    assert ("Times are now shown in Korean Standard Time (Seoul), this browser's time zone (before: Central European "
            "Time (Paris)). Your account page can set another.") in landing("Asia/Seoul")


def test_the_notice_of_another_clock_is_in_the_accounts_language(app, client):
    """A Korean account logging in from an English browser in New York: the page after is Korean, its notice too."""
    user_id = make_user(app, "mina")
    with app.app_context():
        user = db.session.get(User, user_id)
        user.locale, user.time_zone = "ko", "Asia/Seoul"
        db.session.commit()
    english = {"Accept-Language": "en-US"}
    logged_in = client.post("/login", headers=english, data={
        "username": "mina", "password": "correct horse", "time_zone": "America/New_York",
        "csrf_token": csrf_token(client, "/login")})
    page = client.get(logged_in.location, headers=english).get_data(as_text=True)
    assert '<html lang="ko"' in page and "이 브라우저의 시간대" in page and "Times are now shown" not in page


def test_the_account_page_shows_the_time_zone_and_sets_another(app, client):
    user_id = make_user(app, "mina")
    log_in(client, "mina", "Asia/Seoul")
    page = client.get("/account").get_data(as_text=True)
    assert "Yours: Korean Standard Time. Times, days and weeks" in page
    assert ('<optgroup label="South Korea"><option value="Asia/Seoul" selected>Seoul (Korean Standard Time)</option>'
            '</optgroup>') in page
    assert page.count("<option") > 300 and 'value="Factory"' not in page and 'value="US/Eastern"' not in page
    assert '<option value="America/Chicago">Chicago (Central Time)</option>' in page  # which city keeps their clock
    korean = client.get("/account", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert '<optgroup label="대한민국"><option value="Asia/Seoul" selected>서울 (한국 표준시)</option></optgroup>' \
        in korean
    assert 'name="keep" value="1"' in page and "and says so, unless you save one here." in page
    chosen = client.post("/time-zone", data={"time_zone": "America/New_York", "next": "/account", "keep": "1",
                                             "csrf_token": csrf_token(client, "/account")}, follow_redirects=True)
    text = chosen.get_data(as_text=True).replace("&#39;", "'")
    assert "Times are now shown in Eastern Time (New York)." in text
    assert '<option value="America/New_York" selected>New York (Eastern Time)</option>' in text
    assert "Yours: Eastern Time, saved here." in text and "keeps it, and offers that browser’s." in text
    assert zone_of_user(app, user_id) == "America/New_York"


def test_a_zone_saved_on_the_account_page_stays_at_a_log_in_from_another_zone(app, client):
    """A pet owner who chose New York on the account page lost it at each log-in from a Seoul browser (a work
    computer, a trip): a saved zone stays, and the page offers the browser's; taking the offer follows the browser
    again."""
    user_id = make_user(app, "mina")
    log_in(client, "mina", "Asia/Seoul")
    client.post("/time-zone", data={"time_zone": "America/New_York", "next": "/account", "keep": "1",
                                    "csrf_token": csrf_token(client, "/account")})
    landed = client.get(log_in(client, "mina", "Asia/Seoul").location).get_data(as_text=True)
    assert zone_of_user(app, user_id) == "America/New_York" and "Times are now shown" not in landed
    assert 'data-account-zone="America/New_York"' in landed  # time-zone.js offers Seoul's
    client.post("/time-zone", data={"time_zone": "Asia/Seoul", "next": "/analyses",
                                    "csrf_token": csrf_token(client, "/analyses")})  # the offer taken
    log_in(client, "mina", "Europe/Paris")
    assert zone_of_user(app, user_id) == "Europe/Paris"


def test_a_stored_zone_this_machine_no_longer_knows_neither_breaks_the_log_in_nor_is_offered(app, client):
    """A zone stored before this machine's tzdata dropped it (or written by hand): comparing the clocks at log-in
    loaded it and failed (500, after the session had started)."""
    user_id = make_user(app, "mina")
    with app.app_context():
        db.session.get(User, user_id).time_zone = "America/Nowhere"
        db.session.commit()
    assert log_in(client, "mina", "Asia/Seoul").status_code == 302
    assert zone_of_user(app, user_id) == "Asia/Seoul"
    with app.app_context():
        db.session.get(User, user_id).time_zone = "America/Nowhere"
        db.session.commit()
    assert log_in(client, "mina", "").status_code == 302  # no zone from the browser: the stored one stays
    with app.app_context():
        user = db.session.get(User, user_id)
        user.time_zone, user.time_zone_kept = "America/Nowhere", True  # saved on the account page, then dropped
        db.session.commit()
    log_in(client, "mina", "Asia/Seoul")
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.time_zone, user.time_zone_kept) == ("Asia/Seoul", False)  # not "UTC, saved here"
    with app.app_context():
        db.session.get(User, user_id).time_zone = "America/Nowhere"
        db.session.commit()
    log_in(client, "mina", "")
    page = client.get("/account").get_data(as_text=True)
    assert '<option value="UTC" selected>' in page and "Yours: Coordinated Universal Time." in page
    with app.app_context():
        db.session.get(User, user_id).time_zone = "Asia/Calcutta"  # an old name, kept before: shown as Asia/Kolkata
        db.session.commit()
    page = client.get("/account").get_data(as_text=True)
    assert '<option value="Asia/Kolkata" selected>' in page and 'value="Asia/Calcutta"' not in page
