"""The interface in Korean, in Chromium: a browser that asks for Korean gets every main page in Korean
(`<html lang="ko">`, Korean headings), at desktop (1280 px) and phone (390 px) width with no sideways scrolling and
the same contrast and text-size audit as the English pages (tests/e2e/audit.js); the header's switch (on a phone, in
the header's menu) goes to English and back.

Screenshots of each page and width are saved in SCREENS (the system's temporary folder; overwritten by each run),
to be looked at. Whether Hangul glyphs are drawn depends on the machine's fonts (Debian's fonts-nanum, installed
by scripts/test.sh); nothing here depends on them."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.e2e.test_layout import VIEWPORTS, audit_page, seed_history

SCREENS = Path(tempfile.gettempdir()) / "moodlens-e2e-korean"
ANONYMOUS = {"index": "/", "login": "/login"}
MAIN_PAGES = ("upload", "photo-result", "history", "dashboard", "subject-dashboard", "weekly-report", "about")
HEADINGS = {"index": "어떤 기분일까요?", "login": "로그인", "upload": "사진이나 동영상 분석", "history": "내 기록",
            "dashboard": "대시보드", "subject-dashboard": "Mia의 대시보드", "about": "모델 소개"}


def walk(page, base: str, paths: dict[str, str], viewport: str) -> dict:
    """Audit each page; record what is not in Korean."""
    problems = {}
    for name, path in paths.items():
        found = audit_page(page, base + path, SCREENS / f"{viewport}-{name}.png")
        if page.get_attribute("html", "lang") != "ko":
            found["lang"] = page.get_attribute("html", "lang")
        if name in HEADINGS and HEADINGS[name] not in page.inner_text("h1"):
            found["heading"] = page.inner_text("h1")
        if found:
            problems[name] = found
    return problems


def switch_language(page, viewport: str, locale: str) -> None:
    """The header's switch; on a phone it is in the header's menu, opened first."""
    if viewport == "phone":
        page.click(".site-header summary")
    page.click(f"button[name=locale][value={locale}]")


def test_main_pages_in_korean_fit_and_read_well(live_app, browser, astronaut, tmp_path):
    app, base = live_app
    paths = seed_history(app, astronaut, tmp_path)
    SCREENS.mkdir(exist_ok=True)
    problems = {}
    for viewport, size in VIEWPORTS.items():
        context = browser.new_context(viewport=size, is_mobile=viewport == "phone", has_touch=viewport == "phone",
                                      locale="ko-KR")  # Chromium sends Accept-Language: ko-KR
        page = context.new_page()
        problems |= {f"{viewport} {name}": found for name, found in walk(page, base, ANONYMOUS, viewport).items()}
        page.goto(base + "/login")
        page.fill("#username", "dana")
        page.fill("#password", "correct horse")
        page.click("input[type=submit]")
        main = {name: paths[name] for name in MAIN_PAGES}
        problems |= {f"{viewport} {name}": found for name, found in walk(page, base, main, viewport).items()}
        page.goto(base + paths["history"])
        switch_language(page, viewport, "en")
        assert page.get_attribute("html", "lang") == "en" and "Your history" in page.inner_text("h1")
        assert page.url == base + paths["history"]
        switch_language(page, viewport, "ko")
        assert page.get_attribute("html", "lang") == "ko"
        context.close()
    assert not problems, f"screenshots in {SCREENS}: {problems}"
