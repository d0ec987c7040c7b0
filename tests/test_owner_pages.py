"""What an owner meets around results and subjects: deleting asks first, adding a subject from a result comes back
to it, weekly reports open on a week with data, and a subject's dashboard shows only its own alerts and labels."""

from __future__ import annotations

import html
import io
import re
import uuid
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from PIL import Image

from bench.fixtures import csrf_token, make_subject, make_user
from extensions import db
from inference.labels import DOG_EMOTIONS, HUMAN_EMOTIONS
from insights.report import ChartWords, _draw, opening_week
from bench.synthetic import history_from, mood
from models import AlertRule, Analysis, Detection, Subject, utcnow
from tests.conftest import upload
from web.dashboard import emotion_colours

KIND_CLASSES = {"human": HUMAN_EMOTIONS, "dog": DOG_EMOTIONS}


def subject_of(app, user_id: int, name: str, kind: str) -> int:
    with app.app_context():
        subject = Subject(user_id=user_id, name=name, kind=kind)
        db.session.add(subject)
        db.session.commit()
        return subject.id


def appearances(app, user_id: int, subject_id: int | None, kind: str, emotion: str, count: int,
                start: datetime) -> None:
    """`count` photo analyses, a day apart from `start`, each with one `kind` detection mostly `emotion`."""
    classes = KIND_CLASSES[kind]
    emotions = dict(zip(classes, map(float, mood(classes, {emotion: 0.9}))))
    with app.app_context():
        for day in range(count):
            analysis = Analysis(user_id=user_id, original_name=f"{kind}{day}.jpg", stored_name=uuid.uuid4().hex,
                                format="jpeg", width=10, height=10, created_at=start + timedelta(days=day))
            analysis.detections.append(Detection(position=1, kind=kind, x1=0, y1=0, x2=5, y2=5, score=0.9,
                                                 emotions=emotions, top=emotion, subject_id=subject_id))
            db.session.add(analysis)
        db.session.commit()


