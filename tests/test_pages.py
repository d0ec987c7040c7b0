"""Page details a browser test would be slow to check: the About page and where it is linked, form labels and
attributes, chart geometry (month names, axis labels) and transparent uploads shown on white."""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta

import numpy as np
import pytest
from PIL import Image

from bench.fixtures import StoredAnalysis, login, make_user, store_analyses
from inference import model_card
from inference.images import decode_image
from inference.model_card import model_figures
from inference.specs import DOG_HEAD_WEIGHTS
from models import utcnow
from services.storage import thumbnail_bytes
from tests.conftest import upload
from tests.test_numbering import store_photo, store_video
from tests.test_subjects import add_subject, subject_id
from insights.report import DayTops
from web.charts import axis_labels, calendar_cells, calendar_months, horizontal_bars


def about_text(client) -> str:
    page = client.get("/about")
    assert page.status_code == 200  # public: linked from every page's footer
    return " ".join(re.sub(r"<[^>]+>", "", page.get_data(as_text=True)).split())


def test_the_about_page_explains_every_column_of_the_exports_about_a_reading(client, alice):
    """The exports' columns about a reading (which the CSV names only by a word) each have a line on the About page,
    and the account page and a subject's dashboard link to it beside their exports."""
    from services.documents import UNCERTAINTY_COLUMNS
    page = client.get("/about").get_data(as_text=True)
    section = page.split('id="export-columns"')[1].split("</section>")[0]
    described = re.findall(r"<dt><code>(\w+)</code></dt>", section)
    assert described == ["top", "certainty", *UNCERTAINTY_COLUMNS] and "one column per emotion" in section
    assert 'href="/about#export-columns"' in client.get("/account").get_data(as_text=True)


def test_the_about_page_explains_the_models_in_plain_words(client):
    text = about_text(client)
    figures = model_figures()
    assert "About the models" in text and f"{round(figures.face_accuracy * 100)} times in 100" in text
    assert f"On {figures.dog_test_photos:,} other photos it was right {round(figures.dog_accuracy * 100)} times" in text
    hardest = min(figures.face_recall, key=figures.face_recall.get)
    assert f"{hardest} is the hardest ({round(figures.face_recall[hardest] * 100)} in 100)" in text
    assert f"found {round(figures.pet_recall * 100)} in 100 of the dogs and cats" in text
    assert 'href="/about"' in client.get("/login").get_data(as_text=True)


def test_a_result_page_links_the_about_page_once(app, client):
    """The footer's link, not a second one at the foot of the page (a photo's and a video's result alike)."""
    alice = make_user(app, "alice")
    login(client, "alice")
    photo, _ = store_photo(app, alice, ["human", "dog"])
    for analysis_id in (photo, store_video(app, alice, ["human"])):
        page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
        assert page.count('href="/about"') == 1 and 'href="/about"' in page.split('class="site-footer"')[1]


def test_the_about_page_is_candid_about_unsure_readings_and_its_own_words(client):
    """The walk-through's About page: percentages "taken at their word" yet off by up to 18 points, no share of
    people's readings called unsure, two "how sure" figures without a word on which to believe, jargon, and
    no face-recognition model."""
    text = about_text(client)
    figures = model_figures()
    assert "taken at their word" not in text and "two members" not in text
    low, high = (round(error * 100) for error in figures.face_calibration_error)
    assert "closer to how often it is right" in text and f"still off by {low} to {high} points" in text
    unsure = {source: round(share * 100) for source, share in figures.face_unsure.items()}
    assert (f"it called {unsure['news']} in 100 faces “unsure” in news photos, {unsure['web']} in 100 in photos "
            f"from the web and {unsure['film']} in 100 in film stills") in text
    assert "the two networks that make up the model disagree" in text
    assert "is a separate estimate from the percentage" in text and "“probably happy (76%)”" in text
    assert ("Each face or animal in a video is worded as on a photo: “unsure” below 50%, “probably” below 80%"
            in text) and "Its chance of a wrong reading is the average of its frames’" in text
    assert "a method called Grad-CAM" in text and "for 62 faces in 100, where chance would give 50" in text
    assert "where guessing would be right about 14 times in 100" in text
    assert "It is off unless you turn on “Face recognition”" in text and "dlib’s face descriptor" in text
    assert (f"with the first {figures.identity_named_photos} photos of each person named, its “Looks like …” "
            f"suggestions were right {round(figures.identity_precision * 100)} times in 100, and it made one for "
            f"{round(figures.identity_coverage * 100)} in 100") in text


