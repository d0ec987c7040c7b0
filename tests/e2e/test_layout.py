"""Every main page at desktop (1280 px) and phone (390 px) width, in Chromium: no sideways scrolling, nothing cut
off, readable chart labels, WCAG contrast for text, chart marks and the focus ring (tests/e2e/audit.js). On a phone
the header is one row, its links behind a Menu button that opens without JavaScript, each 44 px tall.

A screenshot of each page and width is saved in SCREENS (the system's temporary folder; overwritten by each run),
to be looked at."""

from __future__ import annotations

import io
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from bench.clips import another_copy, moving_faces_frames, write_video
from bench.fixtures import login, make_user
from extensions import db
from insights.report import week_start
from models import AlertRule, Analysis, Detection, JobStatus, SignatureJob, Subject, User, utcnow
from services import identity
from tests.conftest import jpeg_bytes, upload

AUDIT = (Path(__file__).parent / "audit.js").read_text()
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
MIN_FONT_PX = 11
MIN_TAP_PX = 44  # the height of each link in the phone's header menu
SCREENS = Path(tempfile.gettempdir()) / "moodlens-e2e-layout"
TAB_STOPS = 12  # focus rings checked per page, from the top


def transparent_png(astronaut: np.ndarray) -> bytes:
    """The astronaut cut out: a band on the left and one on the right fully transparent (black underneath)."""
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:, :110] = 0
    rgba[:, 400:] = 0
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    return buffer.getvalue()


def wait_until_done(app, analysis_id: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with app.app_context():
            if db.session.get(Analysis, analysis_id).status == JobStatus.DONE:
                return
        time.sleep(0.5)
    raise AssertionError(f"analysis {analysis_id} did not finish in {seconds} s")


def seed_history(app, astronaut, tmp_path) -> dict[str, str]:
    """A user with photos and a clip over two months, all assigned to one person, and a cat (no emotion model)
    seen in one photo; the main pages' paths."""
    make_user(app, "dana")
    client = app.test_client()
    login(client, "dana")
    photos = [upload(client, transparent_png(astronaut), "cut-out.png")]
    photos += [upload(client, another_copy(jpeg_bytes(astronaut), f"{n}"), f"astronaut-{n}.jpg") for n in (2, 3)]
    clip = write_video(tmp_path / "clip.mp4", moving_faces_frames(astronaut, 20, faces=2))
    video = upload(client, clip.read_bytes(), "clip.mp4")
    ids = [int(response.location.rsplit("/", 1)[1]) for response in (*photos, video)]
    wait_until_done(app, ids[-1])
    today = utcnow()
    last_monday = week_start(today.date()) - timedelta(days=7)
    dates = [today, datetime.combine(last_monday, datetime.min.time()) + timedelta(days=1, hours=10),
             today - timedelta(days=45), today - timedelta(days=5)]
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(username="dana"))
        user.weekly_report = True
        mia = Subject(user_id=user.id, name="Mia", kind="person")
        db.session.add(mia)
        for analysis_id, created_at in zip(ids, dates):
            db.session.get(Analysis, analysis_id).created_at = created_at
        for detection in db.session.scalars(db.select(Detection).where(Detection.analysis_id.in_(ids))):
            detection.subject = mia
        tom = Subject(user_id=user.id, name="BartholomewFitzwilliamMontgomeryWorthingtonSmytheTheThird",
                      kind="cat")  # 57 letters without a break: wrapped, not scrolled sideways on a phone
        db.session.add(Detection(analysis_id=ids[1], position=2, kind="cat", x1=300, y1=300, x2=500, y2=500,
                                 score=0.9, emotions={}, top=None, subject=tom))
        rule = AlertRule(subject=mia, emotion="happy", share=0.5, days=7)
        db.session.add(rule)
        db.session.commit()
        mia_id, tom_id, rule_id = mia.id, tom.id, rule.id
    week = "{}-W{:02d}".format(*last_monday.isocalendar()[:2])
    look_alike = recognize_faces(app, client, astronaut)
    return {"face-recognition": "/settings/faces", "suggestion": f"/analyses/{look_alike}", "upload": "/analyze",
            "photo-result": f"/analyses/{ids[0]}", "video-result": f"/analyses/{ids[-1]}",
            "history": "/analyses", "filtered-history": f"/analyses?subject={mia_id}&media=image&emotion=happy",
            "no-match-history": "/analyses?emotion=fear", "dashboard": "/dashboard",
            "subject-dashboard": f"/dashboard?subject={mia_id}",
            "cat-dashboard": f"/dashboard?subject={tom_id}", "subjects": "/subjects",
            "rename-subject": f"/subjects/{mia_id}/rename",
            "weekly-report": f"/subjects/{mia_id}/report?week={week}", "about": "/about",
            "remove-alert": f"/alerts/{rule_id}/delete", "account": "/account", "delete-account": "/account/delete"}


