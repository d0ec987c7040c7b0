"""The history's filter form in a browser: choosing someone in "Who" relists "Read as" with that subject's model's
emotions at once (a dog's four, a person's seven), before the form is applied; an emotion already chosen stays; and
coming back to the page puts back the page's own choices."""

from __future__ import annotations

from playwright.sync_api import expect

from bench.fixtures import StoredAnalysis, make_subject, make_user, store_analyses
from inference.labels import DetectionKind
from tests.e2e.conftest import ARTIFACTS

FACE_EMOTIONS = ["", "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
DOG_EMOTIONS = ["", "angry", "happy", "relaxed", "sad"]


def test_the_emotions_offered_follow_the_subject_chosen(live_app, browser):
    app, base = live_app
    user = make_user(app, "dana")
    mia, rex = make_subject(app, user, "Mia"), make_subject(app, user, "Rex", "dog")
    store_analyses(app, user, [StoredAnalysis("mia.jpg", "sad", mia),
                               StoredAnalysis("rex.jpg", "happy", rex, kind=DetectionKind.DOG)])
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    page.goto(base + "/login")
    page.fill("#username", "dana")
    page.fill("#password", "correct horse")
    page.click("input[type=submit]")
    page.goto(base + "/analyses")
    who, read_as = page.locator("select[name=subject]"), page.locator("select[name=emotion]")
    offered = read_as.locator("option")
    everyone = offered.evaluate_all("options => options.map(option => option.value)")
    assert set(everyone) == set(FACE_EMOTIONS) | set(DOG_EMOTIONS)

    who.select_option(str(rex))
    expect(offered).to_have_count(len(DOG_EMOTIONS))
    assert offered.evaluate_all("options => options.map(option => option.value)") == DOG_EMOTIONS
    read_as.select_option("relaxed")
    who.select_option(str(mia))  # "relaxed" stays chosen and listed: the page then says no reading of Mia can be it
    assert offered.evaluate_all("options => options.map(option => option.value)") == [*FACE_EMOTIONS, "relaxed"]
    expect(read_as).to_have_value("relaxed")
    page.screenshot(path=str(ARTIFACTS / "history-filter-relisted-phone.png"), full_page=True)

    read_as.select_option("sad")
    page.click(".history-filter button[type=submit]")
    expect(page.locator(".history-item")).to_have_count(1)
    page.wait_for_load_state()  # the new page's scripts have run (under load, the choice came before them)
    who.select_option(str(rex))
    expect(offered).to_have_count(len(DOG_EMOTIONS))  # "sad" is one of the dog's too
    page.goto(base + "/about")
    page.go_back()
    expect(who).to_have_value(str(mia))  # the page's own choices again, and Mia's emotions
    expect(read_as).to_have_value("sad")
    expect(offered).to_have_count(len(FACE_EMOTIONS))

    page.goto(base + f"/analyses?subject={mia}&emotion=fear")
    read_as.select_option("")  # "Any emotion", then the dog, whose list has no "fear" to keep as chosen ...
    who.select_option(str(rex))
    page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))")
    expect(who).to_have_value(str(mia))  # ... and the page shown again from the page cache: its own choices
    expect(read_as).to_have_value("fear")
    expect(offered).to_have_count(len(FACE_EMOTIONS))
