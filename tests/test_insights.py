"""Insights on synthetic histories with known structure, and on a subject's page and API."""

from __future__ import annotations

import html
import re
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex
from sklearn.metrics import adjusted_rand_score

from bench import fixtures
from bench.fixtures import add_history, csrf_token
from extensions import db
from inference.labels import DOG_EMOTIONS
from insights.alerts import Rule, check_rule
from insights.changes import change_point
from insights.history import History
from insights.patterns import cluster, patterns, time_effects, transition_patterns
from insights.profile import profile
from insights.report import iso_week_monday, report_week, week_start
from bench.synthetic import START, clustered, draw, history_from, mood, shifted
from models import AlertRule, Analysis, Detection, Subject, SubjectKind, utcnow
from services import insights as insight_service
from insights.report import iso_week


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clustering_recovers_planted_moods(seed):
    history, truth = clustered(np.random.default_rng(seed), 150)
    labels, silhouette, null, _ = cluster(history.vectors, seed)
    assert adjusted_rand_score(truth, labels) > 0.9 and silhouette > null + 0.3
    descriptions = sorted(c["description"] for c in patterns(history)["clusters"])
    assert descriptions == ["mostly angry, some sad", "mostly happy", "mostly relaxed, some happy"]


def test_a_single_mood_is_not_split_into_invented_patterns():
    rng = np.random.default_rng(3)
    history = history_from(draw(rng, [mood(DOG_EMOTIONS, {"relaxed": 0.7, "happy": 0.3})] * 200), DOG_EMOTIONS)
    assert patterns(history)["clusters"] == []


def test_a_planted_shift_is_found_with_its_evidence():
    history = shifted(np.random.default_rng(4), 80, 0.3)
    found = change_point(history)
    assert found["detected"] and found["emotion"] == "sad" and found["direction"] == "more"
    assert found["p_value"] < 0.01 and found["before"]["count"] + found["after"]["count"] == 80
    assert abs(found["before"]["count"] - 40) <= 6  # the change is at the middle


def test_a_stationary_history_rarely_raises_a_false_alarm():
    rng = np.random.default_rng(5)
    alarms = [change_point(shifted(rng, 60, 0.0), seed=i)["detected"] for i in range(100)]
    assert np.mean(alarms) <= 0.04  # the test's level is 1%; 4% allows for chance over 100 tries


def test_a_time_of_day_effect_is_found_and_none_is_invented():
    rng = np.random.default_rng(6)
    happy, sad = mood(DOG_EMOTIONS, {"happy": 0.8}), mood(DOG_EMOTIONS, {"sad": 0.8})
    midnight = START.replace(hour=0)
    times = [midnight + timedelta(days=day, hours=hour) for day in range(40) for hour in (1, 8, 14, 20)]
    vectors = draw(rng, [happy if moment.hour == 8 else sad for moment in times])
    effects = patterns(History(DOG_EMOTIONS, times, vectors, list(range(len(times)))))["time_effects"]
    assert any(e["factor"] == "time of day" and e["group"] == "morning" and e["emotion"] == "happy" for e in effects)
    shuffled = History(DOG_EMOTIONS, times, vectors[rng.permutation(len(times))], list(range(len(times))))
    assert patterns(shuffled)["time_effects"] == []  # the same appearances at random times: no effect


def test_video_clips_group_by_how_often_the_mood_changes():
    rng = np.random.default_rng(12)
    steady = [(i, 60.0, int(rng.integers(0, 2)), rng.dirichlet(mood(DOG_EMOTIONS, {"relaxed": 0.9}) * 30))
              for i in range(10)]
    mixed = mood(DOG_EMOTIONS, {"happy": 0.5, "angry": 0.5})
    changeable = [(100 + i, 60.0, int(rng.integers(8, 13)), rng.dirichlet(mixed * 30)) for i in range(10)]
    found = transition_patterns(steady + changeable, DOG_EMOTIONS)
    assert sorted(g["description"].split(",")[0] for g in found["clusters"]) == ["changeable clips", "steady clips"]
    assert all(g["count"] == 10 for g in found["clusters"])
    assert transition_patterns(steady[:4], DOG_EMOTIONS) == {"enough": False, "count": 4, "needed": 10}


def test_too_little_data_says_what_is_needed():
    history = history_from(draw(np.random.default_rng(7), [mood(DOG_EMOTIONS, {"happy": 1})] * 2), DOG_EMOTIONS)
    assert profile(history) == {"enough": False, "count": 2, "needed": 3, "unsure": 0}
    assert patterns(history)["enough"] is False and change_point(history)["enough"] is False


def test_the_profile_has_intervals_and_compares_with_other_subjects():
    history = shifted(np.random.default_rng(8), 50, 0.0)
    rex = history_from(np.tile([0.1, 0.1, 0.1, 0.7], (4, 1)), DOG_EMOTIONS)  # Rex: mostly sad
    bo, new = (history_from(np.tile([0.7, 0.1, 0.1, 0.1], (n, 1)), DOG_EMOTIONS) for n in (2, 0))
    result = profile(history, {"Rex": rex, "Bo": bo, "Newcomer": new})
    assert result["description"].startswith(("mostly", "often", "a mix"))
    assert all(row["low"] <= row["mean"] <= row["high"] for row in result["mix"])
    assert result["comparison"]["notable"] and result["comparison"]["emotion"] == "sad"
    assert result["comparison"]["direction"] == "less"
    assert result["comparison"]["counts"] == {"Rex": 4}  # Bo has too few appearances to be compared with
    assert result["comparison"]["left_out"] == [{"name": "Bo", "count": 2}]  # a subject with none: not named


def make_subject(app, user_id: int, name: str, kind: str = "dog") -> int:
    """A subject, a dog unless told (this file's histories are mostly dogs')."""
    return fixtures.make_subject(app, user_id, name, kind)