def test_deleting_an_analysis_asks_first_on_a_page_that_needs_no_script(app, client, alice, bob_client,
                                                                       astronaut_jpeg):
    analysis_id = int(upload(client, astronaut_jpeg, "astronaut.jpg").location.rsplit("/", 1)[1])
    result = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    assert f'href="/analyses/{analysis_id}/delete?next=/analyses/{analysis_id}"' in result  # "Keep it" comes back
    assert f'action="/analyses/{analysis_id}/delete"' not in result  # no one-click delete
    question = client.get(f"/analyses/{analysis_id}/delete")
    page = question.get_data(as_text=True)
    assert question.status_code == 200 and "Delete astronaut.jpg?" in page and "for good" in page
    assert "The faces and animals in it no longer count" in page  # a dog's photo is deleted with the same page
    assert f'<form method="post" action="/analyses/{analysis_id}/delete"' in page and "Keep it" in page
    assert bob_client.get(f"/analyses/{analysis_id}/delete").status_code == 404
    assert client.post(f"/analyses/{analysis_id}/delete").status_code == 400  # no CSRF token: nothing happens
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post(f"/analyses/{analysis_id}/delete", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/analyses/{analysis_id}").location == "/analyses"  # "You already deleted that …"
    assert f'href="/analyses/{analysis_id}/delete' not in client.get("/analyses").get_data(as_text=True)


def test_deleting_a_subject_says_its_faces_stay_unassigned(app, client, alice, bob_client):
    mia = subject_of(app, alice, "Mia", "person")
    appearances(app, alice, mia, "human", "happy", 2, utcnow() - timedelta(days=3))
    with app.app_context():
        db.session.add(AlertRule(subject_id=mia, emotion="sad", share=0.4, days=7))
        db.session.commit()
    assert f'href="/subjects/{mia}/delete?next=/subjects"' in client.get("/subjects").get_data(as_text=True)
    page = client.get(f"/subjects/{mia}/delete").get_data(as_text=True)
    assert "Delete Mia?" in page and "2 appearances stay in your history, unassigned" in page
    assert "with 1 alert." in page
    assert bob_client.get(f"/subjects/{mia}/delete").status_code == 404
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post(f"/subjects/{mia}/delete", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.get(Subject, mia) is None
        kept = db.session.scalars(db.select(Detection)).all()
        assert len(kept) == 2 and all(d.subject_id is None for d in kept)


def test_deleting_a_cat_promises_only_what_a_cat_has(app, client, alice):
    """A cat has a dashboard but no insights, weekly reports or alerts (no emotion model): the question says so."""
    mittens = subject_of(app, alice, "Mittens", "cat")
    page = html.unescape(client.get(f"/subjects/{mittens}/delete").get_data(as_text=True))
    assert "Mittens's dashboard goes." in page and "weekly reports" not in page
    assert "Nothing in your history is assigned to Mittens." in page and "0 appearances" not in page


def test_the_history_says_perhaps_when_the_top_reading_was_unsure(app, client, alice):
    appearances(app, alice, None, "dog", "angry", 1, utcnow() - timedelta(days=1))
    appearances(app, alice, None, "dog", "happy", 1, utcnow())  # a sure one
    with app.app_context():
        for detection in db.session.scalars(db.select(Detection)):
            detection.analysis.shown_count, detection.analysis.top_emotion = 1, detection.top
            if detection.top == "angry":  # as the dingo's 37% "unsure, perhaps angry" on its page
                detection.emotions = {"angry": 0.37, "happy": 0.22, "relaxed": 0.16, "sad": 0.25}
        db.session.commit()
    cards = client.get("/analyses").get_data(as_text=True)
    assert ">unsure, perhaps angry</span>" in cards and ">happy</span>" in cards and "perhaps happy" not in cards
    korean = client.get("/analyses", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert ">확실하지 않음, 어쩌면 화남</span>" in korean


def test_a_pet_owner_reads_on_the_first_pages_that_dogs_and_cats_are_found_too(app, client, alice):
    assert "every face, dog and cat" in app.test_client().get("/").get_data(as_text=True)  # not only faces
    assert "every face and animal is analysed at once" in client.get("/analyze").get_data(as_text=True)


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "/analyses/1\r\nX-Evil: 1", ""])
def test_adding_a_subject_only_goes_back_to_a_path_on_this_site(client, alice, target):
    token = csrf_token(client, "/subjects")
    response = client.post("/subjects", data={"name": "Mia", "kind": "person", "next": target, "csrf_token": token})
    assert response.status_code == 302 and response.location == "/subjects"


def test_add_a_person_or_pet_on_a_result_comes_back_to_it(app, client, alice, astronaut_jpeg):
    analysis_id = int(upload(client, astronaut_jpeg, "astronaut.jpg").location.rsplit("/", 1)[1])
    result = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    link = re.search(r'<a href="(/subjects\?[^"]+)" class="hint">Add a person or pet</a>', result).group(1)
    form = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert '<option selected value="person">' in form
    back = f"/analyses/{analysis_id}#face-1"
    assert f'<input type="hidden" name="next" value="{back}">' in form and "Back to the result" in form
    face = re.search(r'<input type="hidden" name="face" value="(\d+)">', form).group(1)
    token = csrf_token(client, "/subjects")
    response = client.post("/subjects", data={"name": "Mia", "kind": "person", "next": back, "face": face,
                                              "csrf_token": token})
    assert response.status_code == 302 and response.location == back
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    assert "Saved: Face 1 is Mia, and counts in Mia&#39;s history." in page  # the face she was added from is Mia now
    assert re.search(r'<option selected value="\d+">Mia \(person\)</option>', page)
    assert 'class="hint">Add a person or pet</a>' in page  # with Mia named, another face can still be someone new
    # a dog is not made a person, and nobody's face but one's own is touched
    client.post("/subjects", data={"name": "Rex", "kind": "dog", "next": back, "face": face, "csrf_token": token})
    bob = make_user(app, "bob")
    appearances(app, bob, None, "human", "happy", 1, utcnow())
    with app.app_context():
        bobs_face = db.session.scalar(db.select(Detection.id).join(Detection.analysis).where(Analysis.user_id == bob))
    client.post("/subjects", data={"name": "Ann", "kind": "person", "next": back, "face": str(bobs_face),
                                   "csrf_token": token})
    assert re.search(r'<option selected value="\d+">Mia \(person\)</option>',
                     client.get(f"/analyses/{analysis_id}").get_data(as_text=True))
    with app.app_context():
        assert db.session.get(Detection, bobs_face).subject_id is None


def test_a_name_typed_again_from_a_faces_card_offers_to_say_the_face_is_them(app, client, alice, astronaut_jpeg):
    """"You already have a subject called Mia." was a dead end: back to the result page to choose her there."""
    analysis_id = int(upload(client, astronaut_jpeg, "astronaut.jpg").location.rsplit("/", 1)[1])
    with app.app_context():
        face = db.session.scalar(db.select(Detection.id).filter_by(analysis_id=analysis_id))
    mia, rex = make_subject(app, alice, "Mia"), make_subject(app, alice, "Rex", "dog")
    token = csrf_token(client, "/subjects")
    back = f"/analyses/{analysis_id}#face-1"
    taken = client.post("/subjects", data={"name": "mia", "kind": "person", "next": back, "face": face,
                                           "csrf_token": token})
    page = taken.get_data(as_text=True)
    assert taken.status_code == 400 and "You already have a subject called Mia." in page
    offer = re.search(r'<div class="card taken-name">(.*?)</div>', page, re.S).group(1)
    action = re.search(r'<form method="post" action="([^"]+)"', offer).group(1).replace("&amp;", "&")
    assert "Is this Mia?" in offer and f'name="d{face}-subject" value="{mia}"' in offer
    said = client.post(action, data={f"d{face}-subject": mia, f"d{face}-csrf_token": token})
    assert said.status_code == 302 and said.location == back
    with app.app_context():
        assert db.session.get(Detection, face).subject_id == mia
    dog = client.post("/subjects", data={"name": "Rex", "kind": "dog", "next": back, "face": face,
                                         "csrf_token": token})  # a face is no dog: nothing offered
    assert dog.status_code == 400 and "taken-name" not in dog.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Detection, face).subject_id == mia and db.session.get(Subject, rex).name == "Rex"


