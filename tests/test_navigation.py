"""Finding one's way. After a delete: the browser's Back (or an old tab) to a page of what the user deleted goes to the
list it was deleted from, saying so (a download of it is a 404), while anyone else's id and an id that never existed
stay a 404; deleting from the history, or from a result opened from it, keeps the user's place (filters, page), as
does the result's "Back to history"; "Keep it" goes back to where they came from (a result, a pet's dashboard, a
dashboard's period). The weekly report leads to the subject's dashboard and to the weeks around it."""

from __future__ import annotations

import re
from datetime import timedelta
from html import escape, unescape
from urllib.parse import quote, urlsplit

import numpy as np

from bench.fixtures import StoredAnalysis, add_history, csrf_token, login, make_subject, store_analyses
from extensions import db
from inference.labels import DOG_EMOTIONS
from insights.report import iso_week, week_start
from models import AlertRule, Analysis, JobStatus, User, utcnow

ALREADY_ANALYSIS = "You already deleted that photo or video."
ALREADY_SUBJECT = "You already deleted that person or pet."
ALREADY_ALERT = "You already removed that alert."


def analysis_ids(app, user_id: int) -> list[int]:
    """The user's analyses, oldest first."""
    with app.app_context():
        return list(db.session.scalars(db.select(Analysis.id).filter_by(user_id=user_id).order_by(Analysis.id)))


def neutral_photos(app, user_id: int, count: int) -> list[int]:
    store_analyses(app, user_id, [StoredAnalysis(f"n{number}.jpg", "neutral") for number in range(count)])
    return analysis_ids(app, user_id)


def delete(client, path: str, **form: str):
    return client.post(path, data={"csrf_token": csrf_token(client, "/analyze"), **form})


def test_back_to_a_deleted_photos_pages_goes_to_the_history_page_it_was_deleted_from(app, client, alice):
    photo = neutral_photos(app, alice, 1)[0]
    place = "/analyses?media=image&emotion=neutral"
    assert delete(client, f"/analyses/{photo}/delete", next=place).location == place
    client.get(place)  # the "deleted" message shown
    for page in (f"/analyses/{photo}/delete", f"/analyses/{photo}", f"/analyses/{photo}/detections/1/explain"):
        response = client.get(page)
        assert response.status_code == 303 and response.location == place, page
        assert ALREADY_ANALYSIS in client.get(place).get_data(as_text=True)
    again = delete(client, f"/analyses/{photo}/delete")  # the confirm page's button in a second tab
    assert again.status_code == 303 and ALREADY_ANALYSIS in client.get(again.location).get_data(as_text=True)
    assert client.get(f"/analyses/{photo}/thumb").status_code == 404  # a file is no page to go back from


def test_a_cards_form_sent_after_its_photo_was_deleted_in_another_tab_goes_where_the_deletion_went(app, client, alice):
    """"Who is this?" saved in a tab still showing a photo deleted in another was a bare 404 (its detections are gone
    with it): every form of a card names its analysis, as the pages' addresses do."""
    photo = neutral_photos(app, alice, 1)[0]
    make_subject(app, alice, "Ana")
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    actions = [unescape(action) for action in re.findall(r'action="(/detections/[^"]+)"', page)]
    assert actions and all(action.endswith(f"?analysis={photo}") for action in actions), actions
    place = "/analyses?media=image"
    delete(client, f"/analyses/{photo}/delete", next=place)
    client.get(place)  # the "deleted" message shown
    for action in actions:
        response = delete(client, action, subject="0")
        assert response.status_code == 303 and response.location == place, action
        assert ALREADY_ANALYSIS in client.get(place).get_data(as_text=True)
    assert delete(client, actions[0].partition("?")[0], subject="0").status_code == 404  # an address without it


def test_ids_the_user_never_deleted_stay_404_and_look_alike(app, client, alice, bob_client):
    with app.app_context():
        bob = db.session.scalar(db.select(User.id).filter_by(username="bob"))
    bobs_photo = neutral_photos(app, bob, 1)[0]
    alices_photo = neutral_photos(app, alice, 1)[0]
    delete(bob_client, f"/analyses/{bobs_photo}/delete")
    never = alices_photo + 1000
    numbers = (bobs_photo, never)
    pages = [client.get(f"/analyses/{number}/delete") for number in numbers]
    assert [page.status_code for page in pages] == [404, 404]
    texts = [page.get_data(as_text=True).replace(f"/{number}/", "/ID/") for page, number in zip(pages, numbers)]
    assert texts[0] == texts[1]  # nothing tells Bob's id apart (the address aside)
    delete(client, f"/analyses/{alices_photo}/delete")
    assert bob_client.get(f"/analyses/{alices_photo}/delete").status_code == 404  # not his deletion