def test_a_subject_page_shows_its_insights_and_empty_states(app, client, alice, bob_client):
    rex = make_subject(app, alice, "Rex")
    page = client.get(f"/dashboard?subject={rex}").get_data(as_text=True)
    assert "Needs at least 3 confident readings (0 so far)" in page
    add_history(app, alice, rex, shifted(np.random.default_rng(9), 60, 0.35).vectors)
    page = client.get(f"/dashboard?subject={rex}").get_data(as_text=True)
    assert "What Rex's history shows" in page and "over 30 appearances" in page  # 30 draws show below 50%
    assert "30 unsure readings were not counted" in page
    assert "60 appearances in 60 analyses." in page and "dogs in" not in page  # one dog: its appearances
    korean = client.get(f"/dashboard?subject={rex}", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "분석 60개에서 등장 60번." in korean  # not 개 60마리, "60 dogs"
    assert "More sad since" in page and "permutation test" in page
    # the change's evidence in the profile's plain words, not "Mean sad probability"
    assert re.search(r"Average share of sad: \d+% over the \d+ appearances before, \d+% over the \d+ since", page)
    assert re.search(r"슬픔의 평균 비율은 이전 등장 \d+번에서 \d+%", korean) and "probability" not in page
    document = client.get(f"/api/v1/subjects/{rex}/insights").get_json()
    assert document["available"] and document["changes"]["detected"] and document["profile"]["count"] == 30
    assert document["alerts"] == [] and document["weekly_report"]["count"] > 0  # its newest week, in January
    assert bob_client.get(f"/api/v1/subjects/{rex}/insights").status_code == 404
    whiskers = make_subject(app, alice, "Whiskers", kind="cat")
    assert "no emotion model for cats" in client.get(f"/dashboard?subject={whiskers}").get_data(as_text=True)


def test_a_cats_weekly_report_address_says_why_there_is_none(app, client, alice, bob_client):
    """The page is an answer (200: the cat is there, the report is not); its image has nothing to show (404)."""
    whiskers = make_subject(app, alice, "Whiskers", kind="cat")
    for address, status in ((f"/subjects/{whiskers}/report", 200), (f"/subjects/{whiskers}/report.png", 404)):
        response = client.get(address)
        page = response.get_data(as_text=True)
        assert response.status_code == status and "<h1>No weekly report for Whiskers</h1>" in page
        assert "Cats have no weekly report yet" in page and f'href="/dashboard?subject={whiskers}"' in page
    korean = client.get(f"/subjects/{whiskers}/report", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "고양이는 아직 주간 보고서가 없어요" in korean
    assert "Whiskers" not in bob_client.get(f"/subjects/{whiskers}/report").get_data(as_text=True)  # not his cat


def test_the_dashboard_links_a_cats_weekly_report_once_a_cat_model_ships(app, client, alice, monkeypatch):
    """Which subjects get a report follows their kind's emotion model, not a "cat" written in the template."""
    import models
    from inference.labels import CAT_EMOTIONS, DetectionKind
    make_subject(app, alice, "Whiskers", kind="cat")
    token = csrf_token(client, "/dashboard")
    answer = client.post("/dashboard/weekly-report", data={"weekly_report": "y", "csrf_token": token},
                         follow_redirects=True)
    page = html.unescape(answer.get_data(as_text=True))
    assert "(a cat has none" in page and "Whiskers: weekly report" not in page
    monkeypatch.setitem(models.EMOTION_CLASSES, DetectionKind.CAT, CAT_EMOTIONS)
    answer = client.post("/dashboard/weekly-report", data={"weekly_report": "y", "csrf_token": token},
                         follow_redirects=True)
    page = html.unescape(answer.get_data(as_text=True))
    assert "links to each person’s and pet’s weekly report." in page and "Whiskers: weekly report" in page


def test_an_alert_rule_fires_on_its_window_only():
    now = START + timedelta(days=30)
    sad, happy = mood(DOG_EMOTIONS, {"sad": 0.9}), mood(DOG_EMOTIONS, {"happy": 0.9})
    vectors = draw(np.random.default_rng(10), [happy] * 25 + [sad] * 5)
    history = History(DOG_EMOTIONS, [START + timedelta(days=d) for d in range(1, 31)], vectors, list(range(30)))
    fired = check_rule(history, Rule("sad", 0.5, 6), now)
    assert fired["fired"] and fired["count"] == 6 and fired["matching"] == 5 and len(fired["days"]) == 6
    assert not check_rule(history, Rule("sad", 0.5, 20), now)["fired"]  # 5 of 20: below the share
    quiet = check_rule(history, Rule("sad", 0.1, 1), now)
    assert not quiet["fired"] and not quiet["enough"]  # 1 appearance is too few to say anything


def test_an_alert_needs_two_readings_of_its_emotion_not_one():
    """"Dileep looked sad in 1 of 3 appearances (33%), above the 20% you asked" fired on one photo: one reading is
    an event, not a pattern. The result says which was missing, so the dashboard can tell the owner."""
    now = START + timedelta(days=5)
    readings = {"happy": {"happy": 0.9, "sad": 0.1}, "sad": {"happy": 0.1, "sad": 0.9}}

    def history_of_tops(tops: list[str]) -> History:
        return History.from_rows(DOG_EMOTIONS, [(START + timedelta(days=day + 1), readings[top], day)
                                                for day, top in enumerate(tops)])

    one = check_rule(history_of_tops(["happy", "happy", "sad"]), Rule("sad", 0.2, 7), now)
    assert (one["share"], one["matching"], one["count"]) == (0.3333, 1, 3)
    assert not one["fired"] and one["enough"] and not one["enough_matching"] and one["needed_matching"] == 2
    two = check_rule(history_of_tops(["happy", "happy", "sad", "sad"]), Rule("sad", 0.2, 7), now)
    assert two["fired"] and two["enough_matching"] and two["matching"] == 2


def test_the_dashboard_says_one_reading_of_the_emotion_is_not_a_pattern(app, client, alice):
    rex = make_subject(app, alice, "Rex")
    happy, sad = mood(DOG_EMOTIONS, {"happy": 0.9}), mood(DOG_EMOTIONS, {"sad": 0.9})
    add_history(app, alice, rex, np.array([happy, happy, sad]), start=utcnow() - timedelta(days=2))
    with app.app_context():
        db.session.add(AlertRule(subject_id=rex, emotion="sad", share=0.2, days=7))
        db.session.commit()
    page = " ".join(client.get(f"/dashboard?subject={rex}").get_data(as_text=True).split())
    assert "quiet: 33% now, but that is only 1 sad reading, and it takes 2 to make a pattern" in page
    assert "looked <span" not in page  # no notice


def test_a_dashboard_of_unsure_readings_only_says_why_its_charts_are_empty(app, client, alice):
    """Every reading unsure: the charts count none (all zeros), and the page said nothing of why."""
    rex = make_subject(app, alice, "Rex", "dog")
    weak = mood(DOG_EMOTIONS, {"happy": 0.4, "sad": 0.3, "relaxed": 0.3})
    add_history(app, alice, rex, np.array([weak, weak]), start=utcnow() - timedelta(days=3))
    page = " ".join(client.get(f"/dashboard?subject={rex}").get_data(as_text=True).split())
    assert "The model was unsure of both readings so far, so the charts below are empty" in page  # not "all 2"
    assert "counts as happy)." in page and "average shares above" not in page  # no shares shown above it
    add_history(app, alice, rex, np.array([weak]), start=utcnow() - timedelta(days=2))
    page = " ".join(client.get(f"/dashboard?subject={rex}").get_data(as_text=True).split())
    assert "The model was unsure of all 3 readings so far, so the charts below are empty. They count only" in page
    add_history(app, alice, rex, np.array([mood(DOG_EMOTIONS, {"sad": 0.9})]), start=utcnow() - timedelta(hours=1))
    assert "charts below are empty" not in client.get(f"/dashboard?subject={rex}").get_data(as_text=True)


def test_the_dashboard_says_an_alert_is_quiet_for_too_few_confident_readings(app, client, alice):
    """Four appearances, three of them unsure: the rule counts the one confident reading, and says so."""
    rex = make_subject(app, alice, "Rex")
    sure, weak = mood(DOG_EMOTIONS, {"sad": 0.9}), mood(DOG_EMOTIONS, {"happy": 0.4, "sad": 0.3, "relaxed": 0.3})
    add_history(app, alice, rex, np.array([sure, weak, weak, weak]), start=utcnow() - timedelta(days=2))
    with app.app_context():
        db.session.add(AlertRule(subject_id=rex, emotion="sad", share=0.3, days=7))
        db.session.commit()
    page = " ".join(client.get(f"/dashboard?subject={rex}").get_data(as_text=True).split())
    assert "quiet: too few confident readings lately (1 of the 3 it takes)" in page


def test_alerts_and_weekly_reports_in_the_browser_pages(app, client, alice, bob_client):
    rex = make_subject(app, alice, "Rex", "dog")
    sad = mood(DOG_EMOTIONS, {"sad": 0.9})
    recent = utcnow() - timedelta(days=4)
    add_history(app, alice, rex, draw(np.random.default_rng(11), [sad] * 8), start=recent, spacing=timedelta(hours=12))
    token = csrf_token(client, f"/dashboard?subject={rex}")
    response = client.post(f"/subjects/{rex}/alerts", data={"emotion": "sad", "percent": 50, "days": 7,
                                                            "csrf_token": token}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Alert added" in page and "looked <span" in page
    assert "not a diagnosis" in page and "The data behind it" in page
    assert "ask a vet if you are worried" in page and "ask someone who knows them" not in page  # a dog: no one to ask
    assert "in 8 of 8 appearances (100%)" in page
    too_much = {"emotion": "sad", "percent": 500, "days": 7, "csrf_token": token}
    bad = client.post(f"/subjects/{rex}/alerts", data=too_much)
    page = bad.get_data(as_text=True)  # the page again, the reason beside its field, what was typed kept
    assert bad.status_code == 422 and '<p class="field-error" id="percent-error" role="alert">More than (%): Give ' \
        'a number from 5 to 95.</p>' in page and 'value="500"' in page and 'aria-invalid="true"' in page
    assert "in 8 of 8 appearances (100%)" in page and page.count("field-error") == 1
    form = page.split('class="alert-form" novalidate>')[1].split("</form>")[0]  # the reason after the row of fields,
    assert form.rstrip().endswith('5 to 95.</p>') and 'aria-describedby="percent-error"' in form  # not in its narrow
    # field; and said by the page, not by the browser's bubble that goes in a few seconds (no novalidate before)
    both_bad = client.post(f"/subjects/{rex}/alerts", data=too_much | {"days": ""}).get_data(as_text=True)
    assert 'id="percent-error"' in both_bad and '<p class="field-error" id="days-error" role="alert">Over the last ' \
        '(days): Fill this in.</p>' in both_bad  # apart from its field, the reason names it
    not_a_number = client.post(f"/subjects/{rex}/alerts", data=too_much | {"percent": "abc"})
    assert 'id="percent-error" role="alert">More than (%): Type a whole number.</p>' in not_a_number.get_data(
        as_text=True)
    for field, label in (("percent", "More than (%)"), ("days", "Over the last (days)")):  # past a float's range:
        huge = client.post(f"/subjects/{rex}/alerts",  # WTForms' range check raised OverflowError, a 500
                           data=too_much | {"percent": 50, field: "1" + "0" * 400})
        assert huge.status_code == 422 and f'id="{field}-error" role="alert">{label}: Type a whole number.</p>' in \
            huge.get_data(as_text=True)
    again = client.post(f"/subjects/{rex}/alerts", data=too_much | {"percent": 50})
    assert again.status_code == 422 and 'id="emotion-error" role="alert">Emotion: Rex has this alert already.</p>' in \
        again.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AlertRule.id))) == 1  # none of those was added
    with app.app_context():
        rule_id = db.session.scalar(db.select(AlertRule.id))
    assert bob_client.post(f"/alerts/{rule_id}/delete", data={"csrf_token": csrf_token(bob_client, "/dashboard")}
                           ).status_code == 404
    page = client.get(f"/dashboard?subject={rex}").get_data(as_text=True)
    assert f'href="/alerts/{rule_id}/delete?next=/dashboard?subject%3D{rex}"' in page  # asks first, knows the way back
    assert f'action="/alerts/{rule_id}/delete"' not in page
    assert bob_client.get(f"/alerts/{rule_id}/delete").status_code == 404
    question = client.get(f"/alerts/{rule_id}/delete").get_data(as_text=True)
    assert "Remove the sad alert on Rex?" in question and "more than 50% of appearances over 7 days" in question
    assert f'action="/alerts/{rule_id}/delete"' in question and f'href="/dashboard?subject={rex}">Keep it' in question
    assert "looked <span" in client.get("/dashboard").get_data(as_text=True)  # asking removed nothing
    client.post(f"/alerts/{rule_id}/delete", data={"csrf_token": token})
    assert "looked <span" not in client.get("/dashboard").get_data(as_text=True)

    client.post("/dashboard/weekly-report", data={"weekly_report": "y", "csrf_token": token})
    dashboard = html.unescape(client.get("/dashboard").get_data(as_text=True))
    assert "Rex: weekly report" in dashboard
    assert "links to each person’s and dog’s weekly report (a cat has none" in dashboard  # not a cat's, as it said
    week = "{}-W{:02d}".format(*recent.date().isocalendar()[:2])
    report = client.get(f"/subjects/{rex}/report?week={week}").get_data(as_text=True)
    assert "<h1>Rex: week of " in report and f"week {week}" not in report and "mostly" in report
    assert "Download as PNG" in report
    image = client.get(f"/subjects/{rex}/report.png?week={week}")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    monday = recent.date() - timedelta(days=recent.weekday())  # named as the page words the week
    assert image.headers["Content-Disposition"] == f"inline; filename=moodlens-Rex-{monday.isoformat()}.png"
    assert bob_client.get(f"/subjects/{rex}/report.png").status_code == 404


