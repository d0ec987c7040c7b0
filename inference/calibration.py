"""Calibrated probabilities: temperature scaling (Guo et al., 2017) and the expected calibration error.

probabilities = softmax(logits / T). T is fitted on validation data by the training code
(`python -m training.evaluate --fit-temperature`, `python -m training.dogs`) and stored
beside the weights as `<weights stem>.calibration.json`; without that file T is 1.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ECE_BINS = 15


def calibration_path(weights: Path) -> Path:
    return Path(weights).with_suffix(".calibration.json")


def calibration_record(weights: Path, temperature: float, **figures: float | str) -> str:
    """The JSON stored beside the weights: the temperature, the hash of the weights it was fitted for, figures."""
    digest = hashlib.sha256(Path(weights).read_bytes()).hexdigest()
    return json.dumps({"temperature": temperature, "weights_sha256": digest, **figures}, indent=2)


def load_temperature(weights: Path) -> float:
    """The temperature stored beside a weights file, or 1.0 (uncalibrated) when there is none, or when
    it was fitted for other weights (retrained since: refit it)."""
    path = calibration_path(weights)
    if not path.is_file():
        return 1.0
    record = json.loads(path.read_text())
    if record.get("weights_sha256") != hashlib.sha256(Path(weights).read_bytes()).hexdigest():
        log.warning("%s was fitted for other weights than %s: probabilities are left uncalibrated", path, weights)
        return 1.0
    return float(record["temperature"])


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature, in float64 (rows sum to 1)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(1, keepdims=True)
    exponentials = np.exp(scaled)
    return exponentials / exponentials.sum(1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of the labels (L-BFGS on log T)."""
    import torch
    import torch.nn.functional as F

    inputs, targets = torch.from_numpy(np.asarray(logits, dtype=np.float64)), torch.from_numpy(labels).long()
    log_temperature = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_temperature], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(inputs / log_temperature.exp(), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_temperature.detach().exp())


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray,
                     bins: int = ECE_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width confidence bin: mean confidence, accuracy and count of the top predictions."""
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == labels
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    mean_confidence = np.bincount(index, confidence, bins) / np.maximum(counts, 1)
    accuracy = np.bincount(index, correct.astype(float), bins) / np.maximum(counts, 1)
    return mean_confidence, accuracy, counts


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: the count-weighted mean gap between confidence and accuracy over equal-width bins."""
    mean_confidence, accuracy, counts = reliability_bins(probabilities, labels, bins)
    return float((np.abs(mean_confidence - accuracy) * counts).sum() / max(counts.sum(), 1))


def cross_fitted_ece(logits: np.ndarray, labels: np.ndarray, folds: int = 2, seed: int = 0) -> float:
    """ECE after temperature scaling where each fold's T is fitted on the other folds only, so the
    figure is not measured on the data that chose T."""
    order = np.random.default_rng(seed).permutation(len(labels))
    probabilities = np.empty(logits.shape, dtype=np.float64)
    for part in np.array_split(order, folds):
        rest = np.setdiff1d(order, part)
        probabilities[part] = softmax(logits[part], fit_temperature(logits[rest], labels[rest]))
    return expected_calibration_error(probabilities, labels)
