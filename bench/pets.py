"""Dog and cat detection on real pet photos the project never trained on, and on animal-free photos.

    python -m bench.pets --data DIR [--shrink 200] [--ssd-only]

DIR is an Oxford-IIIT Pet sample laid out as sample_images/{cats,dogs}/*.jpg with the head
boxes in sample_annotations/csv/bboxes.csv (one labelled pet per photo; for example the
370-photo sample in the public repository LTSACH/AILearningHub, datasets/oxford-pets/data/).
The detector boxes whole animals, so a labelled pet counts as found when a detection of the
right kind covers at least 90% of its head box. Prints recall, precision (detections that
cover a labelled head, a lower bound: a second, unlabelled pet counts against it), species
confusions (dog <-> cat) and misses, false alarms on scikit-image's animal-free photos, and
milliseconds per photo. The pets are found as the app finds them: the SSD, then the species check
of inference/pet_species.py (--ssd-only: the SSD alone). --shrink N first scales each photo down
to N px on its longer side (small uploads).
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
from inference.pet_species import PetCropModel
from inference.tracking import covered_fraction
from training.data import load_rgb

ANIMAL_FREE = ("astronaut", "coffee", "rocket", "camera", "immunohistochemistry", "hubble_deep_field", "page")


def scaled_head(row: dict, photo: np.ndarray) -> tuple[float, ...]:
    """The labelled head box in the (possibly shrunk) photo's pixels."""
    factor = photo.shape[1] / float(row["image_width"])
    return tuple(float(row[key]) * factor for key in ("xmin", "ymin", "xmax", "ymax"))


class PetFinder:
    """The app's pet path (SSD, then the species check), or the SSD alone; pets boxed by their bodies."""

    def __init__(self, min_score: float, species_check: bool):
        self.detector = SSDPetDetector(min_score=min_score)
        self.species = PetCropModel("cpu") if species_check else None
        self.name = self.detector.name + (f" + {self.species.name}" if self.species else "")

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        found = self.detector.detect_batch([rgb])[0]
        return [pet.body for pet in self.species.review([rgb], [found])[0]] if self.species else found


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
    parser.add_argument("--shrink", type=int, default=0, help="scale photos down to this longer side first")
    parser.add_argument("--ssd-only", action="store_true", help="without the species check")
    args = parser.parse_args()
    detector = PetFinder(args.min_score, species_check=not args.ssd_only)
    tallies: dict[str, Counter] = {"cat": Counter(), "dog": Counter()}
    seconds = []
    for row in labelled_pets(args.data):
        rgb = load_rgb(args.data / "sample_images" / f"{row['species']}s" / f"{row['image_name']}.jpg", args.shrink)
        began = time.perf_counter()
        found = detector.detect(rgb)
        seconds.append(time.perf_counter() - began)
        score_photo(found, row["species"], scaled_head(row, rgb), tallies[row["species"]])
    shrunk = f", photos shrunk to {args.shrink} px" if args.shrink else ""
    print(f"{detector.name}, min score {args.min_score}{shrunk}")
    for species, tally in tallies.items():
        print(f"  {species}s: recall {tally['found'] / tally['labelled']:.3f} ({tally['found']}/{tally['labelled']}), "
              f"precision {tally['covering detections'] / max(1, tally['detections']):.3f} "
              f"({tally['covering detections']}/{tally['detections']})")
    total = sum(tallies.values(), Counter())
    print(f"  all: recall {total['found'] / total['labelled']:.3f}, "
          f"precision {total['covering detections'] / max(1, total['detections']):.3f}")
    failures = {key: count for key, count in total.items() if "missed" in key or "taken for" in key}
    confusions = sum(count for key, count in failures.items() if "taken for" in key)
    misses = sum(count for key, count in failures.items() if "missed" in key)
    print(f"  failures: {failures}")
    print(f"  dog<->cat confusions {confusions}/{total['labelled']} ({confusions / total['labelled']:.1%}), "
          f"misses {misses}/{total['labelled']} ({misses / total['labelled']:.1%})")
    false_alarms = {name: detector.detect(np.asarray(Image.fromarray(getattr(skdata, name)()).convert("RGB")))
                    for name in ANIMAL_FREE}
    print(f"  animal-free photos: {sum(map(len, false_alarms.values()))} false alarms in {len(ANIMAL_FREE)} photos "
          f"{ {name: [d.kind for d in found] for name, found in false_alarms.items() if found} }")
    print(f"  {np.mean(seconds) * 1000:.0f} ms per photo (p50 {np.median(seconds) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