def week_title(name: str, monday: date) -> str:
    """A weekly report's heading, as an English reader sees it."""
    return f"{name}: week of {monday:%B} {monday.day}, {monday.year}"


def test_the_weekly_report_opens_on_this_week_or_the_newest_week_with_data(app, client, alice):
    today = utcnow().date()
    this_monday = today - timedelta(days=today.weekday())
    rex = subject_of(app, alice, "Rex", "dog")
    three_weeks_ago = datetime.combine(this_monday - timedelta(days=20), datetime.min.time()).replace(hour=9)
    appearances(app, alice, rex, "dog", "happy", 3, three_weeks_ago)
    page = client.get(f"/subjects/{rex}/report").get_data(as_text=True)
    week = "{}-W{:02d}".format(*(this_monday - timedelta(days=21)).isocalendar()[:2])
    assert week_title("Rex", this_monday - timedelta(days=21)) in page and "Nothing this week" not in page
    assert "3 appearances" in page and "Download as PNG" in page
    between = "{}-W{:02d}".format(*(this_monday - timedelta(days=14)).isocalendar()[:2])
    quiet = client.get(f"/subjects/{rex}/report?week={between}").get_data(as_text=True)
    assert "Nothing this week" in quiet and "Download as PNG" not in quiet  # no charts to download
    api_week = client.get(f"/api/v1/subjects/{rex}/insights").get_json()["weekly_report"]
    assert api_week["week"] == week and api_week["count"] == 3  # the API opens on the page's week
    appearances(app, alice, rex, "dog", "sad", 1, datetime.combine(today, datetime.min.time()))
    this_week = "{}-W{:02d}".format(*this_monday.isocalendar()[:2])
    assert week_title("Rex", this_monday) in client.get(f"/subjects/{rex}/report").get_data(as_text=True)
    assert client.get(f"/api/v1/subjects/{rex}/insights").get_json()["weekly_report"]["week"] == this_week
    asked = client.get(f"/api/v1/subjects/{rex}/insights?week={week}").get_json()["weekly_report"]
    assert asked["week"] == week and asked["count"] == 3
    empty = history_from(np.zeros((0, 4)), DOG_EMOTIONS)
    assert opening_week(empty, today) == this_monday  # nobody yet: this week


