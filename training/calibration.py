"""Fitting and measuring calibration (training and benches only): the temperature that minimises the
validation NLL, the expected calibration error, and the record stored beside the weights that
inference/calibration.py reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inference.backends import file_sha256
from inference.calibration import softmax

ECE_BINS = 15


def calibration_record(weights: Path, temperature: float, **figures: float | str | dict) -> str:
    """The JSON stored beside the weights: the temperature, the hash of the weights it was fitted for, figures."""
    return json.dumps({"temperature": temperature, "weights_sha256": file_sha256(Path(weights)), **figures}, indent=2)


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