def test_the_about_page_quotes_the_model_cards_and_calibration_files(client, tmp_path, monkeypatch):
    card = model_card.MODEL_CARDS.read_text(encoding="utf-8")
    for old, new in (("**accuracy 0.7242,", "**accuracy 0.6543,"),
                     ("| happy | 0.864 | 0.893 |", "| happy | 0.864 | 0.123 |"),
                     ("a dog): accuracy 0.592", "a dog): accuracy 0.377"),
                     ("| the SSD + species check (the app) | 0.954", "| the SSD + species check (the app) | 0.811"),
                     ("| occlusion | 0.209 ± 0.162 | 62% of faces |", "| occlusion | 0.209 ± 0.162 | 57% of faces |"),
                     ("49% of news faces are called unsure", "31% of news faces are called unsure"),
                     ("74% of film's (0.75)", "64% of film's (0.93)"),
                     ("suggestions are right 99.45% of the time", "suggestions are right 97.2% of the time")):
        assert old in card  # the shipped card says this now (update this list with the card)
        card = card.replace(old, new)
    (tmp_path / "README.md").write_text(card, encoding="utf-8")
    dog = json.loads(model_card.calibration_path(DOG_HEAD_WEIGHTS).read_text(encoding="utf-8"))
    (tmp_path / DOG_HEAD_WEIGHTS.name).with_suffix(".calibration.json").write_text(
        json.dumps({**dog, "test_ece_after": 0.081}), encoding="utf-8")
    shipped = model_card.calibration_path
    monkeypatch.setattr(model_card, "MODEL_CARDS", tmp_path / "README.md")
    monkeypatch.setattr(model_card, "calibration_path", lambda weights: tmp_path / shipped(weights).name
                        if weights == DOG_HEAD_WEIGHTS else shipped(weights))
    text = about_text(client)
    assert "picked the same expression as the people who labelled them 65 times in 100" in text
    assert "happy is the hardest (12 in 100)" in text and "it was right 38 times in 100" in text
    assert "found 81 in 100 of the dogs and cats" in text and "random areas for 57 faces in 100" in text
    assert "within 8 points of how often it is right" in text
    assert "it called 31 in 100 faces “unsure” in news photos" in text and "64 in 100 in film stills" in text
    assert "did not call unsure were right 51 to 93 times in 100" in text
    assert "suggestions were right 97 times in 100" in text
    (tmp_path / "README.md").write_text(card.replace("| class | precision | recall |", "| class | P | R |"))
    with pytest.raises(ValueError, match="the table"):  # a card it cannot read is an error, not stale figures
        model_card.model_figures()


PRIVATE_TO_ADMINS = "private to you and to this server's administrators, who can see them to moderate"


def test_where_people_decide_to_upload_they_are_told_administrators_can_see_their_photos(app, client):
    """"A private history" and "no administrator can see the signatures" read as if no one else saw anything,
    while the back office shows every upload, its subjects' names and results."""
    home = client.get("/").get_data(as_text=True)
    assert "private history" not in home and PRIVATE_TO_ADMINS in home
    assert PRIVATE_TO_ADMINS in client.get("/register").get_data(as_text=True)
    make_user(app, "alice")
    login(client, "alice")
    assert PRIVATE_TO_ADMINS in client.get("/analyze").get_data(as_text=True)
    faces = client.get("/settings/faces").get_data(as_text=True)
    assert "no administrator can see" not in faces
    assert "administrators can see your photos and results to moderate them, but the back office never shows" in faces


def test_results_link_to_the_about_page_instead_of_model_names(app, client, alice, astronaut_jpeg):
    result = client.get(upload(client, astronaut_jpeg, "face.jpg").location).get_data(as_text=True)
    assert 'href="/about"' in result
    assert "Models:" not in result and "facenet" not in result and "macro-F1" not in result


