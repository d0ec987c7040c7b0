"""When a face reading is unsure: the ensemble's members disagree, or the reading is weak (a face unlike the
training photos gets low, flat probabilities).

A reading's uncertainty is the estimated chance that its top emotion is wrong: a logistic function of three
signals, `FEATURES`: 1 - the calibrated top probability, the Jensen-Shannon divergence among the members'
probabilities (how much they disagree), and whether the members' top emotions differ. The coefficients and
the threshold above which a reading is called unsure are fitted on development photos by
`python -m training.uncertainty` and stored in the model's calibration JSON under "uncertainty" (the model
card says how they were chosen); without a rule fitted for these weights, a reading is unsure exactly when
the members' top emotions differ.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.calibration import load_calibration, softmax

log = logging.getLogger(__name__)

FEATURES = ("weakness", "disagreement", "split_vote")
RULE_KEY = "uncertainty"  # the calibration JSON's entry


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


@dataclass(frozen=True)
class UncertaintyRule:
    """score = sigmoid(intercept + coefficients . signals); unsure when score >= threshold."""

    coefficients: tuple[float, ...]
    intercept: float
    threshold: float

    def score(self, probabilities: np.ndarray, members: np.ndarray) -> np.ndarray:
        """Each reading's estimated chance of a wrong top emotion, (N,)."""
        return self.score_signals(signals(probabilities, members)) if len(probabilities) else np.zeros(0)

    def score_signals(self, features: np.ndarray) -> np.ndarray:
        """The score of (N, FEATURES) signals."""
        return 1 / (1 + np.exp(-(self.intercept + features @ np.asarray(self.coefficients))))

    def unsure(self, scores: np.ndarray | float) -> np.ndarray | bool:
        return np.asarray(scores) >= self.threshold

    def record(self, **figures: object) -> dict:
        return {"features": list(FEATURES), "coefficients": list(self.coefficients), "intercept": self.intercept,
                "threshold": self.threshold, **figures}


MEMBERS_SPLIT = UncertaintyRule(coefficients=(0.0, 0.0, 2.0), intercept=-1.0, threshold=0.5)  # no fitted rule


def load_uncertainty_rule(weights: Path) -> UncertaintyRule:
    """The rule stored in the weights' calibration JSON (when it was fitted for these weights), else MEMBERS_SPLIT."""
    stored = load_calibration(weights).get(RULE_KEY)
    if not stored or stored.get("features") != list(FEATURES):
        log.info("no uncertainty rule for %s (`python -m training.uncertainty` fits one): a reading is unsure "
                 "when the members' top emotions differ", Path(weights).name)
        return MEMBERS_SPLIT
    return UncertaintyRule(tuple(stored["coefficients"]), float(stored["intercept"]), float(stored["threshold"]))