def recognize_faces(app, client, astronaut: np.ndarray) -> int:
    """Dana turns face recognition on and uploads two unassigned mirrored astronauts: each gets "Looks like
    Mia" and the People & pets page groups them. The first one's analysis id."""
    with app.app_context():
        identity.set_recognition(db.session.scalar(db.select(User).filter_by(username="dana")), True)
    mirrored = jpeg_bytes(np.ascontiguousarray(astronaut[:, ::-1]))
    ids = [int(upload(client, another_copy(mirrored, f"{n}"), f"mirrored-{n}.jpg").location.rsplit("/", 1)[1])
           for n in (1, 2)]
    wait_for_signatures(app)
    return ids[0]


def wait_for_signatures(app) -> None:
    """Until every signature job is done (the embedded worker runs them)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with app.app_context():
            pending = db.select(db.func.count(SignatureJob.id)).where(SignatureJob.status != JobStatus.DONE)
            if db.session.scalar(pending) == 0:
                return
        time.sleep(0.5)
    raise AssertionError("the face signatures were not computed in 90 s")


def log_in(page: Page, base: str, username: str, password: str = "correct horse") -> Page:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("input[type=submit]")
    return page


def focus_rings(page: Page) -> list[dict]:
    """The first TAB_STOPS focus rings whose outline is missing, thin or below 3:1 against its surroundings."""
    page.evaluate("() => document.activeElement?.blur()")
    failures = []
    for _ in range(TAB_STOPS):
        page.keyboard.press("Tab")
        ring = page.evaluate("() => window.moodlensAudit.focus()")
        if ring["element"].startswith("body"):  # past the last focusable element
            break
        if ring["style"] == "none" or ring["width"] < 2 or ring["ratio"] < 3:
            failures.append(ring)
    return failures


def audit_page(page: Page, url: str | None, screenshot: Path) -> dict:
    """The audit's problems with the page at `url`, or with the page already open (None: e.g. what a form's answer
    shows once), and its full-page screenshot."""
    if url is not None:
        response = page.goto(url)
        assert response.ok, f"{url}: {response.status}"
    page.wait_for_load_state("load")
    page.evaluate(AUDIT)
    report = page.evaluate(f"() => window.moodlensAudit.page({MIN_FONT_PX})")
    page.screenshot(path=str(screenshot), full_page=True)
    problems = {key: report[key] for key in ("cutOff", "texts", "marks") if report[key]}
    if report["scrollWidth"] > report["innerWidth"]:
        problems["scrolls sideways"] = f"{report['scrollWidth']} px wide in {report['innerWidth']} px"
    if rings := focus_rings(page):
        problems["focus rings"] = rings
    return problems


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_main_pages_fit_and_read_well(live_app, browser, astronaut, tmp_path, viewport):
    app, base = live_app
    paths = seed_history(app, astronaut, tmp_path)
    context = browser.new_context(viewport=VIEWPORTS[viewport], is_mobile=viewport == "phone",
                                  has_touch=viewport == "phone")
    page = log_in(context.new_page(), base, "dana")
    SCREENS.mkdir(exist_ok=True)
    problems = {name: found for name, path in paths.items()
                if (found := audit_page(page, base + path, SCREENS / f"{viewport}-{name}.png"))}
    if viewport == "phone":  # the history: a small thumbnail beside each analysis's text, not a screen-wide picture
        page.goto(base + paths["history"])
        thumbnails = [image.bounding_box() for image in page.locator(".history-item img").all()]
        assert thumbnails and all(box["height"] <= 96 for box in thumbnails), thumbnails
    context.close()
    assert not problems, f"screenshots in {SCREENS}: {problems}"


@pytest.mark.parametrize("scripts", [True, False])
def test_the_phone_header_is_one_row_and_its_menu_opens(live_app, browser, scripts):
    """At 390 px, with and without JavaScript: the closed header is the brand and the Menu button; the button opens
    by keyboard and by touch, and every link below it is whole, tall enough to tap, and works."""
    base = live_app[1]  # the fixture made the admin "admin": the longest header
    context = browser.new_context(viewport=VIEWPORTS["phone"], is_mobile=True, has_touch=True,
                                  java_script_enabled=scripts)
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("#username", "admin")
    page.fill("#password", "admin password")
    page.click("input[type=submit]")
    page.goto(base + "/analyses")
    assert page.locator(".site-header").bounding_box()["height"] < 80, "the closed header is more than one row"
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    menu = page.locator(".site-header summary")
    expect(menu).to_have_text("Menu")
    menu.focus()
    page.keyboard.press("Enter")  # by keyboard
    expect(nav).to_be_visible()
    items = nav.locator("a, button")
    assert items.count() == 9  # Analyse ... Admin, Face recognition, Account (the password is there), Log out, the
    # language
    for item in items.all():
        box = item.bounding_box()
        right = box["x"] + box["width"]
        assert box["height"] >= MIN_TAP_PX and box["x"] >= 0 and right <= VIEWPORTS["phone"]["width"], (
            item.inner_text(), box)
    expect(nav.get_by_role("link", name="History")).to_have_attribute("aria-current", "page")
    SCREENS.mkdir(exist_ok=True)
    problems = audit_page(page, None, SCREENS / f"phone-menu-{'script' if scripts else 'server'}.png")
    assert not problems, f"screenshots in {SCREENS}: {problems}"
    menu.tap()
    expect(nav).to_be_hidden()
    menu.tap()
    nav.get_by_role("link", name="Dashboard").tap()
    page.wait_for_url(base + "/dashboard")
    assert page.locator(".site-header").bounding_box()["height"] < 80
    menu.tap()
    nav.get_by_role("button", name="Log out admin").tap()  # still the POST form with its CSRF token
    expect(page.locator(".flash")).to_have_text("You are logged out.")
    context.close()


def test_the_phone_menu_closes_on_escape_and_on_a_tap_outside(live_app, browser):
    """static/menu.js: Escape closes the open menu and puts the keyboard back on its button; a tap outside the
    button and the nav closes it; a tap on the nav's own links still works."""
    base = live_app[1]
    context = browser.new_context(viewport=VIEWPORTS["phone"], is_mobile=True, has_touch=True)
    page = context.new_page()
    log_in(page, base, "admin", "admin password")
    page.goto(base + "/analyses")
    nav, menu = page.get_by_role("navigation", name="Main"), page.locator(".site-header summary")
    menu.tap()
    nav.get_by_role("link", name="Dashboard").focus()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    assert page.evaluate("document.activeElement.matches('.site-header summary')")
    menu.tap()
    expect(nav).to_be_visible()
    page.locator("h1").tap()
    expect(nav).to_be_hidden()
    menu.tap()
    nav.get_by_role("link", name="Dashboard").tap()
    page.wait_for_url(base + "/dashboard")
    context.close()


