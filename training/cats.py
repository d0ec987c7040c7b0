"""Train the cat-emotion head on labelled pet photos, keeping only the cats in them.

    python -m training.cats --data DIR --out inference/weights/cat_emotion_head.pt

DIR holds one folder per emotion at any depth, matched case-insensitively (e.g. pet_expression/ of the
public repository Sushant-S-13/Pet-Expression-Classification, a copy of the Kaggle "Pet's Facial
Expression" images: train/, valid/ and test/, each with Angry/, happy/, Sad/ and Other/); the set's own
split is ignored.

1. Cats only, cropped as the app crops them: the crop (`inference.crops.rgb_crops`) of the highest-scoring
   cat the app's SSD pet detector boxes in a photo without dogs, or of the whole photo when it finds no
   pet at all (close-ups of a face, which it misses); the ImageNet classifier of the same EfficientNet-Lite0
   must put at least --cat-probability on its five domestic-cat classes for the crop (the SSD calls some
   hamsters, rabbits and guinea pigs cats, and the close-ups are of many animals).
2. Clean: photos are linked when one is named as an edited copy of the other (--source-pattern: the
   Kaggle set's augmented copies, aug-<n>-<source>), when their difference hashes are close (as in
   training.dogs), or when their crops' backbone features have a cosine similarity >= --similarity;
   a linked group whose photos carry different labels is dropped, otherwise one photo is kept.
3. Test figures by cross-validation (the kept cats are too few for a held-out split of useful size):
   stratified folds; fold k is scored by a head trained on the others except fold k+1, which chooses
   the weight decay and fits the temperature. Every cat is scored once, by a head that saw neither it
   nor a near-duplicate of it; accuracy, macro-F1 and ECE are over those pooled scores.
4. The head, written only when the cross-validated macro-F1 reaches --min-macro-f1: trained on every
   fold but fold 0 (its val: weight decay and temperature).
   Training crops are used with their mirror images; heads, features and the file format are those
   of training.dogs, so inference.dog_emotion's network and classifier run it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from inference.backbone import efficientnet_lite0
from inference.calibration import calibration_path, softmax
from inference.crops import rgb_crops
from inference.detectors import SSDPetDetector
from inference.dog_emotion import imagenet_batch
from inference.errors import MediaError
from inference.heif import decode_photo
from inference.labels import CAT_EMOTIONS, DetectionKind
from inference.specs import BACKBONE_FEATURES as FEATURES
from inference.specs import PET_INPUT_SIZE as INPUT_SIZE
from training.data import IMAGE_SUFFIXES
from training.calibration import calibration_record, expected_calibration_error, fit_temperature
from training.dogs import cached, difference_hashes, fit_head, head_logits, near_duplicate_groups, similar_pairs
from training.evaluate import format_report, save_confusion_plot
from training.metrics import summary
from training.near_copies import linked_groups, one_per_group

DOMESTIC_CAT_CLASSES = list(range(281, 286))  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat
WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
TABLE_VERSION = 2  # cached photo tables of an older layout are recomputed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with one folder per emotion, at any depth")
    parser.add_argument("--out", type=Path, required=True, help="where to write the head (.pt)")
    parser.add_argument("--classes", default=",".join(CAT_EMOTIONS))
    parser.add_argument("--cat-probability", type=float, default=0.04,
                        help="least ImageNet domestic-cat probability of the crop (hissing cats score low; the "
                             "hamsters, guinea pigs, rabbits and dogs of the Kaggle set 0.03 or less)")
    parser.add_argument("--hamming", type=int, default=3, help="near-duplicate distance in hash bits (<= 3)")
    parser.add_argument("--similarity", type=float, default=0.9, help="near-duplicate cosine similarity of features")
    parser.add_argument("--source-pattern", default=r"aug-\d+-(?P<source>.+)",
                        help="regular expression: a file name that matches is an edited copy of <source> in its folder")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--min-macro-f1", type=float, default=0.5,
                        help="write the head only when the cross-validated macro-F1 reaches this")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--cache", type=Path, default=Path(".cache/cats"), help="folder for detections and features")
    parser.add_argument("--plot", default="artifacts/cat_emotion_confusion.png")
    return parser.parse_args(argv)



class Found(IntEnum):
    """What the app's pet detector found in a photo; photos with a CAT, or NO_PET (then the whole photo is
    the crop), are used if the ImageNet classifier sees a domestic cat in the crop."""

    CAT = 0
    UNREADABLE = 1
    NO_PET = 2
    DOG = 3
    CAT_AND_DOG = 4


def labelled_photos(data: Path, classes: tuple[str, ...]) -> tuple[list[Path], np.ndarray]:
    """Every image under a folder named after a class (any case), with its class index."""
    paths = sorted(path for path in data.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES
                   and path.parent.name.lower() in classes)
    return paths, np.array([classes.index(path.parent.name.lower()) for path in paths], dtype=np.int64)


class CatCropper:
    """The app's pet detector and crop, and EfficientNet-Lite0's features and ImageNet opinion of the crop."""

    def __init__(self):
        self.detector = SSDPetDetector()
        self.backbone = efficientnet_lite0().eval()

    def crop(self, path: Path) -> tuple[Found, np.ndarray | None]:
        """The crop of the photo's highest-scoring cat, as the app cuts it, or of the whole photo when no pet
        is found (close-ups of a face, which the SSD misses); None for dogs."""
        try:
            rgb = decode_photo(path.read_bytes()).rgb
        except (MediaError, OSError):
            return Found.UNREADABLE, None
        found = self.detector.detect(rgb)
        kinds = {detection.kind for detection in found}
        if not kinds:
            return Found.NO_PET, rgb_crops(rgb, [(0, 0, rgb.shape[1], rgb.shape[0])], INPUT_SIZE)[0]
        if DetectionKind.CAT not in kinds:
            return Found.DOG, None
        if DetectionKind.DOG in kinds:
            return Found.CAT_AND_DOG, None
        best = max((d for d in found if d.kind == DetectionKind.CAT), key=lambda detection: detection.score)
        return Found.CAT, rgb_crops(rgb, [best.box], INPUT_SIZE)[0]

    def embed(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pooled features (N, 1280), as inference.backbone.PooledFeatures computes them, and the ImageNet
        probability of the five domestic-cat classes, for uint8 RGB crops."""
        with torch.inference_mode():
            pooled = self.backbone.extract_features(torch.from_numpy(imagenet_batch(crops))).mean((2, 3))
            cat_probability = torch.softmax(self.backbone._fc(pooled), 1)[:, DOMESTIC_CAT_CLASSES].sum(1)
        return pooled.numpy(), cat_probability.numpy()


