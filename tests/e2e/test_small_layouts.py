"""In Chromium, at 1280 and 390 px: the account page's cards in two columns on a wide screen and one on a phone; the
alert form's error as wide as the form, not a column under its small number field, and on a phone its button beside a
field, in Korean too; a long file name on a subject's appearance tile wraps between its parts, inside the tile.
Screenshots go to artifacts/e2e/ (details-small-*.png)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from bench.fixtures import StoredAnalysis, make_subject, make_user, store_analyses
from extensions import db
from models import Analysis, Detection
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_details import log_in, shot
from tests.e2e.test_layout import VIEWPORTS

LONG_NAME = "scottish_terrier_10_on_the_beach_at_dawn.jpg"
COLUMNS = {"desktop": 2, "phone": 1}
LINE_ENDS = tuple("_. :-")  # where a file name may wrap (the wrappable filter, and the browser's own breaks)

LINE_BREAKS = """element => {  // the text before each place the element's text moves to a new line
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT), range = document.createRange();
  let text = "", last = null;
  const breaks = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    for (let i = 0; i < node.length; i++) {
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const box = range.getClientRects()[0];
      if (!box) continue;
      if (last !== null && box.top > last + 1) breaks.push(text);
      text += node.data[i];
      last = box.top;
    }
  }
  return breaks;
}"""


def alert_error(page: Page, base: str, subject: int) -> None:
    """Sends 150 % (past the browser's own check): the error spans the form, on one or two lines."""
    page.goto(f"{base}/dashboard?subject={subject}")
    page.locator("form.alert-form").evaluate("form => form.noValidate = true")
    page.fill("#percent", "150")
    page.click("form.alert-form [type=submit]")
    error = page.locator(".alert-form .field-error")
    expect(error).to_have_text("More than (%): Give a number from 5 to 95.")  # apart from its field: named
    box, form = error.bounding_box(), page.locator("form.alert-form").bounding_box()
    line = float(error.evaluate("e => getComputedStyle(e).lineHeight").removesuffix("px"))
    assert abs(box["width"] - form["width"]) < 1 and box["height"] < 2.5 * line, (box, form)


def appearance_name(page: Page) -> None:
    """The long name stays inside its tile and wraps only after its parts."""
    name = page.locator(".appearance-name", has_text="scottish")
    expect(name).to_have_attribute("title", f"{LONG_NAME}: Face 1")
    box, tile = name.bounding_box(), name.locator("xpath=ancestor::li[1]").bounding_box()
    assert box["x"] >= tile["x"] and box["x"] + box["width"] <= tile["x"] + tile["width"] + 0.5, (box, tile)
    assert name.evaluate("e => e.scrollWidth <= e.clientWidth")
    breaks = name.evaluate(LINE_BREAKS)
    assert breaks and all(before.endswith(LINE_ENDS) for before in breaks), breaks


def dana_on_a_touch_phone(browser, base: str, viewport: dict[str, int]) -> Page:
    """Dana logged in, in English, on a touch screen of `viewport` (its buttons are taller flex boxes)."""
    page = browser.new_context(viewport=viewport, is_mobile=True, has_touch=True, locale="en-US").new_page()
    page.goto(base + "/login")
    page.fill("#username", "dana")
    page.fill("#password", "correct horse")
    page.click("input[type=submit]")
    return page


def test_account_cards_alert_error_and_appearance_names_fit(live_app, browser):
    app, base = live_app
    dana = make_user(app, "dana")
    mia = make_subject(app, dana, "Mia")
    store_analyses(app, dana, [StoredAnalysis(LONG_NAME, "happy", mia), StoredAnalysis("cup.jpg", "sad", mia)])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for viewport in VIEWPORTS:
        page = log_in(browser, base, "dana", "en-US", viewport)
        page.goto(f"{base}/account")
        columns = {round(card.bounding_box()["x"]) for card in page.locator("section.account").all()}
        assert len(columns) == COLUMNS[viewport], columns
        shot(page, f"small-account-{viewport}")
        alert_error(page, base, mia)
        appearance_name(page)
        shot(page, f"small-dashboard-{viewport}")
        page.context.close()


def test_the_alert_button_shares_its_row_with_a_field_on_a_phone(live_app, browser):
    """In Korean at 390 px the three fields once filled a row and left "Add alert" alone on the next."""
    app, base = live_app
    dana = make_user(app, "dana")
    mia = make_subject(app, dana, "Mia")
    for locale in ("ko-KR", "en-US"):
        page = log_in(browser, base, "dana", locale, "phone")
        page.goto(f"{base}/dashboard?subject={mia}")
        inputs = page.locator("form.alert-form > .field:not(:has([type=submit]))").all()
        fields, button = [field.bounding_box() for field in inputs], page.locator("form.alert-form [type=submit]")
        top, bottom = button.bounding_box()["y"], button.bounding_box()["y"] + button.bounding_box()["height"]
        beside = [field for field in fields if field["y"] < bottom and top < field["y"] + field["height"]]
        assert len(fields) == 3 and beside, (locale, fields, top, bottom)
        select, percent = (page.locator(f"form.alert-form {control}").bounding_box()
                           for control in ("select", "input[name=percent]"))
        assert abs(select["y"] - percent["y"]) < 2, (locale, select, percent)  # one row: level, hint or none
        shot(page, f"small-alert-{locale}")
        page.context.close()


def test_a_new_api_token_shows_whole_on_a_phone_and_its_button_copies_it(live_app, browser):
    """The token, shown once, once ran off a phone's one-line field with no way to copy it but selecting; the example
    under it scrolled in its box (at 1280 px too), its address out of sight and of a keyboard's reach."""
    app, base = live_app
    make_user(app, "dana")
    page = log_in(browser, base, "dana", "en-US", "phone")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.goto(f"{base}/account")
    page.locator("form[action$='/account/tokens'] input[type=password]").fill("correct horse")
    page.get_by_role("button", name="Create a token").click()
    token = page.locator("#new-token")
    plain = token.input_value()
    assert len(plain) > 30 and token.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight")
    example = page.locator(".token-example")  # the curl line wraps: scrolled, its address was out of sight and of reach
    assert "/api/v1/analyses" in example.inner_text() and example.evaluate("e => e.scrollWidth <= e.clientWidth")
    page.get_by_role("button", name="Copy token").click()
    expect(page.locator(".copy-row [role=status]")).to_have_text("Copied.")
    assert page.evaluate("() => navigator.clipboard.readText()") == plain
    shot(page, "small-token-phone")
    assert not page.console_errors
    page.context.close()


def test_a_long_name_without_spaces_fits_a_touch_phone(live_app, browser):
    """A 64-letter name: a touch screen's taller buttons are flex boxes, whose text did not wrap ("Delete …" ran off
    the delete page, 470 px wide), nor did the weekly report's link to the dashboard at its end (477 px)."""
    app, base = live_app
    dana = make_user(app, "dana")
    name = "Wolfeschlegelsteinhausenbergerdorffwelchevoralternwarengewissen"[:64]
    rex = make_subject(app, dana, name, kind="dog")
    store_analyses(app, dana, [StoredAnalysis("rex.jpg", "happy", rex, kind="dog")])
    page = dana_on_a_touch_phone(browser, base, VIEWPORTS["phone"])
    for path in (f"/subjects/{rex}/delete", f"/subjects/{rex}/report"):
        page.goto(base + path)
        expect(page.locator("h1")).to_contain_text(name[:20])
        shot(page, f"small-long-name-{path.rsplit('/', 1)[1]}")
    page.context.close()



def test_a_history_cards_reading_wraps_inside_it_on_a_narrow_phone(live_app, browser):
    """"1 dog: unsure, perhaps angry" stayed on one line and ran past its card and off a 360 px phone's screen (the
    page scrolled sideways); at 320 px (the width pages must reflow to) it wraps inside the card."""
    app, base = live_app
    dana = make_user(app, "dana")
    weak = {"angry": 0.4, "happy": 0.3, "relaxed": 0.2, "sad": 0.1}
    store_analyses(app, dana, [StoredAnalysis("dogs-then-mum.mp4", "angry", kind="dog", emotions=weak)])
    with app.app_context():  # and a face: each kind gets its own badge
        analysis = db.session.scalar(db.select(Analysis))
        face = Detection(position=2, kind="human", x1=5, y1=0, x2=10, y2=5, score=0.9, emotions={"happy": 1.0},
                         top="happy")
        face.keep_reading()
        analysis.detections.append(face)
        analysis.shown_count = 2
        db.session.commit()
    page = dana_on_a_touch_phone(browser, base, {"width": 320, "height": 640})
    page.goto(base + "/analyses")
    reading, card = page.locator(".kind-reading").last, page.locator(".history-item").first
    expect(reading).to_contain_text("unsure, perhaps angry")
    box, card_box = reading.bounding_box(), card.bounding_box()
    assert box["x"] + box["width"] <= card_box["x"] + card_box["width"], (box, card_box)
    shot(page, "small-history-320")
    page.context.close()


def test_back_to_a_filtered_history_or_dashboard_shows_its_own_filters(live_app, browser):
    """Back after choosing other filters showed Rex's list under a form that said "Mum, Videos" (the browser put
    the choices back): an "Apply" then changed more than the one choice the user made."""
    app, base = live_app
    dana = make_user(app, "dana")
    rex, mum = make_subject(app, dana, "Rex", kind="dog"), make_subject(app, dana, "Mum")
    store_analyses(app, dana, [StoredAnalysis("rex.jpg", "happy", rex, kind="dog"),
                               StoredAnalysis("mum.jpg", "sad", mum)])
    page = log_in(browser, base, "dana", "en-US", "phone")
    page.goto(f"{base}/analyses?subject={rex}")
    page.select_option("select[name=subject]", str(mum))
    page.select_option("select[name=media]", "video")
    page.click(".history-filter [type=submit]")
    expect(page.locator("select[name=media]")).to_have_value("video")
    page.go_back()
    expect(page.locator("select[name=subject]")).to_have_value(str(rex))
    expect(page.locator("select[name=media]")).to_have_value("")
    page.goto(f"{base}/dashboard?subject={rex}")
    page.select_option("#subject", str(mum))
    page.click(".subject-filter [type=submit]")
    expect(page.locator("h1")).to_have_text("Mum's dashboard")
    page.go_back()
    expect(page.locator("h1")).to_have_text("Rex's dashboard")
    expect(page.locator("#subject")).to_have_value(str(rex))
    assert not page.console_errors
    page.context.close()
