"""Back after a form that was refused once and then sent right: the refused form's page was the answer to a POST, and
the browser showed "Confirm Form Resubmission" (ERR_CACHE_MISS) instead of a page (a new user's walk-through); the
page asks the browser to keep it as a plain visit of its address, so Back opens that address again."""

from __future__ import annotations

from playwright.sync_api import expect


def test_back_after_a_corrected_sign_up_opens_the_page_again(live_app, page):
    _, base = live_app
    page.goto(base + "/register")
    page.fill("#username", "jane")
    page.fill("#password", "correct horse")
    page.fill("#confirm", "correct hose")
    page.click("input[type=submit]")
    expect(page.locator("#confirm-error")).to_be_visible()  # refused: the passwords differ
    page.fill("#password", "correct horse")
    page.fill("#confirm", "correct horse")
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_have_text("Analyse a photo or video")
    response = page.go_back()
    assert response is not None and response.ok, response  # a page, not the browser's "Confirm Form Resubmission"
    assert page.url.startswith(base)
    expect(page.locator("main")).to_be_visible()