def test_one_outlier_in_a_long_uniform_history_does_not_break_the_patterns():
    vectors = np.tile(mood(DOG_EMOTIONS, {"relaxed": 1.0}), (600, 1))
    vectors[300] = mood(DOG_EMOTIONS, {"angry": 1.0})
    result = patterns(history_from(vectors, DOG_EMOTIONS))
    assert result["enough"] and result["clusters"] == []


def test_a_week_to_come_falls_back_and_one_that_is_no_week_is_refused(app, client, alice):
    rex, tom = make_subject(app, alice, "Rex"), make_subject(app, alice, "Tom", "cat")
    this_week = iso_week(week_start(date.today()))  # Rex has no appearance: the report opens on this week
    for week, monday in (("2999-W52", "December 23, 2999"), ("2099-W01", "December 29, 2098")):  # still to come:
        later = client.get(f"/subjects/{rex}/report?week={week}")  # the page goes to the week it shows, and says so
        assert later.status_code == 302 and later.location.endswith(f"/subjects/{rex}/report?week={this_week}")
        told = " ".join(client.get(later.location).get_data(as_text=True).split())
        assert f"The week of {monday} is still to come" in told
        assert client.get(f"/subjects/{rex}/report.png?week={week}").status_code == 200
    for week in ("9999-W52", "0001-W01", "2026-W99", "2026-W00", "2025-W53", "soon", "2026-w47", "2026-W7",
                 "2026-W4_7", "+2026-W47", "2026-W47 "):
        page = client.get(f"/subjects/{rex}/report", query_string={"week": week})
        assert page.status_code == 400 and "is not a week" in page.get_data(as_text=True), week
        assert client.get(f"/subjects/{rex}/report.png", query_string={"week": week}).status_code == 400
        assert client.get(f"/subjects/{tom}/report", query_string={"week": week}).status_code == 400  # a cat's too
        answer = client.get(f"/api/v1/subjects/{rex}/insights", query_string={"week": week})
        assert answer.status_code == 400 and "is not a week" in answer.json["error"]
    korean = client.get(f"/subjects/{rex}/report?week=soon", headers={"Accept-Language": "ko"})
    assert korean.status_code == 400 and "is not a week" not in korean.get_data(as_text=True)
    assert client.get(f"/subjects/{rex}/report?week=").status_code == 200  # an empty field asks for no week
    history = History(DOG_EMOTIONS, [datetime(2026, 11, 18, 9)], np.array([mood(DOG_EMOTIONS, {"sad": 1.0})]), [1])
    today = date(2026, 12, 2)  # a Wednesday; the only reading is two weeks before
    assert report_week(history, iso_week_monday("2026-W47"), today) == date(2026, 11, 16)
    assert report_week(history, iso_week_monday("2026-W49"), today) == date(2026, 11, 30)  # this week, though empty
    assert report_week(history, iso_week_monday("2099-W01"), today) == report_week(history, None, today)
    assert report_week(history, None, today) == date(2026, 11, 16)


@pytest.mark.parametrize("name", ["$\\alpha^$", "$$", "Rex $5 and $6", "$\\undefined{x}$", "a_b^c$"])
def test_subject_names_that_look_like_maths_are_drawn_as_text(app, client, alice, name):
    subject = make_subject(app, alice, name)
    image = client.get(f"/subjects/{subject}/report.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")


def test_a_new_appearance_that_reuses_a_deleted_rows_ids_is_not_served_from_the_cache(app, client, alice):
    rex = make_subject(app, alice, "Rex")
    add_history(app, alice, rex, np.tile(mood(DOG_EMOTIONS, {"happy": 1.0}), (4, 1)))
    url = f"/api/v1/subjects/{rex}/insights"
    assert client.get(url).get_json()["profile"]["description"].startswith("mostly happy")
    with app.app_context():
        newest = db.session.scalar(db.select(Analysis).order_by(Analysis.id.desc()))
        db.session.delete(newest)
        db.session.commit()
    add_history(app, alice, rex, np.tile(mood(DOG_EMOTIONS, {"sad": 1.0}), (1, 1)), start=START + timedelta(days=9))
    mix = {row["emotion"]: row["mean"] for row in client.get(url).get_json()["profile"]["mix"]}
    assert mix["sad"] > 0.2  # the new sad appearance counts: the cache does not rely on ids alone


def test_a_renamed_subject_is_compared_by_its_new_name(app, client, alice):
    """The profile compares Rex with the owner's other dogs by name; renaming one showed its old name until Rex's
    appearances changed (the cache did not know the names)."""
    rex, bim = make_subject(app, alice, "Rex"), make_subject(app, alice, "Bim")
    add_history(app, alice, rex, np.tile(mood(DOG_EMOTIONS, {"happy": 1.0}), (4, 1)))
    add_history(app, alice, bim, np.tile(mood(DOG_EMOTIONS, {"sad": 1.0}), (4, 1)))
    url = f"/api/v1/subjects/{rex}/insights"
    assert client.get(url).get_json()["profile"]["comparison"]["others"] == ["Bim"]
    assert client.patch(f"/api/v1/subjects/{bim}", json={"name": "Max"},
                        headers={"X-CSRFToken": csrf_token(client, "/subjects")}).status_code == 200
    assert client.get(url).get_json()["profile"]["comparison"]["others"] == ["Max"]


def test_a_process_keeps_the_insights_of_the_subjects_read_most_recently(app, client, alice, monkeypatch):
    from services import insights
    from services.recent import Recent
    monkeypatch.setattr(insights, "_insights", Recent(2))
    dogs = [make_subject(app, alice, name) for name in ("Rex", "Bim", "Max")]
    for dog in dogs:
        assert client.get(f"/api/v1/subjects/{dog}/insights").status_code == 200
    assert list(insights._insights._kept) == dogs[1:]  # Rex, read first, went


def test_a_subjects_analyses_are_counted_by_analysis_not_by_time(app, client, alice):
    rex = make_subject(app, alice, "Rex")  # three photos stored in one second (a script, an import) are three
    add_history(app, alice, rex, np.tile(mood(DOG_EMOTIONS, {"happy": 1.0}), (3, 1)), spacing=timedelta(0))
    assert "3 appearances in 3 analyses." in client.get(f"/dashboard?subject={rex}").get_data(as_text=True)


def test_only_detections_of_the_subjects_kind_make_its_history(app, client, alice):
    mia = make_subject(app, alice, "Mia", kind="person")
    add_history(app, alice, mia, np.tile(mood(DOG_EMOTIONS, {"relaxed": 1.0}), (5, 1)))  # dog detections
    assert client.get(f"/api/v1/subjects/{mia}/insights").get_json()["count"] == 0


