"""The ONNX Runtime backend gives the torch backend's probabilities; stale exports are never used;
temperature scaling is fitted, stored and applied."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from skimage import data as skdata

from inference.backends import (OnnxRunner, TorchRunner, export_info, onnx_metadata, onnx_path_for,
                                requested_backend)
from inference.calibration import calibration_path, load_temperature, softmax
from inference.classifiers import EmotionClassifier
from inference.crops import gray_crops, rgb_crops
from inference.dog_emotion import DogEmotionClassifier
from inference.specs import DOG_HEAD_WEIGHTS, HUMAN_WEIGHTS
from inference.specs import FACE_INPUT_SIZE as FACE_SIZE
from inference.specs import PET_INPUT_SIZE as INPUT_SIZE
from inference.labels import HUMAN_EMOTIONS
from training.calibration import calibration_record, cross_fitted_ece, expected_calibration_error, fit_temperature
from bench import ROOT

CPU = torch.device("cpu")
needs_exports = pytest.mark.skipif(not onnx_path_for(HUMAN_WEIGHTS).is_file(),
                                   reason="no ONNX exports: run `python -m training.export` (the set-up does)")


@pytest.fixture(scope="module")
def face_crops(astronaut) -> np.ndarray:
    """Real face crops: the astronaut, her mirror image, and a shifted box."""
    return gray_crops(astronaut, [(180, 60, 268, 175), (170, 50, 280, 185), (190, 70, 260, 170)], FACE_SIZE)


@needs_exports
def test_onnx_runtime_matches_torch_on_real_face_crops(face_crops):
    onnx_classifier = EmotionClassifier(HUMAN_WEIGHTS, CPU, "onnx")
    torch_classifier = EmotionClassifier(HUMAN_WEIGHTS, CPU, "torch")
    assert isinstance(onnx_classifier.runner, OnnxRunner) and isinstance(torch_classifier.runner, TorchRunner)
    for flip_tta in (True, False):
        np.testing.assert_allclose(onnx_classifier.predict(face_crops, flip_tta),
                                   torch_classifier.predict(face_crops, flip_tta), atol=1e-4)


@needs_exports
def test_onnx_runtime_matches_torch_on_real_animal_crops():
    crops = np.concatenate([rgb_crops(skdata.chelsea(), [(100, 20, 330, 280)], INPUT_SIZE),
                            rgb_crops(skdata.astronaut(), [(150, 30, 300, 200)], INPUT_SIZE)])
    onnx_probabilities = DogEmotionClassifier(DOG_HEAD_WEIGHTS, CPU, "onnx").predict(crops)
    np.testing.assert_allclose(onnx_probabilities, DogEmotionClassifier(DOG_HEAD_WEIGHTS, CPU, "torch").predict(crops),
                               atol=1e-4)


@needs_exports
def test_onnx_runtime_matches_torch_on_every_output_of_the_pet_crop_network():
    """Export format 4: the pooled features the dog-or-cat probe reads come out of ONNX Runtime as out of torch,
    with the ImageNet classes and the head box."""
    from inference.pet_species import PetCropModel

    crops = np.concatenate([rgb_crops(skdata.chelsea(), [(100, 20, 330, 280)], INPUT_SIZE),
                            rgb_crops(skdata.astronaut(), [(150, 30, 300, 200)], INPUT_SIZE)])
    onnx_model, torch_model = PetCropModel("cpu", "onnx"), PetCropModel("cpu", "torch")
    assert isinstance(onnx_model.runner, OnnxRunner) and isinstance(torch_model.runner, TorchRunner)
    onnx_reads, torch_reads = onnx_model.read(crops), torch_model.read(crops)
    for output in ("imagenet", "species", "heads"):
        np.testing.assert_allclose(getattr(onnx_reads, output), getattr(torch_reads, output), atol=1e-4)


@needs_exports
def test_an_export_of_other_weights_is_not_used(tmp_path):
    weights = tmp_path / "emotion_fer2013.pt"
    shutil.copy(HUMAN_WEIGHTS, weights)
    with open(weights, "ab") as stream:
        stream.write(b"\0")  # same network and name, but the hash no longer matches the export's
    assert onnx_path_for(weights) == onnx_path_for(HUMAN_WEIGHTS)
    classifier = EmotionClassifier(weights, CPU, "onnx")
    assert isinstance(classifier.runner, TorchRunner)
    assert export_info(weights) is None and classifier.name == EmotionClassifier.read_info(weights)["name"]


@needs_exports
def test_an_exports_metadata_is_read_without_onnx_runtime_as_onnx_runtime_reads_it():
    """The models in use are named from their exports' metadata without building a network (what a result page
    is compared with); the names are those the weights files give."""
    for weights in (HUMAN_WEIGHTS, DOG_HEAD_WEIGHTS):
        assert onnx_metadata(onnx_path_for(weights)) == OnnxRunner(onnx_path_for(weights)).metadata
    assert export_info(HUMAN_WEIGHTS) == EmotionClassifier.read_info(HUMAN_WEIGHTS)
    assert export_info(DOG_HEAD_WEIGHTS) == DogEmotionClassifier.read_info(DOG_HEAD_WEIGHTS)


def test_the_export_writes_prelus_as_scales_with_the_same_outputs():
    """training.export swaps PReLUs of whole 8-channel blocks for slope * x + (1 - slope) * relu(x)
    (ONNX Runtime runs it faster); R-Net's first, of 28 channels, stays."""
    from inference.detectors import mtcnn_network
    from training.export import with_scaled_prelus

    def prelu_channels(module: torch.nn.Module) -> list[int]:
        return [layer.num_parameters for layer in module.modules() if isinstance(layer, torch.nn.PReLU)]

    network = mtcnn_network("rnet").eval()
    rewritten = with_scaled_prelus(network)
    assert prelu_channels(rewritten) == [28] and prelu_channels(network) == [28, 48, 64, 128]  # a copy
    inputs = torch.from_numpy(np.random.default_rng(0).standard_normal((16, 3, 24, 24)).astype(np.float32))
    with torch.inference_mode():
        for ours, theirs in zip(rewritten(inputs), network(inputs)):
            torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


