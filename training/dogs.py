"""Train the dog-emotion model on a folder of labelled dog photos (one sub-folder per emotion).

    python -m training.dogs --data DIR --out inference/weights/dog_emotion_head.pt --crop body

DIR is laid out like images/ in the public repository sumit-158/Dog-emotion-images
(angry/, happy/, relaxed/, sad/, and a tiny nutral/ that is left out by default).

1. Clean: each photo is decoded (unreadable files are dropped) and hashed (64-bit difference
   hash of the photo and of its mirror image). Photos within --hamming bits of each other form
   one group: a group whose photos carry different labels is dropped (label conflict), a group
   with one label keeps one photo.
2. Crops: the photo's centre square (--crop centre), or the largest dog found by the app's pet path
   (SSD, species check, head box): its face (--crop face: head box, 15% margin) or its body (--crop body:
   body box, 5% margin); the mirror image is added to training; a photo where the app finds no dog gives
   its centre square to training and is left out of val and test (the app would not read it). Crops are
   cached per 200 photos, an interrupted run resumes.
3. Split by copy group, stratified 80/10/10 by the group's most common label, fixed seed. Re-cropped,
   resized or re-coloured copies of one shot escape the hash: photos whose body crops' pooled ImageNet
   features (the frozen EfficientNet-Lite0) have a cosine similarity >= 0.8 are linked, and each
   connected group of links goes whole into one split, so no test photo has a copy in training
   (bench.dog_near_copies measures what is left). The crops, and so the links, change whenever the app's pet path
   does: the split is therefore recorded (training/dog_split.json, the val and test photos' names, written by
   --new-split) and read from there by this command, training.dog_ensemble, training.dog_device and the benches.
4. Model, either
   - --tune-from N: EfficientNet-Lite0 fine-tuned from block N on (training/dog_tuning.py; the frozen
     blocks' output is cached, a checkpoint is written per epoch, the best val epoch is kept; --augment
     trains on randomly resized, re-coloured and mirrored pixels instead, running the frozen blocks per batch), or
   - a linear head: multinomial logistic regression on the frozen network's standardised pooled
     features, class-balanced loss, weight decay chosen on val by macro-F1.
   Test metrics printed, confusion matrix saved as PNG.
5. Calibration: a temperature fitted on val, stored beside the weights (<out stem>.calibration.json),
   with the test split's expected calibration error before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from inference.calibration import calibration_path, softmax
from inference.crops import dog_face_crops, pet_body_crops
from inference.detectors import SSDPetDetector
from inference.dog_net import TunedNet
from inference.pet_species import PetCropModel, ReviewedPet
from inference.specs import PET_INPUT_SIZE as INPUT_SIZE
from inference.labels import DOG_EMOTIONS, DetectionKind
from training.calibration import calibration_record, expected_calibration_error, fit_temperature
from training.data import load_rgb
from training.dog_split import DogSplit, add_split_arguments, recorded_split, write_split
from training.dog_tuning import (TUNABLE_BLOCKS, TuningSettings, fine_tune, frozen_activations, pooled_features,
                                 tuned_logits)
from training.evaluate import format_report, save_confusion_plot
from training.metrics import summary
from training.near_copies import linked_groups, one_per_group

SPLITS = {DogSplit.TRAIN: 0.8, DogSplit.VAL: 0.1, DogSplit.TEST: 0.1}
COPY_SIMILARITY = 0.8  # cosine of pooled features: at 0.80-0.85 the nearest photo shares the label 82% of the time


class CropKind(StrEnum):
    """Which part of a photo the head is trained on."""

    CENTRE = "centre"
    FACE = "face"
    BODY = "body"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with one sub-folder per emotion")
    parser.add_argument("--out", type=Path, required=True, help="where to write the head (.pt)")
    parser.add_argument("--classes", default=",".join(DOG_EMOTIONS))
    parser.add_argument("--hamming", type=int, default=3, help="near-duplicate distance in hash bits (<= 3)")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the split (and of training by default)")
    parser.add_argument("--train-seed", type=int, default=None,
                        help="seed of the fine-tuned head's start and of the batches (default: --seed); the split "
                             "stays --seed's, so runs with other training seeds can be ensembled")
    parser.add_argument("--cache", type=Path, default=Path(".cache/dogs"), help="folder for hashes and features")
    parser.add_argument("--crop", type=CropKind, choices=list(CropKind), default=CropKind.CENTRE,
                        help="centre: the photo's centre square; face / body: the app's crop of the largest dog")
    parser.add_argument("--tune-from", type=int, default=0, choices=[0, *TUNABLE_BLOCKS],
                        help="fine-tune EfficientNet-Lite0 from this block on (0: linear head on frozen features)")
    parser.add_argument("--epochs", type=int, default=TuningSettings.epochs, help="fine-tuning epochs")
    parser.add_argument("--lr", type=float, default=TuningSettings.learning_rate, help="fine-tuning peak learning rate")
    parser.add_argument("--augment", action="store_true",
                        help="fine-tune on randomly resized, re-coloured and mirrored crops (slow on a CPU)")
    parser.add_argument("--plot", default="artifacts/dog_emotion_confusion.png")
    add_split_arguments(parser)
    parser.add_argument("--new-split", action="store_true",
                        help="split by copy group again and write it to --split-file (every member must be retrained)")
    return parser.parse_args(argv)


def difference_hashes(path: Path) -> tuple[int, int] | None:
    """64-bit difference hashes of the photo and its mirror image; None if it does not decode."""
    try:
        with Image.open(path) as image:
            image.draft("L", (64, 64))
            small = np.asarray(image.convert("L").resize((9, 8), Image.BILINEAR), dtype=np.int16)
    except (OSError, UnidentifiedImageError):
        return None
    mirrored = small[:, ::-1]
    return _bits_to_int(small[:, 1:] > small[:, :-1]), _bits_to_int(mirrored[:, 1:] > mirrored[:, :-1])


def _bits_to_int(bits: np.ndarray) -> int:
    return int(np.packbits(bits.reshape(-1)).view(">u8")[0])


def near_duplicate_groups(hashes: np.ndarray, max_distance: int) -> np.ndarray:
    """Group per photo (`near_copies.linked_groups`); `hashes` is (N, 2) uint64 (photo, mirror). Exact for
    max_distance <= 3: two hashes that close agree on at least one of their four 16-bit bands."""
    owners = np.concatenate([np.arange(len(hashes))] * 2)
    values = np.concatenate([hashes[:, 0], hashes[:, 1]])
    firsts, seconds = [], []
    for band in range(4):
        keys = (values >> np.uint64(16 * band)) & np.uint64(0xFFFF)
        order = np.argsort(keys, kind="stable")
        boundaries = np.flatnonzero(np.diff(keys[order])) + 1
        for bucket in np.split(order, boundaries):
            if len(bucket) < 2:
                continue
            distances = np.bitwise_count(values[bucket][:, None] ^ values[bucket][None, :])
            close_a, close_b = np.nonzero(np.triu(distances <= max_distance, 1))
            firsts.append(owners[bucket[close_a]])
            seconds.append(owners[bucket[close_b]])
    return linked_groups(len(hashes), np.concatenate([[], *firsts]).astype(int),
                         np.concatenate([[], *seconds]).astype(int))


def clean(paths: list[Path], labels: np.ndarray, hashes: list, max_distance: int) -> tuple[list[int], Counter]:
    """Indices of the photos kept (`near_copies.one_per_group`), and what was removed, unreadable photos too."""
    readable = [i for i, h in enumerate(hashes) if h is not None]
    groups = near_duplicate_groups(np.array([hashes[i] for i in readable], dtype=np.uint64), max_distance)
    kept, removed = one_per_group([str(paths[i]) for i in readable], labels[readable], groups)
    return [readable[i] for i in kept], Counter({"unreadable": len(hashes) - len(readable), **removed})


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """The rows scaled to length 1, as float32 (their dot products are cosine similarities)."""
    rows = rows.astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def similar_pairs(features: np.ndarray, similarity: float, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of rows of `features` whose cosine similarity is at least `similarity`, computed a block
    of rows at a time."""
    unit = unit_rows(features)
    firsts, seconds = [], []
    for start in range(0, len(unit), block):
        rows, columns = np.nonzero(unit[start:start + block] @ unit.T >= similarity)
        later = rows + start < columns
        firsts.append(rows[later] + start)
        seconds.append(columns[later])
    return np.concatenate(firsts), np.concatenate(seconds)


