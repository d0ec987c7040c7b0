"""Subjects: create, assign faces and video tracks (to subjects of their kind only), per-subject dashboard and
calendar, a cat's appearances, export, isolation."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy.exc import IntegrityError
from PIL import Image
from skimage import data as skdata

from bench import ROOT
from bench.fixtures import StoredAnalysis, csrf_token, make_subject, make_user, store_analyses
from extensions import db
from inference.crops import rgb_crops
from inference.labels import DetectionKind
from models import EMOTION_CLASSES, Analysis, Detection, Media, Subject, User, subject_name_key, utcnow
from services import documents, storage, subjects as subject_service
from services.errors import Refused
from tests.conftest import csv_rows, jpeg_bytes, upload


def add_subject(client, name: str, kind: str = "person"):
    token = csrf_token(client, "/subjects")
    return client.post("/subjects", data={"name": name, "kind": kind, "csrf_token": token})


def subject_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Subject.id).filter_by(name=name))


def assign(client, detection_id: int, subject: int, analysis_id: int):
    token = csrf_token(client, f"/analyses/{analysis_id}")
    return client.post(f"/detections/{detection_id}/subject",
                       data={f"d{detection_id}-subject": str(subject), "csrf_token": token})


def detections_of(app, analysis_id: int) -> list[int]:
    with app.app_context():
        return db.session.scalars(db.select(Detection.id).filter_by(analysis_id=analysis_id)
                                  .order_by(Detection.position)).all()


def analysis_of(response) -> int:
    return int(re.search(r"/analyses/(\d+)$", response.location).group(1))


def test_create_subjects_and_refuse_duplicates(app, client, alice):
    assert add_subject(client, "Rex", "dog").status_code == 302
    assert add_subject(client, "Rex", "dog").status_code == 400
    other_case = add_subject(client, "rEX", "cat")  # one name in any case: "Rex" the dog and "rex" the cat confuse
    assert other_case.status_code == 400 and "called Rex." in other_case.get_data(as_text=True)
    assert add_subject(client, "Émile", "person").status_code == 302
    assert add_subject(client, "éMILE", "person").status_code == 400
    assert add_subject(client, "Rex 🐕\u200d🦺", "dog").status_code == 302  # a joiner inside an emoji is fine
    assert add_subject(client, "\ufdfa" * 15, "person").status_code == 302  # NFKC: 18 characters each, in the key too
    invisible = add_subject(client, "\u200b\u200b", "person")  # zero-width spaces are left out: nothing is left
    assert invisible.status_code == 400 and "Fill this in." in invisible.get_data(as_text=True)
    assert add_subject(client, "\u200d\u200d", "person").status_code == 400  # joiners stay, and draw nothing
    assert add_subject(client, "Ana\u200b", "person").status_code == 302
    assert "called Ana." in add_subject(client, "Ana", "person").get_data(as_text=True)  # "Ana", not "Ana" + ZWSP
    from services.subjects import normal_name
    assert normal_name("\u182d\u1820\u1837\u180e\u1820") == "\u182d\u1820\u1837\u180e\u1820"  # Mongolian: kept
    page = client.get("/subjects").get_data(as_text=True)
    assert "Rex" in page and "Dog" in page
    dragon = add_subject(client, "Smaug", "dragon")  # a tampered form: the kind's reason is shown beside it
    assert dragon.status_code == 400 and 'id="kind-error"' in dragon.get_data(as_text=True)


def test_an_account_holds_at_most_max_subjects(app, client, alice, monkeypatch):
    """Every face's "Who is this?" lists them all: 12,000 made a result page of 2.7 MB."""
    monkeypatch.setattr(subject_service, "MAX_SUBJECTS", 3)
    for name in ("Ana", "Bo", "Cy"):
        assert add_subject(client, name, "person").status_code == 302
    refused = add_subject(client, "Di", "person")
    assert refused.status_code == 400 and "You have 3 people and pets, as many as an account may: delete one to " \
        "add another." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Subject.id))) == 3


