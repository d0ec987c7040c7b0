"""When a face reading is unsure: the ensemble's members disagree, or the reading is weak (a face unlike the
training photos gets low, flat probabilities).

A reading's uncertainty is the estimated chance that its top emotion is wrong: a logistic function of three
signals, `FEATURES`: 1 - the calibrated top probability, the Jensen-Shannon divergence among the members'
probabilities (how much they disagree), and whether the members' top emotions differ. The coefficients and
the threshold above which a reading is called unsure are fitted on development photos by
`python -m training.uncertainty` and stored in the model's calibration JSON under "uncertainty" (the model
card says how they were chosen); without a rule fitted for these weights, a reading is unsure exactly when
the members' top emotions differ.

Which signal made a reading unsure (`UnsureSignal`, stored with the reading so pages can say why in plain words):
the reading is weak, the members disagree, or both. A group of signals counts when it alone makes the reading
unsure, or when the reading would be sure without it; the members also count whenever their top emotions differ.

Pets have no such rule: their pages call a reading unsure when it is weak (inference/labels.py), and the dog
model's chance of a wrong reading is 1 - its calibrated top probability (`weak_reading_chance`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.special import expit

from inference.calibration import load_calibration, softmax
from inference.labels import DetectionKind

log = logging.getLogger(__name__)

FEATURES = ("weakness", "disagreement", "split_vote")
RULE_KEY = "uncertainty"  # the calibration JSON's entry


class UnsureSignal(StrEnum):
    """What made a reading unsure."""

    WEAK = "weak"  # no emotion stands out: a low calibrated top probability
    MEMBERS_DISAGREE = "members_disagree"  # the ensemble's members read the face differently


SIGNAL_COLUMNS = {UnsureSignal.WEAK: [0], UnsureSignal.MEMBERS_DISAGREE: [1, 2]}  # which FEATURES each one is

# Kinds without an uncertainty rule whose model's temperature was fitted on held-out photos, so that its calibrated
# top probability is how often such a reading is right: the dog model (fitted on val; test ECE 0.030 after,
# inference/weights/README.md). Cats have no emotion model.
CALIBRATED_TOP_KINDS = frozenset({DetectionKind.DOG})


def weak_reading_chance(kind: DetectionKind, top_probability: float) -> float | None:
    """The estimated chance that a reading of a kind without an uncertainty rule is wrong: 1 - its calibrated top
    probability where the model's calibration makes that figure honest (CALIBRATED_TOP_KINDS), else None; to 4
    places, as the stored probabilities and the faces' scores are (1 - 0.8366 is 0.16340000000000002 in floats)."""
    return round(1.0 - top_probability, 4) if kind in CALIBRATED_TOP_KINDS else None


def member_probabilities(member_logits: np.ndarray) -> np.ndarray:
    """(N, members, classes) logits -> each member's probabilities (uncalibrated: T = 1)."""
    members, classes = member_logits.shape[1:]
    return softmax(member_logits.reshape(-1, classes)).reshape(-1, members, classes)


def _entropy(probabilities: np.ndarray) -> np.ndarray:
    return -(probabilities * np.log(np.maximum(probabilities, 1e-12))).sum(-1)


def signals(probabilities: np.ndarray, members: np.ndarray) -> np.ndarray:
    """(N, FEATURES): 1 - top probability; Jensen-Shannon divergence of the members (nats: the entropy of
    their mean minus their mean entropy, 0 when they agree); 1 when the members' top emotions differ."""
    weakness = 1 - probabilities.max(1)
    disagreement = _entropy(members.mean(1)) - _entropy(members).mean(1)
    tops = members.argmax(2)
    split_vote = (tops != tops[:, :1]).any(1).astype(np.float64)
    return np.stack([weakness, np.maximum(disagreement, 0.0), split_vote], 1)


class Readings(NamedTuple):
    """A batch of face readings: calibrated probabilities (N, classes), the rule's scores (N,) and the signals
    they were scored on (N, FEATURES)."""

    probabilities: np.ndarray
    scores: np.ndarray
    signals: np.ndarray


@dataclass(frozen=True)
class UncertaintyRule:
    """score = expit(intercept + coefficients . signals); unsure when score >= threshold."""

    coefficients: tuple[float, ...]
    intercept: float
    threshold: float

    def score(self, probabilities: np.ndarray, members: np.ndarray) -> np.ndarray:
        """Each reading's estimated chance of a wrong top emotion, (N,)."""
        return self.score_signals(signals(probabilities, members)) if len(probabilities) else np.zeros(0)

    def score_signals(self, features: np.ndarray) -> np.ndarray:
        """The score of (N, FEATURES) signals."""
        return expit(self.intercept + features @ np.asarray(self.coefficients))

    def unsure(self, scores: np.ndarray | float) -> np.ndarray | bool:
        return np.asarray(scores) >= self.threshold

    def because(self, features: np.ndarray) -> list[list[UnsureSignal]]:
        """For each reading of (N, FEATURES) signals, what made it unsure ([] for a sure one): a group of signals
        whose share of the score's logit is positive and either enough alone or needed; and the members'
        disagreement whenever their top emotions differ (a plain fact, whatever its weight in the score)."""
        logit = np.log(self.threshold / (1 - self.threshold))
        shares = {signal: features[:, columns] @ np.asarray(self.coefficients)[columns]
                  for signal, columns in SIGNAL_COLUMNS.items()}
        total = self.intercept + sum(shares.values())
        flags = self.unsure(self.score_signals(features))
        split_vote = features[:, FEATURES.index("split_vote")] > 0

        def fired(signal: UnsureSignal, row: int) -> bool:
            share = shares[signal][row]
            weighty = share > 0 and (self.intercept + share >= logit or total[row] - share < logit)
            return weighty or (signal == UnsureSignal.MEMBERS_DISAGREE and split_vote[row])

        return [[signal for signal in UnsureSignal if fired(signal, row)] if flags[row] else []
                for row in range(len(features))]

    def record(self, **figures: object) -> dict:
        return {"features": list(FEATURES), "coefficients": list(self.coefficients), "intercept": self.intercept,
                "threshold": self.threshold, **figures}


def frequent_signals(because: list[list[str]]) -> list[str]:
    """The signals that made at least half of these unsure readings unsure (e.g. a video track's frames), in
    UnsureSignal's order; [] without any."""
    unsure = [fired for fired in because if fired]
    return [str(signal) for signal in UnsureSignal
            if unsure and sum(signal in fired for fired in unsure) >= len(unsure) / 2]


MEMBERS_SPLIT = UncertaintyRule(coefficients=(0.0, 0.0, 2.0), intercept=-1.0, threshold=0.5)  # no fitted rule


def load_uncertainty_rule(weights: Path) -> UncertaintyRule:
    """The rule stored in the weights' calibration JSON (when it was fitted for these weights), else MEMBERS_SPLIT."""
    stored = load_calibration(weights).get(RULE_KEY)
    if not stored or stored.get("features") != list(FEATURES):
        log.info("no uncertainty rule for %s (`python -m training.uncertainty` fits one): a reading is unsure "
                 "when the members' top emotions differ", Path(weights).name)
        return MEMBERS_SPLIT
    return UncertaintyRule(tuple(stored["coefficients"]), float(stored["intercept"]), float(stored["threshold"]))
