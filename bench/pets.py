"""Dog and cat detection on real pet photos the project never trained on, and on animal-free photos.

    python -m bench.pets --data DIR [--exclude DIR] [--species-photos DIR] [--animal-free DIR --limit N]
                         [--shrink 200] [--ssd-only] [--head-weights FILE]
                         [--species-probe FILE] [--faces [--keep-pet-faces]]

DIR is an Oxford-IIIT Pet sample laid out as sample_images/{cats,dogs}/*.jpg with the head
boxes in sample_annotations/csv/bboxes.csv (one labelled pet per photo; for example the
370-photo sample in the public repository LTSACH/AILearningHub, datasets/oxford-pets/data/),
or as images/*.jpg with VOC head boxes in annotations/xmls/ (for example the public repository
Naveen-Dodda/Sample_Pets_dataset); --exclude DIR leaves out the photos of another sample (by name).
--species-photos DIR: photos of one cat (DIR/cat/*.jpg) or one dog (DIR/dog/*.jpg) without boxes, scored by
photo (a pet of the right species found, only one of the other, none).
The detector boxes whole animals, so a labelled pet counts as found when a detection of the
right kind covers at least 90% of its head box. Prints recall, precision (detections that
cover a labelled head, a lower bound: a second, unlabelled pet counts against it), species
confusions (dog <-> cat, with the confused photos' names) and misses (those where a box covers at least half of
the head: "head cut"),
false alarms on scikit-image's animal-free photos (and on --limit photos drawn from --animal-free DIR,
seed 0), and milliseconds per photo. The pets are found as the app finds them: the SSD, then the species
check of inference/pet_species.py (--ssd-only: the SSD alone). --shrink N first scales each photo down to
N px on its longer side (small uploads). --head-weights FILE: another head-box regressor (`python -m
training.pet_heads --first-set-out FILE` writes one that never saw the 370-photo sample, whose head boxes
the shipped one was trained on). --species-probe FILE: another dog-or-cat probe (`python -m
training.pet_species --out FILE`), to measure it before it ships. --faces: the human faces the whole app
(`Pipeline.detect_photo`) reports on --data's pet photos, by photo (MTCNN fires on some pets' faces and fur; a
person in the photo is a real face); --keep-pet-faces: the same without the check that drops a pet's own face
(`PetCropModel.settle`, whose head rule goes too).
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

from inference.detectors import Detection, SSDPetDetector
from inference.labels import DetectionKind
from inference.pipeline import Pipeline
from inference.pet_species import PetCropModel
from inference.specs import PET_HEAD_WEIGHTS, PET_SPECIES_WEIGHTS
from inference.tracking import covered_fraction
from training.data import load_rgb
from training.pet_heads import LabelledPet, csv_pets, xml_pets

ANIMAL_FREE = ("astronaut", "coffee", "rocket", "camera", "immunohistochemistry", "hubble_deep_field", "page")


def scaled_head(pet: LabelledPet, photo: np.ndarray) -> tuple[float, ...]:
    """The labelled head box in the (possibly shrunk) photo's pixels."""
    with Image.open(pet.path) as original:
        factor = photo.shape[1] / original.width
    return tuple(value * factor for value in pet.head)


class PetFinder:
    """The app's pet path (SSD, then the species check), or the SSD alone; pets boxed by their bodies."""

    def __init__(self, min_score: float, species_check: bool, head_weights: Path = PET_HEAD_WEIGHTS,
                 probe: Path = PET_SPECIES_WEIGHTS):
        self.detector = SSDPetDetector(min_score=min_score)
        self.species = PetCropModel("cpu", weights=head_weights, probe=probe) if species_check else None
        self.name = self.detector.name + (f" + {self.species.name}" if self.species else "")

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        found = self.detector.detect_batch([rgb])[0]
        return [pet.body for pet in self.species.review([rgb], [found])[0]] if self.species else found


def labelled_pets(folder: Path, exclude: Path | None) -> list[LabelledPet]:
    """The sample's pets (either layout), less those whose photo is also in the `exclude` sample."""
    pets = xml_pets(folder) if (folder / "annotations" / "xmls").is_dir() else csv_pets(folder)
    left_out = {pet.name for pet in labelled_pets(exclude, None)} if exclude else set()
    return [pet for pet in pets if pet.name not in left_out]


def animal_free_photos(folder: Path | None, limit: int) -> Iterator[tuple[str, np.ndarray]]:
    """scikit-image's animal-free photos, then `limit` photos drawn (seed 0) from `folder`'s JPEGs."""
    for name in ANIMAL_FREE:
        yield name, np.asarray(Image.fromarray(getattr(skdata, name)()).convert("RGB"))
    paths = sorted(folder.glob("*.jpg")) if folder else []
    random.Random(0).shuffle(paths)
    for path in paths[:limit]:
        yield path.name, load_rgb(path)