def photo_table(paths: list[Path], cache: Path) -> np.ndarray:
    """One row per photo: Found, the crop's domestic-cat probability, the features of the crop and of its
    mirror image (zeros without a cat). Cached by the list of paths."""
    key = hashlib.sha1("\n".join(map(str, [TABLE_VERSION, *paths])).encode()).hexdigest()[:16]

    def compute() -> np.ndarray:
        cropper = CatCropper()
        rows = np.zeros((len(paths), 2 + 2 * FEATURES), dtype=np.float32)
        for row, path in zip(rows, tqdm(paths, desc="detect, crop, embed", mininterval=10)):
            found, crop = cropper.crop(path)
            row[0] = found
            if crop is not None:
                features, cat_probability = cropper.embed(np.stack([crop, crop[:, ::-1]]))
                row[1], row[2:] = cat_probability[0], features.reshape(-1)
        return rows

    return cached(cache / f"photos-{key}.npy", compute)


def same_source(paths: list[Path], pattern: str) -> np.ndarray:
    """Group id per photo: photos in one folder whose names, less what `pattern` says is an edit (its
    "source" group), are equal. The Kaggle set's augmented copies are named aug-<n>-<source name>."""
    compiled = re.compile(pattern)

    def source(path: Path) -> str:
        match = compiled.fullmatch(path.stem)
        return f"{path.parent}/{match.group('source') if match else path.stem}"

    return np.unique([source(path) for path in paths], return_inverse=True)[1]