def test_the_next_user_on_the_same_browser_gets_no_deleted_message(app, client, alice, bob_client):
    photo = neutral_photos(app, alice, 1)[0]
    delete(client, f"/analyses/{photo}/delete")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/analyze")})
    login(client, "bob")
    response = client.get(f"/analyses/{photo}")
    assert response.status_code == 404 and ALREADY_ANALYSIS not in response.get_data(as_text=True)


def test_deleting_from_a_later_history_page_keeps_the_filters_and_the_page(app, client, alice):
    photos = neutral_photos(app, alice, 5)  # newest first, 2 a page: page 2 shows photos[2] and photos[1]
    store_analyses(app, alice, [StoredAnalysis("happy.jpg", "happy")])
    place = "/analyses?media=image&emotion=neutral&per_page=2&page=2"
    listing = client.get(place).get_data(as_text=True)
    assert f'href="/analyses/{photos[2]}/delete?next={quote(place, safe="/?")}"' in listing
    confirm = client.get(f"/analyses/{photos[2]}/delete?next={quote(place, safe='')}").get_data(as_text=True)
    assert f'href="{place.replace("&", "&amp;")}">Keep it' in confirm  # back to the list, not the result page
    assert f'name="next" value="{place.replace("&", "&amp;")}"' in confirm
    assert delete(client, f"/analyses/{photos[2]}/delete", next=place).location == place
    last = "/analyses?media=image&emotion=neutral&per_page=2&page=3"  # photos[0] alone on it
    assert delete(client, f"/analyses/{photos[0]}/delete", next=last).location == last
    assert client.get(last).location == "/analyses?page=2&media=image&emotion=neutral&per_page=2"  # the last page


def test_keep_it_and_delete_go_back_only_to_this_site(app, client, alice):
    photo = neutral_photos(app, alice, 1)[0]
    from_result = client.get(f"/analyses/{photo}/delete?next=/analyses/{photo}").get_data(as_text=True)
    assert f'href="/analyses/{photo}">Keep it' in from_result
    for elsewhere in ("https://evil.example/analyses", "//evil.example/analyses", "/\\evil.example"):
        page = client.get(f"/analyses/{photo}/delete", query_string={"next": elsewhere}).get_data(as_text=True)
        assert f'href="/analyses/{photo}">Keep it' in page and f'name="next" value="{escape(elsewhere)}"' not in page
    assert delete(client, f"/analyses/{photo}/delete", next=f"/analyses/{photo}").location == "/analyses"


def test_back_to_a_deleted_pet_or_alert_goes_to_its_list(app, client, alice):
    rex, mochi = make_subject(app, alice, "Rex", kind="dog"), make_subject(app, alice, "Mochi", kind="dog")
    with app.app_context():
        rules = [AlertRule(subject_id=subject, emotion="sad", share=0.5, days=7) for subject in (rex, mochi)]
        db.session.add_all(rules)
        db.session.commit()
        rex_rule, mochi_rule = (rule.id for rule in rules)
    delete(client, f"/alerts/{mochi_rule}/delete")
    response = client.get(f"/alerts/{mochi_rule}/delete")
    assert response.status_code == 303 and response.location == f"/dashboard?subject={mochi}"
    assert ALREADY_ALERT in client.get(response.location).get_data(as_text=True)
    assert delete(client, f"/subjects/{rex}/delete").location == "/subjects"
    for page in (f"/subjects/{rex}/delete", f"/dashboard?subject={rex}", f"/subjects/{rex}/report",
                 f"/subjects/{rex}/alerts", f"/alerts/{rex_rule}/delete",  # Rex's alert went with him
                 f"/analyses?subject={rex}&emotion=sad"):  # his history, filtered (a 404 before)
        response = client.get(page)
        assert response.status_code == 303 and response.location == "/subjects", page
    assert ALREADY_SUBJECT in client.get("/subjects").get_data(as_text=True)
    assert client.get(f"/dashboard?subject={rex + 100}").status_code == 404
    for download in (f"/subjects/{rex}/export.csv", f"/subjects/{rex}/export.json"):  # a script saving it gets no page
        assert client.get(download).status_code == 404, download


