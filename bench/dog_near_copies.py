"""Near-copies between the dog data's test split and its training photos, and the shipped dog model's figures
without them.

    python -m bench.dog_near_copies --data DOG_EMOTION_REPO/images [--per-class 2000] [--extra-train]

The split is training.dogs' (same cleaning, near-duplicate groups and seed). Its cleaning groups photos whose
difference hashes differ by at most 3 bits; re-cropped, resized or re-coloured copies of one photo escape it.
This measures them: for each test photo in which the app finds a dog, the cosine similarity of its body crop's
pooled ImageNet features (the frozen EfficientNet-Lite0) to the nearest training photo's (with --extra-train,
also the photos beyond the per-class cap). Prints, per similarity band, how many test photos there are and how
often the nearest training photo carries the same label (chance 0.25: near-copies carry their label across),
then the shipped model's macro-F1 on all test photos and on those without a training photo above each
threshold: what a new user's photo, which has no copy in training, can expect.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from inference.dog_emotion import DogEmotionClassifier
from inference.specs import DOG_HEAD_WEIGHTS
from training.dogs import CropKind, cached_crops, clean, dog_photos, extract_features, photo_hashes, split_indices
from training.metrics import summary

BANDS = (0.0, 0.75, 0.8, 0.85, 0.9, 1.01)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--per-class", type=int, default=2000)
    parser.add_argument("--extra-train", action="store_true", help="the photos beyond the cap count as training")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--cache", type=Path, default=Path(".cache/dogs"))
    return parser.parse_args(argv)


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def nearest_training_photo(paths: list[Path], splits: dict[str, np.ndarray],
                           cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per test photo: the highest cosine similarity to a training photo (mirror images included) and that
    photo's index in `paths`."""
    test, _ = extract_features([paths[i] for i in splits["test"]], cache, CropKind.BODY)
    references, owners = [], []
    for name in [name for name in splits if name not in ("val", "test")]:
        features, _ = extract_features([paths[i] for i in splits[name]], cache, CropKind.BODY, mirror=True)
        references.append(features)
        owners.append(np.concatenate([splits[name], splits[name]]))
    similarity = unit(test) @ unit(np.concatenate(references)).T
    return similarity.max(1), np.concatenate(owners)[similarity.argmax(1)]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    paths, labels = dog_photos(args.data)
    kept, _ = clean(paths, labels, photo_hashes(paths, args.cache), 3)
    splits = split_indices(labels, kept, args.per_class, args.seed, args.extra_train)
    similarity, nearest = nearest_training_photo(paths, splits, args.cache)
    crops, found = cached_crops([paths[i] for i in splits["test"]], args.cache, CropKind.BODY)
    truth, similarity, nearest = labels[splits["test"]][found], similarity[found], nearest[found]
    print(f"{len(truth)} test photos with a dog; nearest training photo by cosine of pooled features:")
    for low, high in zip(BANDS, BANDS[1:]):
        band = (similarity >= low) & (similarity < high)
        agreement = (labels[nearest[band]] == truth[band]).mean() if band.any() else float("nan")
        print(f"  [{low:.2f}, {min(high, 1):.2f}): {band.sum():4d} photos, same label as the nearest {agreement:.3f}")
    probabilities = DogEmotionClassifier(DOG_HEAD_WEIGHTS, "cpu").predict(crops[found])
    print(f"shipped model ({DOG_HEAD_WEIGHTS.name}): macro-F1 on all {len(truth)}: "
          f"{summary(truth, probabilities)['macro_f1']:.3f}")
    for threshold in (0.8, 0.75):
        apart = similarity < threshold
        print(f"  on the {apart.sum()} without a training photo at cosine >= {threshold}: "
              f"{summary(truth[apart], probabilities[apart])['macro_f1']:.3f}")


if __name__ == "__main__":
    main()
