"""Face recognition ("Is this Ana?"): off until turned on, signatures in a background job, suggestions only
from the user's own people, grouping unnamed faces, and every signature deleted when it is turned off."""

from __future__ import annotations

import re

import numpy as np
import pytest
from skimage import data as skdata

from bench.clips import another_copy
from bench.fixtures import csrf_token, login, make_user
from extensions import db
from inference.identity import SAME_PERSON_DISTANCE, get_signature_model, group_indices, nearest_label
from models import Detection, FaceSignature, JobStatus, SignatureJob, Subject, User
from tests.conftest import jpeg_bytes, upload
from tests.test_i18n import KOREAN
from tests.test_subjects import add_subject, analysis_of, assign, detections_of, subject_id


def set_recognition(client, enabled: bool):
    data = {"csrf_token": csrf_token(client, "/settings/faces")} | ({"recognize_faces": "y"} if enabled else {})
    return client.post("/settings/faces", data=data)


def signature_count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(FaceSignature.id)))


def suggestion_of(client, analysis_id: int) -> dict | None:
    return client.get(f"/api/v1/analyses/{analysis_id}").get_json()["detections"][0]["suggestion"]


@pytest.fixture(scope="module")
def mirrored_jpeg() -> bytes:
    return jpeg_bytes(np.ascontiguousarray(skdata.astronaut()[:, ::-1]))


@pytest.fixture(scope="module")
def stranger_jpeg() -> bytes:
    """Another real face: scikit-image's cameraman (grey, as three channels)."""
    return jpeg_bytes(np.stack([skdata.camera()] * 3, axis=-1))


@pytest.fixture()
def eileen_named(app, client, alice, astronaut_jpeg) -> int:
    """Alice turned recognition on, added Eileen and assigned the astronaut's face to her; Eileen's id."""
    assert set_recognition(client, True).status_code == 302
    add_subject(client, "Eileen")
    eileen = subject_id(app, "Eileen")
    photo = analysis_of(upload(client, astronaut_jpeg, "eileen.jpg"))
    assert assign(client, detections_of(app, photo)[0], eileen, photo).status_code == 302
    return eileen


def test_faces_of_several_frames_are_signed_in_one_batch_as_one_by_one():
    """`embed_frames` (a video's frames, each with its faces) gives each face the signature `embed` gives it alone;
    a frame without faces gets none."""
    photo = skdata.astronaut()
    face, elsewhere = [170, 30, 280, 160], [10, 10, 120, 140]
    model = get_signature_model()
    together = model.embed_frames([(photo, [face, elsewhere]), (photo[:, ::-1], []), (photo, [face])])
    assert [vectors.shape for vectors in together] == [(2, 128), (0, 128), (1, 128)]
    assert np.allclose(together[0][0], model.embed(photo, [face])[0], atol=1e-6)
    assert np.allclose(together[2][0], together[0][0], atol=1e-6)
    assert np.linalg.norm(together[0][0] - together[0][1]) > SAME_PERSON_DISTANCE  # two places, two signatures


def test_off_by_default_nothing_is_signed(app, client, alice, astronaut_jpeg):
    photo = analysis_of(upload(client, astronaut_jpeg))
    assert signature_count(app) == 0 and suggestion_of(client, photo) is None
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(SignatureJob.id))) == 0
    assert "stores a <strong>face signature</strong>" in client.get("/settings/faces").get_data(as_text=True)
    saved = set_recognition(client, False)  # saved unchanged: nothing was deleted, so it does not say so
    assert "Face recognition stays off" in client.get(saved.location).get_data(as_text=True)


def test_mirrored_photo_is_suggested_as_the_assigned_person(app, client, eileen_named, mirrored_jpeg):
    photo = analysis_of(upload(client, mirrored_jpeg, "mirrored.jpg"))
    suggestion = suggestion_of(client, photo)
    assert suggestion["subject"] == eileen_named and suggestion["name"] == "Eileen"
    assert 0 < suggestion["distance"] < SAME_PERSON_DISTANCE
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    assert "Looks like <strong>Eileen</strong>?" in page and "Someone else" in page
    face = detections_of(app, photo)[0]
    assert assign(client, face, eileen_named, photo).status_code == 302  # "yes": the ordinary assignment
    with app.app_context():
        assert db.session.get(Detection, face).subject_id == eileen_named
    assert suggestion_of(client, photo) is None  # assigned faces get no suggestion