def test_a_one_day_alert_says_one_day_not_one_days(app, client, alice):
    rex = make_subject(app, alice, "Rex")
    sad = mood(DOG_EMOTIONS, {"sad": 0.9})
    add_history(app, alice, rex, draw(np.random.default_rng(5), [sad] * 4), start=utcnow() - timedelta(hours=10),
                spacing=timedelta(hours=2))
    token = csrf_token(client, f"/dashboard?subject={rex}")
    added = client.post(f"/subjects/{rex}/alerts", data={"emotion": "sad", "percent": 50, "days": 1,
                                                         "csrf_token": token}, follow_redirects=True)
    with app.app_context():
        rule_id = db.session.scalar(db.select(AlertRule.id))
    pages = [added, client.get("/dashboard"), client.get(f"/alerts/{rule_id}/delete")]  # flash, notice and rule
    texts = [page.get_data(as_text=True) for page in pages]
    assert "looked <span" in texts[1] and "Remove the sad alert" in texts[2]
    assert [text.count("1 days") for text in texts] == [0, 0, 0]
    assert "over 1 day." in texts[0] and "over 1 day:" in texts[0] and "over the last 1 day," in texts[1]


def test_the_weekly_report_says_one_point_not_one_points_in_both_languages(app, client, alice):
    rex = make_subject(app, alice, "Rex")
    before, after = (np.array([0.0, 0.5 + happy, 0.5 - happy, 0.0]) for happy in (0.0, 0.01))  # angry happy relaxed sad
    hourly = timedelta(hours=1)  # three readings a week: enough to sum up (weeks 2 and 3 of 2026)
    add_history(app, alice, rex, np.array([before] * 3), spacing=hourly)
    add_history(app, alice, rex, np.array([after] * 3), start=START + timedelta(days=7), spacing=hourly)
    first = client.get(f"/subjects/{rex}/report?week=2026-W02").get_data(as_text=True)
    assert "Too few confident readings the week before to compare with." in first and "vs the week before" not in first
    english = client.get(f"/subjects/{rex}/report?week=2026-W03").get_data(as_text=True)
    assert "+1 point<" in english and "-1 point<" in english and "no change<" in english and "+0" not in english
    assert "1 points" not in english
    korean = client.get(f"/subjects/{rex}/report?week=2026-W03", headers={"Accept-Language": "ko"})
    assert "+1포인트<" in korean.get_data(as_text=True)



def test_the_report_png_is_drawn_again_only_when_what_it_shows_changes(app, client, alice, monkeypatch):
    """The report page fetches its PNG at each view, and matplotlib took about half a second to draw it each time."""
    from services import insights as insight_service
    drawn = []
    kept_by_none = insight_service.Recent(insight_service.CACHED_SUBJECTS)  # not by earlier tests
    monkeypatch.setattr(insight_service, "_charts", kept_by_none)
    monkeypatch.setattr(insight_service, "report_png", lambda *args: drawn.append(args[3]) or b"png")
    rex = make_subject(app, alice, "Rex")
    add_history(app, alice, rex, np.array([mood(DOG_EMOTIONS, {"sad": 0.9})] * 3), spacing=timedelta(hours=1))
    address = f"/subjects/{rex}/report.png?week=2026-W02"
    for _ in range(2):
        assert client.get(address).data == client.get(address + "&layout=narrow").data == b"png"
    assert drawn == ["wide", "narrow"]
    client.get(address, headers={"Accept-Language": "ko"})  # its words
    add_history(app, alice, rex, np.array([mood(DOG_EMOTIONS, {"happy": 0.9})]), start=START + timedelta(hours=5))
    client.get(address)  # its readings
    assert drawn == ["wide", "narrow", "wide", "wide"]


def test_a_week_before_too_thin_to_sum_up_is_not_compared_with(app, client, alice):
    """Two sure readings the week before are too few for its own report to sum it up, so the next week's report
    draws no change from them either."""
    rex = make_subject(app, alice, "Rex")
    hourly = timedelta(hours=1)
    add_history(app, alice, rex, np.array([mood(DOG_EMOTIONS, {"sad": 0.9})] * 2), spacing=hourly)
    add_history(app, alice, rex, np.array([mood(DOG_EMOTIONS, {"happy": 0.9})] * 3), start=START + timedelta(days=7),
                spacing=hourly)
    thin = client.get(f"/subjects/{rex}/report?week=2026-W02").get_data(as_text=True)
    assert "Too few confident readings this week to sum it up" in thin
    page = client.get(f"/subjects/{rex}/report?week=2026-W03").get_data(as_text=True)
    assert "Too few confident readings the week before to compare with." in page and "vs the week before" not in page
    week = client.get(f"/api/v1/subjects/{rex}/insights?week=2026-W03").get_json()["weekly_report"]
    assert week["mix"] and week["change"] == {}


def test_a_report_of_a_week_long_ago_names_the_week_before_by_its_dates_never_as_last_week(app, client, alice):
    """Weeks 2 and 3 of 2026, months before today: the week compared with is the one before week 3 (5 to 11
    January), on the page and in the PNG's legend, in English and in Korean ("이전 주", never "지난주")."""
    from web.dashboard import chart_words
    rex = make_subject(app, alice, "Rex")
    for week, happy in enumerate((0.6, 0.9)):
        add_history(app, alice, rex, np.array([mood(DOG_EMOTIONS, {"happy": happy})] * 3),
                    start=START + timedelta(days=7 * week), spacing=timedelta(hours=1))
    english = client.get(f"/subjects/{rex}/report?week=2026-W03").get_data(as_text=True)
    assert "(3 the week before, Jan 5\u2009–\u200911)" in english and "last week" not in english.lower()
    korean = client.get(f"/subjects/{rex}/report?week=2026-W03", headers={"Accept-Language": "ko"})
    page = korean.get_data(as_text=True)
    assert "그 전 주(1월 5일~11일)에는 3번" in page and "이전 주 대비" in page and "지난주" not in page
    week = client.get(f"/api/v1/subjects/{rex}/insights?week=2026-W03").get_json()["weekly_report"]
    assert (week["previous_start"], week["previous_end"]) == ("2026-01-05", "2026-01-11")
    import matplotlib.pyplot as plt
    from insights.report import FONT_FAMILIES, _draw, _register_korean_font
    _register_korean_font()
    for language, legend in (("en", "week before (Jan 5\u2009–\u200911)"), ("ko", "이전 주 (1월 5일~11일)")):
        with app.test_request_context(headers={"Accept-Language": language}):
            words = chart_words(db.session.get(Subject, rex), week)
        with plt.rc_context({"font.family": FONT_FAMILIES}):  # as report_png draws it
            figure = _draw(plt, week, words, {})
        assert [text.get_text() for text in figure.axes[0].get_legend().get_texts()] == [legend]
        plt.close(figure)


def test_the_weekly_reports_days_leave_the_year_to_the_dates_above_them(app, client, alice):
    rex = make_subject(app, alice, "Rex")
    add_history(app, alice, rex, np.array([mood(DOG_EMOTIONS, {"happy": 1.0})]))  # Monday 5 January 2026

    def day_list(language: str) -> str:
        page = client.get(f"/subjects/{rex}/report?week=2026-W02", headers={"Accept-Language": language})
        return page.get_data(as_text=True).split('<section class="card">')[2].split("</ul>")[0]
    english = day_list("en-US")
    assert "<li>Mon, Jan 5: 1 appearance, <span" in english and "<li>Sun, Jan 11: nothing</li>" in english
    assert "mostly" not in english  # one appearance is not "mostly" anything
    assert "2026" not in english and english.count("<li>") == 7
    assert "<li>Mon 5 Jan: " in day_list("en-GB")  # the browser's region orders the day and month
    assert "<li>1월 5일 (월): " in day_list("ko")
    page = client.get(f"/subjects/{rex}/report?week=2026-W02").get_data(as_text=True)
    assert "January 5, 2026 to January 11, 2026" in page  # the year, once, above the days

def test_a_day_of_one_confident_reading_is_not_mostly_anything(app, client, alice):
    """"2 appearances, mostly happy (1 of them unsure)": one confident reading is its emotion, not "mostly" it."""
    rex = make_subject(app, alice, "Rex")
    sure, perhaps = mood(DOG_EMOTIONS, {"happy": 1.0}), np.array([0.3, 0.45, 0.15, 0.1])  # angry happy relaxed sad
    add_history(app, alice, rex, np.array([sure, perhaps]), spacing=timedelta(hours=1))
    page = client.get(f"/subjects/{rex}/report?week=2026-W02").get_data(as_text=True)
    day = re.search(r"<li>Mon, Jan 5: (.*?)</li>", page).group(1)
    assert re.fullmatch(r'2 appearances, <span class="emo-text emo-happy">happy</span> \(1 of them unsure\)', day)