def test_the_weekly_report_goes_back_only_to_the_subjects_first_week(app, client, alice):
    this_monday = utcnow().date() - timedelta(days=utcnow().date().weekday())
    rex = subject_of(app, alice, "Rex", "dog")
    assert "Previous week" not in client.get(f"/subjects/{rex}/report").get_data(as_text=True)  # nobody yet
    last_tuesday = datetime.combine(this_monday - timedelta(days=6), datetime.min.time())
    appearances(app, alice, rex, "dog", "happy", 2, last_tuesday)
    week = "{}-W{:02d}".format(*(this_monday - timedelta(days=7)).isocalendar()[:2])
    first = client.get(f"/subjects/{rex}/report?week={week}").get_data(as_text=True)
    assert "2 appearances" in first and "Previous week" not in first and "Next week" in first
    assert re.search(r'<nav class="pagination week-nav" aria-label="Other weeks">\s*<a [^>]*>Next week &rarr;</a>',
                     first)  # the weeks' links apart from the line about the week
    this_week = "{}-W{:02d}".format(*this_monday.isocalendar()[:2])
    assert "Previous week" in client.get(f"/subjects/{rex}/report?week={this_week}").get_data(as_text=True)


def test_the_opt_in_lists_the_reports_and_a_subjects_dashboard_links_its_own_once(app, client, alice):
    rex = subject_of(app, alice, "Rex", "dog")
    appearances(app, alice, rex, "dog", "happy", 3, utcnow() - timedelta(days=5))
    link = f'href="/subjects/{rex}/report"'
    assert link not in client.get("/dashboard").get_data(as_text=True)
    for opted_in in (False, True):
        if opted_in:
            client.post("/dashboard/weekly-report",
                        data={"weekly_report": "y", "csrf_token": csrf_token(client, "/dashboard")})
        assert client.get(f"/dashboard?subject={rex}").get_data(as_text=True).count(link) == 1
    assert "Rex: weekly report" in client.get("/dashboard").get_data(as_text=True)


def test_the_report_png_draws_each_bar_in_its_emotions_colour(app, client, alice):
    rex = subject_of(app, alice, "Rex", "dog")
    monday = datetime(2026, 1, 5, 12)  # one week's days, whatever today is (two days before a Monday were last week's)
    appearances(app, alice, rex, "dog", "happy", 3, monday)
    appearances(app, alice, rex, "dog", "sad", 1, monday + timedelta(days=3))
    image = client.get(f"/subjects/{rex}/report.png?week=2026-W02")
    assert image.status_code == 200 and image.mimetype == "image/png"
    with app.app_context():
        colours = emotion_colours()  # as the pages draw them (static/style.css)
    assert set(HUMAN_EMOTIONS + DOG_EMOTIONS) <= set(colours)
    pixels = np.asarray(Image.open(io.BytesIO(image.data)).convert("RGB")).reshape(-1, 3)

    def count(emotion: str) -> int:
        code = colours[emotion]
        return int((pixels == tuple(int(code[i:i + 2], 16) for i in (1, 3, 5))).all(1).sum())
    assert count("happy") > 200 and count("sad") > 200 and count("relaxed") > 0
    assert count("neutral") == 0  # no bar in neutral's grey: a dog has no "neutral"