def test_no_removes_that_suggestion(app, client, eileen_named, mirrored_jpeg):
    photo = analysis_of(upload(client, mirrored_jpeg, "mirrored.jpg"))
    face = detections_of(app, photo)[0]
    token = csrf_token(client, f"/analyses/{photo}")
    response = client.post(f"/detections/{face}/suggestion/no", data={"subject": eileen_named, "csrf_token": token},
                           headers=KOREAN)
    assert response.status_code == 302 and response.headers["Location"].endswith("#face-1")
    page = client.get(f"/analyses/{photo}", headers=KOREAN).get_data(as_text=True)
    noted = "이 얼굴에 Eileen 님을 다시 제안하지 않을게요."  # "Noted: we will not suggest Eileen ..." in Korean
    assert page.count(noted) == 1 and page.index('id="face-1"') < page.index(noted)  # in the face's card, where the
    assert noted not in client.get(f"/analyses/{photo}").get_data(as_text=True)  # redirect lands; shown once
    assert suggestion_of(client, photo) is None
    assert client.post(f"/detections/{face}/suggestion/no", data={"csrf_token": token}).status_code == 400
    huge = {"subject": "1" + "0" * 400, "csrf_token": token}  # past a float's range: was an OverflowError, a 500
    assert client.post(f"/detections/{face}/suggestion/no", data=huge).status_code == 400


def say_no(client, face: int, person: int, photo: int):
    return client.post(f"/detections/{face}/suggestion/no",
                       data={"subject": person, "csrf_token": csrf_token(client, f"/analyses/{photo}")})


def undo_no(client, face: int, person: int, photo: int, **form):
    token = csrf_token(client, f"/analyses/{photo}")
    return client.post(f"/detections/{face}/suggestion/no/undo", data={"subject": person, "csrf_token": token} | form)


NOT_EILEEN = "You said this is not <strong>Eileen</strong>."


def test_a_no_is_undone_from_the_faces_card(app, client, eileen_named, mirrored_jpeg, bob_client):
    photo = analysis_of(upload(client, mirrored_jpeg, "mirrored.jpg"))
    face = detections_of(app, photo)[0]
    assert NOT_EILEEN not in client.get(f"/analyses/{photo}").get_data(as_text=True)
    say_no(client, face, eileen_named, photo)
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    undo = f'action="/detections/{face}/suggestion/no/undo?analysis='
    assert NOT_EILEEN in page and undo in page  # until it is undone
    assert bob_client.post(f"/detections/{face}/suggestion/no/undo",
                           data={"subject": eileen_named, "csrf_token": csrf_token(bob_client, "/analyze")}
                           ).status_code == 404  # only the owner's
    without_token = client.post(f"/detections/{face}/suggestion/no/undo", data={"subject": eileen_named})
    assert without_token.status_code == 400 and suggestion_of(client, photo) is None
    undone = undo_no(client, face, eileen_named, photo)
    assert undone.status_code == 302 and undone.location == f"/analyses/{photo}#face-1"
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    assert "Undone: Eileen may be suggested for this face again." in page and NOT_EILEEN not in page
    assert "Looks like <strong>Eileen</strong>?" in page and suggestion_of(client, photo)["subject"] == eileen_named
    again = client.get(undo_no(client, face, eileen_named, photo).location).get_data(as_text=True)  # another tab's
    assert "There is no “No” to Eileen on this face to undo." in again  # undo, sent again: nothing changes
    assert client.get(f"/detections/{face}/suggestion/no/undo").location == f"/analyses/{photo}#face-1"


def test_a_yes_is_taken_back_by_nobody_in_particular_and_the_suggestion_comes_back(app, client, eileen_named,
                                                                                   mirrored_jpeg):
    photo = analysis_of(upload(client, mirrored_jpeg, "mirrored.jpg"))
    face = detections_of(app, photo)[0]
    assert assign(client, face, eileen_named, photo).status_code == 302  # "Yes"
    assert suggestion_of(client, photo) is None
    assert assign(client, face, 0, photo).status_code == 302  # "Who is this?": "Nobody in particular"
    assert suggestion_of(client, photo)["subject"] == eileen_named


def test_video_tracks_are_signed_on_their_poster_frame(app, client, eileen_named, two_face_video):
    video = analysis_of(upload(client, two_face_video.read_bytes(), "clip.mp4"))
    tracks = client.get(f"/api/v1/analyses/{video}").get_json()["tracks"]
    assert signature_count(app) == 1 + len(tracks)
    assert {track["suggestion"]["name"] for track in tracks} == {"Eileen"}  # the astronaut, mirrored or not


def test_a_stranger_gets_no_suggestion(app, client, eileen_named, stranger_jpeg):
    photo = analysis_of(upload(client, stranger_jpeg, "cameraman.jpg"))
    assert signature_count(app) == 2  # the stranger's face was signed too
    assert suggestion_of(client, photo) is None
    assert "Looks like" not in client.get(f"/analyses/{photo}").get_data(as_text=True)


