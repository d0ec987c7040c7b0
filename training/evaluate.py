"""Evaluate trained emotion weights on a labelled image folder.

    python -m training.evaluate --data ../shared/datasets/fer2013 [--split val] [--weights PATH]

Prints accuracy, macro-F1, per-class precision/recall/F1/AUROC and the
confusion matrix, and saves the matrix as a PNG (--plot).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from inference.classifiers import HUMAN_WEIGHTS
from inference.emotion_net import load_weights, predict_probabilities
from training.data import load_split
from training.metrics import auroc_one_vs_rest, confusion_matrix, per_class_scores, summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with one sub-folder per split")
    parser.add_argument("--split", default="val")
    parser.add_argument("--weights", default=str(HUMAN_WEIGHTS))
    parser.add_argument("--no-tta", action="store_true", help="evaluate without flip test-time augmentation")
    parser.add_argument("--plot", default="artifacts/confusion_matrix.png", help="confusion-matrix PNG path")
    parser.add_argument("--json", help="also write the metrics to this JSON file")
    return parser.parse_args(argv)


def predict_split(weights: str, images: np.ndarray, flip_tta: bool, batch_size: int = 512) -> np.ndarray:
    model, _, _ = load_weights(weights)
    chunks = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(images[start:start + batch_size]).unsqueeze(1).float().div_(255)
        chunks.append(predict_probabilities(model, batch, flip_tta).numpy())
    return np.concatenate(chunks)


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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    _, classes, metadata = load_weights(args.weights)
    images, labels = load_split(Path(args.data) / args.split, classes)
    probabilities = predict_split(args.weights, images, flip_tta=not args.no_tta)
    report, metrics = format_report(classes, labels, probabilities)
    print(f"weights {args.weights} (epoch {metadata.get('epoch', '?')}), split {args.split}, "
          f"flip TTA {'off' if args.no_tta else 'on'}")
    print(report)
    save_confusion_plot(np.asarray(metrics["confusion"]), classes, args.plot,
                        f"{Path(args.weights).stem} on {args.split}: acc {metrics['accuracy']:.3f}")
    print(f"confusion matrix saved to {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