def test_the_report_pngs_mean_probability_axis_is_in_percent():
    import matplotlib.pyplot as plt
    week = {"mix": {"happy": 0.6, "sad": 0.4}, "change": {}, "unsure": 0, "days": [
        {"date": "2026-11-30", "weekday": "Mon", "count": 1, "sure": 1, "top": "happy", "emotions": {"happy": 1}}]}
    figure = _draw(plt, week, ChartWords(title="Rex"), {})
    figure.canvas.draw()
    assert [label.get_text() for label in figure.axes[0].get_xticklabels()] == [
        "0%", "20%", "40%", "60%", "80%", "100%"]  # not 0.0 ... 1.0 beside a table in percent
    plt.close(figure)


def test_a_subjects_dashboard_shows_only_its_alerts_and_its_models_labels(app, client, alice):
    rex, mia = subject_of(app, alice, "Rex", "dog"), subject_of(app, alice, "Mia", "person")
    appearances(app, alice, rex, "dog", "sad", 4, utcnow() - timedelta(days=4))
    appearances(app, alice, mia, "human", "happy", 4, utcnow() - timedelta(days=4))
    with app.app_context():
        db.session.add(AlertRule(subject_id=rex, emotion="sad", share=0.4, days=7))
        db.session.commit()
    notice = "<strong>Rex</strong> looked"
    linked = f'<strong><a href="/dashboard?subject={rex}">Rex</a></strong> looked'  # to his dashboard
    assert linked in client.get("/dashboard").get_data(as_text=True)  # everyone's dashboard: every fired alert
    assert notice in client.get(f"/dashboard?subject={rex}").get_data(as_text=True)
    mias = client.get(f"/dashboard?subject={mia}").get_data(as_text=True)
    assert notice not in mias and linked not in mias
    assert ">relaxed<" not in mias and ">neutral<" in mias  # a person's labels only
    rexs = client.get(f"/dashboard?subject={rex}").get_data(as_text=True)
    assert ">relaxed<" in rexs and ">neutral<" not in rexs


def test_everyones_dashboard_lists_the_labels_of_the_models_that_read_the_faces(app, client, alice):
    appearances(app, alice, None, "human", "happy", 2, utcnow() - timedelta(days=1))
    page = client.get("/dashboard").get_data(as_text=True)
    assert ">happy<" in page and ">relaxed<" not in page
    appearances(app, alice, None, "dog", "relaxed", 1, utcnow())
    assert ">relaxed<" in client.get("/dashboard").get_data(as_text=True)


def test_a_dog_owners_dashboard_lists_the_dog_labels_in_the_dog_models_order(app, client, alice):
    appearances(app, alice, None, "dog", "happy", 2, utcnow() - timedelta(days=1))
    page = client.get("/dashboard").get_data(as_text=True).split("Emotion distribution")[1]
    shown = re.findall(r'<span class="bar-label">(\w+)</span>', page)
    assert shown == list(DOG_EMOTIONS)  # angry, happy, relaxed, sad: as on the dog's result and its dashboard


def test_comparisons_say_how_many_confident_readings_each_subject_has_and_who_was_left_out(app, client, alice):
    rex, bo, kit = (subject_of(app, alice, name, "dog") for name in ("Rex", "Bo", "Kit"))
    appearances(app, alice, rex, "dog", "happy", 5, utcnow() - timedelta(days=10))
    appearances(app, alice, bo, "dog", "sad", 4, utcnow() - timedelta(days=10))
    appearances(app, alice, kit, "dog", "angry", 1, utcnow() - timedelta(days=10))
    page = client.get(f"/dashboard?subject={rex}").get_data(as_text=True)
    page = " ".join(page.split())
    assert "Less sad than your other dogs (2% against 94% on average for Bo (4 confident readings))" in page
    assert "Not compared: Kit (1 confident reading): fewer than 3 confident readings." in page


def unsure_dog_reading(app) -> tuple[int, int]:
    """Every stored dog reading made as unsure as the dingo's ("perhaps angry", 37%); the last one's ids."""
    with app.app_context():
        detections = db.session.scalars(db.select(Detection).filter_by(kind="dog")).all()
        for detection in detections:
            detection.emotions = {"angry": 0.37, "happy": 0.22, "relaxed": 0.16, "sad": 0.25}
        db.session.commit()
        return detections[-1].id, detections[-1].analysis_id


