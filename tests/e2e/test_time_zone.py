"""A traveller who stays logged in: the account keeps the zone of the last log-in (Seoul); a browser in New York
offers to switch, a browser in a zone of the same clock all year (Tokyo) does not, and "Keep" hides the offer for the
browser session (every tab of it)."""

from __future__ import annotations

from playwright.sync_api import expect

from bench.fixtures import make_user
from tests.e2e.conftest import ARTIFACTS


def browser_in(browser, zone: str, storage_state=None, locale: str = "en-US"):
    context = browser.new_context(timezone_id=zone, viewport={"width": 390, "height": 844},
                                  storage_state=storage_state, locale=locale)
    return context, context.new_page()


def test_a_browser_in_another_zone_offers_to_switch(live_app, browser):
    app, base = live_app
    make_user(app, "mina", "mina's password")
    seoul, page = browser_in(browser, "Asia/Seoul")
    page.goto(base + "/login")
    page.fill("#username", "mina")
    page.fill("#password", "mina's password")
    page.click("input[type=submit]")
    page.goto(base + "/analyses")
    expect(page.locator("form.zone-switch")).to_be_hidden()  # the zone it logged in with
    logged_in = seoul.storage_state()

    alias, page = browser_in(browser, "Asia/Tokyo", logged_in)  # the same clock as Seoul all year
    page.goto(base + "/analyses")
    expect(page.locator("form.zone-switch")).to_be_hidden()
    alias.close()

    new_york, page = browser_in(browser, "America/New_York", logged_in)
    page.goto(base + "/analyses")
    offer = page.locator("form.zone-switch")
    expect(offer).to_be_visible()
    expect(offer.locator(".device-zone")).to_have_text("Eastern Time (New York)")  # named as the account's zone
    page.screenshot(path=str(ARTIFACTS / "zone-offer-phone.png"), full_page=True)
    offer.locator("[data-keep]").click()
    expect(offer).to_be_hidden()
    page.goto(base + "/dashboard")
    expect(page.locator("form.zone-switch")).to_be_hidden()  # kept for this browser session
    other_tab = new_york.new_page()
    other_tab.goto(base + "/analyses")
    expect(other_tab.locator("form.zone-switch")).to_be_hidden()  # in every tab of it
    new_york.close()

    korean, page = browser_in(browser, "America/New_York", logged_in, "ko-KR")  # the city in Korean too
    page.goto(base + "/analyses")
    expect(page.locator("form.zone-switch .device-zone")).to_have_text("미 동부 시간 (뉴욕)")
    page.screenshot(path=str(ARTIFACTS / "zone-offer-phone-ko.png"), full_page=True)
    korean.close()

    next_trip, page = browser_in(browser, "America/New_York", logged_in)  # another browser session
    page.goto(base + "/analyses")
    page.locator("form.zone-switch button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("Times are now shown in Eastern Time (New York).")
    expect(page.locator("form.zone-switch")).to_be_hidden()
    assert page.url.endswith("/analyses")
    next_trip.close()
    seoul.close()


def test_a_log_in_in_another_zone_says_so_and_the_account_page_sets_one(live_app, browser):
    """At phone size: the notice after a log-in that moved the account's clock, and the account page's choice."""
    app, base = live_app
    make_user(app, "joon", "joon's password")
    for zone in ("Europe/Berlin", "Asia/Seoul"):
        context, page = browser_in(browser, zone)
        page.goto(base + "/login")
        page.fill("#username", "joon")
        page.fill("#password", "joon's password")
        page.click("input[type=submit]")
        page.wait_for_url(base + "/analyze")
        if zone == "Europe/Berlin":
            expect(page.locator(".flash-info")).to_have_count(0)  # the first zone: nothing to tell
            context.close()
    expect(page.locator(".flash-info")).to_contain_text(
        "Times are now shown in Korean Standard Time (Seoul), this browser's time zone (before: Central European Time "
        "(Berlin)).")
    page.goto(base + "/account")
    choice = page.locator("#time-zone-choice")
    expect(choice).to_have_value("Asia/Seoul")
    choice.select_option("Europe/Lisbon")
    page.get_by_role("button", name="Save time zone").click()
    expect(page.locator(".flash-success")).to_contain_text("Times are now shown in")
    expect(page.locator("#time-zone-choice")).to_have_value("Europe/Lisbon")
    expect(page.locator("form.zone-switch")).to_be_hidden()  # chosen on purpose: not offered back at once
    page.goto(base + "/analyses")
    expect(page.locator("form.zone-switch")).to_be_hidden()  # nor for the rest of this browser session
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.screenshot(path=str(ARTIFACTS / "account-time-zone-phone.png"), full_page=True)
    context.close()
