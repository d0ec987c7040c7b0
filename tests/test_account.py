"""The account page: the user's whole history exported (JSON, CSV) and the account deleted with its rows and files."""

from __future__ import annotations

import base64
import codecs
import csv
import io
import json
import re
import threading
import tracemalloc
import uuid
import zipfile
from datetime import datetime

import pytest

from bench.fixtures import StoredAnalysis, csrf_token, login, make_subject, make_user, store_analyses
from extensions import db
from models import AlertRule, Analysis, ApiToken, Detection, FaceSignature, Media, Subject, User
from services import accounts, identity, storage
from services.analyses import stored_files
from tests.conftest import csv_rows, upload, upload_files


def analysis_id_of(response) -> int:
    return int(re.search(r"/analyses/(\d+)$", response.location).group(1))


@pytest.fixture()
def alice_history(app, client, alice, astronaut_jpeg, coffee_jpeg) -> dict:
    """Alice's photo of the astronaut (assigned to "Eileen", who has an alert) and a photo of a cup; an API token."""
    ids = [analysis_id_of(upload(client, astronaut_jpeg, "astronaut.jpg")),
           analysis_id_of(upload(client, coffee_jpeg, "cup.jpg"))]
    with app.app_context():
        eileen = Subject(user_id=alice, name="Eileen", kind="person")
        db.session.add_all([eileen, AlertRule(subject=eileen, emotion="sad", share=0.4, days=7)])
        db.session.scalar(db.select(Detection).filter_by(analysis_id=ids[0])).subject = eileen
        db.session.commit()
    basic = base64.b64encode(b"alice:correct horse").decode()
    assert client.post("/api/v1/tokens", headers={"Authorization": f"Basic {basic}"}).status_code == 201
    return {"ids": ids}


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(model.id)))


def delete_account(client, password: str):
    token = csrf_token(client, "/account/delete")
    return client.post("/account/delete", data={"current_password": password, "csrf_token": token})