def test_fields_carry_no_autocomplete_none_and_labels_point_at_their_fields(app, client, alice):
    assert 'autocomplete="None"' not in client.get("/subjects").get_data(as_text=True)
    add_subject(client, "Mia")
    page = client.get(f"/dashboard?subject={subject_id(app, 'Mia')}").get_data(as_text=True)
    form = re.search(r'<form[^>]*class="alert-form".*?</form>', page, re.S).group(0)
    assert not re.search(r"<label[^>]*>[^<]*<(select|input)", form)  # no label wrapped around its field
    for name in ("emotion", "percent", "days"):
        assert f'<label for="{name}">' in form and f'id="{name}"' in form


def test_register_form_keeps_its_autocomplete_hints(client):
    page = client.get("/register").get_data(as_text=True)
    assert 'autocomplete="username"' in page and 'autocomplete="new-password"' in page


def test_a_transparent_png_gets_a_white_thumbnail(app, client, alice, astronaut):
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:, :100] = 0  # transparent, and black underneath
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    thumbnail = Image.open(io.BytesIO(thumbnail_bytes(decode_image(buffer.getvalue()).rgb)))
    assert thumbnail.mode == "RGB" and min(thumbnail.getpixel((5, 100))) >= 250
    shrunk = np.asarray(Image.fromarray(astronaut).resize(thumbnail.size), dtype=int)
    assert np.abs(np.asarray(thumbnail, dtype=int)[:, 80:] - shrunk[:, 80:]).mean() < 6  # the rest is the photo


def test_the_mood_calendar_names_each_month_over_the_week_it_starts():
    cells = calendar_cells({}, today=date(2026, 12, 1))  # 12 weeks from Monday 2026-09-14
    months = calendar_months(cells)
    weeks_of = {month.name: month.week for month in months}
    assert list(weeks_of) == ["Oct", "Nov", "Dec"]  # September's name would overlap October's (2 weeks on)
    assert cells[weeks_of["Nov"] * 7].day <= "2026-11-01" < cells[weeks_of["Nov"] * 7 + 7].day
    later = calendar_months(calendar_cells({}, today=date(2027, 1, 26)))  # from Monday 2026-11-09
    assert [(month.week, month.name) for month in later] == [(0, "Nov"), (3, "Dec"), (7, "Jan")]


def test_a_calendar_day_of_tied_emotions_takes_the_weekly_reports_colour():
    """Ties went by the order of a set, which string hashing changes from process to process."""
    today = date(2026, 12, 1)
    tied = {today: ["sad", "happy", "sad", "happy"], today - timedelta(days=1): ["sad", "angry", "sad"]}
    cells = {cell.day: cell for cell in calendar_cells(tied, today=today)}
    assert (cells["2026-12-01"].top, cells["2026-11-30"].top) == ("happy", "sad")
    # a day's words count each emotion: "happy (4)" read as four happy readings
    assert cells["2026-12-01"].counts == (("happy", 2), ("sad", 2))
    assert cells["2026-11-30"].counts == (("sad", 2), ("angry", 1))
    assert DayTops.of(["sad", "happy"]).top == DayTops.of(["happy", "sad"]).top == "happy"


def test_a_calendar_day_in_words_counts_each_emotion_then_the_unsure_readings(client, alice):
    unsure = {"happy": 0.3, "sad": 0.25, "neutral": 0.25, "angry": 0.2}
    store_analyses(client.application, alice, [StoredAnalysis("a.jpg", "happy"), StoredAnalysis("b.jpg", "sad"),
                                                StoredAnalysis("c.jpg", "happy"), StoredAnalysis("d.jpg", "happy",
                                                                                                 emotions=unsure)])
    page = client.get("/dashboard").get_data(as_text=True)
    days = re.search(r'<ul class="calendar-days">(.*?)</ul>', page, re.S).group(1)
    assert re.findall(r"<li>(.*?)</li>", days.strip()) == [
        f"{utcnow():%B} {utcnow().day}, {utcnow().year}: happy (2), sad (1). 1 unsure reading was not counted."]