def test_another_users_people_are_never_suggested(app, client, eileen_named, bob_client, mirrored_jpeg):
    assert set_recognition(bob_client, True).status_code == 302
    add_subject(bob_client, "Somebody")
    photo = analysis_of(upload(bob_client, mirrored_jpeg, "mirrored.jpg"))
    assert signature_count(app) == 2
    assert suggestion_of(bob_client, photo) is None
    assert "Looks like" not in bob_client.get(f"/analyses/{photo}").get_data(as_text=True)
    token = csrf_token(bob_client, f"/analyses/{photo}")  # nor can bob say "no" about alice's person
    face = detections_of(app, photo)[0]
    assert bob_client.post(f"/detections/{face}/suggestion/no",
                           data={"subject": eileen_named, "csrf_token": token}).status_code == 404


def test_nobody_names_another_users_faces(app, client, alice, bob_client, astronaut_jpeg):
    set_recognition(client, True)
    face = detections_of(app, analysis_of(upload(client, astronaut_jpeg)))[0]
    token = csrf_token(bob_client, "/subjects")
    response = bob_client.post("/subjects/groups", data={"faces": [face], "subject": "0", "name": "Mine",
                                                         "csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Detection, face).subject_id is None
        assert db.session.scalar(db.select(db.func.count(Subject.id))) == 0


def test_turning_off_deletes_every_signature_and_on_signs_past_photos(app, client, eileen_named, mirrored_jpeg):
    upload(client, mirrored_jpeg, "mirrored.jpg")
    assert signature_count(app) == 2
    assert set_recognition(client, False).status_code == 302
    with app.app_context():
        assert signature_count(app) == 0
        assert db.session.scalar(db.select(db.func.count(SignatureJob.id))) == 0
    assert set_recognition(client, True).status_code == 302  # past photos are signed again, in the job
    assert signature_count(app) == 2


def test_the_delete_page_counts_the_face_signatures_that_go(app, client, eileen_named):
    page = client.get("/account/delete").get_data(as_text=True)
    assert "<li>Your 1 face signature (face recognition).</li>" in page


def test_signatures_go_with_their_analysis(app, client, eileen_named, mirrored_jpeg):
    photo = analysis_of(upload(client, mirrored_jpeg, "mirrored.jpg"))
    token = csrf_token(client, f"/analyses/{photo}")
    assert client.post(f"/analyses/{photo}/delete", data={"csrf_token": token}).status_code == 302
    assert signature_count(app) == 1


def test_two_groups_of_unnamed_faces_have_headings_a_screen_reader_tells_apart(app, client, alice, astronaut_jpeg,
                                                                               mirrored_jpeg, stranger_jpeg):
    """Two groups were two regions both called "2 faces of someone you have not named"."""
    set_recognition(client, True)
    mirrored_stranger = jpeg_bytes(np.stack([skdata.camera()[:, ::-1]] * 3, axis=-1))
    for content in (astronaut_jpeg, mirrored_jpeg, stranger_jpeg, mirrored_stranger):
        upload(client, content)
    page = client.get("/subjects").get_data(as_text=True)
    titles = re.findall(r'<h2 id="group-\d+-title">([^<]+)</h2>', page)
    assert titles == ["Group 1: 2 faces of someone you have not named",
                      "Group 2: 2 faces of someone you have not named"], titles


def test_unnamed_look_alikes_are_grouped_and_named_in_one_step(app, client, alice, astronaut_jpeg, mirrored_jpeg,
                                                               stranger_jpeg):
    set_recognition(client, True)
    photos = [analysis_of(upload(client, content)) for content in (astronaut_jpeg, mirrored_jpeg, stranger_jpeg)]
    page = client.get("/subjects").get_data(as_text=True)
    assert "2 faces of someone you have not named" in page
    faces = [detections_of(app, photo)[0] for photo in photos]
    assert "maxlength" not in page.split('id="group-1-name"')[1].split(">")[0]  # a longer name is not cut silently:
    token = csrf_token(client, "/subjects")
    too_long = client.post("/subjects/groups", data={"faces": faces[:2], "subject": "0",
                                                     "name": "N" * 65, "csrf_token": token}, follow_redirects=True)
    assert "Give a name of 1 to 64 characters. Choose one of your people" in too_long.get_data(as_text=True)
    assert "2 faces of someone you have not named" in too_long.get_data(as_text=True)  # nobody named
    response = client.post("/subjects/groups", data={"faces": faces[:2], "subject": "0",
                                                     "name": "Eileen", "csrf_token": token})
    assert response.status_code == 302
    eileen = subject_id(app, "Eileen")
    with app.app_context():
        assert [db.session.get(Detection, face).subject_id for face in faces] == [eileen, eileen, None]
    assert "of someone you have not named" not in client.get("/subjects").get_data(as_text=True)
    again = client.post("/subjects/groups", data={"faces": [faces[2]], "subject": "0", "name": "eILEEN",
                                                  "csrf_token": token})  # the same person typed in another case
    assert again.status_code == 302
    with app.app_context():
        assert db.session.get(Detection, faces[2]).subject_id == eileen
    for bad in ("1;2", "1,2", "-1", "1" + "0" * 400, [1] * 501):  # not ids, past BIGINT, more than a form has
        assert client.post("/subjects/groups", data={"faces": bad, "subject": "0", "name": "X",
                                                     "csrf_token": token}).status_code == 400


def test_a_group_that_looks_like_a_named_person_offers_them(app, client, eileen_named, mirrored_jpeg):
    for name in ("one.jpg", "two.jpg"):
        upload(client, another_copy(mirrored_jpeg, name), name)
    page = " ".join(client.get("/subjects").get_data(as_text=True).split())
    assert "2 faces that look like Eileen" in page
    assert f'<option selected value="{eileen_named}">Eileen</option>' in page
    named = page.index(f'<h2><a href="/dashboard?subject={eileen_named}">Eileen</a></h2>')
    assert named < page.index("faces that look like")  # the named first, the faces to name after them


def test_admins_never_see_signatures_or_suggestions(app, client, eileen_named, mirrored_jpeg):
    photo = analysis_of(upload(client, mirrored_jpeg, "mirrored.jpg"))
    assert suggestion_of(client, photo)["name"] == "Eileen"  # the owner sees it
    make_user(app, "root", admin=True)
    admin = app.test_client()
    login(admin, "root")
    assert suggestion_of(admin, photo) is None
    assert "Looks like" not in admin.get(f"/analyses/{photo}").get_data(as_text=True)
    face = detections_of(app, photo)[0]
    details = admin.get(f"/admin/admin_detections/details/?id={face}")
    page = details.get_data(as_text=True).lower()
    assert details.status_code == 200 and "order on its page" in page  # the column "position"
    assert "signature" not in page and "vector" not in page
    assert "signature" not in admin.get("/admin/").get_data(as_text=True).lower()


def test_nearest_label_and_groups_follow_the_distances():
    references = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]], np.float32)
    assert nearest_label(np.array([0.9, 0.1], np.float32), references, [7, 8, 9], threshold=0.5).label == 8
    assert nearest_label(np.array([3.0, 3.0], np.float32), references, [7, 8, 9], threshold=0.5) is None
    assert nearest_label(np.zeros(2, np.float32), references[:0], [], threshold=0.5) is None
    points = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [5.0, 5.1], [9.0, 0.0]])
    assert group_indices(points, threshold=0.5) == [[2, 3, 4], [0, 1]]