def test_a_name_too_long_is_refused_on_the_form_not_cut_by_the_browser(app, client, alice):
    form = client.get("/subjects").get_data(as_text=True)
    name_input = re.search(r'<input[^>]*id="name"[^>]*>', form).group(0)
    assert "maxlength" not in name_input and 'aria-describedby="name-hint"' in name_input  # a paste is not cut
    assert '<p class="hint" id="name-hint">Up to 64 characters.</p>' in form
    pasted = "Bartholomew " * 25
    refused = add_subject(client, pasted)
    said = refused.get_data(as_text=True)
    assert refused.status_code == 400 and '<p class="field-error" id="name-error" role="alert">Give a name of 1 to ' \
        '64 characters.</p>' in said
    assert f'value="{pasted.strip()}"' in said and subject_id(app, pasted.strip()) is None  # kept, nothing added
    korean = client.post("/subjects", data={"name": pasted, "kind": "person", "csrf_token": csrf_token(client,
                         "/subjects")}, headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "이름은 1자에서 64자 사이로 입력하세요." in korean
    assert add_subject(client, "B" * 64).status_code == 302 and subject_id(app, "B" * 64)


def test_a_name_is_measured_as_it_is_kept_on_the_form_as_through_the_api(app, client, alice):
    """Spaces around a name and letters written in two code points (e + a combining accent) do not count against
    its 64 characters: the form measures the trimmed, composed name the service keeps."""
    padded, accented = "  " + "x" * 64 + "  ", "e\u0301" * 40
    assert add_subject(client, padded).status_code == 302 and subject_id(app, "x" * 64)
    assert add_subject(client, accented).status_code == 302 and subject_id(app, "\u00e9" * 40)


def test_a_blank_name_is_asked_for_and_a_long_one_is_told_its_length(app, client, alice):
    """Nothing (or only spaces) gets the app's "Fill this in."; a name past 64 characters gets the length; the
    service, behind the API and the group form, tells a blank name from a long one too."""
    for blank in ("", "   "):
        refused = add_subject(client, blank)
        assert refused.status_code == 400 and '<p class="field-error" id="name-error" role="alert">Fill this in.</p>' \
            in refused.get_data(as_text=True), repr(blank)
    too_long = add_subject(client, "N" * 65).get_data(as_text=True)
    assert 'id="name-error" role="alert">Give a name of 1 to 64 characters.</p>' in too_long
    with app.app_context():
        user = db.session.get(User, alice)
        for name, why in (("  ", "Give a name."), ("N" * 65, "Give a name of 1 to 64 characters."),
                          (5, 'A name is text, such as "Rex".')):
            with pytest.raises(Refused) as refused:
                subject_service.create_subject(user, name, "person")
            assert refused.value.args[0] == why
        subject_service.create_subject(user, "Rex", "dog")
        with pytest.raises(Refused) as refused:  # a bad kind is said before the name taken (a 400, not a 409)
            subject_service.create_subject(user, "Rex", ["dog"])
        assert refused.value.args[0].startswith("The kind is one of")


def test_assign_faces_then_subject_dashboard_and_export(app, client, alice, two_faces, astronaut_jpeg,
                                                        two_face_video):
    add_subject(client, "Eileen")
    eileen = subject_id(app, "Eileen")
    photo = analysis_of(upload(client, jpeg_bytes(two_faces), "pair.jpg"))
    first, second = detections_of(app, photo)
    assert assign(client, first, eileen, photo).status_code == 302
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)  # "Saved" by the face's form, not at the top
    saved = page.index("Saved: Face 1 is Eileen, and counts in Eileen&#39;s history.")
    assert page.index(f'action="/detections/{first}/subject?analysis={photo}"') < saved < page.index('id="face-2"')
    assert ">\u2068Eileen\u2069</text>" in page and ">2</text>" in page  # the box names her, as a video's does
    assert assign(client, first, 0, photo).status_code == 302  # "no longer assigned", on another page next
    elsewhere = client.get("/subjects").get_data(as_text=True)  # (another tab): shown at the top there instead
    assert ('<p class="flash flash-success" role="status" data-flashed>Face 1 is no longer assigned to a subject.</p>'
            in elsewhere)
    assert assign(client, first, eileen, photo).status_code == 302
    video = analysis_of(upload(client, two_face_video.read_bytes(), "clip.mp4"))
    track = detections_of(app, video)[0]
    assert assign(client, track, eileen, video).status_code == 302
    with app.app_context():
        assert db.session.get(Detection, second).subject_id is None
    result = client.get(f"/analyses/{photo}").get_data(as_text=True)  # a heading names whom a face was given to
    assert re.search(r"<h2>Face 1 \(<bdi>Eileen</bdi>\): ", result) and re.search(r"<h2>Face 2: ", result)
    video_page = client.get(f"/analyses/{video}").get_data(as_text=True)
    assert re.search(r'<h2 id="track-\d+">Face 1 \(<bdi>Eileen</bdi>\): ', video_page)

    page = client.get(f"/dashboard?subject={eileen}").get_data(as_text=True)
    assert "Eileen's dashboard" in page and "2 appearances in 2 analyses" in page and "faces in" not in page
    links = (f'<a href="/subjects/{eileen}/export.csv">CSV</a> · <a href="/subjects/{eileen}/export.json">JSON</a>')
    assert links in page and links in client.get("/subjects").get_data(as_text=True)  # written alike on both
    assert 'class="calendar"' in page
    assert re.search(r'<title>\w+ \d\d?, \d{4}: [^<]*</title><rect [^>]*class="emo-\w+"', page)
    everyone = client.get("/dashboard").get_data(as_text=True)
    assert "4 faces in 2 analyses" in everyone

    exported_csv = client.get(f"/subjects/{eileen}/export.csv")
    assert exported_csv.headers["Content-Disposition"] == "attachment; filename=moodlens-Eileen-history.csv"
    rows = csv_rows(exported_csv)
    assert [row["media"] for row in rows] == ["image", "video"]
    assert abs(sum(float(rows[0][label]) for label in ("angry", "disgust", "fear", "happy", "sad", "surprise",
                                                        "neutral")) - 1) < 1e-3
    exported = client.get(f"/subjects/{eileen}/export.json").json
    assert exported["subject"]["name"] == "Eileen" and len(exported["history"]) == 2
    assert exported["history"][1]["timeline"]

    assign(client, first, 0, photo)  # unassign
    assert "1 appearance in 1 analysis" in client.get(f"/dashboard?subject={eileen}").get_data(as_text=True)


