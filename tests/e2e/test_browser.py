"""The real app in headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

A live server runs in a thread with the embedded job worker; the test walks
through what a person does and saves a screenshot of each page in artifacts/e2e/.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from bench.clips import moving_faces_frames, write_video
from tests.e2e.conftest import ARTIFACTS


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def watch_progress(page: Page) -> list[int]:
    """Values the progress bar shows until the page turns into the result (read in one step, so a
    page that turns while it is read is not waited on)."""
    seen = []
    while True:
        try:
            value = page.evaluate("() => document.getElementById('job-progress')?.value ?? null")
        except PlaywrightError:  # the page was navigating to the result
            page.wait_for_load_state()
            continue
        if value is None:
            return seen
        seen.append(int(value))
        page.wait_for_timeout(150)


def sign_up_and_explain_a_photo(page: Page, base: str, photo: Path) -> None:
    """Carol creates her account, analyses a photo and asks why it reads "happy"."""
    page.goto(base + "/")
    shot(page, "01-landing")
    page.click("text=Create an account")
    page.fill("#username", "carol")
    page.fill("#password", "carol's password")
    page.fill("#confirm", "carol's password")
    page.click("input[type=submit]")
    assert page.url.endswith("/analyze")
    shot(page, "02-upload")

    page.set_input_files("#file", str(photo))
    page.click("input[type=submit]")
    page.wait_for_selector(".face-box")
    assert page.locator(".face-box").count() == 1
    assert page.locator(".bar-chart .is-top").count() == 1
    shot(page, "03-photo-result")
    page.click("text=Why “happy”?")  # the script starts it through the API and polls its progress
    page.wait_for_selector(".why-images img", timeout=60_000)
    assert page.locator(".why-images img").count() == 2
    alts = page.eval_on_selector_all(".why-images img", "images => images.map(i => i.alt)")
    assert all(re.fullmatch(r"Heat map over face 1: .+; brightest around the [a-z ]+\.", alt) for alt in alts), alts
    page.wait_for_function("[...document.querySelectorAll('.why-images img')].every(i => i.naturalWidth === 224)")
    shot(page, "03b-photo-why")


def analyse_a_video(page: Page, base: str, video: Path) -> None:
    """The video's progress bar only grows until its result (the keyboard starts at its heading), whose frame
    follows the scrubber."""
    page.goto(base + "/analyze")
    page.set_input_files("#file", str(video))
    page.click("input[type=submit]")
    shot(page, "04-video-progress")
    seen = watch_progress(page)
    page.wait_for_selector(".timeline-chart", timeout=120_000)
    assert page.locator(".timeline-chart").count() == 2
    assert seen and seen == sorted(seen), f"progress should only grow: {seen}"
    assert len(set(seen)) > 1, f"the bar should move: {seen}"
    # the reload into the result keeps the keyboard's place: at its heading, not dropped to the page's top
    page.wait_for_function("document.activeElement && document.activeElement.matches('main h1')")
    dashes = page.evaluate("""() => Object.fromEntries(['angry', 'disgust', 'fear', 'sad'].map(emotion => [emotion,
        getComputedStyle(document.querySelector(`.timeline-chart .line.emo-${emotion}`)).strokeDasharray]))""")
    assert dashes["angry"] != dashes["disgust"] and dashes["fear"] != dashes["sad"], dashes  # not by colour alone
    shot(page, "05-video-result")
    page.fill("#scrub", "2")
    page.dispatch_event("#scrub", "input")
    expect(page.locator("#scrub-frame")).to_have_attribute("src", re.compile(r"t=2\.00$"))


def follow_a_person(page: Page, base: str) -> None:
    """History and dashboard; Mia as a subject with an alert, and her weekly report; then Carol logs out."""
    page.click("text=History")
    expect(page.locator(".history-item")).to_have_count(2)  # a click starts the page's load; expect waits for it
    shot(page, "06-history")
    page.click("nav >> text=Dashboard")
    expect(page.locator(".bar-chart")).to_have_count(1)
    expect(page.locator(".trend-chart rect").first).to_be_attached()
    shot(page, "07-dashboard")

    page.click("nav >> text=People & pets")
    page.fill("#name", "Mia")
    page.click("text=Add subject")
    page.click("text=History")
    page.locator(".history-item", has_text="astronaut.jpg").locator("a").first.click()
    page.select_option("form.assign select", label="Mia (person)")
    page.locator("form.assign button").click()
    page.goto(base + "/dashboard")
    page.select_option("#subject", label="Mia (person)")
    page.click("form.subject-filter button")
    expect(page.locator("#insights-title")).to_have_text("What Mia's history shows")
    expect(page.locator("text=Needs at least 3 confident readings (1 so far)")).to_be_visible()
    page.select_option("form.alert-form select", "fear")
    page.click("text=Add alert")
    expect(page.locator(".flash-success")).to_contain_text("Alert added")
    shot(page, "07b-subject-insights")
    page.goto(base + "/dashboard")
    page.check("#weekly_report")
    page.locator("form[action$='weekly-report'] input[type=submit]").click()
    page.click("text=Mia: weekly report")
    expect(page.locator("h1")).to_contain_text("Mia: week")
    shot(page, "07c-weekly-report")
    page.click("text=Log out carol")
    assert "/login" in page.url


def administer(page: Page, base: str) -> None:
    """The admin views Carol's photo read-only and deletes her video."""
    page.fill("#username", "admin")
    page.fill("#password", "admin password")
    page.click("input[type=submit]")
    page.goto(base + "/admin/admin_analyses/")
    assert page.locator("text=party.mp4").count() == 1
    shot(page, "08-admin-analyses")
    page.locator("tr", has_text="astronaut.jpg").locator("a img").click()  # the result page, read-only
    expect(page.locator(".flash-info")).to_contain_text("carol's analysis as an admin: read-only")
    assert page.locator("form.assign, .why form").count() == 0 and page.locator(".bar-chart").count() == 1
    shot(page, "08b-admin-views-a-result")
    page.go_back()
    page.locator("tr", has_text="party.mp4").locator(".fa-trash").first.click()  # a page that asks, with a reason
    expect(page.locator("h1")).to_contain_text("Delete party.mp4, uploaded by carol?")
    page.fill("#reason", "Please upload videos of people only.")
    shot(page, "09a-admin-asks-with-a-reason")
    page.click("button.btn-danger")
    expect(page.locator(".alert")).to_contain_text("Deleted: party.mp4, uploaded by carol.")
    assert page.locator("tr", has_text="party.mp4").count() == 0
    shot(page, "09-admin-after-delete")


def test_a_user_and_an_admin_go_through_the_app(live_server, page, tmp_path, astronaut, astronaut_jpeg):
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg)
    video = write_video(tmp_path / "party.mp4", moving_faces_frames(astronaut, 200, faces=2), fps=10)
    sign_up_and_explain_a_photo(page, live_server, photo)
    analyse_a_video(page, live_server, video)
    follow_a_person(page, live_server)
    assert page.console_errors == []
    administer(page, live_server)