def test_a_week_of_unsure_readings_makes_no_firm_statement(app, client, alice):
    """Two "perhaps happy" readings (top below the wording threshold, as the result pages call them unsure)
    give no "often happy" sentence: the report says they were all unsure, the profile does not count them."""
    rex = make_subject(app, alice, "Rex")
    perhaps_happy = np.array([0.3, 0.45, 0.15, 0.1])  # angry happy relaxed sad
    add_history(app, alice, rex, np.array([perhaps_happy, perhaps_happy]), spacing=timedelta(days=1))
    report = client.get(f"/subjects/{rex}/report?week=2026-W02").get_data(as_text=True)
    assert "Often happy" not in report and "All 2 readings this week were unsure" in report
    assert "1 appearance, unsure" in report
    assert client.get(f"/subjects/{rex}/report.png?week=2026-W02").status_code == 200
    document = client.get(f"/api/v1/subjects/{rex}/insights?week=2026-W02").get_json()
    week = document["weekly_report"]
    assert week["count"] == 2 and week["unsure"] == 2 and week["description"] is None and week["mix"] == {}
    assert document["unsure"] == 2 and document["profile"] == {"enough": False, "count": 0, "needed": 3,
                                                                "unsure": 2}


def test_a_day_with_sure_and_unsure_readings_says_how_many_were_unsure(app, client, alice):
    rex = make_subject(app, alice, "Rex")
    sure_happy, perhaps_angry = np.array([0.05, 0.85, 0.05, 0.05]), np.array([0.37, 0.3, 0.18, 0.15])
    add_history(app, alice, rex, np.array([sure_happy, perhaps_angry, perhaps_angry]), spacing=timedelta(hours=1))
    report = client.get(f"/subjects/{rex}/report?week=2026-W02").get_data(as_text=True)
    assert '3 appearances, <span class="emo-text emo-happy">happy</span> (2 of them unsure)' in report  # one sure
    # one sure reading is no pattern: the week's line says so, as the profile does, and counts the unsure
    assert "Too few confident readings this week to sum it up: 1 of the 3 it takes." in report
    assert "2 unsure readings were not counted." in report and "Mostly happy" not in report
    week_line = report.split("The week in one line")[1].split("Day by day")[0]
    assert '<table class="mix">' not in week_line  # no mix from one reading either
    week = client.get(f"/api/v1/subjects/{rex}/insights?week=2026-W02").get_json()["weekly_report"]
    assert week["description"] is None and week["sure"] == 1 and week["needed"] == 3 and week["mix"] == {}
    korean = client.get(f"/subjects/{rex}/report?week=2026-W02", headers={"Accept-Language": "ko"})
    assert "(그중 2번은 확실하지 않음)" in korean.get_data(as_text=True)


def test_sentences_come_from_sure_readings_and_count_the_unsure_beside_them():
    sure_sad, perhaps_happy = mood(DOG_EMOTIONS, {"sad": 0.9}), np.array([0.3, 0.45, 0.15, 0.1])
    vectors = np.array([sure_sad] * 3 + [perhaps_happy] * 4)
    times = [START + timedelta(hours=hour) for hour in range(7)]
    history = History(DOG_EMOTIONS, times, vectors, list(range(7)), [False] * 3 + [True] * 4)
    found = profile(history)
    assert found["enough"] and found["count"] == 3 and found["unsure"] == 4
    assert found["description"].params["first"] == "sad"
    from insights.report import weekly_report, week_start
    week = weekly_report(history, week_start(START.date()), START.date())
    assert week["count"] == 7 and week["unsure"] == 4 and week["description"].params["first"] == "sad"
    assert max(week["mix"], key=week["mix"].get) == "sad"


def test_a_days_bar_in_the_report_png_shows_each_emotion_it_had():
    """Two sad readings and one happy one on a day: the bar was all sad, as if the dog had been sad three times."""
    import matplotlib.pyplot as plt

    from insights.report import ChartWords, _draw, weekly_report, week_start
    vectors = np.array([mood(DOG_EMOTIONS, {"sad": 0.9})] * 2 + [mood(DOG_EMOTIONS, {"happy": 0.9})])
    history = History(DOG_EMOTIONS, [START + timedelta(hours=hour) for hour in range(3)], vectors, [0, 1, 2],
                      [False] * 3)
    week = weekly_report(history, week_start(START.date()), START.date())
    (day,) = [day for day in week["days"] if day["count"]]
    assert (day["top"], day["emotions"]) == ("sad", {"happy": 1, "sad": 2})
    colours = {"happy": "#00ff00", "sad": "#0000ff"}
    figure = _draw(plt, week, ChartWords(title="Rex"), colours)
    bars = [(to_hex(bar.get_facecolor()), bar.get_height()) for bar in figure.axes[1].patches if bar.get_height()]
    assert sorted(bars) == [("#0000ff", 2.0), ("#00ff00", 1.0)]
    assert [text.get_text() for text in figure.axes[1].get_legend().get_texts()] == ["happy", "sad"]  # the key
    plt.close(figure)


def test_an_alert_does_not_fire_from_unsure_readings_alone(app, client, alice):
    rex = make_subject(app, alice, "Rex")
    perhaps_sad = np.array([0.2, 0.15, 0.2, 0.45])  # angry happy relaxed sad: the pages say "perhaps sad"
    add_history(app, alice, rex, np.array([perhaps_sad] * 4), start=utcnow() - timedelta(hours=10),
                spacing=timedelta(hours=2))
    token = csrf_token(client, f"/dashboard?subject={rex}")
    client.post(f"/subjects/{rex}/alerts", data={"emotion": "sad", "percent": 50, "days": 7, "csrf_token": token})
    document = client.get(f"/api/v1/subjects/{rex}/insights").get_json()
    assert [(alert["fired"], alert["count"], alert["unsure"]) for alert in document["alerts"]] == [(False, 0, 4)]


def test_the_report_png_of_an_unsure_or_empty_week_says_so_instead_of_empty_charts():
    import matplotlib.pyplot as plt

    from insights.report import ChartWords, Layout, _draw
    day = {"date": "2026-11-30", "weekday": "Mon", "count": 2, "sure": 0, "top": None, "emotions": {}}
    week = {"mix": {}, "change": {}, "unsure": 2, "days": [day]}
    figure = _draw(plt, week, ChartWords(title="Rex"), {}, Layout.NARROW)
    assert [text.get_text() for text in figure.axes[0].texts] == ["Too few confident readings this week"]
    assert not figure.axes[0].get_xticks().size  # no empty 0-100% axis around the words (walk-through)
    assert figure.get_size_inches()[0] < figure.get_size_inches()[1]  # stacked: taller than wide
    assert [text.get_text() for text in figure.axes[1].get_legend().get_texts()] == ["unsure"]  # the grey bar
    plt.close(figure)
    days = [{**day, "date": f"2026-12-0{number}", "weekday": name, "count": 0}
            for number, name in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], start=1)]
    empty = _draw(plt, {**week, "unsure": 0, "days": days}, ChartWords(title="Rex"), {})
    assert empty.axes[1].get_legend() is None  # nothing read: nothing to call unsure
    assert [[text.get_text() for text in axes.texts] for axes in empty.axes] == [["Nothing this week"]] * 2
    assert [label.get_text() for label in empty.axes[1].get_xticklabels()] == [day["weekday"] for day in days]
    plt.close(empty)


def test_a_long_name_in_the_narrow_report_png_is_broken_into_lines_that_fit():
    import matplotlib.pyplot as plt

    from insights.report import ChartWords, Layout, _draw
    week = {"mix": {}, "change": {}, "unsure": 0, "days": []}
    figure = _draw(plt, week, ChartWords(title="Mr. Fluffington-Whiskerbottom-the-Third-of-Kensington, week 2026-W49"),
                   {}, Layout.NARROW)
    figure.canvas.draw()
    title = figure._suptitle.get_window_extent()
    assert title.x0 >= 0 and title.x1 <= figure.bbox.width and "\n" in figure._suptitle.get_text()
    # cut after a hyphen, not inside a word
    assert figure._suptitle.get_text() == "Mr.\nFluffington-Whiskerbottom-the-Third-\nof-Kensington, week 2026-W49"
    plt.close(figure)


@pytest.mark.parametrize("layout", ["wide", "narrow"])
def test_a_name_of_wide_letters_in_the_report_png_is_wrapped_as_drawn(layout):
    """Lines are cut by characters; a name of 64 "W"s ran off both edges and the week's dates with it."""
    import matplotlib.pyplot as plt

    from insights.report import ChartWords, Layout, _draw
    week = {"mix": {}, "change": {}, "unsure": 0, "days": []}
    figure = _draw(plt, week, ChartWords(title="W" * 64 + ", November 30, 2026 to December 6, 2026"), {},
                   Layout(layout))
    figure.canvas.draw()
    title = figure._suptitle.get_window_extent()
    assert title.x0 >= 0 and title.x1 <= figure.bbox.width and "2026" in figure._suptitle.get_text()
    plt.close(figure)