def score_photo(found: list[Detection], species: DetectionKind, head: tuple[float, ...], tally: Counter) -> str:
    """Counts the photo's outcome (and its detections) in `tally`; returns the outcome."""
    covering = [d for d in found if covered_fraction(head, d.box) >= 0.9]
    tally["labelled"] += 1
    tally["detections"] += len(found)
    tally["covering detections"] += len(covering)
    if any(d.kind == species for d in covering):
        outcome = "found"
    elif covering:
        outcome = f"{species} taken for a {covering[0].kind}"
    elif any(covered_fraction(head, d.box) >= 0.5 for d in found):
        outcome = f"{species} missed (head cut)"
    else:
        outcome = f"{species} missed"
    tally[outcome] += 1
    return outcome


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a sample with head boxes (either layout)")
    parser.add_argument("--exclude", type=Path, help="a sample whose photos (by name) are left out of --data")
    parser.add_argument("--species-photos", type=Path, help="photos without boxes in DIR/cat/ and DIR/dog/")
    parser.add_argument("--animal-free", type=Path, help="a folder of photos without animals (*.jpg)")
    parser.add_argument("--limit", type=int, default=600, help="photos drawn from --animal-free")
    parser.add_argument("--min-score", type=float, default=0.5)
    parser.add_argument("--shrink", type=int, default=0, help="scale photos down to this longer side first")
    parser.add_argument("--ssd-only", action="store_true", help="without the species check")
    parser.add_argument("--head-weights", type=Path, default=PET_HEAD_WEIGHTS, help="the head-box regressor")
    parser.add_argument("--species-probe", type=Path, default=PET_SPECIES_WEIGHTS, help="the dog-or-cat probe")
    parser.add_argument("--faces", action="store_true", help="the faces the app reports on --data's photos")
    parser.add_argument("--keep-pet-faces", action="store_true", help="--faces without the pet-face check")
    return parser.parse_args()


def measure_boxed(detector: PetFinder, args: argparse.Namespace) -> list[float]:
    """Prints the figures on a sample with head boxes; returns the seconds each photo took."""
    tallies: dict[DetectionKind, Counter] = {DetectionKind.CAT: Counter(), DetectionKind.DOG: Counter()}
    seconds, confused = [], []
    for pet in labelled_pets(args.data, args.exclude):
        rgb = load_rgb(pet.path, args.shrink)
        began = time.perf_counter()
        found = detector.detect(rgb)
        seconds.append(time.perf_counter() - began)
        species = DetectionKind(pet.species)
        if "taken for" in score_photo(found, species, scaled_head(pet, rgb), tallies[species]):
            confused.append(pet.name)
    for species, tally in ((species, tally) for species, tally in tallies.items() if tally["labelled"]):
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
    print(f"  taken for the other species: {', '.join(confused) or 'none'}")
    return seconds


def measure_species(detector: PetFinder, folder: Path, shrink: int) -> None:
    """Prints, for photos of one labelled pet without boxes, how many show a pet of the right species, only
    the other species, or none."""
    for species, other in ((DetectionKind.CAT, DetectionKind.DOG), (DetectionKind.DOG, DetectionKind.CAT)):
        tally, confused = Counter(), []
        paths = sorted((folder / species).glob("*.jpg"))
        if not paths:
            continue
        for path in paths:
            kinds = {found.kind for found in detector.detect(load_rgb(path, shrink))}
            outcome = species if species in kinds else (other if kinds else "none")
            tally[outcome] += 1
            confused += [path.stem] if outcome == other else []
        print(f"  {species} photos ({folder.name}): a {species} found in {tally[species]}/{len(paths)} "
              f"({tally[species] / len(paths):.1%}), only a {other} in {tally[other]}"
              f"{' (' + ', '.join(confused) + ')' if confused else ''}, no pet in {tally['none']}")


def measure_faces(args: argparse.Namespace) -> None:
    """Prints how many human faces the app reports on the labelled pet photos, and on which."""
    pipeline = Pipeline()
    if args.keep_pet_faces:  # the app as it was before the check
        pipeline.pet_crop_model.settle = lambda frames, found: found
    pets = labelled_pets(args.data, args.exclude)
    faces_per_photo = {}
    for pet in pets:
        found = pipeline.detect_photo(load_rgb(pet.path, args.shrink), {})
        faces_per_photo[pet.name] = sum(detection.kind == DetectionKind.HUMAN for detection in found)
    with_faces = {name: count for name, count in faces_per_photo.items() if count}
    print(f"  faces reported on the pet photos{' (pet faces kept)' if args.keep_pet_faces else ''}: "
          f"{sum(with_faces.values())} in {len(with_faces)} of {len(pets)} photos {with_faces}")


def main() -> None:
    args = parse_args()
    detector = PetFinder(args.min_score, species_check=not args.ssd_only, head_weights=args.head_weights,
                         probe=args.species_probe)
    shrunk = f", photos shrunk to {args.shrink} px" if args.shrink else ""
    print(f"{detector.name}, min score {args.min_score}{shrunk}")
    seconds = measure_boxed(detector, args) if args.data else []
    if args.data and args.faces:
        measure_faces(args)
    if args.species_photos:
        measure_species(detector, args.species_photos, args.shrink)
    false_alarms = {name: detector.detect(rgb) for name, rgb in animal_free_photos(args.animal_free, args.limit)}
    print(f"  animal-free photos: {sum(map(len, false_alarms.values()))} false alarms in {len(false_alarms)} photos "
          f"{ {name: [d.kind for d in found] for name, found in false_alarms.items() if found} }")
    if seconds:
        print(f"  {np.mean(seconds) * 1000:.0f} ms per photo (p50 {np.median(seconds) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
