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
    page.click("input[type=submit]", no_wait_after=True)
    page.wait_for_timeout(300)  # an impatient second click while the photo is analysed
    page.mouse.click(button["x"] + button["width"] / 2, button["y"] + button["height"] / 2)
    page.wait_for_selector(".face-box")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 1
    page.go_back()  # the form works again when the user comes back to it
    assert page.locator("input[type=submit]").is_enabled()