def test_the_report_pngs_day_labels_stand_level_when_every_name_is_short_and_turn_when_one_is_long():
    import matplotlib.pyplot as plt

    from insights.report import ChartWords, _draw
    days = [{"date": "2026-11-30", "weekday": "Mon", "count": 2, "sure": 2, "top": "relaxed",
             "emotions": {"relaxed": 2}},
            {"date": "2026-12-01", "weekday": "Tue", "count": 1, "sure": 1, "top": "sad", "emotions": {"sad": 1}}]
    week = {"mix": {}, "change": {}, "unsure": 0, "days": days}
    for names, rotation, top in (({"relaxed": "calm"}, 0, 3.5), ({}, 90, 4.4)):  # "relaxed" is too long to stand
        figure = _draw(plt, week, ChartWords(title="Rex", emotions=names), {})  # level
        assert [text.get_rotation() for text in figure.axes[1].texts] == [rotation, rotation]
        # the axis leaves room above the tallest bar for its label, not more: a level one needs a line
        figure.canvas.draw()
        assert figure.axes[1].get_ylim()[1] == top
        axes = figure.axes[1]
        assert all(text.get_window_extent().y1 <= axes.get_window_extent().y1 for text in axes.texts)
        plt.close(figure)


def dog_timeline(tops: list[str], step: float = 0.25) -> list[dict]:
    """A dog's track, one top emotion (at 0.9) per moment, `step` seconds apart."""
    rest = round(0.1 / (len(DOG_EMOTIONS) - 1), 4)
    return [{"t": index * step, "box": [0, 0, 5, 5], "emotions": {label: 0.9 if label == top else rest
                                                                  for label in DOG_EMOTIONS}}
            for index, top in enumerate(tops)]


def add_video(app, user_id: int, subject_id: int, timelines: list[list[dict]]) -> int:
    """A video of the subject, one track per timeline (0.25 s a moment), each stored as the app stores it: its
    seconds, share of time per top emotion and raw frame-to-frame transitions beside the timeline; its id."""
    with app.app_context():
        video = Analysis(user_id=user_id, media="video", status="done", original_name="walk.mp4",
                         stored_name=uuid.uuid4().hex, format="mp4", width=64, height=64, duration=10.0)
        for track, points in enumerate(timelines, start=1):
            tops = [max(point["emotions"], key=point["emotions"].get) for point in points]
            share = {label: tops.count(label) / len(tops) for label in DOG_EMOTIONS}
            raw = [{"t": point["t"], "from": before, "to": top}
                   for point, before, top in zip(points[1:], tops, tops[1:]) if before != top]
            video.detections.append(Detection(
                position=track, track_id=track, kind="dog", x1=0, y1=0, x2=5, y2=5, score=0.9, subject_id=subject_id,
                emotions=share, top=max(share, key=share.get), timeline=points, transitions=raw,
                summary={"duration": len(points) * 0.25, "share": share}))
        db.session.add(video)
        db.session.commit()
        return video.id


def test_a_dog_that_leaves_a_video_and_comes_back_is_one_clip_of_its_patterns(app, alice):
    """Its tracks in one video make one clip: seconds and changes added, shares weighted by seconds."""
    from services.insights import video_clips

    rex = make_subject(app, alice, "Rex")
    steady, changing = dog_timeline(["happy"] * 4), dog_timeline(["sad"] * 4 + ["happy"] * 4 + ["sad"] * 4)
    video_id = add_video(app, alice, rex, [steady, changing])  # 1 s, then 3 s with two changes
    with app.app_context():
        clips = video_clips(db.session.get(Subject, rex), DOG_EMOTIONS)
    assert len(clips) == 1
    analysis_id, seconds, changes, shares = clips[0]
    assert analysis_id == video_id and seconds == 4.0 and changes == 2
    assert dict(zip(DOG_EMOTIONS, shares.round(3))) == {"angry": 0, "happy": 0.5, "relaxed": 0, "sad": 0.5}


def test_a_flicker_the_page_leaves_out_is_no_change_of_a_clips_patterns(app, alice):
    """A half-second of sad inside happy is three raw transitions, but the track's story (and its page) tells one
    change, happy then sad: the clip's change rate counts that one."""
    from services.insights import video_clips

    rex = make_subject(app, alice, "Rex")
    flicker = dog_timeline(["happy"] * 10 + ["sad"] * 2 + ["happy"] * 10 + ["sad"] * 18)  # 10 s
    add_video(app, alice, rex, [flicker])  # stored past the app: nothing kept, told from its timeline
    counted = []
    for _ in range(2):
        with app.app_context():
            track = db.session.scalar(db.select(Detection).filter_by(subject_id=rex))
            assert len(track.transitions) == 3 and [change["t"] for change in track.story.changes] == [5.5]
            counted.append((track.reading_changes, video_clips(db.session.get(Subject, rex), DOG_EMOTIONS)[0][1:3]))
        app.test_cli_runner().invoke(args=["maintenance", "readings"])  # keeps them, as the app does on storing
    assert counted == [(None, (10.0, 1)), (1, (10.0, 1))]


def test_an_unsure_track_is_left_out_of_the_clips_patterns(app, client, alice):
    """As every other insight leaves unsure readings out: a track whose frames never stand out is no clip."""
    from services.insights import video_clips

    rex = make_subject(app, alice, "Rex")
    weak = [{**point, "emotions": dict(zip(DOG_EMOTIONS, (0.3, 0.26, 0.22, 0.22)))}
            for point in dog_timeline(["angry"] * 8)]
    add_video(app, alice, rex, [dog_timeline(["happy"] * 8)])
    add_video(app, alice, rex, [weak])
    app.test_cli_runner().invoke(args=["maintenance", "readings"])  # each track's reading kept, as on storing
    with app.app_context():
        assert sorted(track.reading_certainty for track in db.session.scalars(db.select(Detection))) == [
            "sure", "unsure"]
        clips = video_clips(db.session.get(Subject, rex), DOG_EMOTIONS)
    assert [dict(zip(DOG_EMOTIONS, shares.round(3)))["happy"] for _, _, _, shares in clips] == [1.0]
    page = client.get(f"/dashboard?subject={rex}").get_data(as_text=True)
    assert "Patterns in videos need at least 10 clips with a confident reading (1 so far)." in page


def test_a_refused_alert_and_a_form_sent_after_log_out_come_back_to_the_dashboard_not_to_a_405(app, client, alice):
    """The refused form is shown at its POST-only address: the header's language switch sent the browser back
    there (a GET: 405), and so did the log-in page's `next` for a form posted after the session ended."""
    rex = make_subject(app, alice, "Rex")
    dashboard = f"/dashboard?subject={rex}"
    token = csrf_token(client, dashboard)
    refused = client.post(f"/subjects/{rex}/alerts", data={"emotion": "sad", "percent": 500, "days": 7,
                                                           "csrf_token": token},
                          headers={"Referer": f"http://localhost{dashboard}"})
    assert refused.status_code == 422
    assert f'name="next" value="/dashboard?subject={rex}"' in refused.get_data(as_text=True)
    elsewhere = client.post(f"/subjects/{rex}/alerts", data={"percent": 500, "csrf_token": token},
                            headers={"Referer": "https://example.com/dashboard"})
    assert 'name="next" value="/"' in elsewhere.get_data(as_text=True)  # another site's page: the start page
    client.post("/logout", data={"csrf_token": token})
    sent_later = client.post(f"/subjects/{rex}/alerts", data={"emotion": "sad", "percent": 50, "days": 7,
                                                              "csrf_token": token}, headers={"Referer": f"http://localhost{dashboard}"})
    assert sent_later.status_code == 302 and sent_later.location == f"/login?next=/dashboard?subject%3D{rex}"
    assert client.get(dashboard).location == f"/login?next=/dashboard?subject%3D{rex}"  # a GET: its own


def test_a_form_address_reloaded_or_shared_goes_to_the_dashboard_the_form_lives_on(app, client, alice, bob_client):
    """A refused alert leaves the browser on the form's address: a GET of it (a reload, a shared link) is the
    subject's dashboard for its owner, not a 405, and still a 404 for anyone else; so is the weekly-report setting's."""
    rex = make_subject(app, alice, "Rex")
    token = csrf_token(client, f"/dashboard?subject={rex}")
    refused = client.post(f"/subjects/{rex}/alerts", data={"emotion": "sad", "percent": 500, "days": 7,
                                                           "csrf_token": token})
    assert refused.status_code == 422
    reloaded = client.get(f"/subjects/{rex}/alerts")
    assert reloaded.status_code == 302 and reloaded.location == f"/dashboard?subject={rex}"
    assert bob_client.get(f"/subjects/{rex}/alerts").status_code == 404
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AlertRule.id))) == 0  # a GET adds nothing
    assert client.get("/dashboard/weekly-report").location == "/dashboard"


