"""Evaluate trained emotion weights on a labelled image folder.

    python -m training.evaluate --data ../shared/datasets/fer2013 [--split val] [--weights PATH]
                                [--no-tta] [--fit-temperature]

Prints accuracy, macro-F1, per-class precision/recall/F1/AUROC, the confusion
matrix (saved as a PNG, --plot) and the expected calibration error (15 bins) with
its reliability diagram (--reliability-plot), for the probabilities the app shows
(the stored temperature applied, if any). --fit-temperature fits the temperature
on this split and stores it beside the weights; the ECE it prints after scaling is
cross-fitted (each half of the split scaled by a temperature fitted on the other).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from inference.calibration import calibration_path, softmax
from inference.classifiers import EmotionClassifier
from inference.specs import HUMAN_WEIGHTS
from inference.emotion_net import load_weights
from training.calibration import (calibration_record, cross_fitted_ece, expected_calibration_error, fit_temperature,
                                  reliability_bins)
from training.data import load_split
from training.metrics import auroc_one_vs_rest, confusion_matrix, per_class_scores, summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with one sub-folder per split")
    parser.add_argument("--split", default="val")
    parser.add_argument("--weights", default=str(HUMAN_WEIGHTS))
    parser.add_argument("--no-tta", action="store_true", help="evaluate without flip test-time augmentation")
    parser.add_argument("--plot", default="artifacts/confusion_matrix.png", help="confusion-matrix PNG path")
    parser.add_argument("--reliability-plot", default="artifacts/reliability.png", help="reliability diagram PNG")
    parser.add_argument("--fit-temperature", action="store_true",
                        help="fit temperature scaling on this split and store it beside the weights")
    parser.add_argument("--json", help="also write the metrics to this JSON file")
    return parser.parse_args(argv)


def split_logits(classifier: EmotionClassifier, images: np.ndarray, flip_tta: bool,
                 batch_size: int = 512) -> np.ndarray:
    """The classifier's logits for every image, in batches (the app's own pre-processing and backend)."""
    return np.concatenate([classifier.logits(images[start:start + batch_size], flip_tta)
                           for start in range(0, len(images), batch_size)])


def format_report(classes: tuple[str, ...], labels: np.ndarray, probabilities: np.ndarray) -> tuple[str, dict]:
    matrix = confusion_matrix(labels, probabilities.argmax(1), len(classes))
    scores = per_class_scores(matrix)
    auroc = auroc_one_vs_rest(labels, probabilities)
    overall = summary(labels, probabilities)
    lines = [f"images {len(labels)}  accuracy {overall['accuracy']:.4f}  macro-F1 {overall['macro_f1']:.4f}  "
             f"mean AUROC {np.nanmean(auroc):.4f}", "",
             f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'auroc':>10}{'support':>10}"]
    for index, name in enumerate(classes):
        lines.append(f"{name:<10}{scores['precision'][index]:>10.3f}{scores['recall'][index]:>10.3f}"
                     f"{scores['f1'][index]:>10.3f}{auroc[index]:>10.3f}{int(scores['support'][index]):>10d}")
    lines += ["", "confusion matrix (rows: true, columns: predicted)",
              " " * 10 + "".join(f"{name[:8]:>9}" for name in classes)]
    lines += [f"{name:<10}" + "".join(f"{count:>9d}" for count in row) for name, row in zip(classes, matrix)]
    metrics = {**overall, "mean_auroc": float(np.nanmean(auroc)), "confusion": matrix.tolist(),
               "per_class": {name: {"precision": float(scores["precision"][i]), "recall": float(scores["recall"][i]),
                                    "f1": float(scores["f1"][i]), "auroc": float(auroc[i])}
                             for i, name in enumerate(classes)}}
    return "\n".join(lines), metrics


def save_confusion_plot(matrix: np.ndarray, classes: tuple[str, ...], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    normalised = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(7, 6))
    image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    for row in range(len(classes)):
        for column in range(len(classes)):
            axes.text(column, row, f"{matrix[row, column]}\n{normalised[row, column]:.0%}", ha="center",
                      va="center", fontsize=7, color="white" if normalised[row, column] > 0.5 else "black")
    figure.colorbar(image)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def save_reliability_plot(probabilities: dict[str, np.ndarray], labels: np.ndarray, path: str, title: str) -> None:
    """Accuracy against confidence per bin, one line per set of probabilities (e.g. before/after scaling)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 5))
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    for name, values in probabilities.items():
        confidence, accuracy, counts = reliability_bins(values, labels)
        used = counts > 0
        ece = expected_calibration_error(values, labels)
        axes.plot(confidence[used], accuracy[used], marker="o", label=f"{name} (ECE {ece:.3f})")
    axes.set_xlabel("confidence of the top emotion")
    axes.set_ylabel("accuracy")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def calibrate(args: argparse.Namespace, logits: np.ndarray, labels: np.ndarray, stored_temperature: float) -> dict:
    """Print the ECE (and fit and store a new temperature if asked); save the reliability diagram."""
    curves = {"uncalibrated": softmax(logits)}
    if stored_temperature != 1.0:
        curves[f"stored T={stored_temperature:.2f}"] = softmax(logits, stored_temperature)
    result = {"ece_uncalibrated": expected_calibration_error(curves["uncalibrated"], labels),
              "temperature": stored_temperature}
    print(f"ECE ({args.split}, 15 bins): uncalibrated {result['ece_uncalibrated']:.4f}, with the stored temperature "
          f"{stored_temperature:.3f}: {expected_calibration_error(softmax(logits, stored_temperature), labels):.4f}")
    if args.fit_temperature:
        temperature = fit_temperature(logits, labels)
        result = {**result, "temperature": temperature, "fitted_on": args.split,
                  "ece_cross_fitted": cross_fitted_ece(logits, labels)}
        curves[f"fitted T={temperature:.2f}"] = softmax(logits, temperature)
        calibration_path(Path(args.weights)).write_text(calibration_record(Path(args.weights), **result))
        print(f"fitted temperature {temperature:.3f}; ECE after scaling (cross-fitted halves) "
              f"{result['ece_cross_fitted']:.4f}; stored in {calibration_path(Path(args.weights))}")
    save_reliability_plot(curves, labels, args.reliability_plot, f"{Path(args.weights).stem} on {args.split}")
    print(f"reliability diagram saved to {args.reliability_plot}")
    return result


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    _, classes, metadata = load_weights(args.weights)
    images, labels = load_split(Path(args.data) / args.split, classes)
    classifier = EmotionClassifier(Path(args.weights), torch.device("cpu"))
    logits = split_logits(classifier, images, flip_tta=not args.no_tta)
    probabilities = softmax(logits, classifier.temperature)
    report, metrics = format_report(classes, labels, probabilities)
    print(f"weights {args.weights} (epoch {metadata.get('epoch', '?')}), split {args.split}, "
          f"flip TTA {'off' if args.no_tta else 'on'}")
    print(report)
    save_confusion_plot(np.asarray(metrics["confusion"]), classes, args.plot,
                        f"{Path(args.weights).stem} on {args.split}: acc {metrics['accuracy']:.3f}")
    print(f"confusion matrix saved to {args.plot}")
    metrics["calibration"] = calibrate(args, logits, labels, classifier.temperature)
    if args.json:
        Path(args.json).write_text(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