# Photos of every shape, each with boxes (x1, y1, x2, y2) in its pixels: near the top (the number inside), lower
# down (above), at the right edge (on the box's right corner).
SHAPED_PHOTOS = {"portrait": ((334, 500), [(40, 10, 200, 220), (120, 300, 260, 480)]),
                 "landscape": ((1560, 380), [(100, 40, 220, 200), (700, 180, 800, 300), (1480, 100, 1555, 200)]),
                 "strip": ((8000, 60), [(100, 0, 160, 60), (4000, 0, 4060, 60), (7900, 0, 7960, 60)]),
                 "tiny": ((20, 30), [(2, 2, 18, 28)])}


# The page rectangles of the elements a selector matches, without their strokes.
RECTS = "selector => [...document.querySelectorAll(selector)].map(element => element.getBoundingClientRect().toJSON())"


def photo_with_boxes(app, client, size: tuple[int, int], boxes: list[tuple[int, int, int, int]]) -> int:
    """A grey photo of `size` analysed, its detections replaced by faces at `boxes`: its analysis id."""
    width, height = size
    analysis_id = int(upload(client, jpeg_bytes(np.full((height, width, 3), 128, np.uint8))).location.rsplit("/", 1)[1])
    wait_until_done(app, analysis_id)
    with app.app_context():
        db.session.execute(db.delete(Detection).where(Detection.analysis_id == analysis_id))
        for position, (x1, y1, x2, y2) in enumerate(boxes, 1):
            db.session.add(Detection(analysis_id=analysis_id, position=position, kind="human", x1=x1, y1=y1, x2=x2,
                                     y2=y2, score=0.9, emotions={"happy": 0.9, "sad": 0.1}, top="happy"))
        db.session.commit()
    return analysis_id


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_each_face_number_sits_on_its_box_corner_whatever_the_photos_shape(live_app, browser, viewport):
    """A portrait photo fitted to a desktop window is narrower than its column: the numbers stay on their boxes'
    corners there too (they drifted into the empty band beside the photo), and on a landscape photo, a thin strip and
    a tiny photo; none sticks out of the photo sideways."""
    app, base = live_app
    make_user(app, "dana")
    client = app.test_client()
    login(client, "dana")
    ids = {shape: photo_with_boxes(app, client, size, boxes) for shape, (size, boxes) in SHAPED_PHOTOS.items()}
    context = browser.new_context(viewport={**VIEWPORTS[viewport], "height": 800})
    page = log_in(context.new_page(), base, "dana")
    for shape, analysis_id in ids.items():
        page.goto(f"{base}/analyses/{analysis_id}")
        photo = page.evaluate(RECTS, ".photo svg[role=img]")[0]
        boxes, tags = page.evaluate(RECTS, ".photo .face-box rect.line"), page.evaluate(RECTS, ".photo .face-tag rect")
        assert len(boxes) == len(tags) == len(SHAPED_PHOTOS[shape][1])
        for number, (box, tag) in enumerate(zip(boxes, tags), 1):
            on_left = abs(tag["x"] - box["x"]) < 1.5
            on_right = abs(tag["x"] + tag["width"] - box["x"] - box["width"]) < 1.5
            on_top = abs(tag["y"] - box["y"]) < 1.5 or abs(tag["y"] + tag["height"] - box["y"]) < 1.5
            under = abs(tag["y"] - box["y"] - box["height"]) < 1.5  # static/face-tags.js: off a small face
            assert (on_left or on_right) and (on_top or under), (shape, number, box, tag)
            assert photo["x"] - 1 <= tag["x"] and tag["x"] + tag["width"] <= photo["x"] + photo["width"] + 1, (
                shape, number, photo, tag)
    context.close()