def notices(page: str) -> list[str]:
    """The alert notices of a dashboard, their whitespace collapsed."""
    return [" ".join(notice.split()) for notice in re.findall(r'<section class="card notice".*?</section>', page, re.S)]


def rex_with_a_sad_alert(app, user_id: int, moods: list[np.ndarray]) -> tuple[int, int]:
    """Rex (a dog) with these readings, one a day over the last days, and an alert on sad above 50% over 7 days:
    his id and the rule's."""
    rex = make_subject(app, user_id, "Rex")
    add_history(app, user_id, rex, np.array(moods), start=utcnow() - timedelta(days=len(moods)))
    with app.app_context():
        db.session.add(AlertRule(subject_id=rex, emotion="sad", share=0.5, days=7))
        db.session.commit()
        return rex, db.session.scalar(db.select(AlertRule.id))


def test_a_fired_alerts_notice_is_dismissed_until_new_readings_fire_it_again(app, client, alice, bob_client):
    """The Everyone dashboard's notice links Rex to his dashboard; it and Rex's dashboard offer "Dismiss" (a POST
    with the CSRF token, back to the page it was on; a GET of its address is Rex's dashboard, a 404 for anyone
    else). Dismissed, the notice is gone from both while no new reading comes (an unsure one does not count; the
    rule's line still says it is triggered); a new sad photo that keeps it firing brings it back."""
    sad, happy = mood(DOG_EMOTIONS, {"sad": 0.9}), mood(DOG_EMOTIONS, {"happy": 0.9})
    rex, rule = rex_with_a_sad_alert(app, alice, [sad, sad, happy])
    [notice] = notices(client.get("/dashboard").get_data(as_text=True))
    assert f'<strong><a href="/dashboard?subject={rex}">Rex</a></strong> looked' in notice
    assert f'action="/alerts/{rule}/dismiss"' in notice and 'name="next" value="/dashboard"' in notice
    assert 'aria-label="Dismiss the notice about Rex">Dismiss</button>' in notice
    [own] = notices(client.get(f"/dashboard?subject={rex}").get_data(as_text=True))
    assert "<strong>Rex</strong> looked" in own and f'action="/alerts/{rule}/dismiss"' in own
    assert client.get(f"/alerts/{rule}/dismiss").location == f"/dashboard?subject={rex}"
    assert bob_client.get(f"/alerts/{rule}/dismiss").status_code == 404
    assert bob_client.post(f"/alerts/{rule}/dismiss", data={"csrf_token": csrf_token(bob_client, "/dashboard")}
                           ).status_code == 404
    assert client.post(f"/alerts/{rule}/dismiss", data={"next": "/dashboard"}).status_code == 400  # no token
    assert notices(client.get("/dashboard").get_data(as_text=True))
    token = csrf_token(client, "/dashboard")
    dismissed = client.post(f"/alerts/{rule}/dismiss", data={"csrf_token": token, "next": f"/dashboard?subject={rex}"})
    assert dismissed.status_code == 303 and dismissed.location == f"/dashboard?subject={rex}"
    page = " ".join(client.get(dismissed.location).get_data(as_text=True).split())
    assert "Notice dismissed. It comes back if new photos or videos of Rex set the alert off again." in page
    assert notices(page) == [] and "triggered (67% now)" in page
    [alert] = client.get(f"/api/v1/subjects/{rex}/insights").get_json()["alerts"]
    assert alert["fired"] and alert["dismissed"]
    assert alert["rule"] == {"id": rule, "emotion": "sad", "share": 0.5, "days": 7}  # not its window's 0.6667
    assert alert["share"] == round(2 / 3, 4) and [day["matching"] for day in alert["days"]] == [1, 1, 0]
    weak_sad = mood(DOG_EMOTIONS, {"sad": 0.4, "happy": 0.3, "relaxed": 0.3})
    add_history(app, alice, rex, np.array([weak_sad]), start=utcnow() - timedelta(hours=2))
    assert notices(client.get("/dashboard").get_data(as_text=True)) == []
    add_history(app, alice, rex, np.array([sad]), start=utcnow() - timedelta(hours=1))
    [back] = notices(client.get("/dashboard").get_data(as_text=True))
    assert "in 3 of 4 appearances (75%)" in back


def test_a_face_of_an_older_upload_assigned_after_the_dismissal_brings_the_notice_back(app, client, alice):
    """Uploaded first, assigned after the notice was dismissed: a reading the owner had not seen (the rule kept the
    newest analysis id it fired on, and an older upload never passed it)."""
    sad, happy = mood(DOG_EMOTIONS, {"sad": 0.9}), mood(DOG_EMOTIONS, {"happy": 0.9})
    add_history(app, alice, None, np.array([sad]), start=utcnow() - timedelta(days=5))  # not yet Rex's
    rex, rule = rex_with_a_sad_alert(app, alice, [sad, sad, happy])
    client.post(f"/alerts/{rule}/dismiss", data={"csrf_token": csrf_token(client, "/dashboard")})
    assert notices(client.get("/dashboard").get_data(as_text=True)) == []
    with app.app_context():
        older = db.session.scalars(db.select(Detection).where(Detection.subject_id.is_(None))).one()
        older_id, photo = older.id, older.analysis_id
        assert photo < min(db.session.scalars(db.select(Detection.analysis_id).filter_by(subject_id=rex)))
        assert db.session.get(AlertRule, rule).dismissed_readings == sorted([photo + 1, photo + 2, photo + 3])
    form = {f"d{older_id}-subject": str(rex), "csrf_token": csrf_token(client, f"/analyses/{photo}")}
    assert client.post(f"/detections/{older_id}/subject", data=form).status_code == 302
    [back] = notices(client.get("/dashboard").get_data(as_text=True))
    assert "in 3 of 4 appearances (75%)" in back


def test_a_share_just_above_the_rules_shows_a_decimal(app, client, alice):
    """2 of 6 is above a rule's 33%: the notice and the rule's line say 33.3%, not "33% ... above the 33%"."""
    sad, happy = mood(DOG_EMOTIONS, {"sad": 0.9}), mood(DOG_EMOTIONS, {"happy": 0.9})
    rex = make_subject(app, alice, "Rex")
    add_history(app, alice, rex, np.array([sad, sad, happy, happy, happy, happy]),
                start=utcnow() - timedelta(days=6))
    with app.app_context():
        db.session.add(AlertRule(subject_id=rex, emotion="sad", share=0.33, days=7))
        db.session.commit()
    [notice] = notices(client.get("/dashboard").get_data(as_text=True))
    assert "in 2 of 6 appearances (33.3%) over the last 7 days, above the 33% you asked to hear about" in notice
    began = (utcnow() - timedelta(days=7)).date()  # the test's owner is on UTC
    assert (f"The last 7 days are the 168 hours before now: they began on {began:%B} {began.day}, {began.year} at this "
            "time of day.") in notice
    assert "triggered (33.3% now)" in client.get(f"/dashboard?subject={rex}").get_data(as_text=True)


def test_a_share_a_hair_above_the_rules_shows_two_decimals(app):
    from web.i18n import against
    with app.test_request_context():
        assert (against(0.3301, 0.33), against(0.3333, 0.33), against(0.36, 0.33)) == ("33.01%", "33.3%", "36%")


def test_a_weeks_change_is_the_difference_of_the_percents_shown():
    """51% against the week before's 30% is +21 points, not the +22 of the unrounded shares."""
    from web.i18n import points
    assert points(0.514, round(0.514 - 0.296, 4)) == 21 and points(0.30, 0.0) == 0 and points(0.2, -0.1) == -10


def test_the_migration_keeps_what_a_dismissal_meant_and_goes_back(app, alice):
    """A rule dismissed through an analysis id keeps its subject's readings up to it, within its window."""
    import sqlalchemy as sa
    from flask_migrate import downgrade, upgrade
    sad = mood(DOG_EMOTIONS, {"sad": 0.9})
    rex, rule = rex_with_a_sad_alert(app, alice, [sad, sad, sad])
    add_history(app, alice, rex, np.array([sad]), start=utcnow() - timedelta(days=30))  # outside the 7 days
    migrations = str(Path(__file__).resolve().parents[1] / "migrations")
    with app.app_context():
        first, second, third, old = db.session.scalars(db.select(Analysis.id).order_by(Analysis.id)).all()
        db.session.remove()
        downgrade(directory=migrations, revision="ba40000000d1")
        with db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE alert_rule SET dismissed_through = :through"), {"through": third})
        upgrade(directory=migrations)
        assert db.session.get(AlertRule, rule).dismissed_readings == [first, second, third]
        db.session.remove()
        downgrade(directory=migrations, revision="ba40000000d1")
        with db.engine.begin() as connection:  # the old reading is within the id, not within the window
            connection.execute(sa.text("UPDATE alert_rule SET dismissed_through = :through"), {"through": old})
        upgrade(directory=migrations)
        assert db.session.get(AlertRule, rule).dismissed_readings == [first, second, third]
        db.session.remove()
        downgrade(directory=migrations, revision="ba40000000d1")
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT dismissed_through FROM alert_rule")).scalar() == third
        upgrade(directory=migrations)