def test_renaming_a_subject_keeps_its_appearances_and_refuses_a_name_in_use(app, client, alice, astronaut_jpeg,
                                                                            bob_client):
    add_subject(client, "Rexx", "dog")
    add_subject(client, "Mia")
    mia, rexx = subject_id(app, "Mia"), subject_id(app, "Rexx")
    photo = analysis_of(upload(client, astronaut_jpeg))
    assign(client, detections_of(app, photo)[0], mia, photo)
    dashboard = f"/dashboard?subject={mia}"
    assert f"/subjects/{mia}/rename" in client.get(dashboard).get_data(as_text=True)  # beside "Delete…"
    form = client.get(f"/subjects/{mia}/rename?next={dashboard}").get_data(as_text=True)
    assert 'value="Mia"' in form and "only the name changes" in form
    token = csrf_token(client, "/subjects")
    taken = client.post(f"/subjects/{mia}/rename", data={"name": "REXX", "csrf_token": token})
    assert taken.status_code == 400 and "You already have a subject called Rexx." in taken.get_data(as_text=True)
    assert client.post(f"/subjects/{mia}/rename", data={"name": " ", "csrf_token": token}).status_code == 400
    assert bob_client.get(f"/subjects/{mia}/rename").status_code == 404
    renamed = client.post(f"/subjects/{mia}/rename", data={"name": " Maya ", "next": dashboard, "csrf_token": token})
    assert renamed.status_code == 302 and renamed.location == dashboard
    assert "Mia is now called Maya." in client.get(dashboard).get_data(as_text=True)
    client.post(f"/subjects/{mia}/rename", data={"name": "Maya ", "csrf_token": token})
    assert "Maya keeps the name: it is the same." in client.get("/subjects").get_data(as_text=True)
    assert client.post(f"/subjects/{rexx}/rename", data={"name": "Rex", "csrf_token": token}).status_code == 302
    assert client.post(f"/subjects/{rexx}/rename", data={"name": "rex", "csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.get(Subject, mia).name == "Maya" and db.session.get(Subject, rexx).name == "rex"
        assert db.session.scalar(sa.select(sa.func.count(Detection.id)).filter_by(subject_id=mia)) == 1


def test_deleting_a_subject_keeps_the_analyses(app, client, alice, astronaut_jpeg):
    add_subject(client, "Temp")
    temp = subject_id(app, "Temp")
    photo = analysis_of(upload(client, astronaut_jpeg))
    face = detections_of(app, photo)[0]
    assign(client, face, temp, photo)
    token = csrf_token(client, "/subjects")
    statements = []
    with app.app_context():
        engine = db.engine
    record = lambda _conn, _cursor, statement, *_: statements.append(statement)  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.post(f"/subjects/{temp}/delete", data={"csrf_token": token}).status_code == 302
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    # the appearances are let go by one statement on the subject's id: the ORM updating rows it had loaded, each by
    # its id, failed with a 500 when another request deleted the analysis in between
    updates = [statement for statement in statements if statement.startswith("UPDATE detection")]
    assert len(updates) == 1 and "WHERE detection.subject_id = " in updates[0]
    with app.app_context():
        assert db.session.get(Detection, face).subject_id is None
    assert client.get(f"/analyses/{photo}").status_code == 200


def test_subjects_are_private(app, client, alice, bob_client, astronaut_jpeg):
    add_subject(client, "Mine")
    mine = subject_id(app, "Mine")
    photo = analysis_of(upload(client, astronaut_jpeg))
    face = detections_of(app, photo)[0]
    assert bob_client.get(f"/dashboard?subject={mine}").status_code == 404
    assert bob_client.get(f"/subjects/{mine}/export.json").status_code == 404
    token = csrf_token(bob_client, "/subjects")
    assert bob_client.post(f"/subjects/{mine}/delete", data={"csrf_token": token}).status_code == 404
    assert bob_client.post(f"/detections/{face}/subject",
                           data={f"d{face}-subject": "0", "csrf_token": token}).status_code == 404
    add_subject(bob_client, "Bobs")
    bobs = subject_id(app, "Bobs")
    # Alice cannot assign her face to Bob's subject: answered as an id nobody has ("no longer among yours")
    assert assign(client, face, bobs, photo).status_code == 303
    with app.app_context():
        assert db.session.get(Detection, face).subject_id is None
    unchosen = client.post(f"/detections/{face}/subject",  # the choice's field missing: no "Saved" for nothing
                           data={"subject": str(mine), "csrf_token": csrf_token(client, f"/analyses/{photo}")})
    assert unchosen.status_code == 400 and "Choose one of your subjects" in unchosen.get_data(as_text=True)
    assert "Mine" not in bob_client.get("/subjects").get_data(as_text=True)


@pytest.fixture()
def person_and_cat_analysis(client, alice) -> int:
    """An analysis of the astronaut beside Chelsea the cat: detection 1 is her face, 2 the cat."""
    cat = np.asarray(Image.fromarray(skdata.chelsea()).resize((770, 512)))
    return analysis_of(upload(client, jpeg_bytes(np.concatenate([skdata.astronaut(), cat], axis=1)), "pair.jpg"))


def test_only_subjects_of_the_detections_kind_are_offered_and_others_refused(app, client, person_and_cat_analysis):
    for name, kind in (("Eileen", "person"), ("Rex", "dog"), ("Tom", "cat")):
        add_subject(client, name, kind)
    eileen, rex, tom = (subject_id(app, name) for name in ("Eileen", "Rex", "Tom"))
    face, cat = detections_of(app, person_and_cat_analysis)
    page = client.get(f"/analyses/{person_and_cat_analysis}").get_data(as_text=True)
    offered = {detection: re.findall(r'<option[^>]*>([^<]+)</option>', page.split(f'id="d{detection}-subject"')[1]
                                     .split("</select>")[0]) for detection in (face, cat)}
    assert offered == {face: ["Nobody in particular", "Eileen (person)"], cat: ["Nobody in particular", "Tom (cat)"]}

    for detection, subject in ((face, rex), (face, tom), (cat, eileen), (cat, rex)):
        assert assign(client, detection, subject, person_and_cat_analysis).status_code == 400
    assert assign(client, face, eileen, person_and_cat_analysis).status_code == 302
    assert assign(client, cat, tom, person_and_cat_analysis).status_code == 302
    with app.app_context():
        assert [db.session.get(Detection, d).subject_id for d in (face, cat)] == [eileen, tom]


def test_a_cats_dashboard_lists_its_appearances_until_cats_have_a_model(app, client, person_and_cat_analysis,
                                                                          bob_client, monkeypatch):
    add_subject(client, "Tom", "cat")
    tom = subject_id(app, "Tom")
    assert "Nothing assigned to Tom yet" in client.get(f"/dashboard?subject={tom}").get_data(as_text=True)
    cat = detections_of(app, person_and_cat_analysis)[1]
    assign(client, cat, tom, person_and_cat_analysis)
    page = client.get(f"/dashboard?subject={tom}").get_data(as_text=True)
    assert "no emotion model for cats yet" in page and "Nothing assigned" not in page
    # numbered among cats; its URLs keep position 2
    assert "1 appearance" in page and 'title="pair.jpg: Cat 1">pair.jpg: <span>Cat 1</span>' in page
    assert f'href="/analyses/{person_and_cat_analysis}#face-2"' in page
    crop_url = f"/analyses/{person_and_cat_analysis}/detections/2/crop.jpg"
    assert f'<img src="{crop_url}"' in page.split("appearance-list")[1]  # the cat, not the whole photo
    crop = client.get(crop_url)
    assert crop.mimetype == "image/jpeg" and crop.headers["Cache-Control"].startswith("private")
    shown = np.asarray(Image.open(io.BytesIO(crop.data)).convert("RGB"), dtype=float)
    with app.app_context():
        box = db.session.get(Detection, cat).box
    photo = np.asarray(Image.open(io.BytesIO(client.get(f"/analyses/{person_and_cat_analysis}/original").data)))
    assert (box[0] + box[2]) / 2 > skdata.astronaut().shape[1]  # the cat's box: in the cat's half of the photo
    expected = rgb_crops(photo, [tuple(box)], shown.shape[0], margin=0.15)[0]
    assert shown.shape[:2] == (240, 240) and np.abs(shown - expected).mean() < 8
    assert np.abs(shown - np.asarray(Image.fromarray(photo).resize((240, 240)), dtype=float)).mean() > 30
    assert bob_client.get(crop_url).status_code == 404
    assert client.get(f"/analyses/{person_and_cat_analysis}/detections/9/crop.jpg").status_code == 404
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', page)
    assert "Emotion distribution" not in page

    # once there is a cat emotion model, the same page draws the charts from the cats' emotions
    monkeypatch.setitem(EMOTION_CLASSES, DetectionKind.CAT, ("happy", "sad"))
    with app.app_context():
        detection = db.session.get(Detection, cat)
        detection.emotions, detection.top = {"happy": 0.8, "sad": 0.2}, "happy"
        db.session.commit()
    page = client.get(f"/dashboard?subject={tom}").get_data(as_text=True)
    assert "Emotion distribution" in page and "1 appearance in 1 analysis" in page and "no emotion model" not in page
    # under the charts, which photos count for Tom, each with its reading
    appearances = page.split("appearance-list")[1]
    assert f'href="/analyses/{person_and_cat_analysis}#face-2"' in appearances and "emo-happy" in appearances


def test_crops_are_cut_when_the_photo_is_analysed_and_kept_until_it_goes(app, client, person_and_cat_analysis,
                                                                         monkeypatch):
    """A dashboard of many appearances would decode each (possibly 40-megapixel) photo once per crop: the crops are
    cut from the pixels decoded for the analysis; a missing one is cut once and kept; they go with the analysis."""
    from services import analyses, storage

    with app.app_context():
        analysis = db.session.get(Analysis, person_and_cat_analysis)
        stored_name, boxes = analysis.stored_name, [d.box for d in analysis.detections]
        kept = [storage.crop_path(stored_name, position, box) for position, box in enumerate(boxes, start=1)]
    assert len(kept) == 2 and all(path.is_file() for path in kept)
    stored_rgb = storage.stored_rgb

    def no_decoding(*args):
        raise AssertionError("the stored photo was decoded again")
    monkeypatch.setattr(storage, "stored_rgb", no_decoding)
    crop_url = f"/analyses/{person_and_cat_analysis}/detections/2/crop.jpg"
    assert client.get(crop_url).data == kept[1].read_bytes()
    monkeypatch.undo()

    kept[1].unlink()  # an analysis stored before crops were kept, or a re-analysis
    decoded = []
    monkeypatch.setattr(storage, "stored_rgb", lambda *args: decoded.append(1) or stored_rgb(*args))
    first, second = client.get(crop_url), client.get(crop_url)
    assert first.status_code == 200 and first.data == second.data == kept[1].read_bytes() and decoded == [1]
    with app.app_context():
        analyses.delete_analysis(db.session.get(Analysis, person_and_cat_analysis))
    assert not any(path.exists() for path in kept)


def test_the_migration_unassigns_detections_of_another_kind(app, client, person_and_cat_analysis, capfd):
    """And says which, for the operator to tell their owners (an upgrade left a user's pet unassigned unsaid)."""
    add_subject(client, "Tom", "cat")
    tom = subject_id(app, "Tom")
    face, cat = detections_of(app, person_and_cat_analysis)
    with app.app_context():  # wrong assignments, as the app allowed before
        db.session.get(Detection, face).subject_id, db.session.get(Detection, cat).subject_id = tom, tom
        db.session.commit()
        downgrade(directory=str(ROOT / "migrations"), revision="a3b4c5d6e7f8-1")
        upgrade(directory=str(ROOT / "migrations"))
        assert [db.session.get(Detection, d).subject_id for d in (face, cat)] == [None, tom]
    taken = [line for line in capfd.readouterr().err.splitlines() if "not of its kind" in line]  # Alembic's log
    assert taken == [f"WARNI [alembic.runtime.migration] detection {face} (human) taken from subject {tom} (cat) "
                     "of user 1: not of its kind"]


def test_a_subject_on_two_tracks_of_one_video_is_noted_on_both(app, client, alice):
    """Dog 1 and Dog 3 of a walk were both accepted as "Snowy" without a word. A tracker may split one dog into two
    tracks, so it stays allowed; each card says where else Snowy is."""
    from models import Analysis
    with app.app_context():
        video = Analysis(user_id=alice, media="video", status="done", original_name="walk.mp4",
                         stored_name="walk.mp4", format="mp4", width=64, height=64, duration=2.0, fps_sampled=2.0)
        for track in (1, 2, 3):
            happy = {"angry": 0.05, "happy": 0.85, "relaxed": 0.05, "sad": 0.05}
            video.detections.append(Detection(
                position=track, track_id=track, kind="dog", x1=0, y1=0, x2=5, y2=5, score=0.9, emotions=happy,
                top="happy", transitions=[],
                summary={"dominant": "happy", "share": {"happy": 1.0}, "mean": happy, "duration": 2.0, "frames": 2},
                timeline=[{"t": t, "box": [0, 0, 5, 5], "emotions": happy, "uncertain": None} for t in (0.0, 1.0)]))
        db.session.add(video)
        db.session.commit()
        video_id, tracks = video.id, [detection.id for detection in video.detections]
    add_subject(client, "Snowy", "dog")
    snowy = subject_id(app, "Snowy")
    assign(client, tracks[0], snowy, video_id)
    assert "is also" not in client.get(f"/analyses/{video_id}").get_data(as_text=True)
    assert assign(client, tracks[2], snowy, video_id).status_code == 302  # allowed
    page = client.get(f"/analyses/{video_id}").get_data(as_text=True)
    notes = re.findall(r'<p class="hint also-assigned">(.*?)</p>', page)
    assert notes == ["Snowy is also Dog 3 in this video.", "Snowy is also Dog 1 in this video."]
    korean = client.get(f"/analyses/{video_id}", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "개 3" in re.findall(r'<p class="hint also-assigned">(.*?)</p>', korean)[0]  # "Dog 3" in Korean
    assign(client, tracks[1], snowy, video_id)
    page = client.get(f"/analyses/{video_id}").get_data(as_text=True)
    assert "Snowy is also Dog 2 and Dog 3 in this video." in page


def test_a_video_tracks_crop_shows_it_even_when_it_left_before_the_poster_frame(app, client, alice,
                                                                                 early_face_video):
    video = analysis_of(upload(client, early_face_video.read_bytes(), "early.mp4"))
    tracks = client.get(f"/api/v1/analyses/{video}").get_json()["tracks"]
    early = [track["track_id"] for track in tracks if track["timeline"][-1]["t"] < 1.0]
    assert len(tracks) == 3 and len(early) == 1
    for track in tracks:  # the poster frame is flat grey where the early face was: its crop would be too
        crop = client.get(f"/analyses/{video}/detections/{track['track_id']}/crop.jpg")
        assert crop.status_code == 200 and np.asarray(Image.open(io.BytesIO(crop.data)).convert("L")).std() > 30


def test_the_database_keeps_one_subject_per_name_in_any_case_and_the_migration_renames_old_variants(app, alice):
    bob = make_user(app, "bob")
    subjects = sa.table("subject", sa.column("id"), sa.column("user_id"), sa.column("name"), sa.column("kind"),
                        sa.column("created_at"))
    names = [(alice, "Rex"), (alice, "rex"), (bob, "REX"), (alice, "rex-5"), (alice, "R\u200bEX"), (alice, "rex-2")]
    with app.app_context():  # back to before the key, with the names it allowed
        downgrade(directory=str(ROOT / "migrations"), revision="d5e6f7a8b9c0")
        db.session.execute(subjects.insert(), [
            {"id": n, "user_id": user, "name": name, "kind": "dog", "created_at": utcnow()}
            for n, (user, name) in enumerate(names, start=1)])
        db.session.commit()
        upgrade(directory=str(ROOT / "migrations"))
        rows = db.session.execute(db.select(Subject.name, Subject.name_key).order_by(Subject.id)).all()
        # the oldest of each user's variants keeps its name, later ones become NAME-ID (NAME-ID-2 where a subject
        # is called NAME-ID already, even a later one); Bob's "REX" is his own
        assert [name for name, _ in rows] == ["Rex", "rex-2-2", "REX", "rex-5", "R\u200bEX-5-2", "rex-2"]
        assert [key for _, key in rows] == [subject_name_key(name) for name, _ in rows]
        assert subject_name_key("R\u200bEX-5-2") == subject_name_key("rex-5-2") and rows[0][1] == rows[2][1]
        db.session.add(Subject(user_id=alice, name="ＲＥＸ", kind="person"))  # as if a second request raced the check
        with pytest.raises(IntegrityError):
            db.session.commit()


def test_a_subjects_export_is_written_a_page_at_a_time_and_named_in_any_script(app, client, alice, monkeypatch):
    """Three readings read one at a time come out whole and in order; the file is named after 모모 (RFC 6266)."""
    monkeypatch.setattr(documents, "EXPORT_PAGE", 1)
    momo = make_subject(app, alice, "모모", "person")
    store_analyses(app, alice, [StoredAnalysis(f"momo{number}.jpg", "happy", momo) for number in range(3)])
    exported = client.get(f"/subjects/{momo}/export.json")
    assert [row["filename"] for row in exported.get_json()["history"]] == ["momo0.jpg", "momo1.jpg", "momo2.jpg"]
    assert exported.get_json()["subject"]["name"] == "모모"
    disposition = exported.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=moodlens-history.json;")  # no "--" where the name was
    assert "filename*=UTF-8''moodlens-%EB%AA%A8%EB%AA%A8-history.json" in disposition
    report = client.get(f"/subjects/{momo}/report.png").headers["Content-Disposition"]  # the week's Monday
    assert re.fullmatch(r"inline; filename=\S+; filename\*=UTF-8''moodlens-%EB%AA%A8%EB%AA%A8-\d{4}-\d\d-\d\d\.png",
                        report)
    rows = csv_rows(client.get(f"/subjects/{momo}/export.csv"))
    assert [row["filename"] for row in rows] == ["momo0.jpg", "momo1.jpg", "momo2.jpg"]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_subjects_export_is_kept_out_of_caches_as_the_accounts_is(app, client, alice, fmt):
    """The owner's data: no cache may store it (no-store), not merely check with the server first (no-cache)."""
    rex = make_subject(app, alice, "Rex", "dog")
    assert client.get(f"/subjects/{rex}/export.{fmt}").headers["Cache-Control"] == "no-store"
    assert client.get(f"/account/export.{fmt}").headers["Cache-Control"] == "no-store"


def test_people_and_pets_are_listed_by_name_without_case_or_accents_on_every_database(app, client, alice):
    """SQLite listed "BOB" before "bella" and "Émile" after "zoë" (by character code); PostgreSQL by its collation."""
    for name in ("zoë", "Émile", "BOB", "bella", "Emma", "지우"):
        make_subject(app, alice, name)
    names = [item["name"] for item in client.get("/api/v1/subjects").get_json()["items"]]
    assert names == ["bella", "BOB", "Émile", "Emma", "zoë", "지우"]
    page = client.get("/subjects").get_data(as_text=True)
    assert [page.index(name) for name in names] == sorted(page.index(name) for name in names)


def test_a_download_keeps_a_names_marks_in_its_file_name(app, client, alice):
    """Hebrew points and Devanagari vowel signs are marks, not letters: "שָׁלוֹם" was saved as "ש-לו-ם"."""
    from werkzeug.http import parse_options_header
    for name, saved in (("שָׁלוֹם", "שָׁלוֹם"), ("प्रिया", "प्रिया"), ("Rex the dog!", "Rex-the-dog")):
        subject = make_subject(app, alice, name)
        sent = client.get(f"/subjects/{subject}/export.csv").headers["Content-Disposition"]
        assert parse_options_header(sent)[1]["filename"] == f"moodlens-{saved}-history.csv", sent


def test_two_users_may_each_name_a_subject_rex(app, client, alice, bob_client):
    """Mutant 09 (subject_named without the user filter): Bob's "Rex" was refused as a twin of Alice's."""
    for browser in (client, bob_client):
        token = csrf_token(browser, "/subjects")
        browser.post("/subjects", data={"name": "Rex", "kind": "dog", "csrf_token": token})
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Subject.id)).filter_by(name="Rex")) == 2



def test_a_tracks_crop_is_cut_from_the_frame_its_box_was_seen_in():
    """Mutant 37 (box_time takes the track's first moment): a track's stored box is the one nearest the poster
    frame, but its crop (a cat's appearance on its dashboard, a face's signature) was cut from its first frame,
    where the moving subject was elsewhere."""
    analysis = Analysis(media=Media.VIDEO, poster_time=2.0)
    track = Detection(timeline=[{"t": 0.0, "box": [0, 0, 5, 5]}, {"t": 1.0, "box": [5, 0, 10, 5]},
                                {"t": 2.25, "box": [10, 0, 15, 5]}])
    assert storage.box_time(analysis, track) == 2.25
    assert storage.box_time(analysis, Detection(timeline=[])) == 2.0
    assert storage.box_time(Analysis(media=Media.IMAGE), track) is None