def copy_groups(features: np.ndarray, similarity: float = COPY_SIMILARITY) -> np.ndarray:
    """Group per photo (`near_copies.linked_groups`): photos whose features have a cosine similarity of at least
    `similarity` are linked."""
    return linked_groups(len(features), *similar_pairs(features, similarity))


def split_indices(labels: np.ndarray, groups: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Train/val/test indices: whole groups, stratified by each group's most common label (for each label, its
    groups in a seeded random order fill train, then val, then test, by their share of its photos)."""
    group_ids, group_of = np.unique(groups, return_inverse=True)
    counts = np.zeros((len(group_ids), labels.max() + 1))
    np.add.at(counts, (group_of, labels), 1)
    sizes, majority = counts.sum(1), counts.argmax(1)
    cuts = np.cumsum(list(SPLITS.values()))[:-1]
    part = np.zeros(len(group_ids), dtype=int)
    random = np.random.default_rng(seed)
    for label in np.unique(majority):
        members = random.permutation(np.flatnonzero(majority == label))
        share_before = (np.cumsum(sizes[members]) - sizes[members]) / sizes[members].sum()
        part[members] = np.searchsorted(cuts, share_before, side="right")
    return {name: np.flatnonzero(part[group_of] == number) for number, name in enumerate(SPLITS)}


def dog_photos(data: Path, classes: tuple[str, ...] = DOG_EMOTIONS) -> tuple[list[Path], np.ndarray]:
    """The photos in data/<class>/ for each class, in a fixed order, and their class indices."""
    paths = [path for label in classes for path in sorted((data / label).glob("*")) if path.is_file()]
    return paths, np.array([classes.index(path.parent.name) for path in paths])


def centre_square(path: Path) -> np.ndarray:
    """The photo's centre square at the model's input size: what a training photo without a dog gives."""
    with Image.open(path) as image:
        return centre_square_of(np.asarray(image.convert("RGB")))


def centre_square_of(rgb: np.ndarray) -> np.ndarray:
    """An RGB photo's centre square at the model's input size (bilinear, as the first dog model was trained on)."""
    image = Image.fromarray(rgb)
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return np.asarray(image.crop((left, top, left + side, top + side)).resize((INPUT_SIZE, INPUT_SIZE),
                                                                              Image.BILINEAR))


def cached(path: Path, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """np.load(path) if it exists, else compute() saved there (written whole or not at all: a run stopped while
    writing leaves no half file for the next to trip on)."""
    if path.exists():
        return np.load(path)
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.partial.npy")
    np.save(partial, value)
    partial.replace(path)
    return value


def photo_hashes(paths: list[Path], cache: Path) -> list[tuple[int, int] | None]:
    """difference_hashes of every photo (None: unreadable), cached: the slow part of cleaning on a CPU."""
    key = hashlib.sha1("\n".join(map(str, paths)).encode()).hexdigest()[:16]

    def compute() -> np.ndarray:
        hashes = [difference_hashes(path) for path in tqdm(paths, desc="hashing", mininterval=10)]
        return np.array([(1, *h) if h else (0, 0, 0) for h in hashes], dtype=np.uint64)

    return [(int(a), int(b)) if readable else None for readable, a, b in cached(cache / f"hashes-{key}.npy", compute)]


def largest_dog(pets: list[ReviewedPet]) -> ReviewedPet | None:
    """The dog with the largest body box among the reviewed pets of one photo, if any."""
    dogs = [pet for pet in pets if pet.body.kind == DetectionKind.DOG]
    return max(dogs, key=lambda pet: (pet.body.box[2] - pet.body.box[0]) * (pet.body.box[3] - pet.body.box[1]),
               default=None)


class DogCropper:
    """The largest dog the app finds in a photo (SSD, species check, head box), cropped as its face (head box,
    15% margin) or its body (body box, 5% margin)."""

    def __init__(self, crop: CropKind) -> None:
        self.crop = crop
        self.detector, self.pet_crops = SSDPetDetector(), PetCropModel("cpu")

    def __call__(self, path: Path) -> np.ndarray | None:
        rgb = load_rgb(path)
        dog = largest_dog(self.pet_crops.review([rgb], self.detector.detect_batch([rgb]))[0])
        if dog is None:
            return None
        if self.crop is CropKind.BODY:
            return pet_body_crops(rgb, [dog.body.box], INPUT_SIZE)[0]
        return dog_face_crops(rgb, [dog.as_found(rgb).box], INPUT_SIZE)[0]


def photo_crops(paths: list[Path], cropper: DogCropper | None) -> tuple[np.ndarray, np.ndarray]:
    """Crops at the model's input size and whether each is the app's crop of a dog (else the centre square)."""
    faces = [cropper(path) if cropper else None for path in paths]
    crops = [face if face is not None else centre_square(path) for face, path in zip(faces, paths)]
    return np.stack(crops), np.array([face is not None for face in faces])


def cached_crops(paths: list[Path], cache: Path, crop: CropKind, chunk: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """photo_crops of every photo (uint8, N x size x size x 3) and whether each is the app's crop of a dog,
    computed in cached chunks (an interrupted run resumes; the app's pet path is the slow part on a CPU)."""
    key = hashlib.sha1(("\n".join(map(str, paths)) + str(crop)).encode()).hexdigest()[:16]
    cropper = None
    crops = np.empty((len(paths), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)  # filled in place: no second copy
    found = np.empty(len(paths), dtype=bool)
    for start in tqdm(range(0, len(paths), chunk), desc=f"crops ({crop})", mininterval=30):
        path = cache / f"crops-{key}-{start}.npz"
        if not path.exists():
            cropper = cropper or (None if crop is CropKind.CENTRE else DogCropper(crop))
            part, is_dog = photo_crops(paths[start:start + chunk], cropper)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, crops=part, found=is_dog)
        with np.load(path) as stored:
            crops[start:start + chunk], found[start:start + chunk] = stored["crops"], stored["found"]
    return crops, found


def fit_head(features: np.ndarray, labels: np.ndarray, classes: int, weight_decay: float,
             steps: int = 300) -> torch.nn.Linear:
    torch.manual_seed(0)
    head = torch.nn.Linear(features.shape[1], classes)
    inputs, targets = torch.from_numpy(features).float(), torch.from_numpy(labels).long()
    counts = torch.bincount(targets, minlength=classes).float()
    balance = counts.sum() / (classes * counts.clamp(min=1))
    optimizer = torch.optim.AdamW(head.parameters(), lr=0.01, weight_decay=weight_decay)
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(head(inputs), targets, weight=balance).backward()
        optimizer.step()
    return head


def head_logits(head: torch.nn.Linear, features: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return head(torch.from_numpy(features).float()).numpy()


def head_probabilities(head: torch.nn.Linear, features: np.ndarray) -> np.ndarray:
    return softmax(head_logits(head, features))


def write_temperature(logits: dict[str, np.ndarray], targets: dict[str, np.ndarray], out: Path) -> None:
    """Fit the temperature on val, print the test ECE before and after, store it beside the weights."""
    temperature = fit_temperature(logits[DogSplit.VAL], targets[DogSplit.VAL])
    test_logits = logits[DogSplit.TEST]
    before = expected_calibration_error(softmax(test_logits), targets[DogSplit.TEST])
    after = expected_calibration_error(softmax(test_logits, temperature), targets[DogSplit.TEST])
    print(f"temperature {temperature:.3f} (fitted on val); test ECE {before:.4f} before, {after:.4f} after")
    calibration_path(out).write_text(calibration_record(out, temperature, fitted_on=DogSplit.VAL.value,
                                                        test_ece_before=before, test_ece_after=after))


@dataclass
class DogData:
    """The kept photos (after cleaning), their labels, the train/val/test split (indices into both), and the body
    crops the split was grouped by (with whether each is the app's crop of a dog)."""

    paths: list[Path]
    labels: np.ndarray
    splits: dict[str, np.ndarray]
    removed: Counter
    body_crops: np.ndarray
    body_found: np.ndarray

    def read(self, found: np.ndarray) -> dict[str, np.ndarray]:
        """Indices per split of the photos to train and measure on: every training photo (a photo without a dog
        gives its centre square), the val and test photos where the app finds a dog (it reads no other)."""
        return {name: indices if name == DogSplit.TRAIN else indices[found[indices]]
                for name, indices in self.splits.items()}


def dog_data(data: Path, cache: Path, classes: tuple[str, ...] = DOG_EMOTIONS, hamming: int = 3,
             seed: int = 1234, split_file: Path | None = None) -> DogData:
    """Steps 1 and 3 of the module docstring: the photos in data/<class>/, cleaned, and split as `split_file`
    records, or else by copy group."""
    paths, labels = dog_photos(data, classes)
    kept, removed = clean(paths, labels, photo_hashes(paths, cache), hamming)
    paths, labels = [paths[i] for i in kept], labels[kept]
    body_crops, body_found = cached_crops(paths, cache, CropKind.BODY)
    if split_file is not None:
        splits = recorded_split(paths, split_file)
    else:
        splits = split_indices(labels, copy_groups(pooled_features(body_crops, cache)[:, 0]), seed)
    return DogData(paths, labels, splits, removed, body_crops, body_found)


def both_orientations(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2, ...) per-crop-and-mirror values as 2N training rows, and their labels."""
    return np.concatenate([values[:, 0], values[:, 1]]), np.concatenate([labels, labels])


def train_linear_head(dogs: DogData, crops: np.ndarray, read: dict[str, np.ndarray],
                      args: argparse.Namespace) -> tuple[dict, dict, dict]:
    """The linear head on standardised frozen features (crops and their mirror images in training), weight decay
    chosen on val: what to store, the logits of val and test, and their labels."""
    features = pooled_features(crops, args.cache).astype(np.float32)
    train, train_labels = both_orientations(features[read[DogSplit.TRAIN]], dogs.labels[read[DogSplit.TRAIN]])
    mean, scale = train.mean(0), train.std(0) + 1e-6
    standard = {DogSplit.TRAIN: (train - mean) / scale}
    targets = {DogSplit.TRAIN: train_labels}
    for name in (DogSplit.VAL, DogSplit.TEST):
        standard[name], targets[name] = (features[read[name], 0] - mean) / scale, dogs.labels[read[name]]
    best = None
    for weight_decay in (1e-3, 1e-2, 1e-1, 1.0, 3.0, 10.0, 20.0, 30.0, 50.0):
        head = fit_head(standard[DogSplit.TRAIN], targets[DogSplit.TRAIN], len(np.unique(dogs.labels)), weight_decay)
        score = summary(targets[DogSplit.VAL], head_probabilities(head, standard[DogSplit.VAL]))["macro_f1"]
        print(f"weight decay {weight_decay:g}: val macro-F1 {score:.4f}")
        if best is None or score > best[0]:
            best = (score, weight_decay, head)
    _, weight_decay, head = best
    print(f"weight decay {weight_decay:g}")
    stored = {"weight": head.weight.detach().clone(), "bias": head.bias.detach().clone(),
              "feature_mean": torch.from_numpy(mean).float(), "feature_scale": torch.from_numpy(scale).float(),
              "weight_decay": weight_decay}
    return stored, {name: head_logits(head, standard[name]) for name in (DogSplit.VAL, DogSplit.TEST)}, targets


def train_tuned(dogs: DogData, crops: np.ndarray, read: dict[str, np.ndarray],
                args: argparse.Namespace) -> tuple[dict, dict, dict]:
    """EfficientNet-Lite0 fine-tuned from block --tune-from on the app's crops (training/dog_tuning.py): what to
    store, the logits of val and test, and their labels."""
    net = TunedNet({"classes": args.classes.split(","), "first_tuned_block": args.tune_from})
    every = frozen_activations(net, crops, args.cache)
    activations = {name: every[indices] for name, indices in read.items()}
    targets = {name: dogs.labels[indices] for name, indices in read.items()}
    settings = TuningSettings(epochs=args.epochs, learning_rate=args.lr, augment=args.augment,
                              seed=args.seed if args.train_seed is None else args.train_seed)
    run = repr((settings, args.tune_from, str(args.crop), args.classes, hashlib.sha1(read[DogSplit.TRAIN]).hexdigest()))
    checkpoint = args.cache / f"checkpoint-tuning-{hashlib.sha1(run.encode()).hexdigest()[:12]}.pt"  # one per run
    train_crops = crops[read[DogSplit.TRAIN]] if args.augment else None
    net = fine_tune(net, activations, targets, settings, checkpoint, train_crops)
    stored = {"first_tuned_block": args.tune_from, "state": net.tuned_state(), "epochs": args.epochs,
              "learning_rate": args.lr}
    return stored, {name: tuned_logits(net, activations[name]) for name in (DogSplit.VAL, DogSplit.TEST)}, targets


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    classes = tuple(args.classes.split(","))
    dogs = dog_data(args.data, args.cache, classes, args.hamming, args.seed,
                    None if args.new_split else args.split_file)
    if args.new_split:
        write_split(dogs.paths, dogs.splits, args.split_file, args.seed)
    print(f"kept {len(dogs.paths)}; removed {dict(dogs.removed)}")
    print({name: dict(Counter(classes[i] for i in dogs.labels[indices])) for name, indices in dogs.splits.items()})
    crops, found = ((dogs.body_crops, dogs.body_found) if args.crop is CropKind.BODY
                    else cached_crops(dogs.paths, args.cache, args.crop))
    read = dogs.read(found)
    for name in (DogSplit.VAL, DogSplit.TEST):
        print(f"{name}: the app finds a dog in {len(read[name])} of {len(dogs.splits[name])} photos")
    train = train_tuned if args.tune_from else train_linear_head
    stored, logits, targets = train(dogs, crops, read, args)
    report, metrics = format_report(classes, targets[DogSplit.TEST], softmax(logits[DogSplit.TEST]))
    print(f"test split\n{report}")
    save_confusion_plot(np.array(metrics["confusion"]), classes, args.plot, "dog emotion, test split")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"classes": list(classes), **stored, "test_macro_f1": metrics["macro_f1"],
                "test_accuracy": metrics["accuracy"],
                "metrics": json.dumps({**metrics, "removed": dict(dogs.removed), "crop": str(args.crop),
                                       "splits": {k: len(v) for k, v in targets.items()}})}, args.out)
    write_temperature(logits, targets, args.out)  # after the weights: the record holds their hash
    print(f"weights written to {args.out}; confusion matrix in {args.plot}")


if __name__ == "__main__":
    main()