def test_a_tied_days_square_shows_both_emotions_and_the_legend_names_both(client, alice):
    """Two happy and two sad readings in a day: the square was happy alone (the tie broken by name) and the legend
    named only happy; now its right half is sad."""
    store_analyses(client.application, alice, [StoredAnalysis(f"{name}{n}.jpg", name)
                                                for name in ("happy", "sad") for n in (1, 2)])
    page = client.get("/dashboard").get_data(as_text=True)
    squares = re.findall(r'<g><title>[^<]*</title><g clip-path="url\(#calendar-day\)">(.*?)</g></g>', page)
    bands = re.findall(r'width="7.00" height="14" class="emo-(\w+)"', squares[0]) if len(squares) == 1 else []
    assert bands == ["happy", "sad"]
    legend = re.search(r'<ul class="legend" aria-label="Calendar colours">(.*?)</ul>', page, re.S).group(1)
    assert "emo-happy" in legend and "emo-sad" in legend
    days = {date(2026, 12, 1): ["sad", "happy", "sad"], date(2026, 11, 30): ["sad", "angry", "happy", "angry", "happy"]}
    cells = calendar_cells(days, today=date(2026, 12, 1))
    assert [(cell.top, cell.tie) for cell in cells[-2:]] == [("angry", ("angry", "happy")), ("sad", ())]
    three = calendar_cells({date(2026, 12, 1): ["sad", "happy", "angry"]}, today=date(2026, 12, 1))[-1]
    assert three.tie == ("angry", "happy", "sad")


def test_trend_axis_labels_the_first_middle_and_last_period():
    assert axis_labels(["a", "b", "c", "d", "e"]) == ["a", "", "c", "", "e"]
    assert axis_labels(["only"]) == ["only"]


def test_dashboard_charts_have_axes_and_the_calendar_a_legend(app, client, alice, astronaut_jpeg):
    upload(client, astronaut_jpeg, "face.jpg")
    page = client.get("/dashboard").get_data(as_text=True)
    trend = re.search(r'<figure class="plot">.*?</figure>', page, re.S).group(0)
    assert 'class="trend-chart"' in trend and re.search(r'class="y-axis".*100%.*50%.*0%', trend, re.S)
    calendar = page[page.index('<svg class="calendar"'):]
    month = utcnow().strftime("%b")  # this month starts within the last 12 weeks, so its name is shown
    assert re.search(rf'<text x="\d+" y="10">{month}</text>', calendar)
    legend = re.search(r'<ul class="legend" aria-label="Calendar colours">.*?</ul>', page, re.S).group(0)
    assert "happy" in legend and "nothing analysed" in legend
    days = re.search(r'<ul class="calendar-days">(.*?)</ul>', page, re.S).group(1)  # the calendar as text
    assert re.findall(r"<li>(.*?)</li>", days.strip()) == [f"{utcnow():%B} {utcnow().day}, {utcnow().year}: happy (1)"]
    assert '<div class="table-scroll" tabindex="0" role="region" aria-label="Emotions per period">' in page


def test_the_trend_is_per_week_when_asked_and_per_day_otherwise(client, alice):
    """?period=week counts weeks; day, an unknown period or none counts days (no error for a made-up one)."""
    store_analyses(client.application, alice, [StoredAnalysis("cup.jpg", "happy")])
    weekly = client.get("/dashboard?period=week").get_data(as_text=True)
    assert "Trend per week" in weekly and "Week starting" in weekly and 'name="period" value="week"' in weekly
    for asked in ("day", "month", ""):
        page = client.get(f"/dashboard?period={asked}")
        assert page.status_code == 200 and "Trend per day" in page.get_data(as_text=True), asked
        assert 'name="period" value="day"' in page.get_data(as_text=True), asked


def test_a_reading_s_bars_are_drawn_on_the_full_scale_of_probability():
    """Mutant 70 (horizontal_bars ignores full_scale): a face 60% happy had its bar drawn across the whole card,
    as if it were certain, and 40% sad two thirds of it."""
    bars = horizontal_bars({"happy": 0.6, "sad": 0.4}, "happy", full_scale=1.0)
    assert [(bar.label, round(bar.width, 6), bar.highlight) for bar in bars] == [("happy", 60.0, True),
                                                                                ("sad", 40.0, False)]
    assert [bar.width for bar in horizontal_bars({"a": 2, "b": 1})] == [100.0, 50.0]  # no scale: the largest