def near_duplicate_links(paths: list[Path], hashes: np.ndarray, features: np.ndarray, args: argparse.Namespace
                         ) -> np.ndarray:
    """Group id per photo, a connected component of links between photos with one source name, with
    difference hashes within args.hamming bits (training.dogs), or with features of cosine similarity
    >= args.similarity."""
    count = len(features)
    similar_firsts, similar_seconds = similar_pairs(features, args.similarity)
    named = same_source(paths, args.source_pattern)
    first_of_name = np.unique(named, return_index=True)[1][named]
    sources = np.concatenate([np.arange(count), np.arange(count), similar_firsts])
    targets = np.concatenate([near_duplicate_groups(hashes, args.hamming), first_of_name, similar_seconds])
    return linked_groups(count, sources, targets)


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold index per photo: each class shuffled and dealt round the folds from a random first fold."""
    random = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = random.permutation(np.flatnonzero(labels == label))
        fold[members] = (np.arange(len(members)) + random.integers(folds)) % folds
    return fold


@dataclass
class Head:
    """A linear head on standardised features, with the weight decay and temperature chosen on val."""

    linear: torch.nn.Linear
    mean: np.ndarray
    scale: np.ndarray
    weight_decay: float
    temperature: float

    def logits(self, features: np.ndarray) -> np.ndarray:
        return head_logits(self.linear, (features - self.mean) / self.scale)


def train_head(features: np.ndarray, mirrored: np.ndarray, labels: np.ndarray, train: np.ndarray, val: np.ndarray,
               classes: int) -> Head:
    """Fit on the train crops and their mirror images; weight decay by val macro-F1; temperature on val."""
    inputs = np.concatenate([features[train], mirrored[train]])
    targets = np.concatenate([labels[train], labels[train]])
    mean, scale = inputs.mean(0), inputs.std(0) + 1e-6
    best = None
    for weight_decay in WEIGHT_DECAYS:
        head = Head(fit_head((inputs - mean) / scale, targets, classes, weight_decay), mean, scale, weight_decay, 1.0)
        score = summary(labels[val], softmax(head.logits(features[val])))["macro_f1"]
        if best is None or score > best[0]:
            best = (score, head)
    head = best[1]
    head.temperature = fit_temperature(head.logits(features[val]), labels[val])
    return head


def cross_validated_logits(features: np.ndarray, mirrored: np.ndarray, labels: np.ndarray, fold: np.ndarray,
                           classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Each photo's logits and calibrated probabilities from the head of its fold (test = k, val = k + 1)."""
    folds = int(fold.max()) + 1
    logits = np.zeros((len(labels), classes))
    probabilities = np.zeros((len(labels), classes))
    for k in range(folds):
        test, val = np.flatnonzero(fold == k), np.flatnonzero(fold == (k + 1) % folds)
        head = train_head(features, mirrored, labels, np.flatnonzero((fold != k) & (fold != (k + 1) % folds)), val,
                          classes)
        logits[test] = head.logits(features[test])
        probabilities[test] = softmax(logits[test], head.temperature)
        print(f"fold {k}: weight decay {head.weight_decay:g}, temperature {head.temperature:.3f}, "
              f"test macro-F1 {summary(labels[test], probabilities[test])['macro_f1']:.4f} ({len(test)} cats)")
    return logits, probabilities