def test_anonymous_users_are_sent_to_log_in(client):
    for url in ("/account", "/account/export.json", "/account/export.csv", "/account/export.zip", "/account/delete"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location, url


def test_the_page_shows_the_account_and_is_in_the_menu(client, alice_history):
    page = client.get("/account").get_data(as_text=True)
    assert 'href="/account" aria-current="page">Account</a>' in page
    assert "alice" in page and "Member since" in page
    assert re.search(r"<dt>Analyses</dt><dd><a [^>]+>2</a>", page)
    assert re.search(r"<dt>People &amp; pets</dt><dd><a [^>]+>1</a>", page)
    assert 'href="/account/export.json"' in page and 'href="/account/export.csv"' in page
    assert 'href="/account/export.zip"' in page and 'href="/account/delete"' in page


def test_an_empty_account_is_not_offered_an_empty_zip(client, alice):
    page = client.get("/account").get_data(as_text=True)
    assert 'href="/account/export.json"' in page and 'href="/account/export.zip"' not in page
    assert "ZIP" not in page  # nor told what it holds


def test_the_language_is_a_setting_of_the_account_page_too(app, client, alice):
    """A user looking under Settings for the language found the password, face recognition and time zone only."""
    from models import User

    page = client.get("/account").get_data(as_text=True)
    form = re.search(r'<form method="post" action="(/language)" class="language-choice">(.*?)</form>', page, re.S)
    assert '<option value="en" lang="en" selected>English</option>' in form.group(2)
    assert '<option value="ko" lang="ko">한국어</option>' in form.group(2)
    token = csrf_token(client, "/account")
    saved = client.post(form.group(1), data={"locale": "ko", "next": "/account", "csrf_token": token})
    assert saved.status_code == 303 and saved.location == "/account"
    with app.app_context():
        assert db.session.get(User, alice).locale == "ko"
    assert '<option value="ko" lang="ko" selected>' in client.get("/account").get_data(as_text=True)


def test_the_json_export_has_the_whole_history_and_nobody_elses(app, client, alice_history, bob_client,
                                                                 coffee_jpeg, monkeypatch):
    monkeypatch.setattr(accounts, "PAGE", 1)  # one analysis a page: the pages follow on without a gap
    bobs = analysis_id_of(upload(bob_client, coffee_jpeg, "bobs-cup.jpg"))
    response = client.get("/account/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert re.fullmatch(r'attachment; filename=moodlens-alice-\d{4}-\d{2}-\d{2}\.json',
                        response.headers["Content-Disposition"])
    exported = json.loads(response.get_data(as_text=True))
    assert exported["user"]["username"] == "alice" and exported["user"]["created_at"].endswith("Z")
    assert exported["user"]["time_zone_kept"] is False  # log-ins move it (the account page keeps one)
    assert [a["id"] for a in exported["analyses"]] == alice_history["ids"] and bobs not in alice_history["ids"]
    assert "bobs-cup.jpg" not in response.get_data(as_text=True)
    photo = exported["analyses"][0]
    assert photo["filename"] == "astronaut.jpg" and photo["media"] == "image" and photo["status"] == "done"
    face = photo["detections"][0]
    assert face["top"] in face["emotions"] and isinstance(face["unsure"], bool)
    [eileen] = exported["subjects"]
    assert face["subject"] == eileen["id"] and eileen["name"] == "Eileen" and eileen["appearances"] == 1
    assert [(rule["emotion"], rule["share"], rule["days"]) for rule in eileen["alert_rules"]] == [("sad", 0.4, 7)]
    assert exported["analyses"][1]["detections"] == []  # the cup


def test_the_csv_export_has_a_row_per_reading_with_its_subject(client, alice_history, bob_client, astronaut_jpeg):
    upload(bob_client, astronaut_jpeg, "bobs.jpg")
    response = client.get("/account/export.csv")
    assert response.mimetype == "text/csv"
    assert re.search(r'filename=moodlens-alice-[\d-]+\.csv', response.headers["Content-Disposition"])
    rows = csv_rows(response)
    assert [(row["analysis_id"], row["filename"], row["subject"]) for row in rows] == [
        (str(alice_history["ids"][0]), "astronaut.jpg", "Eileen")]  # the cup has no reading; Bob's is his
    assert rows[0]["unsure"] in ("true", "false") and float(rows[0][rows[0]["top"]]) > 0


def test_the_zip_holds_every_upload_as_sent_and_nobody_elses(app, client, alice_history, bob_client, coffee_jpeg,
                                                             astronaut_jpeg, monkeypatch):
    monkeypatch.setattr(accounts, "PAGE", 1)
    monkeypatch.setattr(accounts, "COPY_CHUNK", 1000)  # many chunks a file: the archive is sent as it is written
    upload(bob_client, coffee_jpeg, "bobs-cup.jpg")
    with app.app_context():  # a third upload whose file went missing is left out, not an error
        gone = db.session.get(Analysis, alice_history["ids"][1])
        missing = Analysis(user_id=gone.user_id, original_name="lost/../x.jpg", stored_name="missing.jpg",
                           format="jpeg", width=1, height=1)
        db.session.add(missing)
        db.session.commit()
    response = client.get("/account/export.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert re.fullmatch(r'attachment; filename=moodlens-alice-\d{4}-\d{2}-\d{2}\.zip',
                        response.headers["Content-Disposition"])
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.testzip() is None
    names = archive.namelist()
    first, second = alice_history["ids"]
    assert [re.sub(r"^\d{4}-\d\d-\d\d-", "", name) for name in names] == [f"{first}-astronaut.jpg",
                                                                               f"{second}-cup.jpg"]
    assert archive.read(names[0]) == astronaut_jpeg and archive.read(names[1]) == coffee_jpeg
    day = datetime(2026, 12, 3, 10)
    assert accounts.media_entry(7, day, "a/b\\c.jpg", "f00.jpeg").filename == "2026-12-03-7-a_b_c.jpg"
    assert accounts.media_entry(8, day, "abgpj.exe", "f01.jpeg").filename == "2026-12-03-8-abgpj.exe.jpeg"
    assert accounts.media_entry(9, day, "walk.mkv", "f02.webm").filename == "2026-12-03-9-walk.mkv"  # Matroska
    assert accounts.media_entry(10, day, "scan", "f03.png").filename == "2026-12-03-10-scan.png"


def test_the_zips_files_are_named_and_dated_by_their_upload_on_the_users_clock(app, client, alice, astronaut_jpeg):
    """In Seoul, a photo uploaded at 20:30 UTC on 3 December was uploaded at 05:30 on 4 December: the archive (named
    after the user's today) names and dates it so, not by the UTC day nor as 1980-01-01, a zip writer's default."""
    analysis_id = analysis_id_of(upload(client, astronaut_jpeg, "me.jpg"))
    with app.app_context():
        db.session.get(User, alice).time_zone = "Asia/Seoul"
        db.session.get(Analysis, analysis_id).created_at = datetime(2026, 12, 3, 20, 30, 14)
        db.session.commit()
    [entry] = zipfile.ZipFile(io.BytesIO(client.get("/account/export.zip").data)).infolist()
    assert entry.filename == f"2026-12-04-{analysis_id}-me.jpg"
    assert entry.date_time == (2026, 12, 4, 5, 30, 14)


def test_a_zip_entry_fits_the_255_bytes_a_file_system_takes_keeping_its_ending():
    """An upload named with 80 Hangul syllables (244 bytes, kept: names are kept by characters) made a 258-byte entry
    that unzip refused ("File name too long")."""
    long_korean = "가" * 80 + ".jpg"
    entry = accounts.media_entry(12345, datetime(2026, 12, 4, 5, 30), long_korean, "x.jpeg")
    assert len(entry.filename.encode()) <= 255 and entry.filename.endswith("가.jpg")
    assert entry.filename.startswith("2026-12-04-12345-가")
    assert accounts.media_entry(7, datetime(2026, 12, 4), "me.jpg", "x.jpeg").filename == "2026-12-04-7-me.jpg"
    no_dot = accounts.media_entry(7, datetime(2026, 12, 4), "가" * 120, "x.mp4").filename
    assert len(no_dot.encode()) <= 255 and no_dot.endswith("가.mp4")


def test_the_csv_export_does_not_let_a_spreadsheet_run_a_name_as_a_formula(app, client, alice):
    names = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+2", "-1+2", "@SUM(A1)", "\tTab"]
    store_analyses(app, alice, [StoredAnalysis("photo.jpg", "happy", make_subject(app, alice, name)) for name in names])
    rows = csv_rows(client.get("/account/export.csv"))
    assert [row["subject"] for row in rows] == ["'" + name for name in names]
    assert all(row["filename"] == "photo.jpg" and float(row["happy"]) == 1.0 for row in rows)


def test_the_csv_exports_start_with_a_byte_order_mark_so_a_spreadsheet_reads_korean_names(app, client, alice):
    """Excel on Korean Windows reads a CSV without a byte order mark as CP949, garbling "딜립": the account's and the
    subject's CSV start with UTF-8's mark, once (utf-8-sig); the JSON exports have none."""
    dileep = make_subject(app, alice, "딜립")
    store_analyses(app, alice, [StoredAnalysis("딜립-웃음.jpg", "happy", dileep)])
    for url in ("/account/export.csv", f"/subjects/{dileep}/export.csv"):
        body = client.get(url).get_data()
        assert body.startswith(codecs.BOM_UTF8) and body.count(codecs.BOM_UTF8) == 1, url
        [row] = csv.DictReader(io.StringIO(body.decode("utf-8-sig")))
        assert row["filename"] == "딜립-웃음.jpg" and row["analysis_id"].isdigit(), url
        assert row.get("subject", "딜립") == "딜립"
    for url in ("/account/export.json", f"/subjects/{dileep}/export.json"):
        assert client.get(url).get_data().startswith(b"{"), url


@pytest.mark.parametrize("fmt", ["json", "csv", "zip"])
def test_an_account_named_outside_ascii_downloads_under_its_name(app, client, fmt):
    """An account named in Hangul (a sign-up's "모모"): the export is named after 모모 as RFC 6266 asks (an ASCII
    fallback, then the name in UTF-8), not a header the server cannot send."""
    make_user(app, "모모")
    assert login(client, "모모").status_code == 302
    response = client.get(f"/account/export.{fmt}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(rf"attachment; filename=moodlens-\d{{4}}-\d\d-\d\d\.{fmt}; "
                        rf"filename\*=UTF-8''moodlens-%EB%AA%A8%EB%AA%A8-\d{{4}}-\d\d-\d\d\.{fmt}",
                        response.headers["Content-Disposition"])
    if fmt == "json":
        assert response.get_json()["user"]["username"] == "모모"


def long_videos(app, user_id: int, count: int, moments: int = 2000, subject_id: int | None = None) -> None:
    """`count` videos written straight to the database, each with one track of `moments` timeline moments (assigned
    to `subject_id`)."""
    emotions = {"happy": 0.5, "sad": 0.25, "neutral": 0.25}
    with app.app_context():
        for _ in range(count):
            analysis = Analysis(user_id=user_id, original_name="clip.mp4", stored_name=uuid.uuid4().hex,
                                media=Media.VIDEO, format="mp4", width=64, height=64, top_emotion="happy",
                                shown_count=1)
            timeline = [{"t": index / 4, "box": [0, 0, 5, 5], "emotions": emotions, "uncertain": False}
                        for index in range(moments)]
            analysis.detections.append(Detection(position=1, x1=0, y1=0, x2=5, y2=5, score=0.9, top="happy",
                                                 emotions=emotions, timeline=timeline, transitions=[],
                                                 subject_id=subject_id))
            db.session.add(analysis)
        db.session.commit()


def export_peak(client, fmt: str, url: str = "/account/export") -> int:
    """The most memory Python held (bytes) while the export at `url` was written and read."""
    tracemalloc.start()
    try:
        response = client.get(f"{url}.{fmt}", buffered=False)
        for _chunk in response.response:
            pass
        response.close()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_an_export_holds_one_video_timeline_at_a_time(app, client, alice, fmt):
    long_videos(app, alice, 1)
    one = export_peak(client, fmt)
    long_videos(app, alice, 9)  # all ten on one page of accounts.PAGE
    assert export_peak(client, fmt) < 2 * one


def deletion_list(client) -> tuple[list[str], str]:
    """The delete page's list of what goes, and the rest of its card."""
    card = client.get("/account/delete").get_data(as_text=True).split('class="card confirm"')[1]
    listed, rest = card.split("<ul>", 1)[1].split("</ul>", 1)
    return re.findall(r"<li>(.*?)</li>", listed), rest


def test_the_delete_page_lists_only_what_there_is_and_warns_apart_from_the_list(app, client, alice):
    goes, rest = deletion_list(client)
    assert goes == ["The account itself: its username is free again."]  # no "Your 0 ...", no face signatures
    assert rest.lstrip().startswith('<p class="warning"><strong>This cannot be undone.</strong>')  # not a bullet
    store_analyses(app, alice, [StoredAnalysis("face.jpg", "happy", make_subject(app, alice, "Mia"))])
    goes, _ = deletion_list(client)
    assert goes[:2] == ["Your 1 analysis, with its photo or video, thumbnails and heat maps.",
                        "Your 1 person or pet, with their dashboard and alerts."]
    basic = base64.b64encode(b"alice:correct horse").decode()
    client.post("/api/v1/tokens", headers={"Authorization": f"Basic {basic}"})
    assert deletion_list(client)[0][2] == "Your 1 API token: a script that uses it is refused at once."


def test_a_subjects_export_holds_one_video_timeline_at_a_time(app, client, alice):
    """Numbering a reading within its kind reads its analysis's other detections, without tying them to it: a
    detection and its siblings in a reference cycle would keep every timeline of a page until a full collection."""
    momo = make_subject(app, alice, "Momo")
    long_videos(app, alice, 1, subject_id=momo)
    one = export_peak(client, "json", f"/subjects/{momo}/export")
    long_videos(app, alice, 9, subject_id=momo)  # all ten on one page of documents.EXPORT_PAGE
    assert export_peak(client, "json", f"/subjects/{momo}/export") < 2 * one


def test_a_wrong_password_deletes_nothing(app, client, alice_history):
    files = upload_files(app)
    response = delete_account(client, "not my password")
    assert response.status_code == 400 and "That is not your current password." in response.get_data(as_text=True)
    assert count(app, User) == 1 and count(app, Analysis) == 2 and count(app, Subject) == 1
    assert count(app, ApiToken) == 1 and upload_files(app) == files != []
    assert client.get("/account").status_code == 200  # still logged in


def test_the_right_password_deletes_every_row_and_file_and_logs_out(app, client, alice_history, bob_client,
                                                                     coffee_jpeg):
    token = csrf_token(client, "/analyze")
    explained = client.post(f"/api/v1/analyses/{alice_history['ids'][0]}/detections/1/explanation",
                            headers={"X-CSRFToken": token})  # so that a heat map is stored too
    assert explained.json["status"] == "done"
    with app.app_context():
        alices = {path for analysis in db.session.scalars(db.select(Analysis))
                  for path in stored_files(analysis.stored_name, analysis.thumb_name) if path.exists()}
        heat_maps = [path for analysis in db.session.scalars(db.select(Analysis))
                     for path in storage.derived_files(analysis.stored_name) if path.exists()]
    assert heat_maps and len(alices) >= 5  # 2 photos, 2 thumbnails, the heat maps
    bobs = analysis_id_of(upload(bob_client, coffee_jpeg, "bobs-cup.jpg"))
    response = delete_account(client, "correct horse")
    assert response.status_code == 302 and response.location == "/"
    assert "Your account and everything in it were deleted." in client.get("/").get_data(as_text=True)
    assert not any(path.exists() for path in alices) and len(upload_files(app)) == 2  # Bob's photo and thumbnail
    with app.app_context():
        assert db.session.scalar(db.select(User).filter_by(username="alice")) is None
        assert db.session.scalars(db.select(Analysis.id)).all() == [bobs]
    for model in (Subject, AlertRule, ApiToken, FaceSignature, Detection):  # Bob's cup has no detection
        assert count(app, model) == 0, model
    assert "/login" in client.get("/account").location
    assert bob_client.get(f"/analyses/{bobs}").status_code == 200


def test_a_page_of_analyses_goes_in_one_transaction_and_one_deleted_meanwhile_sends_them_one_by_one(app, alice,
                                                                                                  monkeypatch):
    """An account's deletion commits once a page of analyses (once an analysis, 4,380 took 21 s); one that another tab
    deletes between the page's read and its hold leaves the others deleted one at a time, files and all."""
    from services import analyses as analyses_service
    store_analyses(app, alice, [StoredAnalysis(f"p{n}.jpg", top="happy") for n in range(4)])
    with app.app_context():
        ids = db.session.scalars(db.select(Analysis.id).order_by(Analysis.id)).all()
        stored = {row.id: storage.upload_path(row.stored_name) for row in db.session.scalars(db.select(Analysis))}
    for path in stored.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"photo")
    commits, held = [], analyses_service.removing
    monkeypatch.setattr(db.session, "commit", lambda real=db.session.commit: commits.append(1) or real())

    def another_tab_first(*rows: Analysis) -> None:
        if len(rows) > 1:  # the page's hold: another tab deleted the second analysis just before it
            with db.engine.begin() as another_tab:
                another_tab.execute(db.delete(Analysis).where(Analysis.id == ids[1]))
        held(*rows)

    with app.app_context():
        analyses_service.delete_analyses(ids[2:])
        assert len(commits) == 1  # two analyses, one commit
        monkeypatch.setattr(analyses_service, "removing", another_tab_first)
        analyses_service.delete_analyses(ids[:2])
        assert db.session.scalars(db.select(Analysis.id)).all() == []
        assert count(app, Detection) == 0
    assert [path.exists() for path in stored.values()] == [False, True, False, False]  # the other tab's to delete


