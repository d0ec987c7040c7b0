"""Emotion classifiers: crops in, calibrated probabilities out.

`Classifier` holds what every model shares (a runner on torch or ONNX Runtime, its classes,
its temperature); each model adds its own pre-processing. The human classifier is here;
the dog classifier is in inference/dog_emotion.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from inference.backends import DEFAULT_BACKEND, Backend, Runner, export_info, file_sha256, make_runner
from inference.calibration import load_temperature, softmax
from inference.specs import FACE_INPUT_SIZE, PIXEL_MEAN, PIXEL_STD
from inference.uncertainty import FEATURES, Readings, load_uncertainty_rule, member_probabilities, signals

if TYPE_CHECKING:
    from inference.emotion_net import WithMemberLogits

Output = TypeVar("Output", np.ndarray, list[np.ndarray])
FINGERPRINT_LENGTH = 12  # hex digits of the weights' SHA-256 that tell one trained model from another
PREDICT_BATCH = 16  # crops per network run (`predict`, `read`): memory stays bounded whatever the caller passes


def weights_info(weights: Path, read_info: Callable[[Path], dict]) -> dict:
    """The classes and name of the model in a weights file: from its usable ONNX export's metadata (no network
    built, no torch), else read_info(weights) (with torch)."""
    return export_info(weights) or read_info(weights)


def weights_fingerprint(weights: Path) -> str:
    """Which trained weights these are: a model trained again may keep its name, never its fingerprint."""
    return file_sha256(weights)[:FINGERPRINT_LENGTH]


class Classifier:
    """A network behind a runner: `logits` for pre-processed crops, `predict` for probabilities. Each kind says
    how its weights file names its model (`read_info`), so what a classifier is called can be told without
    building one (`described`)."""

    read_info: Callable[[Path], dict]  # weights -> {"classes", "name"}, read from the weights file (with torch)

    def __init__(self, runner: Runner, weights: Path, input_size: int):
        info = weights_info(weights, self.read_info)
        self.runner = runner
        self.classes = tuple(info["classes"])
        self.temperature = load_temperature(weights)
        self.input_size = input_size
        self.name = info["name"]
        self.fingerprint = weights_fingerprint(weights)

    @classmethod
    def described(cls, weights: Path) -> tuple[str, str]:
        """The name and fingerprint a classifier of this kind on these weights has, without building it."""
        return weights_info(weights, cls.read_info)["name"], weights_fingerprint(weights)

    def logits(self, crops: np.ndarray, flip_tta: bool = True) -> np.ndarray:
        raise NotImplementedError

    def predict(self, crops: np.ndarray, flip_tta: bool = True) -> np.ndarray:
        """Calibrated probabilities (N, classes) for uint8 crops; rows sum to 1. `flip_tta` asks for
        test-time augmentation with mirror images where the model uses it."""
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        logits = [self.logits(crops[start:start + PREDICT_BATCH], flip_tta)
                  for start in range(0, len(crops), PREDICT_BATCH)]
        return softmax(np.concatenate(logits), self.temperature)


def gray_batch(crops: np.ndarray) -> np.ndarray:
    """uint8 (N, 48, 48) face crops -> the float32 (N, 1, 48, 48) input EmotionNet was trained on."""
    return ((crops.astype(np.float32) / 255 - PIXEL_MEAN) / PIXEL_STD)[:, None]


def mirror_averaged(run: Callable[[np.ndarray], Output], inputs: np.ndarray) -> Output:
    """Flip test-time augmentation: the mean of run's output (or of each of its outputs) for the inputs and
    their mirror images (one batch of both; faces are left-right symmetric in meaning)."""
    both = run(np.concatenate([inputs, inputs[..., ::-1]]))
    if isinstance(both, list):
        return [(output[:len(inputs)] + output[len(inputs):]) / 2 for output in both]
    return (both[:len(inputs)] + both[len(inputs):]) / 2


def emotion_net(weights: Path, device: str) -> WithMemberLogits:
    """The torch network with its members' logits as a second output, as exported (imported only for the torch
    backend, or when no export is usable)."""
    from inference.emotion_net import WithMemberLogits, load_weights

    return WithMemberLogits(load_weights(str(weights), device)[0])


def emotion_net_info(weights: Path) -> dict:
    """Classes and display name of EmotionNet weights."""
    import torch

    from inference.emotion_net import describe

    stored = torch.load(weights, map_location="cpu", weights_only=True)
    epoch = stored.get("metadata", {}).get("epoch")
    return {"classes": list(stored["classes"]),
            "name": f"{Path(weights).stem}: {describe(stored)}" + (f" (epoch {epoch})" if epoch else "")}


class EmotionClassifier(Classifier):
    """The FER2013-trained EmotionNet; with flip TTA the logits of each crop and its mirror are averaged
    (+0.8 points of val accuracy for single photos: `python -m training.evaluate [--no-tta]`)."""

    read_info = staticmethod(emotion_net_info)

    def __init__(self, weights: Path, device: str, backend: Backend = DEFAULT_BACKEND):
        runner = make_runner(lambda: emotion_net(weights, device), weights, device, backend)
        super().__init__(runner, weights, FACE_INPUT_SIZE)
        self.uncertainty_rule = load_uncertainty_rule(weights)

    def both_logits(self, crops: np.ndarray, flip_tta: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The ensemble's logits (N, classes) and its members' (N, members, classes), each the mean over the
        crop and its mirror image with `flip_tta`."""
        inputs = gray_batch(crops)
        ensemble, members = mirror_averaged(self.runner.outputs, inputs) if flip_tta else self.runner.outputs(inputs)
        return ensemble, members  # exactly two outputs: WithMemberLogits

    def logits(self, crops: np.ndarray, flip_tta: bool = True) -> np.ndarray:
        return self.both_logits(crops, flip_tta)[0]

    def read(self, crops: np.ndarray, flip_tta: bool = True) -> Readings:
        """Calibrated probabilities (N, classes), how unsure each reading is (N,): the stored rule's score
        (inference/uncertainty.py), and the signals it was scored on (N, FEATURES), from the probabilities and
        the members' own probabilities."""
        if len(crops) == 0:
            return Readings(np.zeros((0, len(self.classes))), np.zeros(0), np.zeros((0, len(FEATURES))))
        runs = [self.both_logits(crops[start:start + PREDICT_BATCH], flip_tta)
                for start in range(0, len(crops), PREDICT_BATCH)]  # a crowd's faces, PREDICT_BATCH at a time
        ensemble, members = (np.concatenate(parts) for parts in zip(*runs))
        probabilities = softmax(ensemble, self.temperature)
        features = signals(probabilities, member_probabilities(members))
        return Readings(probabilities, self.uncertainty_rule.score_signals(features), features)
