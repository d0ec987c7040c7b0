"""Which crop of a dog the dog-emotion model reads best: the photo's centre, the body, the face, or the face on a
blurred background, on labelled photos the shipped model never trained on.

    python -m bench.dog_crops --data DOG_EMOTION_REPO/images [--limit 100] [--split test]

The photos are the --split part of `python -m training.dogs --data DIR` (the same cleaning, copy groups and
seed, so neither a photo nor a copy of it was trained on when --split is test). Each photo goes through the
app's pet path (SSD, species check, head box: inference/pet_species.py); the largest dog is cropped four
ways and read by the shipped model (inference/weights/dog_emotion_head.pt, trained on body crops): the
centre square of the photo (what the first head was trained on), the body box (5% margin: what the app
feeds), the face (head box, 15% margin) and the face with everything outside the head box blurred. Prints
macro-F1 and accuracy per crop, and how many photos had no dog for the app.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from inference.crops import dog_face_crops, pet_body_crops
from inference.detectors import SSDPetDetector
from inference.dog_emotion import DogEmotionClassifier
from inference.specs import DOG_HEAD_WEIGHTS
from inference.specs import PET_INPUT_SIZE as INPUT_SIZE
from inference.pet_species import PetCropModel, ReviewedPet
from training.data import load_rgb
from training.dog_split import add_split_arguments
from training.dogs import centre_square_of, dog_data, largest_dog
from training.metrics import summary

CROPS = ("centre square", "body", "face", "face, blurred background")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos per class (0: all)")
    parser.add_argument("--cache", type=Path, default=Path(".cache/dogs"))
    add_split_arguments(parser)
    return parser.parse_args()


def split_photos(args: argparse.Namespace) -> list[tuple[Path, int]]:
    """The photos and labels of one split of training.dogs, at most --limit per class."""
    data = dog_data(args.data, args.cache, seed=args.seed, split_file=args.split_file)
    taken: Counter = Counter()
    photos = []
    for index in data.splits[args.split]:
        if not args.limit or taken[data.labels[index]] < args.limit:
            taken[data.labels[index]] += 1
            photos.append((data.paths[index], int(data.labels[index])))
    return photos


def blurred_background(rgb: np.ndarray, head: tuple[float, ...]) -> np.ndarray:
    """The photo with everything outside the head box blurred (sigma: a tenth of the head's size)."""
    x1, y1, x2, y2 = (int(round(v)) for v in head)
    sigma = max(2.0, (x2 - x1 + y2 - y1) / 20)
    out = cv2.GaussianBlur(rgb, (0, 0), sigma)
    out[max(0, y1):y2, max(0, x1):x2] = rgb[max(0, y1):y2, max(0, x1):x2]
    return out


def four_crops(rgb: np.ndarray, dog: ReviewedPet, centre: np.ndarray) -> list[np.ndarray]:
    face = dog.as_found(rgb).box
    body = pet_body_crops(rgb, [dog.body.box], INPUT_SIZE)[0]
    return [centre, body, dog_face_crops(rgb, [face], INPUT_SIZE)[0],
            dog_face_crops(blurred_background(rgb, face), [face], INPUT_SIZE)[0]]


def main() -> None:
    args = parse_args()
    photos = split_photos(args)
    detector, pet_crops = SSDPetDetector(), PetCropModel("cpu")
    classifier = DogEmotionClassifier(DOG_HEAD_WEIGHTS, "cpu")
    rows: dict[str, list[np.ndarray]] = {name: [] for name in CROPS}
    found_labels, all_centre, all_labels = [], [], []
    for path, label in photos:
        rgb = load_rgb(path)
        centre = centre_square_of(rgb)  # as training.dogs makes it
        all_centre.append(centre)
        all_labels.append(label)
        pets = pet_crops.review([rgb], detector.detect_batch([rgb]))[0]
        largest = largest_dog(pets)
        if largest is None:
            continue
        for name, crop in zip(CROPS, four_crops(rgb, largest, centre)):
            rows[name].append(crop)
        found_labels.append(label)
    print(f"{classifier.name}; {args.split} split, {len(photos)} photos; the app found a dog in {len(found_labels)}")
    everything = summary(np.array(all_labels), classifier.predict(np.stack(all_centre)))
    print(f"  centre square, all photos: macro-F1 {everything['macro_f1']:.3f}, accuracy {everything['accuracy']:.3f}")
    for name, crops in rows.items():
        figures = summary(np.array(found_labels), classifier.predict(np.stack(crops)))
        print(f"  {name}, photos with a dog: macro-F1 {figures['macro_f1']:.3f}, accuracy {figures['accuracy']:.3f}")


if __name__ == "__main__":
    main()