def test_a_video_track_that_left_before_the_poster_frame_is_signed_where_it_was(app, client, eileen_named,
                                                                                 early_face_video):
    video = analysis_of(upload(client, early_face_video.read_bytes(), "early.mp4"))
    tracks = client.get(f"/api/v1/analyses/{video}").get_json()["tracks"]
    assert len(tracks) == 3 and signature_count(app) == 1 + len(tracks)
    assert [(track["suggestion"] or {}).get("name") for track in tracks] == ["Eileen"] * 3


def set_signature_job(app, analysis_id: int, status: JobStatus) -> None:
    """The analysis's signature job in this state (the tests' queue runs every job during the upload)."""
    with app.app_context():
        db.session.scalar(db.select(SignatureJob).filter_by(analysis_id=analysis_id)).status = status
        db.session.commit()


def test_the_page_says_faces_are_being_checked_until_they_are(app, client, eileen_named, bob_client,
                                                               stranger_jpeg):
    photo = analysis_of(upload(client, stranger_jpeg, "cameraman.jpg"))
    checking = "Checking whether anyone here is someone you have named…"
    assert checking not in client.get(f"/analyses/{photo}").get_data(as_text=True)  # signed already
    assert client.get(f"/api/v1/analyses/{photo}/signatures").get_json() == {"status": "done"}
    set_signature_job(app, photo, JobStatus.QUEUED)
    page = client.get(f"/analyses/{photo}").get_data(as_text=True)
    assert checking in page and "progress.js" in page  # the page reloads itself once the job is over,
    assert "<noscript>Reload the page in a few seconds to see.</noscript>" in page  # or says to reload it
    assert f'data-status-url="/api/v1/analyses/{photo}/signatures"' in page
    assert client.get(f"/api/v1/analyses/{photo}/signatures").get_json() == {"status": "queued"}
    assert bob_client.get(f"/api/v1/analyses/{photo}/signatures").status_code == 404  # the owner's only
    assert client.get("/api/v1/analyses/99999999999999999999999/signatures").status_code == 404
    assert checking not in bob_client.get(f"/analyses/{photo}").get_data(as_text=True)
    set_signature_job(app, photo, JobStatus.FAILED)  # a failure is not told: nobody asked for the job
    assert checking not in client.get(f"/analyses/{photo}").get_data(as_text=True)
    assert client.get(f"/api/v1/analyses/{photo}/signatures").get_json() == {"status": "failed"}
    set_signature_job(app, photo, JobStatus.RUNNING)
    assert checking in client.get(f"/analyses/{photo}").get_data(as_text=True)
    set_recognition(client, False)
    assert checking not in client.get(f"/analyses/{photo}").get_data(as_text=True)
    assert client.get(f"/api/v1/analyses/{photo}/signatures").get_json() == {"status": "none"}


