"""Dog and cat detection on real pet photos the project never trained on, and on animal-free photos.

    python -m bench.pets --data DIR

DIR is an Oxford-IIIT Pet sample laid out as sample_images/{cats,dogs}/*.jpg with the head
boxes in sample_annotations/csv/bboxes.csv (one labelled pet per photo; for example the
370-photo sample in the public repository LTSACH/AILearningHub, datasets/oxford-pets/data/).
The detector boxes whole animals, so a labelled pet counts as found when a detection of the
right kind covers at least 90% of its head box. Prints recall, precision (detections that
cover a labelled head, a lower bound: a second, unlabelled pet counts against it), species
confusions, false alarms on scikit-image's animal-free photos, and milliseconds per photo.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

from inference.detectors import Detection, SSDPetDetector

ANIMAL_FREE = ("astronaut", "coffee", "rocket", "camera", "immunohistochemistry", "hubble_deep_field", "page")


def covered_fraction(head: tuple[float, ...], box: tuple[float, ...]) -> float:
    """How much of the head box lies inside the detection box."""
    width = max(0.0, min(head[2], box[2]) - max(head[0], box[0]))
    height = max(0.0, min(head[3], box[3]) - max(head[1], box[1]))
    return width * height / max(1e-9, (head[2] - head[0]) * (head[3] - head[1]))


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def labelled_pets(folder: Path) -> list[dict]:
    with (folder / "sample_annotations" / "csv" / "bboxes.csv").open() as table:
        return list(csv.DictReader(table))


def score_photo(found: list[Detection], species: str, head: tuple[float, ...], tally: Counter) -> None:
    covering = [d for d in found if covered_fraction(head, d.box) >= 0.9]
    tally["labelled"] += 1
    tally["detections"] += len(found)
    tally["covering detections"] += len(covering)
    if any(d.kind == species for d in covering):
        tally["found"] += 1
    elif covering:
        tally[f"{species} taken for a {covering[0].kind}"] += 1
    else:
        tally[f"{species} missed"] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--min-score", type=float, default=0.5)
    args = parser.parse_args()
    detector = SSDPetDetector(min_score=args.min_score)
    tallies: dict[str, Counter] = {"cat": Counter(), "dog": Counter()}
    seconds = []
    for row in labelled_pets(args.data):
        rgb = load_rgb(args.data / "sample_images" / f"{row['species']}s" / f"{row['image_name']}.jpg")
        began = time.perf_counter()
        found = detector.detect(rgb)
        seconds.append(time.perf_counter() - began)
        head = tuple(float(row[key]) for key in ("xmin", "ymin", "xmax", "ymax"))
        score_photo(found, row["species"], head, tallies[row["species"]])
    print(f"{detector.name}, min score {args.min_score}")
    for species, tally in tallies.items():
        print(f"  {species}s: recall {tally['found'] / tally['labelled']:.3f} ({tally['found']}/{tally['labelled']}), "
              f"precision {tally['covering detections'] / max(1, tally['detections']):.3f} "
              f"({tally['covering detections']}/{tally['detections']})")
    total = sum(tallies.values(), Counter())
    print(f"  all: recall {total['found'] / total['labelled']:.3f}, "
          f"precision {total['covering detections'] / max(1, total['detections']):.3f}")
    failures = {key: count for key, count in total.items() if "missed" in key or "taken for" in key}
    print(f"  failures: {failures}")
    false_alarms = {name: detector.detect(np.asarray(Image.fromarray(getattr(skdata, name)()).convert("RGB")))
                    for name in ANIMAL_FREE}
    print(f"  animal-free photos: {sum(map(len, false_alarms.values()))} false alarms in {len(ANIMAL_FREE)} photos "
          f"{ {name: [d.kind for d in found] for name, found in false_alarms.items() if found} }")
    print(f"  {np.mean(seconds) * 1000:.0f} ms per photo (p50 {np.median(seconds) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