def test_the_last_admin_cannot_delete_their_account(app, client):
    make_user(app, "root", admin=True)
    login(client, "root")
    page = client.get("/account/delete").get_data(as_text=True)
    assert "You are the only active administrator" in page and 'name="current_password"' not in page
    response = delete_account_without_form(client)
    assert response.status_code == 400 and count(app, User) == 1
    make_user(app, "deputy", admin=True)
    assert delete_account(client, "correct horse").status_code == 302
    with app.app_context():
        assert [user.username for user in db.session.scalars(db.select(User))] == ["deputy"]


def test_two_admins_deleting_their_accounts_at_once_leave_one(app, monkeypatch):
    """Each checked that the other was still there, then both went: no administrator was left."""
    for name in ("ann", "ben"):
        make_user(app, name, admin=True)
    ann, ben = app.test_client(), app.test_client()
    login(ann, "ann"), login(ben, "ben")
    ben_token, answers = csrf_token(ben, "/account/delete"), []
    forget = identity.forget_signatures

    def ben_deletes_meanwhile(user):  # Ben's request runs while Ann's is past its checks
        monkeypatch.setattr(identity, "forget_signatures", forget)
        form = {"current_password": "correct horse", "csrf_token": ben_token}
        thread = threading.Thread(target=lambda: answers.append(ben.post("/account/delete", data=form).status_code))
        thread.start()
        thread.join()
        forget(user)

    monkeypatch.setattr(identity, "forget_signatures", ben_deletes_meanwhile)
    assert delete_account(ann, "correct horse").status_code == 302 and answers == [400]
    with app.app_context():
        assert [(user.username, user.is_admin) for user in db.session.scalars(db.select(User))] == [("ben", True)]


