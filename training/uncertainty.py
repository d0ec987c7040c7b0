"""Fit the face classifier's "unsure" rule (inference/uncertainty.py) on development photos read through the
app's own pipeline.

    python -m training.uncertainty --set ../shared/datasets/fer2013:val --set NEWS:calib --set FILM:calib \
        [--limit N] [--threshold 0.5]

Each DIR:SPLIT is a class-folder set (`bench.faces`); use development splits only (FER2013 val, the `calib`
splits of `training.face_sets`), never the `eval` splits the figures are reported on. For the largest face of
every photo the pipeline's signals (1 - top probability, the members' Jensen-Shannon divergence, whether their
top emotions differ) are recorded; a logistic regression, every set weighted alike, predicts from them whether
the top emotion is wrong. A reading is called unsure when that estimated chance reaches --threshold (0.5:
more likely wrong than right). The rule is stored under "uncertainty" in the model's calibration JSON, with
per-set shares flagged and accuracies.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from inference.calibration import calibration_path
from inference.labels import HUMAN_EMOTIONS
from inference.pipeline import Pipeline
from inference.uncertainty import FEATURES, RULE_KEY, UncertaintyRule
from training.face_sets import add_source_arguments, labelled_photos, read_through_pipeline


class SignalProbe:
    """Stands in for the pipeline's rule: records every reading's signals and gives, as its score, the row
    where they were recorded (so a face of the pipeline's result finds its signals); never unsure, for no reason."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []

    def unsure(self, scores: np.ndarray) -> np.ndarray:
        return np.zeros(len(scores), dtype=bool)

    def score_signals(self, features: np.ndarray) -> np.ndarray:
        first = len(self.rows)
        self.rows.extend(features)
        return np.arange(first, len(self.rows), dtype=np.float64)

    def because(self, features: np.ndarray) -> list[list]:
        return [[] for _ in features]


def read_signals(pipeline: Pipeline, probe: SignalProbe, source: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(signals, wrong) of the largest face of every photo of DIR:SPLIT that has a face."""
    folder, split = source.rsplit(":", 1)
    readings = read_through_pipeline(pipeline, labelled_photos(Path(folder) / split, HUMAN_EMOTIONS, limit))
    probabilities, labels = readings.found
    rows = readings.uncertainty[readings.face_found].astype(int)
    return np.asarray(probe.rows)[rows], probabilities.argmax(1) != labels


def fit_rule(parts: list[tuple[np.ndarray, np.ndarray]], threshold: float) -> UncertaintyRule:
    """Logistic regression of "wrong" on the signals, each set weighted alike."""
    from sklearn.linear_model import LogisticRegression

    features = np.concatenate([x for x, _ in parts])
    wrong = np.concatenate([y for _, y in parts])
    weights = np.concatenate([np.full(len(y), 1 / len(y)) for _, y in parts]) * len(wrong) / len(parts)
    model = LogisticRegression(C=10.0).fit(features, wrong, sample_weight=weights)
    return UncertaintyRule(tuple(round(float(c), 4) for c in model.coef_[0]), round(float(model.intercept_[0]), 4),
                           threshold)


def print_separation(sources: list[str], parts: list[tuple[np.ndarray, np.ndarray]], rule: UncertaintyRule) -> None:
    """How well each signal, and the fitted score, tells wrong readings from right ones (AUROC) per set."""
    from sklearn.metrics import roc_auc_score

    for source, (features, wrong) in zip(sources, parts):
        columns = {**{name: features[:, index] for index, name in enumerate(FEATURES)},
                   "score": rule.score_signals(features)}
        print(f"{source}: AUROC for a wrong top emotion: "
              + ", ".join(f"{name} {roc_auc_score(wrong, values):.3f}" for name, values in columns.items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(parser)
    parser.add_argument("--threshold", type=float, default=0.5, help="unsure at this estimated chance of error")
    args = parser.parse_args(argv)
    pipeline = Pipeline()
    probe = SignalProbe()
    pipeline.classifier.uncertainty_rule = probe
    parts = [read_signals(pipeline, probe, source, args.limit) for source in args.sets]
    rule = fit_rule(parts, args.threshold)
    print_separation(args.sets, parts, rule)
    print(f"rule: chance wrong = sigmoid({rule.intercept} + {dict(zip(FEATURES, rule.coefficients))}), "
          f"unsure at >= {rule.threshold}")
    per_set = {}
    for source, (features, wrong) in zip(args.sets, parts):
        flagged = rule.score_signals(features) >= rule.threshold
        per_set[source] = {"faces": len(wrong), "unsure": round(float(flagged.mean()), 4),
                           "accuracy_all": round(float(1 - wrong.mean()), 4),
                           "accuracy_confident": round(float(1 - wrong[~flagged].mean()), 4) if (~flagged).any()
                           else None}
        print(f"{source}: {per_set[source]}")
    path = calibration_path(args.weights)
    record = json.loads(path.read_text())
    record[RULE_KEY] = rule.record(fitted_on="; ".join(args.sets), limit_per_class=args.limit, per_set=per_set)
    path.write_text(json.dumps(record, indent=2))
    print(f"stored in {path}")


if __name__ == "__main__":
    main()
