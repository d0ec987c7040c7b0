"""Fit the face classifier's temperature on a mix of photo sources, read through the app's own pipeline.

    python -m training.calibrate_sources --set ../shared/datasets/fer2013:val --set DIR:calib [--set ...] [--limit N]

Each DIR:SPLIT is a class-folder set (FER2013's layout; `python -m training.face_sets` writes fetched
sets so), read as uploads are (`bench.faces`). The temperature minimises the negative log-likelihood of
the labels over the largest face of every photo of all sets together, each set weighted alike, so one
source does not decide it; it replaces the one stored beside the weights
(`<weights>.calibration.json`, with the sets and figures). Photos of the evaluation splits must not be
among them (`training.face_sets` keeps people apart: calibrate on `calib`, measure `bench.faces` on `eval`).
The pipeline's probabilities already carry the stored temperature T0: their logarithms are logits divided
by T0, so the new temperature is T0 times the one fitted on them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from inference.calibration import calibration_path, softmax
from inference.labels import HUMAN_EMOTIONS
from inference.pipeline import Pipeline
from training.calibration import calibration_record, expected_calibration_error, fit_temperature
from training.face_sets import add_source_arguments, labelled_photos, read_through_pipeline

SMALLEST_PROBABILITY = 1e-7  # the app rounds probabilities to 6 decimals


def scaled_logits(probabilities: np.ndarray) -> np.ndarray:
    """Logits divided by the stored temperature, recovered from the probabilities the app shows."""
    return np.log(np.maximum(probabilities, SMALLEST_PROBABILITY))


def balanced(logits: list[np.ndarray], labels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All sets pooled, each repeated so every set counts as much as the largest."""
    largest = max(len(part) for part in labels)
    repeats = [np.resize(np.arange(len(part)), largest) for part in labels]
    return (np.concatenate([part[index] for part, index in zip(logits, repeats)]),
            np.concatenate([part[index] for part, index in zip(labels, repeats)]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(parser)
    args = parser.parse_args(argv)
    pipeline = Pipeline()
    stored = pipeline.classifier.temperature
    logits, labels = [], []
    for source in args.sets:
        folder, split = source.rsplit(":", 1)
        readings = read_through_pipeline(pipeline, labelled_photos(Path(folder) / split, HUMAN_EMOTIONS, args.limit))
        probabilities, found_labels = readings.found
        logits.append(scaled_logits(probabilities))
        labels.append(found_labels)
    factor = fit_temperature(*balanced(logits, labels))
    temperature = stored * factor
    figures = {}
    for source, part, truth in zip(args.sets, logits, labels):
        before = expected_calibration_error(softmax(part), truth)
        after = expected_calibration_error(softmax(part, factor), truth)
        figures[source] = {"photos": len(truth), "ece_before": round(before, 4), "ece_after": round(after, 4)}
        print(f"{source}: {len(truth)} photos with a face; ECE with T {stored:.3f}: {before:.4f}, "
              f"with T {temperature:.3f}: {after:.4f}")
    record = calibration_record(args.weights, temperature, fitted_on="; ".join(args.sets),
                                per_set=figures, limit_per_class=args.limit)
    calibration_path(args.weights).write_text(record)
    print(f"temperature {stored:.3f} -> {temperature:.3f}, stored in {calibration_path(args.weights)}")


if __name__ == "__main__":
    main()
