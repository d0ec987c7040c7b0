"""Explanations: sanity checks that fail when a method is broken, the "Why?" button, the API and the CLI."""

from __future__ import annotations

import copy
import html
import io
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.fixtures import login, make_app, make_user
from extensions import db
from models import Detection, Subject, User
from inference.classifiers import gray_batch
from inference.crops import gray_crops
from inference.emotion_net import load_weights
from inference.specs import FACE_INPUT_SIZE as INPUT_SIZE
from inference.specs import HUMAN_WEIGHTS
from bench.explain import deletion_curve
from inference import explain as explain_module
from inference.explain import TORCH_THREADS, Explainer, StagedProgress, face_parts, grad_cam_map, occlusion_map
from inference.map_regions import MapRegion
from inference.pipeline import get_pipeline
from skimage import data as skdata

from tests.conftest import DATA, jpeg_bytes, upload

FACE_BOX = (180, 60, 268, 175)


def torch_predict(network):
    """uint8 face crops -> probabilities, with `network` (no flip TTA)."""

    def predict(crops: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return network(torch.from_numpy(gray_batch(crops))).softmax(1).numpy()

    return predict


def reinitialised(network):
    """The same architecture with fresh random weights (the model-randomisation test of Adebayo et al., 2018)."""
    torch.manual_seed(0)
    fresh = copy.deepcopy(network)
    for module in fresh.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return fresh.eval()


@pytest.fixture(scope="module")
def face(astronaut):
    return gray_crops(astronaut, [FACE_BOX], INPUT_SIZE)[0]


@pytest.fixture(scope="module")
def trained():
    return load_weights(str(HUMAN_WEIGHTS))[0]


def both_maps(network, crop):
    predict = torch_predict(network)
    target = int(predict(crop[None])[0].argmax())
    return {"occlusion": occlusion_map(predict, crop, target, patch=8, stride=4),
            "grad_cam": grad_cam_map(face_parts(network), crop, target)}


def test_maps_change_when_the_weights_are_randomised(face, trained):
    """A map that does not depend on the weights (an edge detector in disguise) correlates ~1 with its
    random-weights twin. Measured: occlusion 0.04, Grad-CAM 0.54 (Grad-CAM keeps some of the image's
    coarse layout even in a random network, as Adebayo et al. also report)."""
    random_maps = both_maps(reinitialised(trained), face)
    for method, trained_map in both_maps(trained, face).items():
        correlation = np.corrcoef(trained_map.ravel(), random_maps[method].ravel())[0, 1]
        assert not np.isfinite(correlation) or correlation < 0.7, f"{method} ignores the weights ({correlation:.2f})"


def test_hiding_the_most_salient_pixels_costs_more_than_hiding_the_least(face, trained):
    predict = torch_predict(trained)
    target = int(predict(face[None])[0].argmax())
    for method, saliency in both_maps(trained, face).items():
        most = deletion_curve(predict, face, saliency, target, steps=5)[1]  # 20% most salient pixels hidden
        least = deletion_curve(predict, face, -saliency, target, steps=5)[1]  # 20% least salient
        assert most < least - 0.05, f"{method}: most salient {most:.3f}, least salient {least:.3f}"


def test_an_explanation_covers_the_crop_and_names_the_top_emotion(astronaut):
    result = Explainer.for_pipeline(get_pipeline()).explain(astronaut, FACE_BOX, "human")
    assert result.target == "happy" and result.probability > 0.5
    for saliency in result.maps.values():
        assert saliency.shape == (INPUT_SIZE, INPUT_SIZE) and 0 <= saliency.min() and saliency.max() == 1
    assert all(image.shape == (224, 224, 3) for image in result.overlays().values())


def disc_map(*spots: tuple[float, float, float], size: int = 48, radius: float = 0.06) -> np.ndarray:
    """A map dark but for discs at the spots (x, y as fractions of the crop's side, and brightness)."""
    rows, columns = np.mgrid[0:size, 0:size]
    saliency = np.zeros((size, size))
    for x, y, brightness in spots:
        saliency[((columns + 0.5) / size - x) ** 2 + ((rows + 0.5) / size - y) ** 2 <= radius ** 2] = brightness
    return saliency


def test_an_overlay_shows_a_dim_face_and_colours_only_where_the_map_is_bright():
    """The walk-through's dark "Why?" images: a dim crop (levels 20 to 80) is stretched to the full range under its
    map, left uncoloured where the map is 0, and coloured where it is 1."""
    crop = np.tile(np.linspace(20, 80, 48, dtype=np.float32), (48, 1)).astype(np.uint8)
    saliency = np.zeros((48, 48), np.float32)
    saliency[:, 36:] = 1
    image = explain_module.overlay(crop, saliency, size=48)
    dark_side = image[:, :24]
    assert np.all(dark_side[..., 0] == dark_side[..., 1]) and np.all(dark_side[..., 1] == dark_side[..., 2])  # grey
    assert dark_side.min() <= 5 and image[:, 40:].mean() > 150
    assert not np.all(image[:, 40:, 0] == image[:, 40:, 2])  # the colour map's yellow


@pytest.mark.parametrize(("spots", "kind", "named"), [
    (((0.5, 0.79, 1),), "human", ["mouth"]), (((0.31, 0.39, 1), (0.69, 0.39, 1)), "human", ["eyes"]),
    (((0.5, 0.36, 1),), "human", ["brows"]),  # between the eyes, where a frown shows: once named nothing
    (((0.5, 0.36, 1), (0.5, 0.79, 0.2)), "human", ["brows"]),  # a faint mouth is not named
    (((0.31, 0.39, 1), (0.5, 0.6, 1)), "human", ["eyes", "nose"]),  # one eye counts as much as the nose
    (((0.06, 0.8, 1),), "human", ["cheeks", "chin"]), (((0.5, 0.06, 1),), "human", ["forehead"]),
    (((0.15, 0.15, 1),), "dog", ["upper_left"]), (((0.5, 0.85, 1),), "dog", ["bottom"]),
    (((0.5, 0.5, 1), (0.85, 0.5, 0.8)), "cat", ["middle", "right"]), ((), "human", [])])
def test_a_map_is_said_by_where_it_is_brightest(spots, kind, named):
    """The heat maps' text: a face's map by the facial part of the aligned crop nearest its brightest point (a
    second part when nearly as bright), a pet's by the ninth of its crop."""
    from inference.map_regions import brightest_regions

    assert sorted(brightest_regions(disc_map(*spots), kind)) == named


def test_staged_progress_weights_each_stage_by_its_seconds():
    seen = []
    stages = StagedProgress({"networks": 0.0, "occlusion": 1.0, "grad_cam": 3.0}, seen.append)
    stages.stage("networks")(1.0)
    stages.stage("occlusion")(0.5)
    stages.stage("grad_cam")(0.5)
    stages.stage("grad_cam")(2.0)  # a stage's own value is clipped to 0..1
    assert seen == [0.0, 0.125, 0.625, 1.0]


def test_progress_covers_occlusion_the_wait_for_the_networks_and_grad_cam_by_their_measured_times(astronaut):
    explainer = Explainer.for_pipeline(get_pipeline())  # a fresh explainer: Grad-CAM's networks are not loaded
    explainer.seconds["human"]["occlusion"] = 0.1  # expected to end before the networks are loaded
    cold = explainer.expected_seconds("human")
    assert list(cold) == ["occlusion", "networks", "grad_cam"] and cold["networks"] > 0
    seen = []
    explainer.explain(astronaut, FACE_BOX, "human", progress=seen.append)
    total = sum(cold.values())
    occluded, loaded = cold["occlusion"] / total, (cold["occlusion"] + cold["networks"]) / total
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    assert 0 < occluded < loaded < 1 and sum(0 < value < occluded for value in seen) >= 2  # batch by batch
    assert any(value == pytest.approx(loaded) for value in seen)  # waiting for the networks has its share
    warm = explainer.expected_seconds("human")  # the next run: nothing to load, the stages' own measured times
    assert warm["networks"] == 0 and warm["occlusion"] > 0 and warm["grad_cam"] > 0
    again = []
    explainer.explain(astronaut, FACE_BOX, "human", progress=again.append)
    assert again == sorted(again) and again[-1] == pytest.approx(1.0)


def test_grad_cams_networks_load_while_occlusion_runs_and_grad_cam_runs_on_one_torch_thread(astronaut,
                                                                                             monkeypatch):
    explainer = Explainer.for_pipeline(get_pipeline())
    classifier = explainer.classifiers["human"]
    occluding, waited, threads = threading.Event(), [], []
    predict, load, draw = classifier.predict, Explainer._load, explain_module.grad_cam_map

    def occluded_predict(crops, flip_tta=True):
        if len(crops) > 1:
            occluding.set()
        return predict(crops, flip_tta)

    def load_once_occlusion_runs(kind):
        waited.append(occluding.wait(timeout=20))  # loading first, then occlusion, would wait in vain
        return load(kind)

    def grad_cam_counting_threads(*args, **kwargs):
        threads.append(torch.get_num_threads())
        return draw(*args, **kwargs)

    monkeypatch.setattr(classifier, "predict", occluded_predict)
    monkeypatch.setattr(Explainer, "_load", staticmethod(load_once_occlusion_runs))
    monkeypatch.setattr(explain_module, "grad_cam_map", grad_cam_counting_threads)
    before = torch.get_num_threads()
    explainer.explain(astronaut, FACE_BOX, "human")
    assert waited == [True] and threads == [TORCH_THREADS] and torch.get_num_threads() == before


def analysed(client, photo: bytes) -> int:
    response = upload(client, photo, "photo.jpg")
    return int(response.location.rsplit("/", 1)[1])


def page_token(client, analysis_id: int) -> str:
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_why_explains_a_face_once_and_the_images_are_private(app, client, alice, bob_client, astronaut_jpeg):
    analysis_id = analysed(client, astronaut_jpeg)
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    assert "Why “happy”?" in page and "explain.js" in page
    url = f"/api/v1/analyses/{analysis_id}/detections/1/explanation"
    assert client.get(url).get_json()["status"] == "none"
    token = page_token(client, analysis_id)
    document = client.post(url, headers={"X-CSRFToken": token}).get_json()
    assert document["status"] == "done"
    assert [image["method"] for image in document["images"]] == ["occlusion", "grad_cam"]
    image = client.get(document["images"][0]["url"])
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert Image.open(io.BytesIO(image.data)).size == (224, 224)
    brightest = [image["brightest"] for image in document["images"]]
    assert all(1 <= len(regions) <= 2 and set(regions) <= set(MapRegion) for regions in brightest), brightest
    files = sorted(Path(app.config["EXPLAIN_FOLDER"]).glob("*.png"))
    assert len(files) == 2
    mtimes = [path.stat().st_mtime_ns for path in files]
    client.post(url, headers={"X-CSRFToken": token})  # cached: nothing is computed again
    assert [path.stat().st_mtime_ns for path in files] == mtimes
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    assert "Heat map over face 1" in page and "Why “happy”?" not in page and "the dog’s head" not in page
    assert f"; brightest around {' and '.join('the ' + region for region in brightest[0])}." in page  # its words
    with app.app_context():  # a face given a name: its maps are said to lie over it by name too
        db.session.scalar(db.select(Detection).filter_by(analysis_id=analysis_id)).subject = Subject(
            user_id=alice, name="Ana O'Neil", kind="person")
        db.session.commit()
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    assert 'alt="Heat map over face 1 (Ana O&#39;Neil): ' in page and 'data-subject="face 1 (Ana O&#39;Neil)"' in page
    assert 'aria-label="Why happy? (Face 1 (Ana O&#39;Neil))"' in page

    assert bob_client.get(url).status_code == 404
    assert bob_client.get(document["images"][0]["url"]).status_code == 404
    client.post(f"/analyses/{analysis_id}/delete", data={"csrf_token": page_token(client, analysis_id)})
    assert not any(path.exists() for path in files)


def test_why_crops_a_face_by_the_points_it_was_read_by(app, client, alice, astronaut_jpeg, monkeypatch):
    """An analysis keeps each face's five landmarks; "Why?" crops the face by them instead of searching the photo
    again (a search of the crop around the box could settle on other points, and explain another crop)."""
    analysis_id = analysed(client, astronaut_jpeg)
    with app.app_context():
        landmarks = db.session.scalar(db.select(Detection).filter_by(analysis_id=analysis_id)).landmarks
    astronaut = np.asarray(Image.open(io.BytesIO(astronaut_jpeg)).convert("RGB"))
    [found] = [d for d in get_pipeline().detect_photo(astronaut, {"detect faces": 0.0}) if d.kind == "human"]
    assert landmarks == [list(point) for point in found.landmarks]
    monkeypatch.setattr(explain_module, "landmarks_near", lambda *args: pytest.fail("the face was searched again"))
    url = f"/api/v1/analyses/{analysis_id}/detections/1/explanation"
    assert client.post(url, headers={"X-CSRFToken": page_token(client, analysis_id)}).get_json()["status"] == "done"
    dog = analysed(client, (DATA / "beagle-close-up.jpg").read_bytes())
    with app.app_context():  # a pet has none: SQL's NULL, not JSON's null
        assert db.session.scalar(db.select(db.func.count(Detection.id)).where(
            Detection.analysis_id == dog, Detection.kind == "dog", Detection.landmarks.is_(None))) == 1


def test_the_form_without_scripts_starts_the_work_and_unknown_detections_are_404(client, alice, astronaut_jpeg):
    analysis_id = analysed(client, astronaut_jpeg)
    token = page_token(client, analysis_id)
    assert client.post(f"/analyses/{analysis_id}/detections/1/explain").status_code == 400  # no CSRF token
    response = client.post(f"/analyses/{analysis_id}/detections/1/explain", data={"csrf_token": token})
    assert response.status_code == 302 and response.location.endswith(f"/analyses/{analysis_id}#face-1")
    assert "Heat map over face 1" in client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    assert client.post(f"/analyses/{analysis_id}/detections/9/explain", data={"csrf_token": token}).status_code == 404


def test_a_cat_has_nothing_to_explain(client, alice):
    cat = np.asarray(Image.fromarray(skdata.chelsea()).resize((770, 512)))
    analysis_id = analysed(client, jpeg_bytes(np.concatenate([skdata.astronaut(), cat], axis=1)))
    document = client.get(f"/api/v1/analyses/{analysis_id}").get_json()
    cat = next(i for i, d in enumerate(document["detections"], start=1) if d["kind"] == "cat")
    assert client.get(f"/api/v1/analyses/{analysis_id}/detections/{cat}/explanation").status_code == 404


def test_explanations_run_in_the_background_with_progress(tmp_path, astronaut_jpeg):
    app = make_app(tmp_path, JOBS_MODE="thread")  # computed by the queue's worker thread, not in the request
    client = app.test_client()
    make_user(app, "carol")
    login(client, "carol")
    analysis_id = analysed(client, astronaut_jpeg)
    url = f"/api/v1/analyses/{analysis_id}/detections/1/explanation"
    token = page_token(client, analysis_id)
    try:
        first = client.post(url, headers={"X-CSRFToken": token})
        assert first.status_code == 202 and first.get_json()["status"] in ("queued", "running")
        assert first.headers["Location"] == url  # where to ask again
        deadline = time.monotonic() + 120
        while (document := client.get(url).get_json())["status"] in ("queued", "running") and \
                time.monotonic() < deadline:
            assert 0 <= document["progress"] <= 1
            time.sleep(0.2)
        assert document["status"] == "done"
    finally:
        app.extensions["moodlens_jobs"].stop()  # its thread would poll a database removed with tmp_path


def test_the_cli_writes_the_overlays_and_says_where(app, tmp_path, astronaut_jpeg):
    photo = tmp_path / "face.jpg"
    photo.write_bytes(astronaut_jpeg)
    arguments = ["analyze", str(photo), "--json", "--explain", "--out", str(tmp_path / "maps")]
    result = app.test_cli_runner().invoke(args=arguments)
    assert result.exit_code == 0, result.output
    detection = json.loads(result.stdout)["detections"][0]
    assert sorted(detection["explanation"]) == ["grad_cam", "occlusion"]
    assert all(Path(path).is_file() for path in detection["explanation"].values())


def test_the_cli_explains_a_stored_photo_and_refuses_what_is_none(app, client, alice, tmp_path, astronaut_jpeg):
    analysis_id = int(upload(client, astronaut_jpeg, "face.jpg").location.rsplit("/", 1)[1])
    out = tmp_path / "maps"
    result = app.test_cli_runner().invoke(args=["explain", str(analysis_id), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.splitlines()) == [f"#1 grad_cam: {out / f'analysis-{analysis_id}-1-grad_cam.png'}",
                                                  f"#1 occlusion: {out / f'analysis-{analysis_id}-1-occlusion.png'}"]
    assert all((out / f"analysis-{analysis_id}-1-{method}.png").is_file() for method in ("grad_cam", "occlusion"))
    missing = app.test_cli_runner().invoke(args=["explain", str(analysis_id + 1)])
    assert missing.exit_code == 1 and f"No finished photo analysis #{analysis_id + 1}." in missing.output


def test_the_maps_explain_the_emotion_asked_about_and_reach_every_edge(astronaut):
    explainer = Explainer.for_pipeline(get_pipeline())
    assert explainer.explain(astronaut, FACE_BOX, "human", emotion="sad").target == "sad"
    from inference.explain import _starts

    assert _starts(224, 37, 18)[-1] == 224 - 37 and _starts(48, 8, 4)[-1] == 40


def test_an_orphan_explanation_is_reported_by_the_maintenance_check(app, tmp_path):
    folder = Path(app.config["EXPLAIN_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "0123456789abcdef-1-occlusion.png").write_bytes(b"png")
    result = app.test_cli_runner().invoke(args=["maintenance", "check", "--min-age", "0"])
    assert "0123456789abcdef-1-occlusion.png" in result.output


def test_overlapping_thread_limits_leave_torch_on_its_own_count():
    """Two explanations at once, the first to start ending first: it once restored the process's count under the
    second, which then restored the one it had found, 1: the process stayed on one thread for good."""
    import torch

    from inference.explain import torch_threads

    own = torch.get_num_threads()
    torch.set_num_threads(2)  # a count the blocks change, whatever the machine's
    first, second = torch_threads(1), torch_threads(1)
    first.__enter__()
    second.__enter__()
    assert torch.get_num_threads() == 1
    first.__exit__(None, None, None)
    assert torch.get_num_threads() == 1  # the second block still runs
    second.__exit__(None, None, None)
    assert torch.get_num_threads() == 2
    torch.set_num_threads(own)


def test_one_user_has_a_few_explanations_under_way_at_once(tmp_path, astronaut_jpeg):
    """The jobs take explanations first: a user who asked "Why?" for a crowd's 182 faces held up everyone's videos
    for nine minutes. A fourth while three wait is refused, saying why (the page says it in its own words). An
    administrator's "Why?" on her photos counts as the administrator's, not hers."""
    from bench.clips import another_copy
    from services.explanations import WAITING_EXPLANATIONS
    app = make_app(tmp_path, JOBS_MODE="external")  # queued jobs wait for `flask jobs work`
    client, admin = app.test_client(), app.test_client()
    make_user(app, "dora")
    make_user(app, "boss", admin=True)
    login(client, "dora")
    login(admin, "boss")
    photos = [analysed(client, another_copy(astronaut_jpeg, str(n))) for n in range(WAITING_EXPLANATIONS + 2)]
    moderated = admin.post(f"/api/v1/analyses/{photos[-1]}/detections/1/explanation",
                           headers={"X-CSRFToken": page_token(admin, photos[-1])})
    assert moderated.status_code == 202
    asked = [client.post(f"/api/v1/analyses/{photo}/detections/1/explanation",
                         headers={"X-CSRFToken": page_token(client, photo)})
             for photo in photos[:-1]]
    assert [answer.status_code for answer in asked] == [202] * WAITING_EXPLANATIONS + [429]
    assert asked[-1].get_json()["error"].startswith("3 explanations are being made for you")
    korean = client.get(f"/analyses/{photos[-1]}", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    words = json.loads(html.unescape(korean.split('data-messages="')[1].split('"')[0]))
    assert words["tooMany"].startswith("다른 설명을 만들고 있어요")  # what the page's script says on a 429


def test_a_why_refused_for_the_cap_lets_the_account_go_at_once(tmp_path, monkeypatch, astronaut_jpeg):
    """The 429 held the requester's row (SQLite: the whole database) until the request ended, while its page or JSON
    was drawn: every other user's writes waited for it (services/access.account_held)."""
    import sqlite3
    from models import Analysis
    from services import explanations
    from services.errors import TooMany
    monkeypatch.setattr(explanations, "WAITING_EXPLANATIONS", 0)
    app = make_app(tmp_path, JOBS_MODE="external")
    client = app.test_client()
    user_id = make_user(app, "dora")
    login(client, "dora")
    analysis_id = analysed(client, astronaut_jpeg)
    with app.app_context():
        analysis = db.session.get(Analysis, analysis_id)
        with pytest.raises(TooMany):
            explanations.start(analysis, analysis.detections[0], db.session.get(User, user_id))
        with sqlite3.connect(db.engine.url.database, timeout=0) as other:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" while the refusal holds the account
            other.rollback()


def test_the_migration_adds_who_asked_for_an_explanation_and_goes_back(app):
    import sqlalchemy as sa
    from flask_migrate import downgrade, upgrade
    from extensions import db
    migrations = str(Path(__file__).resolve().parents[1] / "migrations")
    with app.app_context():
        db.session.remove()
        downgrade(directory=migrations, revision="b240000000b1")
        columns = {column["name"] for column in sa.inspect(db.engine).get_columns("explanation")}
        assert not {"requested_by_id", "brightest"} & columns
        upgrade(directory=migrations)
        columns = {column["name"] for column in sa.inspect(db.engine).get_columns("explanation")}
        assert {"requested_by_id", "brightest"} <= columns


def test_two_whys_asked_at_once_never_pass_the_cap_together_on_sqlite(app, monkeypatch):
    """As on PostgreSQL (tests/integration/test_lock_order.py): SQLite, which a small deployment's web processes
    share, ignores SELECT ... FOR UPDATE, so the requester's row is held by a write that changes nothing."""
    from tests.integration.test_lock_order import two_whys_at_once
    ended = two_whys_at_once(app, monkeypatch)
    assert ended["first"] == "ok" and ended["second"].startswith("TooMany"), ended
