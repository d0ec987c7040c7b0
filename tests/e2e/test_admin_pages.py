"""The back office in Chromium, logged in as an admin, in English and Korean at desktop (1280 px) and phone (390 px)
width: every admin page (the home page, each list, a searched and filtered list, a user's edit page, the details
pages) fits without sideways scrolling of the page nor of a list in its own box (on a phone each row of a list is a
compact card, each value after its column's name, the empty ones left out; a desktop keeps the table), with the
contrast, text-size and focus-ring audit of the main pages (tests/e2e/audit.js), with the reader's language on
<html>; on a phone the brand stays and the menu folds behind its button; a Korean admin reads a failure reason, a
yes/no filter's options and a video track's moments in Korean; a bulk action says what it did; a bulk delete of
users first asks on a page that names each account.

Screenshots of each page, language and width are saved in SCREENS (the system's temporary folder; overwritten by
each run), to be looked at."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from playwright.sync_api import expect

from bench.fixtures import login, make_user
from extensions import db
from models import Analysis, Detection, JobStatus, Media, User
from tests.conftest import upload
from tests.e2e.test_layout import VIEWPORTS, audit_page
from tests.test_admin import video_track

SCREENS = Path(tempfile.gettempdir()) / "moodlens-e2e-admin"
LOCALES = {"en": "en-US", "ko": "ko-KR"}
LISTS = {"users": "/admin/admin_users/", "analyses": "/admin/admin_analyses/",
         "detections": "/admin/admin_detections/"}
CLEAR_SEARCH = {"en": "Clear the search", "ko": "검색 지우기"}  # the × beside the search box
INTERRUPTED = {"en": "The work was interrupted 3 times and was given up.", "ko": "작업이 3번 중단되어 그만두었어요."}
WORDS = {"en": {"add filter": "Add Filter", "administrator": "Administrator", "yes/no": ["Yes", "No"],
                "created": "Created", "picker": ["Su", "Mo", "Tu", "We", "Th", "Fr", "Sa", "Apply", "Cancel"],
                "with selected": "With selected", "activated": "The chosen users already were so: nothing changed.",
                "first moment": "0.0 s: neutral 60% (unsure)", "taken": "That username is taken.",
                "username": "Username", "dana goes": "dana, with 3 uploads and 0 people and pets",
                "filter names": ["Administrator: condition equals", "Administrator: value Yes"]},
         "ko": {"add filter": "필터 추가", "administrator": "관리자", "yes/no": ["예", "아니요"],
                "created": "만든 때", "picker": ["일", "월", "화", "수", "목", "금", "토", "적용", "취소"],
                "with selected": "선택한 항목들을", "activated": "선택한 사용자는 이미 그 상태예요. 바뀐 것이 없어요.",
                "first moment": "0.0초: 무표정 60% (확실하지 않음)", "taken": "이미 사용 중인 사용자 이름이에요.",
                "username": "사용자 이름", "dana goes": "dana 계정(업로드 3개, 사람·반려동물 0개)",
                "filter names": ["관리자: 조건 같음", "관리자: 값 예"]}}


def seed(app, astronaut_jpeg: bytes) -> dict[str, str]:
    """A user's photo (one face; a long file name, 40 letters of it without a space: the removal page's question, hint
    and button name it), a video whose job was given up and one with a face track that
    changes emotion; every admin page's path."""
    make_user(app, "dana")
    client = app.test_client()
    login(client, "dana")
    photo = int(upload(client, astronaut_jpeg, f"a photo with a rather long file name of a person_{'X' * 40}.jpg")
                .location.rsplit("/", 1)[1])
    with app.app_context():
        dana = db.session.scalar(db.select(User).filter_by(username="dana"))
        video = Analysis(user=dana, media=Media.VIDEO, status=JobStatus.FAILED, stored_name="given-up.mp4",
                         format="mp4", width=640, height=360, original_name="clip.mp4", error=INTERRUPTED["en"])
        db.session.add(video)
        db.session.commit()
        video_id = video.id
        face = db.session.scalar(db.select(Detection.id).filter_by(analysis_id=photo))
        dana_id = dana.id
    track = video_track(app, dana_id)
    return {"home": "/admin/", **LISTS, "analyses-searched": "/admin/admin_analyses/?search=dana&flt0_0=dana",
            "users-not-admins": "/admin/admin_users/?flt0_0=0", "user-edit": f"/admin/admin_users/edit/?id={dana_id}",
            "photo-details": f"/admin/admin_analyses/details/?id={photo}",
            "photo-remove": f"/admin/admin_analyses/remove/?id={photo}",
            "failed-video-details": f"/admin/admin_analyses/details/?id={video_id}",
            "face-details": f"/admin/admin_detections/details/?id={face}",
            "track-details": f"/admin/admin_detections/details/?id={track}", "jobs": "/admin/jobs/"}


