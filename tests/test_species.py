"""A pet's species set by its owner: the models read the dingo as a dog; its owner says it is a cat (as a kitten read as
a puppy would be set right), after a page that says what changes. It is then a cat on its card, in the API and in
its subject's history, without the dog model's emotions; set back, it has the models' reading again; a cat set to a
dog in a photo is read by the dog model; a second page left open changes nothing; analysing the file again keeps the
owner's word; a face has no species to set, and nobody else can set one."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from bench.clips import dog_scene, write_video
from bench.fixtures import csrf_token, login, make_subject, make_user
from inference import pet_species
from inference.detectors import Detection as Found
from inference.labels import DOG_EMOTIONS, DetectionKind
from extensions import db
from models import Analysis, Detection
from tests.conftest import jpeg_bytes, upload
from tests.test_copies_reanalysis import again, made_by_earlier_models
from tests import test_subjects
from tests.test_subjects import analysis_of

person_and_cat_analysis = test_subjects.person_and_cat_analysis  # a fixture: the astronaut's face (1) and a cat (2)


def dingo_photo(client) -> int:
    """An analysis of the dingo photo: one dog, read by the dog model."""
    return analysis_of(upload(client, jpeg_bytes(dog_scene("dingo-photo.png")[0]), "dingo.jpg"))


def only_detection(app, analysis_id: int) -> Detection:
    with app.app_context():
        detection = db.session.get(Analysis, analysis_id).detections[0]
        db.session.expunge(detection)
        return detection


def confirm_action(page: str) -> str:
    """Where the confirm page's form posts."""
    form = page.split('class="card confirm"')[1]
    return re.search(r'<form method="post" action="([^"]+)"', form).group(1).replace("&amp;", "&")


def put_species(client, analysis_id: int, position: int, species: object):
    return client.put(f"/api/v1/analyses/{analysis_id}/detections/{position}/species", json={"species": species},
                      headers={"X-CSRFToken": csrf_token(client, "/analyze")})


def test_an_owner_marks_a_dog_as_a_cat_after_a_page_that_says_what_changes(app, client, alice):
    photo = dingo_photo(client)
    dog = only_detection(app, photo)
    assert dog.kind == "dog" and dog.top is not None
    rex = make_subject(app, alice, "Rex", "dog")
    with app.app_context():
        db.session.get(Detection, dog.id).subject_id = rex
        db.session.commit()
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    link = re.search(r'<a href="(/detections/\d+/species[^"]*)">Not a dog\? Mark it as a cat</a>', page)
    asking = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Is Dog 1 a cat?" in asking and "It is no longer assigned to Rex, who is a dog." in asking
    assert "The emotions the dog model read are removed" in asking and "No, it is a dog" in asking
    assert '<button type="submit">Yes, it is a cat</button>' in asking  # not red: it can be set back
    assert only_detection(app, photo).kind == "dog"  # asking changes nothing
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', asking).group(1)
    action = confirm_action(asking)
    done = client.post(action, data={"csrf_token": token})
    assert done.status_code == 302 and done.location == f"/analyses/{photo}#face-1"
    page = client.get(done.location).get_data(as_text=True)
    assert "Saved: Dog 1 is now Cat 1. It is no longer assigned to Rex." in page
    assert "You said this is a cat." in page and "Not a cat? Mark it as a dog" in page
    again_page = client.post(action, data={"csrf_token": token})  # the same page sent again: it is a cat already
    assert "Cat 1 is already a cat." in client.get(again_page.location).get_data(as_text=True)
    assert only_detection(app, photo).kind == "cat"
    cat = client.get(f"/api/v1/analyses/{photo}").get_json()["detections"][0]
    assert (cat["kind"], cat["kind_read"], cat["emotions"], cat["top"]) == ("cat", "dog", {}, None)
    assert cat["subject"] is None
    assert cat["classifier"] is None and cat["box"] == dog.box
    with app.app_context():
        assert db.session.get(Analysis, photo).top_emotion is None
    assert client.get(f"/api/v1/subjects/{rex}").get_json()["appearances"] == 0
    make_user(app, "boss", admin=True)
    admin = app.test_client()
    login(admin, "boss")
    assert "Its owner said this is a cat." in admin.get(f"/analyses/{photo}").get_data(as_text=True)
    back = put_species(client, photo, 1, "dog").get_json()  # taken back: the models' reading again
    assert (back["kind"], back["kind_read"], back["emotions"], back["top"]) == ("dog", None, dog.emotions, dog.top)


