"""The back office in Chromium, logged in as an admin, in English and Korean at desktop (1280 px) and phone (390 px)
width: every admin page (the home page, each list, a searched and filtered list, a user's edit page, the details
pages) fits without sideways scrolling of the page (a wide list scrolls inside its own box), with the contrast,
text-size and focus-ring audit of the main pages (tests/e2e/audit.js); on a phone the menu folds behind its button;
a Korean admin reads a failure reason in Korean.

Screenshots of each page, language and width are saved in SCREENS (the system's temporary folder; overwritten by
each run), to be looked at."""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import expect

from extensions import db
from models import Analysis, Detection, JobStatus, Media, User
from tests.conftest import login, make_user, upload
from tests.e2e.test_layout import VIEWPORTS, audit_page

SCREENS = Path(tempfile.gettempdir()) / "moodlens-e2e-admin"
LOCALES = {"en": "en-US", "ko": "ko-KR"}
LISTS = {"users": "/admin/admin_users/", "analyses": "/admin/admin_analyses/",
         "detections": "/admin/admin_detections/"}
INTERRUPTED = {"en": "The work was interrupted 3 times and was given up.", "ko": "작업이 3번 중단되어 그만두었어요."}


def seed(app, astronaut_jpeg: bytes) -> dict[str, str]:
    """A user's photo (one face; a long file name) and a video whose job was given up; every admin page's path."""
    make_user(app, "dana")
    client = app.test_client()
    login(client, "dana")
    photo = int(upload(client, astronaut_jpeg, "a photo with a rather long file name of a person.jpg")
                .location.rsplit("/", 1)[1])
    with app.app_context():
        dana = db.session.scalar(db.select(User).filter_by(username="dana"))
        video = Analysis(user=dana, media=Media.VIDEO, status=JobStatus.FAILED, stored_name="given-up.mp4",
                         format="mp4", width=640, height=360, original_name="clip.mp4", error=INTERRUPTED["en"])
        db.session.add(video)
        db.session.commit()
        face = db.session.scalar(db.select(Detection.id).filter_by(analysis_id=photo))
        return {"home": "/admin/", **LISTS, "analyses-searched": "/admin/admin_analyses/?search=dana&flt0_0=dana",
                "user-edit": f"/admin/admin_users/edit/?id={dana.id}",
                "photo-details": f"/admin/admin_analyses/details/?id={photo}",
                "failed-video-details": f"/admin/admin_analyses/details/?id={video.id}",
                "face-details": f"/admin/admin_detections/details/?id={face}"}


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
            page.goto(base + paths["failed-video-details"])
            assert INTERRUPTED[language] in page.inner_text("table.searchable")
            if viewport == "phone":  # the menu folds behind its button, and opens
                page.click(".navbar-toggler")
                expect(page.locator(f"#admin-navbar-collapse a[href='{LISTS['users']}']")).to_be_visible()
                assert page.evaluate("() => document.scrollingElement.scrollWidth <= innerWidth")
            context.close()
    assert not problems, f"screenshots in {SCREENS}: {problems}"
