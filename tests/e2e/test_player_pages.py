"""In Chromium, at desktop and phone sizes: the video player with its boxes and emotions, frame links that move it,
deleting that asks first, adding a subject from a result and coming back, the "Why?" bar, and the weekly report.
Screenshots go to artifacts/e2e/ (player-*.png)."""

from __future__ import annotations

import re

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

from bench.clips import TEST_DATA, moving_faces_frames, write_video
from tests.e2e.conftest import ARTIFACTS

PHONE = {"width": 390, "height": 844}


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"player-{name}.png"), full_page=True)


def fits_the_width(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def both_sizes(page: Page, name: str) -> None:
    """Screenshots at desktop and phone width; neither scrolls sideways."""
    shot(page, f"{name}-desktop")
    assert fits_the_width(page), f"{name} scrolls sideways at desktop width"
    desktop = page.viewport_size
    page.set_viewport_size(PHONE)
    shot(page, f"{name}-390")
    assert fits_the_width(page), f"{name} scrolls sideways at 390 px"
    page.set_viewport_size(desktop)


def report_image_fits_a_phone(page: Page) -> None:
    """At 390 px the weekly report's PNG is the stacked one, shown whole (no box that scrolls sideways) and scaled
    by no less than 0.85 (its words stay legible); at desktop width it is the side-by-side one, unscaled."""
    sizes = "() => { const i = document.querySelector('img.report-image'), f = i.closest('figure');" \
            " return [i.naturalWidth, i.clientWidth, f.scrollWidth, f.clientWidth]; }"
    page.wait_for_function("() => { const i = document.querySelector('img.report-image');"  # after a resize the
                           " return !i.currentSrc.includes('layout=narrow') && i.complete && i.naturalWidth > 0; }")
    natural, shown, inner, box = page.evaluate(sizes)  # picture may still be fetching the wide PNG
    assert natural == shown == 990 and inner <= box
    desktop = page.viewport_size
    page.set_viewport_size(PHONE)
    page.wait_for_function("() => { const i = document.querySelector('img.report-image');"
                           " return i.currentSrc.includes('layout=narrow') && i.complete && i.naturalWidth > 0; }")
    shot(page, "report-390-stacked")
    natural, shown, inner, box = page.evaluate(sizes)
    assert natural == 396 and inner <= box and 0.85 * natural <= shown <= box, (natural, shown, inner, box)
    page.set_viewport_size(desktop)


def sign_up(page: Page, live_server: str, name: str) -> None:
    page.goto(live_server + "/register")
    page.fill("#username", name)
    page.fill("#password", name + "'s password")
    page.fill("#confirm", name + "'s password")
    page.click("input[type=submit]")


def box_left(page: Page) -> float:
    return float(page.locator(".overlay g.face-box rect").first.get_attribute("x").rstrip("%"))


def test_the_player_draws_the_boxes_and_the_links_move_it(live_server, page, tmp_path, astronaut):
    clip = write_video(tmp_path / "party.webm", moving_faces_frames(astronaut, 40, faces=2), codec="VP80")
    sign_up(page, live_server, "dana")
    page.set_input_files("#file", str(clip))
    page.click("input[type=submit]")
    page.wait_for_selector(".timeline-chart", timeout=120_000)
    video = page.locator(".stage video")
    expect(video).to_be_visible(timeout=20_000)  # Chromium plays VP8: the player replaces the still frame
    expect(page.locator("#scrub-frame")).to_be_hidden()
    expect(page.locator(".scrub-form button")).to_be_hidden()  # the slider moves the player at once
    page.keyboard.press("Shift")  # the keyboard in use: the video's focus ring shows, inside the stage that clips
    video.evaluate("element => element.focus()")
    assert video.evaluate("element => [element.matches(':focus-visible'), getComputedStyle(element).outlineOffset]") \
        == [True, "-3px"]
    result_url = page.url

    second = page.locator(".frame-strip a").nth(1)  # the analysed moment nearest a sixth of the clip
    moment = re.fullmatch(r"Go to (.+)", second.locator("span").text_content()).group(1)
    second.click()
    expect(page.locator("#player-now")).to_contain_text(f"At {moment}: Face 1")
    expect(page.locator("#player-now + [role=status]")).to_contain_text(f"At {moment}: Face 1")  # said, focus kept
    left_early = box_left(page)
    page.click("text=Go to 2.0 s")
    expect(page.locator("#scrub")).to_have_value("2")
    assert page.url == result_url  # the link moved the player; no bare JPEG opened
    assert abs(page.evaluate("() => document.querySelector('.stage video').currentTime") - 2.0) < 0.05
    assert page.locator(".overlay g.face-box").count() == 2
    assert box_left(page) != left_early  # the faces drift right: the boxes follow them
    page.evaluate("() => { const v = document.querySelector('.stage video'); v.muted = true; return v.play(); }")
    page.wait_for_timeout(700)
    playing_at = page.evaluate("() => document.querySelector('.stage video').currentTime")
    assert playing_at > 2.2 and float(page.locator("#scrub").input_value()) > 2.2  # the slider follows the video
    assert re.fullmatch(r"\d\.\d s", page.locator("#scrub-time").text_content())  # tenths while it plays: no jumps
    expect(page.locator(".overlay text").first).to_contain_text("1: ")
    page.evaluate("() => { const v = document.querySelector('.stage video'); v.pause(); v.currentTime = 2.25; }")
    expect(page.locator("#scrub-time")).to_have_text("2.25 s")  # stopped, to the hundredth again
    page.locator("#player").scroll_into_view_if_needed()
    both_sizes(page, "video")
    labels = page.locator(".overlay text")
    assert [labels.nth(index).text_content() for index in range(2)] == ["1: happy", "2: happy"]  # they fit
    assert page.console_errors == []

    without_scripts = page.context.browser.new_context(java_script_enabled=False, viewport=page.viewport_size,
                                                       storage_state=page.context.storage_state())
    still = without_scripts.new_page()
    still.goto(result_url)
    still.click("text=Go to 2.0 s")  # a page at that moment: its frame with the boxes drawn by the server
    assert still.url.endswith("?t=2.00#player")
    expect(still.locator("#player-now")).to_contain_text(re.compile(r"At 2.0 s: Face 1 (probably )?happy \("))
    assert still.locator(".overlay g.face-box").count() == 2 and still.locator(".stage video").count() == 0
    still.wait_for_load_state("networkidle")
    shot(still, "video-without-scripts")
    without_scripts.close()
    waiting = page.context.browser.new_context(viewport=page.viewport_size, storage_state=page.context.storage_state())
    slow = waiting.new_page()
    slow.route("**/frame?*", lambda route: None)  # a frame that takes its time: the stage has the clip's size at once
    slow.route("**/original", lambda route: None)
    slow.goto(result_url + "?t=2.1", wait_until="domcontentloaded")
    assert slow.evaluate("() => { const r = document.getElementById('scrub-frame').getBoundingClientRect();"
                         " return [r.width, r.height]; }") == [640, 360]
    expect(slow.locator("#player-now")).to_contain_text("At 2.1 s: Face 1")  # not the slider's step: 2.0 s
    waiting.close()


def test_labels_that_cannot_stand_by_their_boxes_on_a_phone_are_the_tracks_numbers(live_server, page, tmp_path):
    """The walk-through's clip of three people and a cat: at 390 px the faces' labels stacked at the frame's edge, far
    from their boxes and over the picture. Now each label is its track's number, the words under the video."""
    people = np.asarray(Image.open(TEST_DATA / "people-with-a-cat.jpg").convert("RGB"))
    clip = write_video(tmp_path / "people.webm", [people] * 12, codec="VP80")
    sign_up(page, live_server, "erin")
    page.set_input_files("#file", str(clip))
    page.click("input[type=submit]")
    page.wait_for_selector(".timeline-chart", timeout=120_000)
    expect(page.locator(".stage video")).to_be_visible(timeout=20_000)
    page.set_viewport_size(PHONE)
    labels = page.locator(".overlay text")
    expect(labels.first).to_have_text("1")
    assert [labels.nth(index).text_content() for index in range(labels.count())] == ["1", "2", "3", "Cat 1"]
    assert "Face 1" in page.locator("#player-now").text_content()  # the words, under the video
    shot(page, "crowded-labels-390")


def test_an_owner_asks_why_adds_a_subject_from_a_result_and_deletes_with_a_question(live_server, page, tmp_path,
                                                                                      astronaut_jpeg):
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg)
    sign_up(page, live_server, "erin")
    page.set_input_files("#file", str(photo))
    page.click("input[type=submit]")
    page.wait_for_selector(".face-box")

    values = []
    page.click("text=Why “happy”?")
    while page.locator(".why-images img").count() == 0:
        values.append(page.evaluate("() => document.querySelector('.why progress')?.value ?? null"))
        page.wait_for_timeout(100)
    seen = [value for value in values if value is not None]
    # It never goes back; how many values a 100 ms poll catches depends on the machine's speed (a quiet CI run saw
    # 0 then 52), so the stages themselves are checked in tests/test_explain.py.
    assert seen and seen == sorted(seen), seen

    page.click("text=Add a person or pet")
    expect(page.locator("text=Back to the result")).to_be_visible()
    both_sizes(page, "subjects-from-result")
    page.fill("#name", "Mia")
    page.click("text=Add subject")
    assert page.url.endswith("#face-1") and "/analyses/" in page.url
    # the face whose card it came from is Mia now: no second step
    expect(page.locator(".flash-success")).to_contain_text("Saved: Face 1 is Mia, and counts in Mia's history.")
    expect(page.locator("form.assign select option:checked")).to_have_text("Mia (person)")
    result_url = page.url.split("#")[0]

    page.click("nav >> text=Dashboard")
    page.check("#weekly_report")
    page.locator("form[action$='weekly-report'] input[type=submit]").click()
    page.click("text=Mia: weekly report")
    expect(page.locator("h1")).to_contain_text("Mia: week")
    expect(page.locator("text=Nothing this week")).to_have_count(0)  # it opens on this week, which has the photo
    page.wait_for_function("() => document.querySelector('img.report-image').naturalWidth > 0")
    both_sizes(page, "report")
    report_image_fits_a_phone(page)
    page.goto(result_url)

    page.click("text=Delete this analysis…")
    expect(page.locator("h1")).to_contain_text("Delete astronaut.jpg?")
    both_sizes(page, "confirm-analysis")
    page.click("text=Keep it")
    expect(page.locator(".face-box")).to_have_count(1)  # nothing was deleted

    page.click("nav >> text=People & pets")
    page.click("text=Delete…")
    expect(page.locator(".confirm")).to_contain_text("1 appearance stays in your history, unassigned")
    both_sizes(page, "confirm-subject")
    page.click("button:has-text('Delete Mia')")
    expect(page.locator(".flash-success")).to_contain_text("Mia was deleted")
    page.click("text=History")
    expect(page.locator(".history-item")).to_have_count(1)  # the photo stays
    assert page.console_errors == []