def test_no_checking_line_without_a_person_to_suggest(app, client, alice, astronaut_jpeg):
    set_recognition(client, True)
    photo = analysis_of(upload(client, astronaut_jpeg))
    set_signature_job(app, photo, JobStatus.QUEUED)
    assert "Checking whether" not in client.get(f"/analyses/{photo}").get_data(as_text=True)


def group_cards(client, headers=None) -> list[str]:
    """The face groups of /subjects, each card's HTML with its white space folded."""
    page = " ".join(client.get("/subjects", headers=headers).get_data(as_text=True).split())
    return page.split('<section class="card group"')[1:]


def copies_of(client, app, content: bytes, count: int) -> tuple[list[int], list[int]]:
    """(photos, their first faces) of `count` uploads of other copies of one photo."""
    photos = [analysis_of(upload(client, another_copy(content, f"copy{n}.jpg"), f"copy{n}.jpg")) for n in range(count)]
    return photos, [detections_of(app, photo)[0] for photo in photos]


def test_a_face_said_not_to_be_someone_is_never_grouped_or_named_as_them(app, client, eileen_named, mirrored_jpeg):
    photos, faces = copies_of(client, app, mirrored_jpeg, 5)
    for photo, face in zip(photos[3:], faces[3:]):
        assert say_no(client, face, eileen_named, photo).status_code == 302
    as_eileen, apart = group_cards(client)
    assert "3 faces that look like Eileen" in as_eileen and f'<option selected value="{eileen_named}">' in as_eileen
    assert all(f'name="faces" value="{face}"' in as_eileen for face in faces[:3])
    assert not any(f'name="faces" value="{face}"' in as_eileen for face in faces[3:])  # in no group offered as Eileen
    assert "2 faces of someone you have not named" in apart
    assert all(f'name="faces" value="{face}"' in apart for face in faces[3:])
    assert '<option selected value="0">' in apart  # "Someone new", not Eileen
    token = csrf_token(client, "/subjects")
    by_hand = client.post("/subjects/groups", data={"faces": faces, "subject": eileen_named, "csrf_token": token},
                          follow_redirects=True)  # a form posted by hand, with every face
    said = by_hand.get_data(as_text=True)
    assert "3 faces now count in Eileen&#39;s history." in said
    assert "2 faces were left unnamed: you said they are not Eileen." in said
    typed = client.post("/subjects/groups", data={"faces": faces[3:], "subject": "0", "name": "eileen",
                                                  "csrf_token": token})  # her name typed: the same person
    assert typed.status_code == 302
    with app.app_context():
        assert [db.session.get(Detection, face).subject_id for face in faces] == [eileen_named] * 3 + [None] * 2


def test_a_no_to_one_face_of_a_pair_leaves_no_group_to_name_as_that_person(app, client, eileen_named, mirrored_jpeg):
    photos, faces = copies_of(client, app, mirrored_jpeg, 2)
    say_no(client, faces[0], eileen_named, photos[0])
    assert group_cards(client) == []  # one face left: it is no group (its own card still suggests nothing)