def test_a_cat_set_to_a_dog_in_a_photo_is_read_by_the_dog_model_and_renumbers_the_dogs(app, client, alice):
    cat = np.asarray(Image.fromarray(skdata.chelsea()).resize((770, 512)))
    dingo = dog_scene("dingo-photo.png")[0][:512]
    photo = analysis_of(upload(client, jpeg_bytes(np.concatenate([dingo, cat], axis=1)), "pair.jpg"))
    found = client.get(f"/api/v1/analyses/{photo}").get_json()["detections"]
    assert sorted(pet["kind"] for pet in found) == ["cat", "dog"]
    chelsea = next(pet for pet in found if pet["kind"] == "cat")
    dog = put_species(client, photo, chelsea["position"], "dog").get_json()
    assert (dog["kind"], dog["kind_read"], list(dog["emotions"])) == ("dog", "cat", list(DOG_EMOTIONS))
    assert dog["top"] in DOG_EMOTIONS and dog["classifier"] is not None
    assert sorted(pet["number"] for pet in client.get(f"/api/v1/analyses/{photo}").get_json()["detections"]) == [1, 2]
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    assert "Emotion probabilities for dog" in page
    assert '<p class="hint species-said">You said this is a dog.</p>' in page
    titles = [f"Dog {number}" for number in (1, 2)]
    former = titles[0] if chelsea["position"] < dog_position(found) else titles[1]
    renumbered = titles[1] if former == titles[0] else None
    asking = client.get(f"/detections/{detection_id(app, photo, chelsea['position'])}/species").get_data(as_text=True)
    assert f"Is {former} a cat?" in asking
    assert "The reading the models made when they read it as a cat comes back" in asking
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', asking).group(1)
    action = confirm_action(asking)
    saved = client.get(client.post(action, data={"csrf_token": token}).location).get_data(as_text=True)
    assert f"Saved: {former} is now Cat 1." in saved
    assert ("Dog 2 is now Dog 1." in saved) == (renumbered is not None)


def dog_position(found: list[dict]) -> int:
    return next(pet["position"] for pet in found if pet["kind"] == "dog")


def detection_id(app, analysis_id: int, position: int) -> int:
    with app.app_context():
        return next(d.id for d in db.session.get(Analysis, analysis_id).detections if d.position == position)


def test_the_api_sets_a_pets_species_refuses_a_face_and_another_users_pet(app, client, alice, bob_client,
                                                                          person_and_cat_analysis):
    tom = make_subject(app, alice, "Tom", "cat")
    client.put(f"/api/v1/analyses/{person_and_cat_analysis}/detections/2/subject", json={"subject": tom},
               headers={"X-CSRFToken": csrf_token(client, "/analyze")})
    face = put_species(client, person_and_cat_analysis, 1, "cat")
    assert face.status_code == 400 and "Only a dog or a cat" in face.get_json()["error"]
    asked = client.get(f"/detections/{detection_id(app, person_and_cat_analysis, 1)}/species")  # no page: the card
    assert asked.status_code == 302 and asked.location == f"/analyses/{person_and_cat_analysis}#face-1"
    assert put_species(client, person_and_cat_analysis, 2, "horse").status_code == 400
    unchanged = put_species(client, person_and_cat_analysis, 2, "cat")  # what it is already: nothing changes
    assert unchanged.status_code == 200 and unchanged.get_json()["kind_read"] is None
    assert unchanged.get_json()["subject"] == tom
    assert put_species(bob_client, person_and_cat_analysis, 2, "dog").status_code == 404
    dog = put_species(client, person_and_cat_analysis, 2, "dog").get_json()
    assert (dog["kind"], dog["kind_read"], dog["subject"]) == ("dog", "cat", None) and dog["top"] in DOG_EMOTIONS
    rex = make_subject(app, alice, "Rex", "dog")  # the cat set to a dog counts on a dog's dashboard
    assert client.put(f"/api/v1/analyses/{person_and_cat_analysis}/detections/2/subject", json={"subject": rex},
                      headers={"X-CSRFToken": csrf_token(client, "/analyze")}).status_code == 200
    assert client.get(f"/api/v1/subjects/{rex}").get_json()["appearances"] == 1
    assert client.get(f"/dashboard?subject={rex}").status_code == 200
    assert client.get(f"/subjects/{rex}/report").status_code == 200
    assert client.get(f"/api/v1/subjects/{rex}/insights").status_code == 200
    back = put_species(client, person_and_cat_analysis, 2, "cat").get_json()
    assert (back["kind"], back["kind_read"], back["emotions"], back["subject"]) == ("cat", None, {}, None)


