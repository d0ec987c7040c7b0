"""A second click on "Analyse" while the photo is analysed uploads it once (static/submit-once.js)."""

from __future__ import annotations

import time

from bench.fixtures import make_user
import services.analyses
from extensions import db
from models import Analysis


def test_an_upload_clicked_twice_is_sent_once(live_app, page, tmp_path, astronaut_jpeg, monkeypatch):
    app, base = live_app
    make_user(app, "mina", "mina's password")
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg)
    analyze = services.analyses.analyze_photo

    def slowly(*args, **kwargs):  # a large photo on a busy server
        time.sleep(1.5)
        return analyze(*args, **kwargs)

    monkeypatch.setattr(services.analyses, "analyze_photo", slowly)
    page.goto(base + "/login")
    page.fill("#username", "mina")
    page.fill("#password", "mina's password")
    page.click("input[type=submit]")
    page.goto(base + "/analyze")
    page.set_input_files("#file", str(photo))
    button = page.locator("input[type=submit]").bounding_box()
    said = []  # the page while it waits, told once every submit handler has run (the page is busy to evaluate)
    page.on("console", lambda message: said.append(message.text))
    page.evaluate("""document.querySelector("form[data-submit-once]").addEventListener("submit", () => setTimeout(() =>
        console.log(JSON.stringify([document.activeElement.type, document.activeElement.getAttribute("aria-disabled"),
                                    document.querySelector("form [role=status]").textContent]))))""")
    page.click("input[type=submit]", no_wait_after=True)
    page.wait_for_timeout(300)  # an impatient second click while the photo is analysed
    page.mouse.click(button["x"] + button["width"] / 2, button["y"] + button["height"] / 2)
    page.wait_for_selector(".face-box")
    assert said[0] == '["submit","true","Uploading…"]'  # the focus stays, and a screen reader hears why it waits
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 1
    page.go_back()  # the form works again when the user comes back to it
    assert page.locator("input[type=submit]").get_attribute("aria-disabled") is None


def test_a_photo_over_the_limit_is_refused_before_it_is_sent(live_app, page, tmp_path):
    """A 12 MB photo was uploaded whole, then refused: the browser now says so at once, and sends nothing."""
    app, base = live_app
    make_user(app, "mina", "mina's password")
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8" + b"\x00" * (app.config["MAX_UPLOAD_MB"] * 1024 * 1024 + 1))
    page.goto(base + "/login")
    page.fill("#username", "mina")
    page.fill("#password", "mina's password")
    page.click("input[type=submit]")
    page.goto(base + "/analyze")
    sent = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    page.set_input_files("#file", str(big))
    page.click("input[type=submit]")
    error = page.locator("#file-error")
    error.wait_for()
    assert error.inner_text() == f"Photos are limited to {app.config['MAX_UPLOAD_MB']} MB."
    assert sent == [] and page.locator("#file").get_attribute("aria-invalid") == "true"
    assert page.locator("input[type=submit]").is_enabled()  # another file can be chosen and sent