def test_every_admin_page_fits_a_phone_in_both_languages(live_app, browser, astronaut_jpeg):
    app, base = live_app  # the fixture made the admin "admin"
    paths = seed(app, astronaut_jpeg)
    SCREENS.mkdir(exist_ok=True)
    problems = {}
    for language, locale in LOCALES.items():
        for viewport, size in VIEWPORTS.items():
            context = browser.new_context(viewport=size, is_mobile=viewport == "phone",
                                          has_touch=viewport == "phone", locale=locale)
            page = context.new_page()
            page.goto(base + "/login")
            page.fill("#username", "admin")
            page.fill("#password", "admin password")
            page.click("input[type=submit]")
            for name, path in paths.items():
                if found := audit_page(page, base + path, SCREENS / f"{language}-{viewport}-{name}.png"):
                    problems[f"{language} {viewport} {name}"] = found
                assert page.evaluate("() => document.documentElement.lang") == language, name
                assert not any(list_overflow(page)), f"{language} {viewport} {name}: a list scrolls sideways"
            page.goto(base + LISTS["users"])  # a card's values named on a phone (a name needs none; a bare date said
            labels = before_cells(page, ("is_admin", "username", "created_at"))  # nothing); a desktop's table
            assert labels == ([f'"{WORDS[language]["administrator"]} "', "none", f'"{WORDS[language]["created"]} "']
                              if viewport == "phone" else ["none", "none", "none"])
            assert page.locator("table.model-list").evaluate("list => getComputedStyle(list).display") == (
                "block" if viewport == "phone" else "table")
            if viewport == "phone":
                assert_compact_cards(page, base, paths)
            page.goto(base + paths["analyses-searched"])
            clear = page.get_by_role("link", name=CLEAR_SEARCH[language], exact=True)
            assert "search=" not in clear.get_attribute("href") and clear.get_attribute("href").startswith(
                LISTS["analyses"])
            page.goto(base + paths["failed-video-details"])
            assert INTERRUPTED[language] in page.inner_text("table.searchable")
            page.goto(base + paths["jobs"])  # the given-up video among the unfinished jobs, with its "Retry"
            assert INTERRUPTED[language] in page.inner_text("table.model-list")
            expect(page.locator("table.model-list button[type=submit]")).to_have_count(1)
            expect(page.locator(".navbar-brand")).to_be_visible()
            if viewport == "phone":  # the menu folds behind its button, and opens
                page.click(".navbar-toggler")
                expect(page.locator(f"#admin-navbar-collapse a[href='{LISTS['users']}']")).to_be_visible()
                assert page.evaluate("() => document.scrollingElement.scrollWidth <= innerWidth")
            problems.update(use_the_admin(page, base, paths, language, viewport))
            context.close()
    assert not problems, f"screenshots in {SCREENS}: {problems}"


def use_the_admin(page, base: str, paths: dict[str, str], language: str, viewport: str) -> dict:
    """Open a track's every moment, add the "administrator" filter and read its options, open the date picker of
    the "created" filter and type a date in its box instead (the filter is applied with Enter), run a bulk action
    (from a menu that stays on the screen; on a phone, a row's icons are 44 px targets), start a bulk delete (its
    page names the user) and cancel it, give a user a name that is taken; the pages that result, audited (their
    problems by name)."""
    words, screens, problems = WORDS[language], SCREENS / f"{language}-{viewport}", {}
    page.goto(base + paths["track-details"])
    page.click("table.searchable details summary")
    expect(page.locator("ol.moments li").first).to_have_text(words["first moment"])
    page.screenshot(path=f"{screens}-track-moments.png", full_page=True)
    page.goto(base + LISTS["users"])
    expect(page.locator(".navbar [aria-current=page]")).to_have_attribute("href", LISTS["users"])  # not the eye's alone
    page.locator(".nav-tabs .dropdown-toggle", has_text=words["add filter"]).click()
    page.locator("a.filter", has_text=words["administrator"]).click()
    assert page.locator("table.filters select.filter-val option").all_inner_texts() == words["yes/no"]
    for name in words["filter names"]:  # select2's own names were the choice alone: "equals", "Yes"
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(1)
    page.screenshot(path=f"{screens}-filter-added.png", full_page=True)
    page.locator(".nav-tabs .dropdown-toggle", has_text=words["add filter"]).click()
    page.locator("a.filter", has_text=words["created"]).click()
    page.locator("table.filters input.filter-val").last.click()
    picker = page.locator(".daterangepicker:visible")
    days = picker.locator("thead tr").last.locator("th").all_inner_texts()
    assert days + picker.locator("button").all_inner_texts() == words["picker"]
    if found := audit_page(page, None, Path(f"{screens}-date-picker.png")):
        problems[f"{language} {viewport} date picker"] = found
    box = page.locator("table.filters input.filter-val").last  # typed, not picked: the picker rewrote every key
    box.press("Control+A")
    box.press_sequentially("2026-12-01 00:00:00")
    expect(box).to_have_value("2026-12-01 00:00:00")
    box.press("Enter")
    page.wait_for_url(re.compile(r"flt\d+_\d+=2026-12-01"))
    page.goto(base + LISTS["users"])
    if viewport == "phone":
        assert min(row_action_sides(page)) >= 44  # a thumb hits a row's edit or delete, not its neighbour
    page.locator("input.action-checkbox").last.check()
    page.locator(".nav-tabs .dropdown-toggle", has_text=words["with selected"]).click()
    expect(page.locator(".dropdown-menu.show")).to_be_visible()
    assert open_menu_fits(page), f"{language} {viewport}: the bulk actions' menu runs off the screen"
    page.click("a[onclick*=\"'activate'\"]")  # an active user: nothing to change, and said so
    page.wait_for_load_state("load")
    expect(page.locator(".alert-info")).to_contain_text(words["activated"])
    if found := audit_page(page, None, Path(f"{screens}-bulk-action-done.png")):
        problems[f"{language} {viewport} bulk action done"] = found
    page.locator("input.action-checkbox").last.check()  # dana's
    page.locator(".nav-tabs .dropdown-toggle", has_text=words["with selected"]).click()
    page.click("a[onclick*=\"'delete'\"]")
    expect(page.locator("main li")).to_have_text(words["dana goes"])
    if found := audit_page(page, None, Path(f"{screens}-bulk-delete-asked.png")):
        problems[f"{language} {viewport} bulk delete asked"] = found
    page.locator("main a.btn-secondary").click()  # "Cancel": dana stays
    expect(page.locator("input.action-checkbox")).to_have_count(2)
    page.goto(base + paths["user-edit"])
    page.fill("#username", "ADMIN")
    page.locator("form.admin-form input[type=submit]").first.click()
    expect(page.locator("form.admin-form .text-danger li")).to_have_text(words["taken"])
    if found := audit_page(page, None, Path(f"{screens}-user-edit-refused.png")):
        problems[f"{language} {viewport} user edit refused"] = found
    return problems


