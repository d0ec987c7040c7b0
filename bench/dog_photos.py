"""Dog emotions of labelled dog photos from any source, the way users meet them: each photo's file goes through the
app's own photo pipeline (decode, pet detection, species vote, body crop, the dog-emotion ensemble, temperature), as
an upload does, and the largest dog's reading is scored against the photo's label.

    python -m bench.dog_photos --class angry=DIR --class happy=DIR [--class relaxed=DIR --class sad=DIR]
                               [--limit N] [--seed S] [--json PATH]

Each --class names one of the dog model's emotions (inference.labels.DOG_EMOTIONS) and a folder of photos labelled
so; a source whose labels differ ("relax", "alert") is mapped by naming only the folders that mean one of them.
`training.dogs` reads its own split (`bench.dog_crops`); this reads photos from elsewhere, to see whether what the
model learnt there carries to another source's photos and labels. Prints the share of photos where the app found
no dog (and where it found only a cat), then, over the photos with a dog: accuracy, macro-F1 over the classes
present, the per-class report and confusion matrix (every class the model can answer), the expected calibration
error (15 bins) of the probabilities the page shows and the shares the page words as sure, "probably" and
"unsure".
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from inference.labels import DOG_EMOTIONS, Certainty, DetectionKind, certainty
from inference.pipeline import DetectionResult, Pipeline
from training.calibration import expected_calibration_error
from training.data import IMAGE_SUFFIXES
from training.evaluate import format_report
from training.metrics import present_macro_f1


def labelled_folder(text: str) -> tuple[int, Path]:
    """`EMOTION=DIR` as (the emotion's index in DOG_EMOTIONS, DIR)."""
    emotion, separator, folder = text.partition("=")
    if not separator or emotion not in DOG_EMOTIONS or not Path(folder).is_dir():
        raise argparse.ArgumentTypeError(f"expected EMOTION=DIR with EMOTION one of {', '.join(DOG_EMOTIONS)} "
                                         f"and DIR a folder, got {text!r}")
    return DOG_EMOTIONS.index(emotion), Path(folder)


def chosen_photos(folders: list[tuple[int, Path]], per_class: int, seed: int) -> list[tuple[Path, int]]:
    """(photo, label) for every photo of the folders, or a random `per_class` of each label (seeded)."""
    rng = np.random.default_rng(seed)
    by_label: dict[int, list[Path]] = {}
    for label, folder in folders:
        by_label.setdefault(label, []).extend(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    photos = []
    for label, paths in sorted(by_label.items()):
        paths = sorted(paths)
        if per_class and len(paths) > per_class:
            paths = [paths[i] for i in sorted(rng.choice(len(paths), per_class, replace=False))]
        photos += [(path, label) for path in paths]
    return photos


def largest(detections: list[DetectionResult], kind: DetectionKind) -> DetectionResult | None:
    """The detection of this kind with the largest box, None without one."""
    found = [detection for detection in detections if detection.kind == kind]
    return max(found, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]), default=None)


def read_dogs(pipeline: Pipeline, photos: list[tuple[Path, int]]) -> tuple[list[DetectionResult | None], int]:
    """The app's reading of each photo's largest dog (None without a dog), and how many photos had only cats."""
    dogs, only_cats = [], 0
    for path, _ in photos:
        detections = pipeline.analyze_bytes(path.read_bytes()).detections
        dog = largest(detections, DetectionKind.DOG)
        only_cats += dog is None and largest(detections, DetectionKind.CAT) is not None
        dogs.append(dog)
    return dogs, only_cats


def certainty_shares(probabilities: np.ndarray) -> dict[str, float]:
    """The share of readings the page words as sure, "probably" and "unsure" (by the top probability)."""
    counts = Counter(certainty(float(top)) for top in probabilities.max(1))
    return {str(worded): counts[worded] / max(1, len(probabilities)) for worded in Certainty}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--class", dest="folders", type=labelled_folder, action="append", required=True,
                        metavar="EMOTION=DIR", help="photos labelled EMOTION (repeatable)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos per class (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="which photos --limit picks")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    photos = chosen_photos(args.folders, args.limit, args.seed)
    pipeline = Pipeline()
    began = time.perf_counter()
    dogs, only_cats = read_dogs(pipeline, photos)
    milliseconds = (time.perf_counter() - began) * 1000 / max(1, len(photos))
    found = [(dog, label) for dog, (_, label) in zip(dogs, photos) if dog is not None]
    probabilities = np.array([[dog.emotions[name] for name in DOG_EMOTIONS] for dog, _ in found]).reshape(-1, 4)
    labels = np.array([label for _, label in found], dtype=np.int64)
    print(f"{len(photos)} photos ({'all' if not args.limit else f'<= {args.limit}'} per class, seed {args.seed}); "
          f"{pipeline.classifier_names[DetectionKind.DOG]}; {milliseconds:.0f} ms per photo")
    print(f"no dog found: {len(photos) - len(found)} of {len(photos)} ({only_cats} with only a cat)")
    if not found:
        return
    report, metrics = format_report(DOG_EMOTIONS, labels, probabilities)
    macro_f1 = present_macro_f1(labels, probabilities.argmax(1), len(DOG_EMOTIONS))
    ece, shares = expected_calibration_error(probabilities, labels), certainty_shares(probabilities)
    print(report)
    print(f"\nmacro-F1 over the {len(np.unique(labels))} classes present {macro_f1:.4f}; ECE {ece:.4f}; "
          f"mean top probability {probabilities.max(1).mean():.3f} against accuracy {metrics['accuracy']:.3f}")
    print("worded: " + ", ".join(f"{name} {share:.3f}" for name, share in shares.items()))
    if args.json:
        args.json.write_text(json.dumps({**metrics, "photos": len(photos), "no_dog": len(photos) - len(found),
                                         "only_cats": only_cats, "macro_f1_present": macro_f1, "ece": ece,
                                         "worded": shares}, indent=2))


if __name__ == "__main__":
    main()