def test_the_weekly_report_leads_to_the_dashboard_and_the_weeks_around_it(app, client, alice):
    rex, mochi = make_subject(app, alice, "Rex", kind="dog"), make_subject(app, alice, "Mochi", kind="dog")
    now = utcnow()
    readings = np.eye(len(DOG_EMOTIONS))[:2]
    add_history(app, alice, rex, readings, start=now - timedelta(days=21), spacing=timedelta(days=21))
    add_history(app, alice, mochi, readings[:1], start=now)
    this_week, first_week = week_start(now.date()), week_start(now.date() - timedelta(days=21))
    page = client.get(f"/subjects/{rex}/report").get_data(as_text=True)
    assert page.count(f'href="/dashboard?subject={rex}"') == 2  # above the title and at the end
    assert f'href="/subjects/{rex}/report?week={iso_week(this_week - timedelta(days=7))}" rel="prev"' in page
    assert 'rel="next"' not in page  # this week: nothing after it yet
    first = client.get(f"/subjects/{rex}/report?week={iso_week(first_week)}").get_data(as_text=True)
    assert f'href="/subjects/{rex}/report?week={iso_week(first_week + timedelta(days=7))}" rel="next"' in first
    assert 'rel="prev"' not in first  # nothing before Rex's first appearance
    only_now = client.get(f"/subjects/{mochi}/report").get_data(as_text=True)
    assert 'rel="prev"' not in only_now and 'rel="next"' not in only_now
    assert f'href="/dashboard?subject={mochi}"' in only_now



def test_a_crafted_long_next_is_not_kept_whole_in_the_session(app, client, alice):
    """Each deletion's address is kept in the session's cookie: a `next` thousands of characters long (a link made to
    fill it, which would push the cookie past what a browser keeps, and so log the user out) keeps only its path."""
    photos = neutral_photos(app, alice, 12)
    place = "/analyses?emotion=neutral&x=" + "a" * 3000
    for photo in photos:
        delete(client, f"/analyses/{photo}/delete", next=place)
    with client.session_transaction() as session:
        assert all(len(back) <= 300 for *_, back in session["deleted"])
    response = client.get(f"/analyses/{photos[0]}")
    assert response.status_code == 303 and response.location == "/analyses"



OFF_SITE = ("https://evil.example/analyses", "//evil.example/analyses", "/\\evil.example")


def link(page: str, text: str) -> str:
    """Where the page's link whose text is `text` goes (its address as the browser follows it)."""
    found = re.search(rf'<a [^>]*href="([^"]*)"[^>]*>{re.escape(text)}</a>', page)
    assert found, text
    return unescape(found.group(1))


def sent_on(page: str) -> str:
    """The `next` the confirm page's button posts (not one of the header's forms)."""
    return unescape(re.search(r'name="next" value="([^"]*)"', page.split('class="card confirm"')[1]).group(1))


def test_a_result_opened_from_a_filtered_history_page_goes_back_to_it_and_so_does_deleting_it(app, client, alice):
    photos = neutral_photos(app, alice, 5)  # newest first, 2 a page: page 2 shows photos[2] and photos[1]
    place = "/analyses?media=image&emotion=neutral&per_page=2&page=2"
    listing = client.get(place).get_data(as_text=True)
    opened = [unescape(href) for href in re.findall(r'href="([^"]*)" class="thumb-link"', listing)]
    assert [urlsplit(href).path for href in opened] == [f"/analyses/{photos[2]}", f"/analyses/{photos[1]}"]
    result = client.get(opened[0]).get_data(as_text=True)
    assert link(result, "Back to history") == place
    confirm = client.get(link(result, "Delete this analysis…")).get_data(as_text=True)
    keep = link(confirm, "Keep it")  # the result again, still knowing its way back
    assert urlsplit(keep).path == f"/analyses/{photos[2]}"
    assert link(client.get(keep).get_data(as_text=True), "Back to history") == place
    assert delete(client, f"/analyses/{photos[2]}/delete", next=sent_on(confirm)).location == place


def test_a_result_still_under_way_goes_back_to_the_history_page_it_was_opened_from(app, client, alice):
    photo = neutral_photos(app, alice, 1)[0]
    with app.app_context():
        db.session.get(Analysis, photo).status = JobStatus.RUNNING
        db.session.commit()
    place = "/analyses?media=image"
    progress = client.get(f"/analyses/{photo}", query_string={"next": place}).get_data(as_text=True)
    assert link(progress, "Back to history") == place
    confirm = client.get(link(progress, "Delete this analysis…")).get_data(as_text=True)
    assert delete(client, f"/analyses/{photo}/delete", next=sent_on(confirm)).location == place