@needs_exports
def test_an_export_in_an_older_format_is_redone(tmp_path):
    import onnx

    from inference.backends import FORMAT_KEY
    from training.export import MODELS, up_to_date

    model = MODELS["mtcnn p-net"]
    assert up_to_date(model, onnx_path_for(model.weights))
    graph = onnx.load(str(onnx_path_for(model.weights)))
    onnx.helper.set_model_props(graph, {entry.key: entry.value for entry in graph.metadata_props
                                        if entry.key != FORMAT_KEY})
    onnx.save(graph, str(tmp_path / "pnet.onnx"))
    assert not up_to_date(model, tmp_path / "pnet.onnx")


def test_the_backend_setting_is_checked(monkeypatch):
    monkeypatch.setenv("MOODLENS_BACKEND", "Torch ")
    assert requested_backend() == "torch"
    monkeypatch.setenv("MOODLENS_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="MOODLENS_BACKEND"):
        requested_backend()


def planted(temperature: float, count: int = 6000, classes: int = 5, seed: int = 0):
    """Labels drawn from softmax(true logits); the model reports those logits times `temperature`,
    so the temperature that calibrates it is exactly `temperature`."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 2, (count, classes))
    labels = np.array([rng.choice(classes, p=row) for row in softmax(true_logits)])
    return true_logits * temperature, labels


def test_temperature_scaling_recovers_a_planted_temperature_and_lowers_the_ece():
    logits, labels = planted(temperature=2.5)
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(2.5, rel=0.1)
    before = expected_calibration_error(softmax(logits), labels)
    after = expected_calibration_error(softmax(logits, temperature), labels)
    assert before > 0.1 and after < 0.03
    assert cross_fitted_ece(logits, labels) < 0.04


def test_a_calibrated_model_is_left_alone():
    logits, labels = planted(temperature=1.0, seed=1)
    assert fit_temperature(logits, labels) == pytest.approx(1.0, rel=0.1)


def test_the_stored_temperature_is_applied_at_inference(tmp_path, face_crops):
    weights = tmp_path / "emotion_fer2013.pt"
    shutil.copy(HUMAN_WEIGHTS, weights)
    plain = EmotionClassifier(weights, CPU, "torch").predict(face_crops)
    calibration_path(weights).write_text(calibration_record(weights, 3.0))
    softened = EmotionClassifier(weights, CPU, "torch").predict(face_crops)
    assert (softened.max(1) < plain.max(1)).all()
    np.testing.assert_array_equal(softened.argmax(1), plain.argmax(1))
    np.testing.assert_allclose(softened.sum(1), 1, atol=1e-9)


def test_a_temperature_fitted_for_other_weights_is_ignored(tmp_path):
    weights = tmp_path / "emotion_fer2013.pt"
    shutil.copy(HUMAN_WEIGHTS, weights)
    calibration_path(weights).write_text(json.dumps({"temperature": 3.0, "weights_sha256": "0" * 64}))
    assert load_temperature(weights) == 1.0
    calibration_path(weights).write_text(calibration_record(weights, 3.0))
    assert load_temperature(weights) == 3.0


@needs_exports
def test_the_onnx_backend_analyses_a_photo_without_loading_torch(astronaut_jpeg, tmp_path):
    """A web process on a CPU never imports torch (half the memory): only Grad-CAM and the torch backend do."""
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg)
    script = ("import sys; from pathlib import Path; from inference.pipeline import Pipeline; "
              f"result = Pipeline('cpu', 'onnx').analyze_bytes(Path({str(photo)!r}).read_bytes()); "
              "print(len(result.detections), result.detections[0].top, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    count, top, torch_loaded = done.stdout.split()
    assert count == "1" and top in HUMAN_EMOTIONS and torch_loaded == "False"


def test_a_file_copied_over_with_its_old_modification_time_is_hashed_again(tmp_path):
    """Weights replaced by `cp -p` (same size, the old time of change kept) once kept the old file's hash."""
    import os

    from inference.backends import file_sha256

    weights, other = tmp_path / "w.pt", tmp_path / "other.pt"
    weights.write_bytes(b"a" * 64)
    other.write_bytes(b"b" * 64)
    first = file_sha256(weights)
    kept = weights.stat().st_mtime_ns
    os.replace(other, weights)
    os.utime(weights, ns=(kept, kept))
    assert file_sha256(weights) != first


def test_onnx_runtime_queues_no_telemetry_when_the_app_opens_a_session(tmp_path):
    """ONNX Runtime's telemetry is on by default: a process that opened a session wrote usage events (model file
    names, the Python path, a device id) under ~/.cache/Microsoft and looked up Microsoft's collector to send them.
    Importing `inference` turns it off before ONNX Runtime is imported."""
    if not onnx_path_for(HUMAN_WEIGHTS).is_file():
        pytest.skip("no ONNX export (python -m training.export)")
    model = str(onnx_path_for(HUMAN_WEIGHTS))
    opened = f"from pathlib import Path; from inference.backends import OnnxRunner; OnnxRunner(Path({model!r}))"
    environment = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", opened], env=environment, cwd=ROOT, check=True, timeout=120)
    assert not (tmp_path / ".cache" / "Microsoft").exists()
    bare = "import onnxruntime"  # the check itself can fail: without the variable, the events are queued
    subprocess.run([sys.executable, "-c", f"{bare}; {opened}"], env=environment, cwd=ROOT, check=True, timeout=120)
    assert (tmp_path / ".cache" / "Microsoft").exists()
