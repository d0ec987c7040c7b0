"""Browser-test fixtures: the real app served from a thread (with the embedded job worker) and Debian's
/usr/bin/chromium driven by Playwright."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Error as PlaywrightError, Playwright, sync_playwright
from werkzeug.serving import make_server

from bench import ROOT
from bench.fixtures import make_app, make_user

ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture()
def live_app(tmp_path):
    """(app, base URL): the app on a migrated SQLite database, served on a free loopback port."""
    app = make_app(tmp_path, TESTING=False, SECRET_KEY="e2e", JOBS_MODE="thread", JOBS_POLL_SECONDS=0.5,
                   VIDEO_FPS=10)  # more frames per video: the progress bar has time to move
    make_user(app, "admin", "admin password", admin=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["moodlens_jobs"].stop()


@pytest.fixture()
def live_server(live_app) -> str:
    return live_app[1]


class Chromium:
    """Debian's Chromium for a group of tests, driven by Playwright, launched when first asked for and again if it
    crashed (a crash failed every later browser test of its process: "Target closed")."""

    def __init__(self, playwright: Playwright):
        self.playwright = playwright
        self.browser: Browser | None = None

    def running(self) -> Browser:
        if not self._answers():
            self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        return self.browser

    def _answers(self) -> bool:
        """Whether the browser is there and answers a call (`is_connected` learns of a crash between tests only
        when a call waits on the browser)."""
        if self.browser is None or not self.browser.is_connected():
            return False
        try:
            self.browser.new_context().close()
        except PlaywrightError:
            return False
        return True


@contextmanager
def launched_chromium() -> Iterator[Chromium]:
    """A `Chromium` until the block ends."""
    with sync_playwright() as playwright:
        chromium = Chromium(playwright)
        yield chromium
        if chromium.browser is not None and chromium.browser.is_connected():
            chromium.browser.close()


@pytest.fixture(scope="package")
def chromium() -> Iterator[Chromium]:
    """One Chromium for the browser tests (starting one took a second and a half a test)."""
    with launched_chromium() as launched:
        yield launched


@pytest.fixture()
def browser(chromium) -> Iterator[Browser]:
    """The Chromium, whose pages and contexts (their cookies and storage) the test closes when it ends."""
    running = chromium.running()
    yield running
    for context in running.contexts if running.is_connected() else []:
        context.close()


@pytest.fixture()
def page(browser):
    """A desktop-sized page that records console errors in `page.console_errors`."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.console_errors = []
    page.on("console", lambda message: page.console_errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    return page