def test_analysing_again_keeps_the_owners_species(app, client, alice):
    photo = dingo_photo(client)
    dog = only_detection(app, photo)
    assert put_species(client, photo, 1, "cat").status_code == 200
    made_by_earlier_models(app, photo)
    assert again(client, photo).status_code == 302
    after = only_detection(app, photo)
    assert (after.id, after.kind, after.kind_read, after.top, after.emotions) == (dog.id, "cat", "dog", None, {})


def test_a_dog_track_marked_as_a_cat_keeps_its_boxes_and_time_seen_without_emotions(app, client, alice, tmp_path):
    scene, _ = dog_scene("dingo-photo.png")
    clip = write_video(tmp_path / "dog.mp4", [np.roll(scene, shift, axis=1) for shift in range(0, 40, 2)])
    video = analysis_of(upload(client, clip.read_bytes(), "dog.mp4"))
    track = client.get(f"/api/v1/analyses/{video}").get_json()["tracks"][0]
    assert track["kind"] == "dog" and track["summary"]["dominant"] is not None
    cat = put_species(client, video, track["track_id"], "cat").get_json()
    assert (cat["kind"], cat["top"], cat["transitions"], cat["summary"]["dominant"]) == ("cat", None, [], None)
    assert cat["summary"]["duration"] == track["summary"]["duration"]
    assert [point["box"] for point in cat["timeline"]] == [point["box"] for point in track["timeline"]]
    assert all(point["emotions"] == {} for point in cat["timeline"])
    page = client.get(f"/analyses/{video}").get_data(as_text=True)
    assert "Cat 1: seen for" in page and "You said this is a cat." in page
    dog = put_species(client, video, track["track_id"], "dog").get_json()  # taken back: the models' reading again
    assert (dog["kind"], dog["summary"], dog["timeline"]) == ("dog", track["summary"], track["timeline"])


def test_analysing_again_keeps_the_row_when_the_new_models_read_the_owners_species(app, client, alice):
    photo = dingo_photo(client)
    with app.app_context():  # as earlier models would have left it: the dingo read as a cat
        dog = db.session.get(Analysis, photo).detections[0]
        dog.kind, dog.emotions, dog.top = "cat", {}, None
        dog.keep_reading()
        db.session.commit()
        row_id = dog.id
    assert put_species(client, photo, 1, "dog").get_json()["kind_read"] == "cat"
    rex = make_subject(app, alice, "Rex", "dog")
    client.put(f"/api/v1/analyses/{photo}/detections/1/subject", json={"subject": rex},
               headers={"X-CSRFToken": csrf_token(client, "/analyze")})
    made_by_earlier_models(app, photo)
    assert again(client, photo).status_code == 302
    with app.app_context():  # the new models read a dog too: the owner's word is theirs now
        after = db.session.get(Analysis, photo).detections[0]
        assert (after.id, after.subject_id, after.kind, after.kind_read, after.models_reading) == (row_id, rex, "dog",
                                                                                                   None, None)
        assert after.top in DOG_EMOTIONS


def test_a_cat_set_to_a_dog_is_read_by_the_dog_model_again_when_analysed_again(app, client, alice,
                                                                              person_and_cat_analysis):
    assert put_species(client, person_and_cat_analysis, 2, "dog").status_code == 200
    made_by_earlier_models(app, person_and_cat_analysis)
    assert again(client, person_and_cat_analysis).status_code == 302
    dog = client.get(f"/api/v1/analyses/{person_and_cat_analysis}").get_json()["detections"][1]
    assert (dog["kind"], dog["kind_read"], list(dog["emotions"])) == ("dog", "cat", list(DOG_EMOTIONS))