def delete_account_without_form(client):
    token = csrf_token(client, "/account")
    return client.post("/account/delete", data={"current_password": "correct horse", "csrf_token": token})


def test_the_delete_address_asks_first_and_needs_a_csrf_token(app, client, alice):
    page = client.get("/account/delete")
    assert page.status_code == 200 and 'name="current_password"' in page.get_data(as_text=True)
    assert "Delete your account?" in page.get_data(as_text=True)
    response = client.post("/account/delete", data={"current_password": "correct horse"})
    assert response.status_code == 400 and count(app, User) == 1


def new_token(client, name: str = "", password: str = "correct horse"):
    return client.post("/account/tokens", data={"name": name, "current_password": password,
                                                 "csrf_token": csrf_token(client, "/account")})


def shown_token(response) -> str:
    return re.search(r'id="new-token"[^>]*>([^<]+)</textarea>', response.get_data(as_text=True)).group(1)


def bearer(plain: str) -> dict:
    return {"Authorization": f"Bearer {plain}"}


def test_the_account_page_makes_a_token_shown_once_and_lists_it_without_it(app, client, alice):
    page = client.get("/account").get_data(as_text=True)
    assert "API access" in page and "You have no working API tokens." in page and "Revoke all" not in page
    wrong = new_token(client, "laptop", "nope")
    assert wrong.status_code == 400 and "That is not your current password." in wrong.get_data(as_text=True)
    too_long = new_token(client, "x" * 41)
    assert too_long.status_code == 400 and "at most 40 characters" in too_long.get_data(as_text=True)
    assert client.post("/account/tokens", data={"name": "laptop", "current_password": "correct horse"}
                       ).status_code == 400  # no CSRF token
    with app.app_context():
        assert db.session.scalars(db.select(ApiToken)).all() == []

    made = new_token(client, " laptop ")
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    assert "it is not shown again" in made.get_data(as_text=True)
    assert 'curl -H "Authorization: Bearer TOKEN" http://localhost/api/v1/analyses' in made.get_data(as_text=True)
    plain = shown_token(made)
    assert client.get("/api/v1/analyses", headers=bearer(plain)).status_code == 200
    page = client.get("/account").get_data(as_text=True)
    assert "<bdi>laptop</bdi>" in page and plain not in page and "last used" in page and "Revoke all" in page
    assert client.get("/account/tokens").location.endswith("/account#api-access")  # a GET goes to the page
    korean = client.get("/account", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "API access" not in korean and "<bdi>laptop</bdi>" in korean


def test_the_token_form_sent_again_makes_no_second_token(app, client, alice):
    """Reloading the page that shows a new token sends its form again: a second token would be made and shown,
    and the first lost from sight; the account page says why nothing new was made."""
    page = client.get("/account").get_data(as_text=True)
    form = {"name": "laptop", "current_password": "correct horse", "csrf_token": csrf_token(client, "/account"),
            "form_id": re.search(r'name="form_id" type="hidden" value="([^"]+)"', page).group(1)}
    assert client.post("/account/tokens", data=form).status_code == 201
    again = client.post("/account/tokens", data=form)
    assert again.status_code == 302 and again.location.endswith("/account#api-access")
    assert "so no second token was made" in client.get("/account").get_data(as_text=True)
    with app.app_context():
        assert len(db.session.scalars(db.select(ApiToken)).all()) == 1
    assert client.post("/account/tokens", data={**form, "form_id": "another"}).status_code == 201  # a new form


def test_a_token_is_revoked_from_the_account_page_by_its_owner_only(app, client, alice, bob_client):
    plain = shown_token(new_token(client, "laptop"))
    with app.app_context():
        token_id = db.session.scalars(db.select(ApiToken.id)).one()
    bobs_form = {"csrf_token": csrf_token(bob_client, "/account")}
    assert bob_client.post(f"/account/tokens/{token_id}/revoke", data=bobs_form).status_code == 404
    assert bob_client.post("/account/tokens/999999/revoke", data=bobs_form).status_code == 404
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 400  # no CSRF token
    assert bob_client.get(f"/account/tokens/{token_id}/revoke").status_code == 404
    asked = client.get(f"/account/tokens/{token_id}/revoke").get_data(as_text=True)  # the link asks first
    assert "Revoke the token “laptop”?" in asked and "can no longer reach your account through the API" in asked
    assert f'action="/account/tokens/{token_id}/revoke"' in asked and 'href="/account#api-access"' in asked
    assert client.get("/api/v1/analyses", headers=bearer(plain)).status_code == 200

    revoked = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(client, "/account")},
                          follow_redirects=True)
    assert "The token “laptop” was revoked" in revoked.get_data(as_text=True)
    assert client.get("/api/v1/analyses", headers=bearer(plain)).status_code == 401
    assert "You have no working API tokens." in client.get("/account").get_data(as_text=True)
    back = client.get(f"/account/tokens/{token_id}/revoke")  # the browser's Back to the question: where it went
    assert back.status_code == 303 and back.location == "/account#api-access"
    again = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(client, "/account")},
                        follow_redirects=True)
    assert "You already revoked that token." in again.get_data(as_text=True)
    assert bob_client.get(f"/account/tokens/{token_id}/revoke").status_code == 404  # only its revoker is told


