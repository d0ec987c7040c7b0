"""Train the pets' dog-or-cat probe (inference/pet_species.py's vote) on photos of dogs and cats.

    python -m training.pet_species --data DIR --exclude DIR [--breeds DIR] --out inference/weights/pet_species.json
                                   [--per-species 2500] [--seed 1] [--cache .cache/pet_species]

--data: photos named as in Kaggle's Dogs vs. Cats (Asirra) `train/`, cat.N.jpg and dog.N.jpg (for example the
copy in the public repository 4GeeksAcademy/Deep-Learning-CarlosFS, `train/`, squashed to 200 x 200); only
trained on, never shipped. --exclude: a folder with cat/ and dog/ sub-folders of photos held out to measure
the vote (`python -m bench.pets --species-photos`), whose names are left out. --breeds: more photos, of breeds
the first set shows rarely, in DIR/cat/BREED/ and DIR/dog/BREED/ (all of them are added, none checked against
--exclude: take them from another set than the held-out photos; for example a copy of Stanford Dogs by breed).

1. --per-species photos of each species (0: every one not held out), drawn with --seed from the sorted names
   (cats first); and every --breeds photo.
2. Each photo's crop as the app cuts it: the largest of the SSD's pet boxes (either species), else the whole
   photo, square with the body margin (inference.crops.pet_body_crops).
3. Features: the pooled 1280 features of the app's pet-crop network (inference/pet_net.py, ImageNet
   EfficientNet-Lite0), the same pass that gives the ImageNet classes and the head box; cached under --cache in
   chunks of 512 photos (an interrupted run resumes where it stopped).
4. A logistic regression on the standardised features (scikit-learn, L2, C = --c), its 5-fold cross-validated
   accuracy printed; the standardisation is folded into the stored weights.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import random
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from inference.backends import TorchRunner
from inference.crops import pet_body_crops
from inference.detectors import SSDPetDetector
from inference.dog_emotion import imagenet_batch
from inference.labels import DetectionKind
from inference.pet_species import pet_crop_net
from inference.specs import PET_HEAD_WEIGHTS, PET_SPECIES_WEIGHTS
from inference.specs import PET_INPUT_SIZE as INPUT_SIZE
from training.data import IMAGE_SUFFIXES, load_rgb
from training.dogs import cached

DRAW_ORDER = (DetectionKind.CAT, DetectionKind.DOG)  # species drawn in this order; the probe's positive class: dog


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="photos named cat.N.jpg and dog.N.jpg")
    parser.add_argument("--exclude", type=Path, help="held-out photos in cat/ and dog/: their names are left out")
    parser.add_argument("--breeds", type=Path, help="more photos, in DIR/cat/BREED/ and DIR/dog/BREED/")
    parser.add_argument("--out", type=Path, default=PET_SPECIES_WEIGHTS)
    parser.add_argument("--per-species", type=int, default=2500, help="photos drawn per species (0: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--c", type=float, default=0.01, help="inverse L2 strength of the logistic regression")
    parser.add_argument("--cache", type=Path, default=Path(".cache/pet_species"), help="folder for the features")
    return parser.parse_args(argv)


def drawn_photos(data: Path, exclude: Path | None, per_species: int, seed: int) -> list[tuple[Path, DetectionKind]]:
    """`per_species` photos of each species (0: all) whose names are not among the held-out photos."""
    held_out = {path.name for path in exclude.glob("*/*")} if exclude else set()
    draw = random.Random(seed)
    photos = []
    for kind in DRAW_ORDER:
        names = sorted(path.name for path in data.glob(f"{kind}.*") if path.name not in held_out)
        photos += [(data / name, kind) for name in draw.sample(names, min(per_species or len(names), len(names)))]
    return photos


def breed_photos(folder: Path) -> list[tuple[Path, DetectionKind]]:
    """Every photo of DIR/cat/BREED/ and DIR/dog/BREED/, by species."""
    return [(path, kind) for kind in DRAW_ORDER for path in sorted((folder / kind).glob("*/*"))
            if path.suffix.lower() in IMAGE_SUFFIXES]


def pet_crop(detector: SSDPetDetector, rgb: np.ndarray) -> np.ndarray:
    """The app's body crop of the photo's largest pet box, else of the whole photo (a close-up)."""
    found = detector.detect(rgb)
    height, width = rgb.shape[:2]
    box = max((pet.box for pet in found), key=lambda b: (b[2] - b[0]) * (b[3] - b[1]),
              default=(0.0, 0.0, float(width), float(height)))
    return pet_body_crops(rgb, [box], INPUT_SIZE)


@functools.cache
def _crop_networks() -> tuple[SSDPetDetector, TorchRunner]:
    return SSDPetDetector(), TorchRunner(pet_crop_net(PET_HEAD_WEIGHTS), torch.device("cpu"))


def _chunk_features(photos: list[Path], batch: int = 32) -> np.ndarray:
    detector, runner = _crop_networks()
    return np.concatenate([runner.outputs(imagenet_batch(np.concatenate(
        [pet_crop(detector, load_rgb(path)) for path in photos[start:start + batch]])))[2]
        for start in range(0, len(photos), batch)]).astype(np.float32)


def pooled_features(photos: list[Path], cache: Path, chunk: int = 512) -> np.ndarray:
    """(N, 1280) the pet-crop network's pooled features of each photo's crop, in chunks cached by their paths and
    the network's weights (new head-box weights make every chunk again)."""
    network = hashlib.sha1(PET_HEAD_WEIGHTS.read_bytes()).hexdigest()
    parts = []
    for start in tqdm(range(0, len(photos), chunk), desc="photos (chunks of 512)"):
        part = photos[start:start + chunk]
        key = hashlib.sha1("\n".join([network, *map(str, part)]).encode()).hexdigest()[:16]
        parts.append(cached(cache / f"features-{key}.npy", functools.partial(_chunk_features, part)))
    return np.concatenate(parts)


def folded(probe: Pipeline) -> dict:
    """The standardised regression as weights and a bias on the raw features."""
    scaler, regression = probe.named_steps["standardscaler"], probe.named_steps["logisticregression"]
    weights = regression.coef_[0] / scaler.scale_
    return {"positive": str(DetectionKind.DOG), "weights": weights.tolist(),
            "bias": float(regression.intercept_[0] - weights @ scaler.mean_)}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    photos = drawn_photos(args.data, args.exclude, args.per_species, args.seed)
    photos += breed_photos(args.breeds) if args.breeds else []
    features = pooled_features([path for path, _ in photos], args.cache)
    is_dog = np.array([kind == DetectionKind.DOG for _, kind in photos])
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=args.c, max_iter=3000))
    accuracy = float(cross_val_score(probe, features, is_dog, cv=5).mean())
    print(f"{len(photos)} photos ({int(is_dog.sum())} dogs): 5-fold cross-validated accuracy {accuracy:.4f}")
    probe.fit(features, is_dog)
    stored = folded(probe) | {"photos": len(photos), "c": args.c, "seed": args.seed,
                              "cross_validated_accuracy": round(accuracy, 4)}
    args.out.write_text(json.dumps(stored))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