def cats_in(table: np.ndarray, min_cat_probability: float) -> tuple[np.ndarray, Counter]:
    """Indices of the photos with a usable cat crop, and a count of what was used and left out."""
    found = table[:, 0].astype(np.int64)
    domestic = table[:, 1] >= min_cat_probability
    cropped = np.isin(found, [Found.CAT, Found.NO_PET])
    tally = Counter(Found(code).name.lower().replace("_", " ") for code in found[~cropped])
    for kind, name in ((Found.CAT, "cat box"), (Found.NO_PET, "no pet box, whole photo")):
        tally[f"{name}: a domestic cat (used)"] = int(((found == kind) & domestic).sum())
        tally[f"{name}: not a domestic cat (ImageNet)"] = int(((found == kind) & ~domestic).sum())
    return np.flatnonzero(cropped & domestic), tally


def save_head(head: Head, classes: tuple[str, ...], metrics: dict, out: Path) -> None:
    """The head in training.dogs' format (inference.dog_net.DogEmotionNet reads it), then its temperature."""
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"classes": list(classes), "weight": head.linear.weight.detach().clone(),
                "bias": head.linear.bias.detach().clone(), "feature_mean": torch.from_numpy(head.mean).float(),
                "feature_scale": torch.from_numpy(head.scale).float(), "test_macro_f1": metrics["macro_f1"],
                "test_accuracy": metrics["accuracy"], "metrics": json.dumps(metrics)}, out)
    calibration_path(out).write_text(calibration_record(out, head.temperature, fitted_on="val (fold 0)",
                                                        test_ece_before=metrics["ece_before"],
                                                        test_ece_after=metrics["ece_after"]))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    classes = tuple(args.classes.split(","))
    paths, labels = labelled_photos(args.data, classes)
    print(f"{len(paths)} photos: {dict(Counter(classes[label] for label in labels))}")
    table = photo_table(paths, args.cache)
    cats, tally = cats_in(table, args.cat_probability)
    print(f"{len(cats)} cat crops: {dict(tally)}")
    features, mirrored = table[cats, 2:2 + FEATURES], table[cats, 2 + FEATURES:]
    hashes = np.array([difference_hashes(paths[index]) for index in cats], dtype=np.uint64)
    cat_paths = [paths[index] for index in cats]
    kept, removed = one_per_group([str(path) for path in cat_paths], labels[cats],
                                  near_duplicate_links(cat_paths, hashes, features, args))
    targets = labels[cats][kept]
    print(f"kept {len(kept)} cats {dict(Counter(classes[label] for label in targets))}; removed {dict(removed)}")
    fold = stratified_folds(targets, args.folds, args.seed)
    logits, probabilities = cross_validated_logits(features[kept], mirrored[kept], targets, fold, len(classes))
    report, metrics = format_report(classes, targets, probabilities)
    metrics.update(ece_before=expected_calibration_error(softmax(logits), targets),
                   ece_after=expected_calibration_error(probabilities, targets))
    print(f"cross-validated ({args.folds} folds), every cat scored once by a head that did not see it\n{report}")
    print(f"ECE {metrics['ece_before']:.4f} before temperature scaling, {metrics['ece_after']:.4f} after")
    save_confusion_plot(np.array(metrics["confusion"]), classes, args.plot, "cat emotion, cross-validated")
    head = train_head(features[kept], mirrored[kept], targets, np.flatnonzero(fold != 0), np.flatnonzero(fold == 0),
                      len(classes))
    metrics.update(photos=dict(tally), removed=dict(removed), kept=len(kept), folds=args.folds,
                   weight_decay=head.weight_decay)
    if metrics["macro_f1"] < args.min_macro_f1:
        print(f"cross-validated macro-F1 {metrics['macro_f1']:.4f} < {args.min_macro_f1}: no head written")
        return
    save_head(head, classes, metrics, args.out)
    print(f"head written to {args.out} (weight decay {head.weight_decay:g}, temperature {head.temperature:.3f})")


if __name__ == "__main__":
    main()