def test_every_token_is_revoked_at_once_from_the_account_page(app, client, alice, bob_client):
    plains = [shown_token(new_token(client, name)) for name in ("laptop", "")]
    plains.append(client.post("/api/v1/tokens", headers={"Authorization": "Basic " + base64.b64encode(
        b"alice:correct horse").decode()}).json["token"])
    bobs = shown_token(new_token(bob_client))
    page = client.get("/account").get_data(as_text=True)
    assert page.count("Unnamed token") == 2 and page.count(">Revoke…</a>") == 3
    assert "<button" not in page.split('id="api-access"')[1].split("New token")[0]  # nothing revoked by one press
    assert "Revoke all 3 of your working tokens?" in client.get("/account/tokens/revoke-all").get_data(as_text=True)
    assert client.post("/account/tokens/revoke-all").status_code == 400  # no CSRF token
    done = client.post("/account/tokens/revoke-all", data={"csrf_token": csrf_token(client, "/account")},
                       follow_redirects=True)
    assert "3 tokens were revoked" in done.get_data(as_text=True)
    assert [client.get("/api/v1/analyses", headers=bearer(plain)).status_code for plain in plains] == [401] * 3
    assert client.get("/api/v1/analyses", headers=bearer(bobs)).status_code == 200  # nobody else's
    assert client.get("/account/tokens/revoke-all").location == "/account#api-access"  # none left to revoke


