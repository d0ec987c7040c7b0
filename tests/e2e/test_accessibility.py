"""What a keyboard and a screen reader meet, from an accessibility review (axe-core and the keyboard, by hand):
"Why?" keeps the focus while it works, says each quarter rather than every poll, then that the maps are ready, and
moves the focus to them; a form answered with an error puts the focus on the field; the back office's lists name
their icon controls and filter boxes and have a main landmark with a skip link; the charts have their data as text."""

from __future__ import annotations

from playwright.sync_api import expect

from bench.fixtures import login, make_user
from tests.conftest import upload

WATCH_STATUS = """() => { window.statusChanges = 0;
  new MutationObserver(() => window.statusChanges++)
    .observe(document.querySelector('.why-state'), {childList: true, characterData: true, subtree: true}); }"""


def log_in(page, base: str, name: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("input[type=submit]")


def test_why_keeps_the_focus_says_little_and_brings_the_maps_into_focus(live_app, page, astronaut_jpeg):
    app, base = live_app
    make_user(app, "mina", "mina's password")
    log_in(page, base, "mina", "mina's password")
    page.goto(base + "/analyze")
    page.set_input_files("#file", {"name": "face.jpg", "mimeType": "image/jpeg", "buffer": astronaut_jpeg})
    page.click("input[type=submit]")
    page.wait_for_selector(".face-box")
    page.evaluate(WATCH_STATUS)
    why = page.locator("section.why button")
    why.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.textContent").startswith("Why")  # not dropped to the page
    expect(why).to_have_attribute("aria-disabled", "true")
    page.wait_for_selector(".why-images img", timeout=60_000)
    expect(page.locator(".why-state")).to_have_text("The explanation is ready: its heat maps are below.")
    assert page.evaluate("document.activeElement.className") == "why-images"
    assert page.evaluate("window.statusChanges") <= 6  # starting, 0/25/50/75%, ready: not one per poll


def test_a_form_answered_with_an_error_puts_the_focus_on_the_field(live_app, page):
    app, base = live_app
    make_user(app, "taken", "a password")
    page.goto(base + "/register")
    page.fill("#username", "taken")
    page.fill("#password", "correct horse")
    page.fill("#confirm", "correct horse")
    page.click("input[type=submit]")
    expect(page.locator("#username-error")).to_have_attribute("role", "alert")
    expect(page.locator("#username")).to_be_focused()  # by focus.js, deferred: waited for (a loaded CI machine)


def test_buttons_keep_an_edge_in_windows_high_contrast(live_app, page):
    """Forced colours draw no background: a button without a border read as plain text beside a select."""
    _, base = live_app
    page.goto(base + "/login")
    submit = page.locator("input[type=submit]")
    assert submit.evaluate("element => getComputedStyle(element).borderTopWidth") == "0px"
    page.emulate_media(forced_colors="active")
    assert submit.evaluate("element => getComputedStyle(element).borderTopWidth") == "1px"


def test_the_back_office_names_its_controls_and_has_a_main_part(live_app, page, astronaut_jpeg):
    app, base = live_app
    make_user(app, "dana")
    client = app.test_client()
    login(client, "dana")
    upload(client, astronaut_jpeg, "face.jpg")
    log_in(page, base, "admin", "admin password")
    page.goto(base + "/admin/admin_analyses/?flt0_0=dana")
    expect(page.locator("main#main")).to_have_count(1)
    expect(page.locator("a.skip-link")).to_have_attribute("href", "#main")
    expect(page.locator("input.filter-val")).to_have_attribute("aria-label", "User's name: value")
    expect(page.locator("a.remove-filter")).to_have_attribute("aria-label", "Remove the User's name filter")
    names = page.eval_on_selector_all(".model-list a.icon, .model-list form.icon button",
                                      "icons => icons.map(icon => icon.getAttribute('aria-label'))")
    assert names and all(name and name.isascii() and name[0].isalpha() for name in names), names
    expect(page.locator(".model-list input.action-checkbox").first).to_have_attribute("aria-label", "Select this row")


def test_a_refused_back_office_form_says_which_field_and_why(live_app, page):
    """Flask-Admin's markup left a refused field unmarked and its reason and hint apart from it; the page's message
    was a status, not read out."""
    app, base = live_app
    mina = make_user(app, "mina")
    log_in(page, base, "admin", "admin password")
    page.goto(base + f"/admin/admin_users/edit/?id={mina}")
    expect(page.locator("#is_admin")).to_have_attribute("aria-describedby", "is_admin-note-0")  # its hint
    page.fill("#username", "bad name!")
    page.press("#username", "Enter")
    username = page.locator("#username")
    expect(username).to_be_focused()
    expect(username).to_have_attribute("aria-invalid", "true")
    reason = page.locator("#" + username.get_attribute("aria-describedby").split()[0])
    expect(reason).to_contain_text("Use English or Korean letters, digits, dots, dashes and underscores only.")
    expect(page.locator("main .alert-danger")).to_have_attribute("role", "alert")