def test_saving_an_unsure_reading_says_it_is_left_out_and_the_calendar_shows_that_day(app, client, alice):
    rex = subject_of(app, alice, "Rex", "dog")
    appearances(app, alice, None, "dog", "angry", 1, utcnow())
    dog, analysis_id = unsure_dog_reading(app)
    token = csrf_token(client, f"/analyses/{analysis_id}")
    saved = client.post(f"/detections/{dog}/subject", data={f"d{dog}-subject": str(rex), "csrf_token": token},
                        follow_redirects=True).get_data(as_text=True)
    assert "Saved: Dog 1 is Rex. Its reading is unsure, so Rex&#39;s charts and insights leave it out." in saved
    dashboard = client.get(f"/dashboard?subject={rex}").get_data(as_text=True)
    assert re.search(r'<title>[^<]+: only 1 unsure reading, not counted</title><rect [^>]*class="unsure-day"/>',
                     dashboard)
    assert "only unsure readings</li>" in dashboard and "nothing analysed</li>" in dashboard
    assert f'<a href="/subjects/{rex}/report">Weekly report</a>' in dashboard  # whether reports are listed or not


def test_a_face_given_to_a_subject_deleted_in_another_tab_goes_back_to_its_card(app, client, alice):
    """It was a bare 400 page with only a way to the start page."""
    rex = subject_of(app, alice, "Rex", "dog")
    appearances(app, alice, None, "dog", "happy", 1, utcnow())
    dog, analysis_id = unsure_dog_reading(app)
    token = csrf_token(client, f"/analyses/{analysis_id}")
    assert client.post(f"/subjects/{rex}/delete", data={"csrf_token": token}).status_code == 302
    answer = client.post(f"/detections/{dog}/subject", data={f"d{dog}-subject": str(rex), "csrf_token": token})
    assert answer.status_code == 303 and f"/analyses/{analysis_id}" in answer.location
    page = client.get(answer.location).get_data(as_text=True)
    assert "That person or pet is no longer among yours (deleted in another tab?): choose again." in page
    with app.app_context():
        assert db.session.get(Detection, dog).subject_id is None


def test_another_users_subject_is_answered_as_a_deleted_one(app, client, alice):
    """No subject id tells whether another user has it: Bob's dog is "no longer among yours", as an id nobody has."""
    bobs_dog = subject_of(app, make_user(app, "bob"), "Max", "dog")
    appearances(app, alice, None, "dog", "happy", 1, utcnow())
    dog, analysis_id = unsure_dog_reading(app)
    token = csrf_token(client, f"/analyses/{analysis_id}")
    answers = [client.post(f"/detections/{dog}/subject", data={f"d{dog}-subject": str(chosen), "csrf_token": token})
               for chosen in (bobs_dog, 999_999)]
    assert [answer.status_code for answer in answers] == [303, 303]
    assert answers[0].location == answers[1].location
    with app.app_context():
        assert db.session.get(Detection, dog).subject_id is None


def test_the_weekly_reports_days_still_to_come_are_not_called_nothing(app, client, alice):
    today = utcnow().date()
    this_monday = today - timedelta(days=today.weekday())
    rex = subject_of(app, alice, "Rex", "dog")
    appearances(app, alice, rex, "dog", "happy", 1, datetime.combine(today, datetime.min.time()))
    appearances(app, alice, rex, "dog", "happy", 1, datetime.combine(this_monday - timedelta(days=7),
                                                                     datetime.min.time()))
    page = client.get(f"/subjects/{rex}/report").get_data(as_text=True)
    assert page.count("still to come") == 6 - today.weekday()  # the days after today, this week
    assert page.count(": nothing</li>") == today.weekday()  # the days before it had no appearance
    api_days = client.get(f"/api/v1/subjects/{rex}/insights").get_json()["weekly_report"]["days"]
    assert [day["to_come"] for day in api_days] == [offset > today.weekday() for offset in range(7)]
    last_week = "{}-W{:02d}".format(*(this_monday - timedelta(days=7)).isocalendar()[:2])
    old_page = client.get(f"/subjects/{rex}/report?week={last_week}").get_data(as_text=True)
    assert "still to come" not in old_page
    assert "What Rex's whole history shows, as of today" in old_page  # not last week's: its heading says so
    assert "What Rex's whole history shows" not in client.get(f"/dashboard?subject={rex}").get_data(as_text=True)