def test_a_signed_in_users_pages_and_the_apis_answers_stay_out_of_the_browsers_disk_cache(app, client, alice):
    """A shared computer's next user finds no one's page in the cache: no-store on whatever a signed-in user is sent
    and on the API's answers; the static files and the log-in page of a stranger are cached as usual."""
    for path in ("/analyses", "/dashboard", "/account", "/api/v1/analyses", "/subjects"):
        assert client.get(path).headers.get("Cache-Control") == "no-store", path
    assert "no-store" not in client.get("/static/style.css").headers.get("Cache-Control", "")
    stranger = app.test_client()
    assert stranger.get("/api/v1/analyses").headers.get("Cache-Control") == "no-store"
    assert "Cache-Control" not in stranger.get("/login").headers


def test_the_delete_page_writes_a_large_count_as_the_account_page_does(app, client, alice, monkeypatch):
    """"Your 4342 analyses" beside the account page's "4,342"; in Korean too (4,342개)."""
    monkeypatch.setattr(accounts, "holdings", lambda user: accounts.Holdings(analyses=4342, subjects=1205,
                                                                             face_signatures=2718))
    page = client.get("/account/delete").get_data(as_text=True)
    assert "Your 4,342 analyses" in page and "Your 2,718 face signatures" in page
    korean = client.get("/account/delete", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "분석 4,342개" in korean


def test_an_account_is_not_deleted_while_the_storage_is_read_only(app, client, alice_history, read_only_uploads):
    """Its analyses' rows went, page by page, until removing a file failed: a 500, the account left half deleted and
    still logged in, its files on the disk."""
    files = upload_files(app)
    response = delete_account(client, "correct horse")
    assert response.status_code == 503 and "so nothing was deleted" in response.get_data(as_text=True)
    assert count(app, User) == 1 and count(app, Analysis) == 2 and upload_files(app) == files
    assert client.get("/account").status_code == 200