def test_a_group_shows_every_face_it_names_as_its_crop_and_names_only_those_ticked(app, client, eileen_named,
                                                                                    mirrored_jpeg):
    photos, faces = copies_of(client, app, mirrored_jpeg, 9)
    (card,) = group_cards(client)
    assert "9 faces that look like Eileen" in card and card.count('type="checkbox" name="faces"') == 9
    for photo, face in zip(photos, faces):
        assert f'value="{face}" checked>' in card and f'src="/analyses/{photo}/detections/1/crop.jpg"' in card
        assert f'href="/analyses/{photo}#face-1"' in card
    crop = client.get(f"/analyses/{photos[8]}/detections/1/crop.jpg")
    assert crop.status_code == 200 and crop.mimetype == "image/jpeg"
    token = csrf_token(client, "/subjects")
    nothing = client.post("/subjects/groups", data={"subject": eileen_named, "csrf_token": token},
                          follow_redirects=True)  # every face unticked
    assert "Tick the faces to name." in nothing.get_data(as_text=True)
    assert client.post("/subjects/groups", data={"faces": faces[:7], "subject": eileen_named,
                                                 "csrf_token": token}).status_code == 302
    with app.app_context():
        assert [db.session.get(Detection, face).subject_id for face in faces] == [eileen_named] * 7 + [None] * 2


def test_the_korean_settings_give_a_korean_example_name(client, alice):
    page = client.get("/settings/faces", headers=KOREAN).get_data(as_text=True)
    assert "“지민인가요?”" in page and "Ana" not in page


def test_a_face_unticked_when_naming_a_group_is_not_offered_as_that_person_again(app, client, eileen_named,
                                                                                 mirrored_jpeg):
    """Unticking says "this one is someone else": as a "No" on its photo, that person is not suggested for it again
    (the page's own words: "Untick a face that is someone else")."""
    _, faces = copies_of(client, app, mirrored_jpeg, 3)
    (card,) = group_cards(client)
    assert all(f'name="shown" value="{face}"' in card for face in faces)
    named = client.post("/subjects/groups", data={"faces": faces[:2], "shown": faces, "subject": eileen_named,
                                                  "csrf_token": csrf_token(client, "/subjects")},
                        follow_redirects=True).get_data(as_text=True)
    assert "1 face you unticked will not be suggested as Eileen." in named
    with app.app_context():
        unticked = db.session.get(Detection, faces[2])
        assert unticked.subject_id is None and unticked.signature.dismissed_subject_id == eileen_named
    assert group_cards(client) == []  # no longer offered as Eileen


def name_face(client, face: int, photo: int, subject: int = 0, name: str = "", headers: dict | None = None):
    """Who the face is, said on its card after a "No": one of the user's people, or (0) the typed new name."""
    token = csrf_token(client, f"/analyses/{photo}")
    return client.post(f"/detections/{face}/person", headers=headers,
                       data={f"d{face}-subject": subject, f"d{face}-name": name, "csrf_token": token})


def person_form(page: str, face: int) -> str:
    """The card's "Who is this?" form after a "No" (its HTML)."""
    start = page.index(f'action="/detections/{face}/person?analysis=')
    return page[start:page.index("</form>", start)]


def test_after_a_no_the_card_names_the_face_someone_else_or_someone_new(app, client, eileen_named, mirrored_jpeg):
    add_subject(client, "Bob")
    bob = subject_id(app, "Bob")
    photos, faces = copies_of(client, app, mirrored_jpeg, 2)
    say_no(client, faces[0], eileen_named, photos[0])
    page = client.get(f"/analyses/{photos[0]}").get_data(as_text=True)
    form = person_form(page, faces[0])  # who it is, right there: another person or a new name, never Eileen
    assert f'<option value="{bob}">Bob</option>' in form and "Someone new (type the name)" in form
    assert f'value="{eileen_named}"' not in form and f'name="d{faces[0]}-name"' in form
    assert f'action="/detections/{faces[0]}/subject?' not in page  # no second "Who is this?" offering Eileen
    named = name_face(client, faces[0], photos[0], name="Ana")
    assert named.status_code == 302 and named.location == f"/analyses/{photos[0]}#face-1"
    page = client.get(named.location).get_data(as_text=True)
    assert "Saved: Face 1 is Ana, and counts in Ana&#39;s history." in page
    say_no(client, faces[1], eileen_named, photos[1])
    assert name_face(client, faces[1], photos[1], subject=bob).status_code == 302
    with app.app_context():
        ana = db.session.scalar(db.select(Subject).filter_by(name="Ana"))
        assert ana.kind == "person"
        assert [db.session.get(Detection, face).subject_id for face in faces] == [ana.id, bob]