def test_a_day_whose_emotions_tie_is_told_as_a_tie_in_the_weekly_report_its_png_and_the_api(app, client, alice):
    """Two happy and two sad appearances on a day: the report said "4 appearances, mostly happy" (the tie broken
    by name), as the calendar's square was happy alone."""
    rex = subject_of(app, alice, "Rex", "dog")
    noon = datetime.combine(utcnow().date(), datetime.min.time()) + timedelta(hours=12)
    for emotion in ("happy", "sad"):
        for hour in (0, 1):
            appearances(app, alice, rex, "dog", emotion, 1, noon + timedelta(minutes=hour))
    page = " ".join(client.get(f"/subjects/{rex}/report").get_data(as_text=True).split())
    assert "4 appearances, as often happy and sad" in page and "mostly happy" not in page
    days = client.get(f"/api/v1/subjects/{rex}/insights").get_json()["weekly_report"]["days"]
    assert [(day["top"], day["tie"]) for day in days if day["count"]] == [("happy", ["happy", "sad"])]
    import matplotlib.pyplot as plt
    from insights.report import ChartWords, _draw
    week = {"mix": {}, "change": {}, "unsure": 0, "days": [day for day in days if day["count"]]}
    three = ["happy", "neutral", "sad"]  # a three-way tie: a longer label than any one name
    week["days"][0] |= {"count": 6, "emotions": dict.fromkeys(three, 2), "tie": three}
    figure = _draw(plt, week, ChartWords(title="Rex"), {})
    assert [text.get_text() for text in figure.axes[1].texts] == [" happy/neutral/sad"]  # turned: a long label
    figure.canvas.draw()  # that ends inside the chart, as drawn
    assert figure.axes[1].texts[0].get_window_extent().y1 <= figure.axes[1].get_window_extent().y1
    plt.close(figure)


def test_a_person_beside_pets_is_listed_under_each_ones_emotion_with_a_badge_per_kind(app, client, alice):
    """The history's badge said only what the person showed, and its emotion filter found the photo only by that:
    a pet owner looking for their sad dog beside a happy friend did not find it under "sad"."""
    with app.app_context():
        photo = Analysis(user_id=alice, original_name="together.jpg", stored_name=uuid.uuid4().hex, media="image",
                         format="jpeg", width=10, height=10, shown_count=3)
        for position, (kind, emotions) in enumerate([("human", {"happy": 0.9, "neutral": 0.1}),
                                                     ("dog", {"sad": 0.9, "happy": 0.1}),
                                                     ("dog", {"angry": 0.4, "relaxed": 0.35, "sad": 0.25})], 1):
            found = Detection(position=position, kind=kind, x1=0, y1=0, x2=5, y2=5, score=0.9, emotions=emotions,
                              top=max(emotions, key=emotions.get))
            found.keep_reading()
            photo.detections.append(found)
        db.session.add(photo)
        db.session.commit()
    listed = lambda emotion: client.get(f"/analyses?emotion={emotion}").get_data(as_text=True)  # noqa: E731
    assert "together.jpg" in listed("sad") and "together.jpg" in listed("happy")
    angry = listed("angry")  # the second dog's "unsure, perhaps angry" counts nowhere, as on the dashboards
    assert "together.jpg" not in angry and "Readings the models were unsure of are left out" in angry
    badges = " ".join(re.sub(r"<[^>]+>", "", client.get("/analyses").get_data(as_text=True)).split())
    assert "1 face: happy · 2 dogs: sad" in badges