def test_a_result_page_goes_back_only_to_a_page_of_the_history(app, client, alice):
    photos = neutral_photos(app, alice, 5)
    for photo, elsewhere in zip(photos, (*OFF_SITE, f"/analyses/{photos[0]}/delete", "/dashboard")):
        result = client.get(f"/analyses/{photo}", query_string={"next": elsewhere}).get_data(as_text=True)
        assert link(result, "Back to history") == "/analyses", elsewhere
        deleted = delete(client, f"/analyses/{photo}/delete", next=f"/analyses/{photo}?next={quote(elsewhere)}")
        assert deleted.location == "/analyses", elsewhere


def test_keep_it_on_a_pets_delete_page_goes_back_where_the_user_came_from(app, client, alice):
    rex, mochi = make_subject(app, alice, "Rex", kind="dog"), make_subject(app, alice, "Mochi", kind="dog")
    listing = "/subjects?kind=dog"
    question = client.get(link(client.get(listing).get_data(as_text=True).split(">Rex<")[1], "Delete…"))
    assert link(question.get_data(as_text=True), "Keep it") == listing
    dashboard = f"/dashboard?subject={rex}&period=week"
    question = client.get(link(client.get(dashboard).get_data(as_text=True), "Delete…")).get_data(as_text=True)
    assert "Delete Rex?" in question  # the dashboard's own link, with its way back
    assert link(question, "Keep it") == dashboard and sent_on(question) == dashboard
    for elsewhere in OFF_SITE:
        question = client.get(f"/subjects/{rex}/delete", query_string={"next": elsewhere}).get_data(as_text=True)
        assert link(question, "Keep it") == "/subjects", elsewhere
    assert delete(client, f"/subjects/{rex}/delete", next=dashboard).location == "/subjects"  # that page is gone
    assert delete(client, f"/subjects/{mochi}/delete", next=listing).location == listing


def test_removing_an_alert_goes_back_to_the_dashboard_as_it_was(app, client, alice):
    rex = make_subject(app, alice, "Rex", kind="dog")
    add_history(app, alice, rex, np.eye(len(DOG_EMOTIONS))[:3], start=utcnow() - timedelta(days=2))
    with app.app_context():
        rules = [AlertRule(subject_id=rex, emotion=emotion, share=0.5, days=7) for emotion in ("sad", "angry")]
        db.session.add_all(rules)
        db.session.commit()
        sad_rule, angry_rule = (rule.id for rule in rules)
    place = f"/dashboard?subject={rex}&period=week"
    dashboard = client.get(place).get_data(as_text=True)
    question = client.get(link(dashboard, "Remove…")).get_data(as_text=True)
    assert link(question, "Keep it") == place
    assert delete(client, f"/alerts/{sad_rule}/delete", next=sent_on(question)).location == place
    loop = delete(client, f"/alerts/{angry_rule}/delete", next=f"/alerts/{angry_rule}/delete")  # not its own page
    assert loop.location == f"/dashboard?subject={rex}"


def test_a_results_forms_come_back_to_it_still_knowing_the_history_page_it_was_opened_from(app, client, alice):
    photo = neutral_photos(app, alice, 1)[0]
    mia = make_subject(app, alice, "Mia")
    place = "/analyses?media=image&emotion=neutral"
    result = client.get(f"/analyses/{photo}", query_string={"next": place}).get_data(as_text=True)
    action, form = re.search(r'<form method="post" action="([^"]+)" class="assign">(.*?)</form>', result, re.S).groups()
    fields = {name: unescape(value) for name, value in re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', form)}
    chosen = re.search(r'<select[^>]*name="([^"]+)"', form).group(1)
    saved = client.post(action, data=fields | {chosen: mia})  # "Who is this?": Mia
    assert link(client.get(saved.location).get_data(as_text=True), "Back to history") == place
    adding = link(form, "Add a person or pet")  # a new person, then back to the face's card
    added = client.post(adding, data={"csrf_token": csrf_token(client, "/analyze"), "name": "Ana", "kind": "person"})
    assert urlsplit(added.location).path == f"/analyses/{photo}"
    assert link(client.get(added.location).get_data(as_text=True), "Back to history") == place