def test_naming_a_face_after_a_no_refuses_that_person_and_bad_names_by_the_card(app, client, eileen_named,
                                                                                 mirrored_jpeg, bob_client):
    photo = analysis_of(upload(client, mirrored_jpeg, "mirrored.jpg"))
    face = detections_of(app, photo)[0]
    say_no(client, face, eileen_named, photo)
    assert name_face(client, face, photo, subject=eileen_named).status_code == 400  # not among the choices
    typed = client.get(name_face(client, face, photo, name="eileen").location).get_data(as_text=True)
    assert ('<p class="flash flash-error" role="alert" data-flashed>You said this is not Eileen: choose someone else'
            in typed)
    empty = client.get(name_face(client, face, photo, headers=KOREAN).location, headers=KOREAN).get_data(as_text=True)
    assert '<p class="flash flash-error" role="alert" data-flashed>이름을' in empty
    assert empty.index('id="face-1"') < empty.index("flash-error")  # by the face's card, where the owner looks
    name_face(client, face, photo, name="eileen")
    elsewhere = client.get("/analyses").get_data(as_text=True)  # another page opened first: at its top, still an alert
    assert '<p class="flash flash-error" role="alert" data-flashed>You said this is not Eileen' in elsewhere
    assert bob_client.post(f"/detections/{face}/person", data={f"d{face}-name": "Mallory", "csrf_token": csrf_token(
        bob_client, "/analyze")}).status_code == 404  # only the owner's face
    assert client.post(f"/detections/{face}/person", data={f"d{face}-name": "Ana"}).status_code == 400  # no token
    assert client.get(f"/detections/{face}/person").location == f"/analyses/{photo}#face-1"
    with app.app_context():
        assert db.session.get(Detection, face).subject_id is None
        assert db.session.scalar(db.select(db.func.count(Subject.id))) == 1  # Eileen only


def lone_card(client) -> str:
    """/subjects' card of unnamed faces in no group, its white space folded ("" when there is none)."""
    page = " ".join(client.get("/subjects").get_data(as_text=True).split())
    return page.split('<section class="card lone-faces"')[1] if '<section class="card lone-faces"' in page else ""


def test_faces_in_no_group_are_listed_with_their_photos_those_said_no_to_first(app, client, eileen_named,
                                                                               mirrored_jpeg, monkeypatch):
    photos, faces = copies_of(client, app, mirrored_jpeg, 2)
    assert lone_card(client) == ""  # the two look alike: a group
    say_no(client, faces[0], eileen_named, photos[0])
    assert group_cards(client) == []  # one face each way is no group, but neither is dropped:
    card = lone_card(client)
    assert "2 unnamed faces in no group" in card and "under “Who is this?”" in card
    assert card.index(f'href="/analyses/{photos[0]}#face-1"') < card.index(f'href="/analyses/{photos[1]}#face-1"')
    assert f'src="/analyses/{photos[0]}/detections/1/crop.jpg"' in card
    # each as its photo's card offers it: the one said No to as nobody, the other as Eileen (as its page asks)
    first, second = card.split(f'href="/analyses/{photos[1]}#face-1"')
    assert "Looks like" not in first and "Looks like <strong>Eileen</strong>?" in second.split("</li>")[0]
    assert "Looks like Eileen?" in " ".join(client.get(f"/analyses/{photos[1]}").get_data(as_text=True).replace(
        "<strong>", "").replace("</strong>", "").split())
    monkeypatch.setattr("web.dashboard.LONE_FACES_SHOWN", 1)
    card = lone_card(client)
    assert f"/analyses/{photos[0]}#face-1" in card and f"/analyses/{photos[1]}#face-1" not in card
    assert "2 unnamed faces in no group" in card and "The first 1 are shown" in card
    set_recognition(client, False)
    assert lone_card(client) == ""


def test_only_a_persons_face_is_named_a_new_person(app, client, alice):
    photo = analysis_of(upload(client, jpeg_bytes(skdata.chelsea()), "chelsea.jpg"))
    (cat,) = detections_of(app, photo)
    refused = name_face(client, cat, photo, name="Tom")
    assert refused.status_code == 400 and "Only a person&#39;s face is named here." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Subject.id))) == 0
        assert db.session.get(Detection, cat).subject_id is None


def test_the_page_groups_only_the_newest_unassigned_faces(app, monkeypatch):
    """Grouping costs the square of the faces' number (8,000 took 6 s and 0.5 GB a page view): the newest
    GROUPED_FACES are grouped, older ones come up as these are named."""
    from services import identity
    from tests.test_query_counts import photos
    owner = make_user(app, "ann")
    with app.app_context():
        db.session.get(User, owner).recognize_faces = True
        db.session.commit()
    photos(app, owner, 5, 1)
    monkeypatch.setattr(identity, "GROUPED_FACES", 3)
    with app.app_context():
        found = identity.unnamed_faces(db.session.get(User, owner), 10)
        shown = [face.id for group in found.groups for face in group.faces] + [face.id for face in found.lone]
        newest = db.session.scalars(db.select(Detection.id).order_by(Detection.id.desc()).limit(3)).all()
        assert sorted(shown) == sorted(newest)


