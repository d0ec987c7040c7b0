"""Two weights files compared on the same labelled photos, pair by pair: the readings `python -m bench.faces
--readings PATH.npz` kept for each (the same --data, --split, --limit and --seed).

    python -m bench.faces_paired BEFORE.npz AFTER.npz

Over the photos where both found a face: accuracy and macro-F1 over the classes present, before and after, and
the paired bootstrap's 95% interval of each change (the photos resampled with replacement, both readings of a
photo kept together), so a change can be told from the noise of a small set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from inference.labels import HUMAN_EMOTIONS
from training.metrics import bootstrap_interval, present_macro_f1


def macro_f1_present(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Mean F1 over the face classes that have photos among `labels`."""
    return present_macro_f1(labels, predictions, len(HUMAN_EMOTIONS))


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    return float((labels == predictions).mean())


def paired_predictions(before: Path, after: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and both top emotions of the photos where both readings found a face; the two files must hold the
    same photos in the same order."""
    first, second = np.load(before), np.load(after)
    if not np.array_equal(first["photos"], second["photos"]):
        raise SystemExit("the two files hold different photos: read both with the same --data, --split, --limit "
                         "and --seed")
    both = first["face_found"] & second["face_found"]
    return (first["labels"][both], first["probabilities"][both].argmax(1), second["probabilities"][both].argmax(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    labels, before, after = paired_predictions(args.before, args.after)
    print(f"{len(labels)} photos with a face in both")
    for name, score in (("macro-F1 (classes present)", macro_f1_present), ("accuracy", accuracy)):
        low, high = bootstrap_interval(labels, before, after, score)
        print(f"{name}: {score(labels, before):.4f} -> {score(labels, after):.4f} "
              f"(change {score(labels, after) - score(labels, before):+.4f}, 95% {low:+.4f} .. {high:+.4f})")


if __name__ == "__main__":
    main()
