"""Emotions of labelled face photos the way users meet them: each photo's file goes through the app's own
photo pipeline (decode, face detection, alignment, crop, classifier, temperature), as an upload does.

    python -m bench.faces --data DIR [--split eval] [--limit N] [--seed S] [--json PATH]

DIR/SPLIT has one sub-folder per emotion (FER2013's layout and names; `python -m training.face_sets`
writes fetched sets so). The largest face of each photo is scored against the photo's label. Prints the
share of photos where no face was found, then, over the photos with a face: accuracy, macro-F1 (over
all seven classes, and over the classes present in the split), per-class precision/recall/F1/AUROC,
the confusion matrix and the expected calibration error (15 bins) of the probabilities the page shows.
Then selective prediction: the share of faces the page calls "unsure" (inference/uncertainty.py), accuracy,
macro-F1 (classes present) and ECE over all faces against the confident ones only, and a risk-coverage
summary (accuracy of the most confident 100/90/80/70/50% by uncertainty score; AURC, the mean error rate
over all coverages: lower is better), and the unsure faces by what made them unsure (weak, members_disagree, or
both) with how often each group's top emotion was still right.
--limit N reads a random N photos of each class (seeded) so a run takes minutes on 2 cores.
--readings PATH.npz keeps each photo's reading, so that two weights files read the same photos can be compared
pair by pair (`python -m bench.faces_paired BEFORE.npz AFTER.npz`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from training.calibration import expected_calibration_error
from inference.labels import HUMAN_EMOTIONS
from inference.pipeline import Pipeline
from bench.faces_paired import macro_f1_present
from training.evaluate import format_report
from training.face_sets import PipelineReadings, labelled_photos, read_through_pipeline


COVERAGES = (1.0, 0.9, 0.8, 0.7, 0.5)


def selected_figures(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Faces, accuracy, macro-F1 over the classes present and ECE of some readings."""
    if len(labels) == 0:
        return {"faces": 0, "accuracy": float("nan"), "macro_f1_present": float("nan"), "ece": float("nan")}
    _, metrics = format_report(HUMAN_EMOTIONS, labels, probabilities)
    return {"faces": len(labels), "accuracy": metrics["accuracy"],
            "macro_f1_present": macro_f1_present(labels, probabilities.argmax(1)),
            "ece": expected_calibration_error(probabilities, labels)}


def risk_coverage(correct: np.ndarray, scores: np.ndarray) -> dict:
    """Accuracy of the most confident share of readings (lowest scores first) at COVERAGES, and AURC."""
    ordered = correct[np.argsort(scores, kind="stable")].astype(float)
    running_accuracy = np.cumsum(ordered) / np.arange(1, len(ordered) + 1)
    at = {f"{coverage:.0%}": float(running_accuracy[max(1, round(coverage * len(ordered))) - 1])
          for coverage in COVERAGES}
    return {"accuracy_at_coverage": at, "aurc": float(np.mean(1 - running_accuracy))}


def unsure_because(readings: PipelineReadings) -> tuple[str, dict]:
    """The unsure faces by what made them unsure (inference.uncertainty.UnsureSignal): each combination's count
    and how often its top emotion was still right."""
    correct = readings.probabilities.argmax(1) == readings.labels
    groups: dict[str, list[bool]] = {}
    for found, fired, right in zip(readings.face_found, readings.unsure_signals, correct):
        if found and fired:
            groups.setdefault(" + ".join(fired), []).append(bool(right))
    figures = {name: {"faces": len(rights), "accuracy": float(np.mean(rights))} for name, rights in groups.items()}
    parts = [f"{name} {f['faces']} (accuracy {f['accuracy']:.3f})" for name, f in sorted(figures.items())]
    return "unsure because: " + ("; ".join(parts) or "none"), figures


def selective_report(readings: PipelineReadings) -> tuple[str, dict]:
    """The lines and figures of the unsure flag on the faces found: all against confident, risk-coverage."""
    probabilities, labels = readings.found
    flagged, scores = readings.uncertain[readings.face_found], readings.uncertainty[readings.face_found]
    everything, confident = selected_figures(probabilities, labels), \
        selected_figures(probabilities[~flagged], labels[~flagged])
    curve = risk_coverage(probabilities.argmax(1) == labels, scores) if len(labels) else {}
    share = float(flagged.mean()) if len(flagged) else 0.0
    lines = [f"unsure: {share:.3f} of the faces ({int(flagged.sum())} of {len(flagged)})",
             f"{'readings':<12}{'faces':>7}{'accuracy':>10}{'macro-F1':>10}{'ECE':>8}"]
    for name, figures in (("all", everything), ("confident", confident)):
        lines.append(f"{name:<12}{figures['faces']:>7d}{figures['accuracy']:>10.4f}"
                     f"{figures['macro_f1_present']:>10.4f}{figures['ece']:>8.4f}")
    if curve:
        lines.append("risk-coverage (by uncertainty score): accuracy at coverage "
                     + ", ".join(f"{k} {v:.3f}" for k, v in curve["accuracy_at_coverage"].items())
                     + f"; AURC {curve['aurc']:.4f}")
    because_line, because = unsure_because(readings)
    lines.append(because_line)
    return "\n".join(lines), {"unsure": share, "all": everything, "confident": confident, **curve,
                               "unsure_because": because}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with one sub-folder per split")
    parser.add_argument("--split", default="eval")
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos per class (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="which photos --limit picks")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--readings", type=Path, help="also keep each photo's reading in this .npz file")
    args = parser.parse_args(argv)
    photos = labelled_photos(args.data / args.split, HUMAN_EMOTIONS, args.limit, args.seed)
    pipeline = Pipeline()
    began = time.perf_counter()
    readings = read_through_pipeline(pipeline, photos)
    milliseconds = (time.perf_counter() - began) * 1000 / max(1, len(photos))
    probabilities, labels = readings.found
    no_face = 1 - readings.face_found.mean()
    print(f"{args.data / args.split}: {len(photos)} photos ({'all' if not args.limit else f'<= {args.limit}'} "
          f"per class, seed {args.seed}); {pipeline.models['detector']}; {pipeline.classifier.name}, "
          f"T {pipeline.classifier.temperature:.3f}; {milliseconds:.0f} ms per photo")
    print(f"no face found: {no_face:.3f} ({int((~readings.face_found).sum())} of {len(photos)})")
    report, metrics = format_report(HUMAN_EMOTIONS, labels, probabilities)
    macro_f1, classes_present = macro_f1_present(labels, probabilities.argmax(1)), len(np.unique(labels))
    ece = expected_calibration_error(probabilities, labels)
    print(report)
    print(f"\nmacro-F1 over the {classes_present} classes present {macro_f1:.4f}; ECE {ece:.4f}; "
          f"mean top probability {probabilities.max(1).mean():.3f} against accuracy {metrics['accuracy']:.3f}")
    selective_lines, selective = selective_report(readings)
    print("\n" + selective_lines)
    if args.readings:
        np.savez_compressed(args.readings, photos=np.array([str(path) for path, _ in photos]), labels=readings.labels,
                            probabilities=readings.probabilities, face_found=readings.face_found)
    if args.json:
        args.json.write_text(json.dumps({**metrics, "no_face": float(no_face), "ece": ece, "photos": len(photos),
                                         "macro_f1_present": macro_f1_present, "selective": selective}, indent=2))


if __name__ == "__main__":
    main()