def assert_compact_cards(page, base: str, paths: dict[str, str]) -> None:
    """On a phone an analysis is a card of a few lines (thumbnail; owner and file; emotion, time and the rest), not a
    line a value (490 px), its upload's time unnamed (beside its emotion, it says what it is), its emotion and status
    named; Korean words are not broken inside (as on the app's pages); a value that is empty
    (a photo's worker) and a details page's empty row are left out."""
    page.goto(base + LISTS["analyses"])
    assert before_cells(page, ("created_at", "media")) == ["none", "none"]
    assert "none" not in before_cells(page, ("top_emotion", "status"))  # "sad ... done photo" read as one phrase
    assert page.evaluate("() => getComputedStyle(document.body).wordBreak") == "keep-all"  # Korean: "삭 / 제할까요?"
    rows = page.locator("table.model-list tbody tr")
    heights = [row.bounding_box()["height"] for row in rows.all()]
    assert heights and max(heights) <= 250, heights  # a long file name on two lines: 214 px
    worker = page.locator("table.model-list td.col-worker").last  # the photo's: no worker
    assert not worker.inner_text().strip() and not worker.is_visible()
    page.goto(base + paths["face-details"])
    rows = page.locator("table.searchable tr")
    empty = [row.is_visible() for row in rows.all()
             if not row.locator("td").last.inner_text().strip() and not row.locator("td img").count()]  # the crop
    assert empty and not any(empty)


def before_cells(page, columns: tuple[str, ...]) -> list[str]:
    """What is written before the first cell of each column of the list (its name on a phone's card, or "none")."""
    return [page.locator(f"table.model-list td.col-{column}").first.evaluate(
        "cell => getComputedStyle(cell, '::before').content") for column in columns]


def list_overflow(page) -> list[int]:
    """How far each list on the page scrolls sideways inside its own box, in CSS pixels (0: it fits)."""
    return page.evaluate("""() => [...document.querySelectorAll('table.model-list')]
        .map(list => list.parentElement.scrollWidth - list.parentElement.clientWidth)""")


def row_action_sides(page) -> list[float]:
    """The width and height of every list row's edit, view and delete icon, in CSS pixels."""
    return page.evaluate("""() => [...document.querySelectorAll('.model-list a.icon, .model-list form.icon button')]
        .flatMap(icon => { const box = icon.getBoundingClientRect(); return [box.width, box.height]; })""")


def open_menu_fits(page) -> bool:
    """Every item of the open menu lies within the screen, and the page is no wider than the screen (the viewport's
    width: a phone's innerWidth grows with a page that overflows)."""
    return page.evaluate("""width => [...document.querySelectorAll('.dropdown-menu.show .dropdown-item')]
        .every(item => { const box = item.getBoundingClientRect(); return box.left >= 0 && box.right <= width; })
        && document.scrollingElement.scrollWidth <= width""", page.viewport_size["width"])