def covered(a: dict, b: dict) -> float:
    """The area two page rectangles share."""
    width = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    height = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return max(width, 0) * max(height, 0)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_faces_tag_moves_off_the_face_above_it(live_app, browser, viewport):
    """Two small faces one above the other (a group photo's rows): the lower one's tag, above its box as the page
    draws it, would hide the face above, and inside its box its own face; static/face-tags.js puts it under its own
    box instead, on its corner."""
    app, base = live_app
    make_user(app, "dana")
    client = app.test_client()
    login(client, "dana")
    analysis_id = photo_with_boxes(app, client, (1600, 1200), [(700, 300, 760, 360), (700, 380, 760, 440)])
    page = log_in(browser.new_context(viewport=VIEWPORTS[viewport]).new_page(), base, "dana")
    page.goto(f"{base}/analyses/{analysis_id}")
    page.wait_for_load_state("load")
    boxes, tags = page.evaluate(RECTS, ".photo .face-box rect.line"), page.evaluate(RECTS, ".photo .face-tag rect")
    assert covered(tags[0], boxes[1]) == 0 and covered(tags[1], boxes[0]) == 0, (boxes, tags)
    assert covered(tags[0], boxes[0]) == covered(tags[1], boxes[1]) == 0  # nor its own face, as small as itself
    assert abs(tags[1]["y"] - boxes[1]["y"] - boxes[1]["height"]) < 1.5 and abs(tags[1]["x"] - boxes[1]["x"]) < 1.5
    assert abs(tags[0]["y"] + tags[0]["height"] - boxes[0]["y"]) < 1.5  # the upper one stays above its box
    page.context.close()