def test_a_busy_server_or_a_body_that_names_no_species_changes_nothing(app, client, alice, person_and_cat_analysis,
                                                                       monkeypatch):
    from services import analyses
    from services.errors import ServerBusy

    def busy(*args):
        raise ServerBusy()

    monkeypatch.setattr(analyses, "read_photo_as", busy)
    assert put_species(client, person_and_cat_analysis, 2, "dog").status_code == 429
    for body in (["cat"], None, {"kind": "dog"}, True, 3):
        answer = put_species(client, person_and_cat_analysis, 2, body)
        assert answer.status_code == 400, body
    cat = client.get(f"/api/v1/analyses/{person_and_cat_analysis}").get_json()["detections"][1]
    assert (cat["kind"], cat["kind_read"]) == ("cat", None)


def test_a_species_set_back_while_the_photo_is_analysed_again_stands(app, client, alice, person_and_cat_analysis,
                                                                       monkeypatch):
    """The owner says the cat is a cat again while "Analyse again" (with newer weights) reads it as the dog they had
    said: the new result keeps the owner's latest word (a cat without emotions), not the dog reading made for the
    earlier one."""
    from services import reanalysis, species
    assert put_species(client, person_and_cat_analysis, 2, "dog").status_code == 200
    made_by_earlier_models(app, person_and_cat_analysis)
    read = species.owners_reading

    def read_while_set_back(*args):  # another request meanwhile
        reading = read(*args)._replace(emotions=dict.fromkeys(DOG_EMOTIONS, 0.25))  # as newer weights would read
        assert on_another_thread(lambda: put_species(client, person_and_cat_analysis, 2, "cat")).status_code == 200
        return reading

    monkeypatch.setattr(reanalysis.species, "owners_reading", read_while_set_back)
    assert again(client, person_and_cat_analysis).status_code == 302
    analysis = client.get(f"/api/v1/analyses/{person_and_cat_analysis}").get_json()
    assert (analysis["reanalysis"]["status"], analysis["reanalysis"].get("error")) == ("done", None)
    cat = analysis["detections"][1]
    assert (cat["kind"], cat["kind_read"], cat["top"], cat["emotions"]) == ("cat", None, None, {})


def on_another_thread(action):
    """Run `action` (a request) on a thread of its own, with its own database session, as another tab would; its
    answer."""
    answers = []
    other = threading.Thread(target=lambda: answers.append(action()))
    other.start()
    other.join()
    return answers[0]


def test_a_pet_set_to_a_dog_while_the_photo_is_analysed_again_is_read_as_one(app, client, alice,
                                                                             person_and_cat_analysis, monkeypatch):
    from services import reanalysis
    made_by_earlier_models(app, person_and_cat_analysis)
    readings = reanalysis.owners_readings

    def read_then_set(analysis, new):  # the photo is read for the species its pets have; then the owner says dog
        found = readings(analysis, new)
        assert on_another_thread(lambda: put_species(client, person_and_cat_analysis, 2, "dog")).status_code == 200
        return found

    monkeypatch.setattr(reanalysis, "owners_readings", read_then_set)
    assert again(client, person_and_cat_analysis).status_code == 302
    dog = client.get(f"/api/v1/analyses/{person_and_cat_analysis}").get_json()["detections"][1]
    assert (dog["kind"], dog["kind_read"]) == ("dog", "cat") and dog["top"] in DOG_EMOTIONS


def test_a_pet_whose_photo_is_deleted_while_it_is_read_is_a_404(app, client, alice, person_and_cat_analysis,
                                                                 monkeypatch):
    from services import species
    read = species.owners_reading

    def read_while_deleted(*args):
        reading = read(*args)
        token = csrf_token(client, "/analyze")
        deleted = on_another_thread(lambda: client.delete(f"/api/v1/analyses/{person_and_cat_analysis}",
                                                          headers={"X-CSRFToken": token}))
        assert deleted.status_code == 204
        return reading

    monkeypatch.setattr(species, "owners_reading", read_while_deleted)
    assert put_species(client, person_and_cat_analysis, 2, "dog").status_code == 404


def test_the_detectors_score_votes_for_the_species_it_named():
    """Mutant 45 (the SSD's score added to the other species): the vote's own rule, on an even body read."""
    dog = Found((0.0, 0.0, 10.0, 10.0), 0.8, DetectionKind.DOG)
    votes = pet_species._body_votes(dog, np.array([0.5, 0.5]))
    assert votes[0] == pytest.approx(0.5 + pet_species.SSD_WEIGHT * 0.8) and votes[1] == pytest.approx(0.5)