def test_dismissing_a_quiet_alert_says_so_and_keeps_nothing(app, client, alice):
    """An alert that does not fire (the notice went between the page and the click) has nothing to dismiss: it
    says so, and a later firing shows its notice."""
    sad, happy = mood(DOG_EMOTIONS, {"sad": 0.9}), mood(DOG_EMOTIONS, {"happy": 0.9})
    rex, rule = rex_with_a_sad_alert(app, alice, [happy, happy, sad])
    client.set_cookie("moodlens_locale", "ko")
    answer = client.post(f"/alerts/{rule}/dismiss", data={"csrf_token": csrf_token(client, "/dashboard"),
                                                          "next": "/dashboard"}, follow_redirects=True)
    assert "Rex의 슬픔 알림은 지금 조용해요" in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(AlertRule, rule).dismissed_readings is None
    add_history(app, alice, rex, np.array([sad, sad]), start=utcnow() - timedelta(hours=2), spacing=timedelta(hours=1))
    assert len(notices(client.get("/dashboard").get_data(as_text=True))) == 1


def test_a_head_request_is_answered_as_a_get_and_changes_nothing(app, client, alice):
    """Flask answers HEAD with the GET view: a form's address must not take it for its POST (a write without a
    CSRF check; an alert rule without an emotion was a 500)."""
    rex = make_subject(app, alice, "Rex")
    with app.app_context():
        db.session.add(AlertRule(subject_id=rex, emotion="sad", share=0.4, days=7))
        db.session.commit()
        rule = db.session.scalar(db.select(AlertRule.id))
    for address in (f"/subjects/{rex}/alerts", "/dashboard/weekly-report", f"/alerts/{rule}/delete",
                    f"/alerts/{rule}/dismiss", f"/subjects/{rex}/delete"):
        assert client.head(address).status_code == client.get(address).status_code, address
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AlertRule.id))) == 1
        assert db.session.get(Subject, rex) is not None


def test_groups_clear_enough_but_all_but_one_too_small_are_worded_as_a_few_odd_appearances(app, client, alice):
    from bench.fixtures import StoredAnalysis, make_subject, store_analyses

    ana = make_subject(app, alice, "Ana")
    store_analyses(app, alice, [StoredAnalysis(f"{n}.jpg", "happy", ana) for n in range(40)]
                   + [StoredAnalysis("odd.jpg", "sad", ana)])
    found = client.get(f"/api/v1/subjects/{ana}/insights").get_json()["patterns"]
    assert found["clusters"] == [] and found["small_groups"] and found["min_share"] == 0.05
    page = client.get(f"/dashboard?subject={ana}").get_data(as_text=True)
    assert "apart from a few odd appearances, they form one group" in page
    assert "do not form separate groups" not in page


def test_a_dashboard_with_more_appearances_than_it_shows_links_to_all_of_them_in_the_history(app, client, alice):
    from bench.fixtures import StoredAnalysis, make_subject, store_analyses

    ana = make_subject(app, alice, "Ana")
    store_analyses(app, alice, [StoredAnalysis(f"{n}.jpg", "happy", ana) for n in range(13)])
    page = client.get(f"/dashboard?subject={ana}").get_data(as_text=True)
    assert f'the newest 12 are shown (<a href="/analyses?subject={ana}">all of them in the history</a>)' in page
    history = client.get(f"/analyses?subject={ana}")
    assert history.status_code == 200 and "12.jpg" in history.get_data(as_text=True)


def test_a_patterns_example_thumbnails_are_cropped_onto_the_subject_not_the_largest_animal(app, client, alice):
    """The 56 px examples were the middle of each photo: of a wide photo of two, slivers of both and neither whole."""
    from bench.fixtures import add_history, make_subject

    rex = make_subject(app, alice, "Rex", SubjectKind.DOG)
    add_history(app, alice, rex, clustered(np.random.default_rng(0), 60)[0].vectors)
    with app.app_context():
        for analysis in db.session.scalars(db.select(Analysis)):
            analysis.width, analysis.height = 400, 100
            rexs = analysis.detections[0]
            rexs.x1, rexs.y1, rexs.x2, rexs.y2 = 300, 10, 390, 90  # at the right end
            analysis.detections.append(Detection(position=2, kind="dog", x1=0, y1=0, x2=100, y2=100, score=0.9,
                                                 emotions=dict(rexs.emotions), top=rexs.top))  # larger, at the left
        db.session.commit()
    page = client.get(f"/dashboard?subject={rex}").get_data(as_text=True)
    examples = re.findall(r'<img [^>]*alt="Example \d of this mood"[^>]*>', page)
    assert examples and all('class="focus-x4"' in example for example in examples), examples


def test_the_other_subjects_compared_are_in_name_order_and_a_right_to_left_name_is_set_apart(app, client, alice):
    """"Much like your other dogs: BOB (11 …), bella (12 …), محمد (11 …)": by character code, and the Arabic name
    took the count's digits and bracket into its right-to-left run."""
    from bench.fixtures import add_history, make_subject
    rng = np.random.default_rng(0)
    rex = make_subject(app, alice, "Rex", SubjectKind.DOG)
    for name in ("bella", "BOB", "محمد"):
        add_history(app, alice, make_subject(app, alice, name, SubjectKind.DOG), clustered(rng, 12)[0].vectors)
    add_history(app, alice, rex, clustered(rng, 12)[0].vectors)
    page = client.get(f"/dashboard?subject={rex}").get_data(as_text=True)
    comparison = re.search(r'<p class="comparison">(.*?)</p>', page, re.S)[1]
    assert "\u2068محمد\u2069 (" in comparison
    assert comparison.index("bella") < comparison.index("BOB") < comparison.index("محمد")


def test_an_alert_at_exactly_its_share_does_not_fire():
    """Mutant 03 (share >= rule.share): "more than 50%" fired on 2 of 4."""
    start = datetime(2026, 3, 1, 12)
    sad, happy = {"sad": 0.9, "happy": 0.1}, {"happy": 0.9, "sad": 0.1}
    history = History.from_rows(DOG_EMOTIONS, [(start + timedelta(hours=h), reading, h)
                                               for h, reading in enumerate([sad, happy, sad, happy])])
    result = check_rule(history, Rule("sad", 0.5, 7), start + timedelta(days=1))
    assert (result["count"], result["matching"], result["share"]) == (4, 2, 0.5) and not result["fired"]
    assert check_rule(history, Rule("sad", 0.49, 7), start + timedelta(days=1))["fired"]


def test_alert_rules_take_the_bounds_they_document(app, alice):
    """Mutant 20 (days < ALERT_DAYS[1]): a 90-day rule, the form's and the API's documented maximum, was refused."""
    with app.app_context():
        subject = Subject(user_id=alice, name="Rex", kind=SubjectKind.DOG)
        db.session.add(subject)
        db.session.commit()
        for share, days in ((0.05, 1), (0.95, 90)):
            assert insight_service.add_alert(subject, "sad", share, days).days == days


def dog_history(readings: list[tuple[datetime, dict[str, float]]]) -> History:
    return History.from_rows(DOG_EMOTIONS, [(moment, reading, number) for number, (moment, reading)
                                            in enumerate(readings)])


SAD_DOG, HAPPY_DOG = {"sad": 0.9, "happy": 0.1}, {"happy": 0.9, "sad": 0.1}


def test_saturday_is_weekend_in_the_time_effects():
    """Mutant 49 (weekend from weekday 6 on): a dog sad on every Saturday and happy on weekdays showed no effect,
    Saturday being counted among the weekdays."""
    saturday, tuesday = datetime(2026, 3, 7, 12), datetime(2026, 3, 3, 12)
    history = dog_history([(saturday + timedelta(weeks=week), SAD_DOG) for week in range(25)]
                          + [(tuesday + timedelta(weeks=week), HAPPY_DOG) for week in range(25)])
    effects = {effect["factor"]: effect for effect in time_effects(history)}
    assert effects["day of week"]["table"] == {"weekday": {"happy": 25, "sad": 0},
                                                    "weekend": {"happy": 0, "sad": 25}}


def test_a_change_is_dated_at_the_first_reading_after_it():
    """Mutant 50 (the change's row taken one block early): a dog happy for 30 days then sad for 30 was said to
    have changed "since" the last happy day, with 29 readings before and 31 after."""
    start = datetime(2026, 1, 1, 12)
    history = dog_history([(start + timedelta(days=day), HAPPY_DOG if day < 30 else SAD_DOG) for day in range(60)])
    found = change_point(history)
    assert found["detected"] and found["emotion"] in ("sad", "happy")
    assert (found["before"]["count"], found["after"]["count"]) == (30, 30)
    assert found["since"].startswith("2026-01-31T12:00:00")
