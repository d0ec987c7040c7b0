"""The dog photos' recorded split (training/dog_split.json): the val and test photos by name, every other kept photo
in train. Light on purpose (no detector, no torch), so training.dog_device can read it on the GPU machine.

training.dogs computes a split by copy group from the app's body crops; those crops, and so the split, change
whenever the app's pet path does. So the split the shipped members were trained on is written down (`training.dogs
--new-split`) and read back by every command that trains or measures a dog model (`--split-file`).
"""

from __future__ import annotations

import argparse
import json
from enum import StrEnum
from pathlib import Path

import numpy as np

SPLIT_FILE = Path(__file__).with_name("dog_split.json")  # the split the shipped members were trained on


class DogSplit(StrEnum):
    """The parts of the dog photos: trained on, chosen on, measured on (their names in the split file)."""

    TRAIN = "train"
    VAL = "val"
    TEST = "test"


HELD_SPLITS = (DogSplit.VAL, DogSplit.TEST)


def add_split_arguments(parser: argparse.ArgumentParser) -> None:
    """--split-file, for every command that reads the recorded split."""
    parser.add_argument("--split-file", type=Path, default=SPLIT_FILE,
                        help="the recorded split: the val and test photos' names (default: the shipped members')")


def photo_name(path: Path) -> str:
    """A photo's name in the recorded split: its class folder and file name."""
    return f"{path.parent.name}/{path.name}"


def recorded_split(paths: list[Path], split_file: Path) -> dict[str, np.ndarray]:
    """The recorded split as indices into `paths`. SystemExit when a named photo is not among `paths` (other data,
    or other cleaning)."""
    recorded = json.loads(split_file.read_text())
    index = {photo_name(path): number for number, path in enumerate(paths)}
    missing = [name for split in HELD_SPLITS for name in recorded[split] if name not in index]
    if missing:
        raise SystemExit(f"{len(missing)} photos of {split_file} are not among the kept photos, e.g. {missing[0]}: "
                         "other data, or other cleaning (training.dogs --new-split makes a new split)")
    held = {split: np.sort([index[name] for name in recorded[split]]) for split in HELD_SPLITS}
    return {DogSplit.TRAIN: np.setdiff1d(np.arange(len(paths)), np.concatenate(list(held.values()))), **held}


def write_split(paths: list[Path], splits: dict[str, np.ndarray], split_file: Path, seed: int) -> None:
    """Record `splits` (indices into `paths`) by the held-out photos' names."""
    split_file.write_text(json.dumps({
        "about": "training.dogs' split of sumit-158/Dog-emotion-images (images/), by copy group: the val and test "
                 "photos' names; train is every other photo kept by the cleaning",
        "seed": seed, **{split: [photo_name(paths[i]) for i in splits[split]] for split in HELD_SPLITS}},
        indent=0) + "\n")
