"""Calibrated probabilities at inference: temperature scaling (Guo et al., 2017).

probabilities = softmax(logits / T). T is fitted on validation data by the training code
(training/calibration.py: `python -m training.evaluate --fit-temperature`, `python -m training.dogs`)
and stored beside the weights as `<weights stem>.calibration.json`; without that file T is 1.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from inference.backends import file_sha256

log = logging.getLogger(__name__)


def calibration_path(weights: Path) -> Path:
    return Path(weights).with_suffix(".calibration.json")


def load_calibration(weights: Path) -> dict:
    """The calibration record stored beside a weights file, or {} when there is none, or when it was fitted
    for other weights (retrained since: refit it)."""
    path = calibration_path(weights)
    if not path.is_file():
        return {}
    record = json.loads(path.read_text())
    if record.get("weights_sha256") != file_sha256(weights):
        log.warning("%s was fitted for other weights than %s: it is not used", path, weights)
        return {}
    return record


def load_temperature(weights: Path) -> float:
    """The stored temperature, or 1.0 (uncalibrated) without a record for these weights."""
    return float(load_calibration(weights).get("temperature", 1.0))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature, in float64 (rows sum to 1)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(1, keepdims=True)
    exponentials = np.exp(scaled)
    return exponentials / exponentials.sum(1, keepdims=True)