def test_the_groups_are_worked_out_again_only_when_the_faces_change(app, client, alice, astronaut_jpeg, mirrored_jpeg,
                                                                   stranger_jpeg, monkeypatch):
    """Each view of the page grouped its 2,000 faces again (about 0.9 s of CPU)."""
    from services import identity
    groupings = []
    monkeypatch.setattr(identity, "_groupings", identity.Recent(identity.GROUPED_USERS))  # none kept by earlier tests
    monkeypatch.setattr(identity, "group_indices", lambda vectors: groupings.append(len(vectors)) or
                        group_indices(vectors))
    set_recognition(client, True)
    for content in (astronaut_jpeg, mirrored_jpeg):
        upload(client, content)
    first, again = (re.sub(r'name="csrf_token" value="[^"]*"', "", client.get("/subjects").get_data(as_text=True))
                    for _ in range(2))  # a form's token is signed with the second it was made in
    assert first == again and "2 faces of someone you have not named" in again and groupings == [2]
    upload(client, stranger_jpeg)
    assert "2 faces of someone you have not named" in client.get("/subjects").get_data(as_text=True)
    assert groupings == [2, 3]


def suggestions_of(client, analysis_id: int) -> list[dict | None]:
    return [detection["suggestion"] for detection in
            client.get(f"/api/v1/analyses/{analysis_id}").get_json()["detections"]]


def test_a_person_is_offered_for_one_face_of_a_photo_and_none_once_named_there(app, client, eileen_named):
    astronaut = skdata.astronaut()
    twice = analysis_of(upload(client, jpeg_bytes(np.hstack([astronaut[:, ::-1], astronaut])), "twice.jpg"))
    offered = suggestions_of(client, twice)
    assert len(offered) == 2 and [suggestion is None for suggestion in offered].count(True) == 1
    assert client.get(f"/analyses/{twice}").get_data(as_text=True).count("Looks like <strong>Eileen</strong>?") == 1
    nearest = next(suggestion for suggestion in offered if suggestion)
    assert nearest["subject"] == eileen_named and nearest["distance"] < 0.1  # the face Eileen was named from (0.05)
    right_face = detections_of(app, twice)[offered.index(nearest)]
    other_face = next(face for face in detections_of(app, twice) if face != right_face)
    assert assign(client, other_face, eileen_named, twice).status_code == 302  # "yes" to the other face after all
    assert suggestions_of(client, twice) == [None, None]  # Eileen is in the photo once: no face is offered as her
    people_page = client.get("/subjects").get_data(as_text=True)  # its faces in no group, each offered as on its page
    assert "Looks like <strong>Eileen</strong>?" not in people_page and f"/analyses/{twice}" in people_page


def test_each_person_goes_to_the_nearest_face_left_for_them():
    """`Suggester.one_face_each` over a photo's faces and two people, A (7) and B (8), at given distances: the pairs
    nearest first (a review's case: face 1 is 0.30 from A and 0.31 from B, face 2 0.20 from A, face 3 0.45 from B:
    handing each face its own nearest first gave B to face 3 and nobody to face 1)."""
    from types import SimpleNamespace

    from services.identity import Suggester

    class Given(Suggester):
        def __init__(self, distances):
            self.labels, self.given = [7, 8], distances
            self.people = {7: SimpleNamespace(id=7), 8: SimpleNamespace(id=8)}

        def _distances(self, signatures, people):
            return self.given[:, [self.labels.index(person) for person in people]]

    def face(face_id, said_no=None):
        return SimpleNamespace(id=face_id, signature=SimpleNamespace(vector=np.zeros(2, "<f4").tobytes(),
                                                                     dismissed_subject_id=said_no))

    suggest = Given(np.array([[0.30, 0.31], [0.20, 0.90], [0.90, 0.45]]))

    def offered(faces, named=frozenset()):
        offers = suggest.one_face_each(faces, set(named))
        return {face_id: offer and offer.subject.id for face_id, offer in offers.items()}
    assert offered([face(1), face(2), face(3)]) == {1: 8, 2: 7, 3: None}
    assert offered([face(1), face(2, said_no=7), face(3)]) == {1: 7, 2: None, 3: 8}
    assert offered([face(1), face(2), face(3)], named={7}) == {1: 8, 2: None, 3: None}
    assert offered([face(1), face(2), face(3)], named={7, 8}) == {1: None, 2: None, 3: None}
