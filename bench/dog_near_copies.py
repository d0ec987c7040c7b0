"""Near-copies between the dog data's test split and its training photos, and the shipped dog model's figures
without them.

    python -m bench.dog_near_copies --data DOG_EMOTION_REPO/images

The split is training.dogs' (same cleaning, copy groups and seed). training.dogs links photos whose body crops'
pooled ImageNet features (the frozen EfficientNet-Lite0) have a cosine similarity >= 0.8 and keeps each
linked group in one split; this checks what is left. For each test photo in which the app finds a dog, the
cosine similarity of its body crop's pooled features to the nearest training photo's, mirror images included.
Prints, per similarity band, how many test photos there are and how often the nearest training photo carries
the same label (chance 0.25: near-copies carry their label across), then the shipped model's macro-F1 on all
test photos and on those without a training photo above each threshold: what a new user's photo, which has no
copy in training, can expect.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from inference.dog_emotion import DogEmotionClassifier
from inference.specs import DOG_HEAD_WEIGHTS
from training.dog_tuning import pooled_features
from training.dog_split import add_split_arguments
from training.dogs import both_orientations, dog_data, unit_rows
from training.metrics import summary

BANDS = (0.0, 0.75, 0.8, 0.85, 0.9, 1.01)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--cache", type=Path, default=Path(".cache/dogs"))
    add_split_arguments(parser)
    return parser.parse_args(argv)


def nearest_training_photo(features: np.ndarray, test: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per test photo: the highest cosine similarity of its features (N, 2, D: crop, mirror image) to a training
    photo's, mirror images included, and that photo's index."""
    references, owners = both_orientations(features[train], train)
    similarity = unit_rows(features[test, 0]) @ unit_rows(references).T
    return similarity.max(1), owners[similarity.argmax(1)]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data = dog_data(args.data, args.cache, seed=args.seed, split_file=args.split_file)
    crops = data.body_crops
    test = data.read(data.body_found)["test"]
    similarity, nearest = nearest_training_photo(pooled_features(crops, args.cache), test, data.splits["train"])
    truth = data.labels[test]
    print(f"{len(truth)} test photos with a dog; nearest training photo by cosine of pooled features:")
    for low, high in zip(BANDS, BANDS[1:]):
        band = (similarity >= low) & (similarity < high)
        agreement = (data.labels[nearest[band]] == truth[band]).mean() if band.any() else float("nan")
        print(f"  [{low:.2f}, {min(high, 1):.2f}): {band.sum():4d} photos, same label as the nearest {agreement:.3f}")
    probabilities = DogEmotionClassifier(DOG_HEAD_WEIGHTS, "cpu").predict(crops[test])
    print(f"shipped model ({DOG_HEAD_WEIGHTS.name}): macro-F1 on all {len(truth)}: "
          f"{summary(truth, probabilities)['macro_f1']:.3f}")
    for threshold in (0.8, 0.75):
        apart = similarity < threshold
        print(f"  on the {apart.sum()} without a training photo at cosine >= {threshold}: "
              f"{summary(truth[apart], probabilities[apart])['macro_f1']:.3f}")


if __name__ == "__main__":
    main()
