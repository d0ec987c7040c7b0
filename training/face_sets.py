"""Labelled face photos: lay out a fetched collection as class folders split by identity, and read
any class-folder set (FER2013's layout) through the app's own photo pipeline.

    python -m training.face_sets --muxspace REPO --out DIR

REPO is a checkout of the public repository muxspace/facial_expressions (Apache-2.0): photos in
`images/`, labels in `data/legend.csv` (user id, image, emotion). Its photos come from two sources,
written as two sets:
- DIR/news: Labeled Faces in the Wild crops (news photos, mostly gray 350x350), file names Name_NNNN.jpg;
- DIR/film: colour stills of Indian film actors (the contributor "jhamski"), file names Name_N.jpg.
Each set gets `calib/` and `eval/` with one sub-folder per emotion (FER2013's names), split by
identity (the name before the last "_"; sorted identities alternate between the two splits), so no
person is in both. Dropped: "contempt" (no such class here) and photos listed twice with different labels.

    python -m training.face_sets --halves DIR/film --halves DIR/news

cuts each set's `calib/` in two the same way: `fit/` (training crops: training.aligned_faces) and `hold/` (the
temperature and the "unsure" rule: training.calibrate_sources, training.uncertainty), as the model card's recipe
uses them. ExpW, the third dev set, is laid out by training.expw.
"""

from __future__ import annotations

import argparse
import csv
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path

import numpy as np

from inference.labels import HUMAN_EMOTIONS, DetectionKind
from inference.pipeline import DetectionResult, Pipeline
from inference.specs import HUMAN_WEIGHTS
from training.data import IMAGE_SUFFIXES

MUXSPACE_LABELS = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy",
                   "sadness": "sad", "surprise": "surprise", "neutral": "neutral"}
FILM_CONTRIBUTOR = "jhamski"


class Split(StrEnum):
    CALIB = "calib"
    EVAL = "eval"


class Half(StrEnum):
    """The two halves of a set's calib split, by identity."""

    FIT = "fit"
    HOLD = "hold"


def identity(file_name: str) -> str:
    """The person in a file named Name_NNNN.jpg (the whole stem when there is no "_")."""
    return Path(file_name).stem.rsplit("_", 1)[0]


def muxspace_labels(repo: Path) -> dict[str, dict[str, str]]:
    """Per set (news, film): image file name -> emotion, without unknown classes or conflicting labels."""
    labels: dict[str, set[str]] = defaultdict(set)
    sources: dict[str, str] = {}
    with (repo / "data" / "legend.csv").open() as legend:
        for row in csv.DictReader(legend):
            labels[row["image"]].add(row["emotion"].strip().lower())
            sources[row["image"]] = "film" if row["user.id"] == FILM_CONTRIBUTOR else "news"
    sets: dict[str, dict[str, str]] = {"news": {}, "film": {}}
    for image, emotions in labels.items():
        if len(emotions) == 1 and (emotion := next(iter(emotions))) in MUXSPACE_LABELS:
            sets[sources[image]][image] = MUXSPACE_LABELS[emotion]
    return sets


def identity_splits(images: list[str], splits: tuple[Enum, Enum] = (Split.CALIB, Split.EVAL)) -> dict[str, Enum]:
    """Each image's split: sorted identities alternate between the two (calib and eval, or fit and hold)."""
    people = sorted({identity(image) for image in images})
    split_of_person = {person: splits[index % 2] for index, person in enumerate(people)}
    return {image: split_of_person[identity(image)] for image in images}


def write_halves(set_folder: Path) -> Counter:
    """Copy set_folder/calib/emotion/* into set_folder/fit/ and set_folder/hold/ by identity; counts per (half,
    emotion)."""
    photos = {path.name: path for path in sorted((set_folder / Split.CALIB.value).glob("*/*"))
              if path.suffix.lower() in IMAGE_SUFFIXES}
    counts: Counter = Counter()
    for name, half in identity_splits(sorted(photos), (Half.FIT, Half.HOLD)).items():
        emotion = photos[name].parent.name
        folder = set_folder / half.value / emotion
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(photos[name], folder / name)
        counts[half.value, emotion] += 1
    return counts


def write_set(repo: Path, labels: dict[str, str], out: Path) -> Counter:
    """Copy the photos into out/split/emotion/; counts per (split, emotion)."""
    counts: Counter = Counter()
    for image, split in identity_splits(sorted(labels)).items():
        folder = out / split.value / labels[image]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(repo / "images" / image, folder / image)
        counts[split.value, labels[image]] += 1
    return counts


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The face sets a CLI reads through the pipeline (--set DIR:SPLIT, repeated), at most --limit photos per class
    and set, and the classifier's --weights."""
    parser.add_argument("--set", action="append", required=True, metavar="DIR:SPLIT", dest="sets")
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos per class and set (0: all)")
    parser.add_argument("--weights", type=Path, default=HUMAN_WEIGHTS)


def labelled_photos(folder: Path, classes: tuple[str, ...] = HUMAN_EMOTIONS, per_class: int = 0,
                    seed: int = 0) -> list[tuple[Path, int]]:
    """(photo, class index) for every photo in folder/<class>/, or a random `per_class` of each class."""
    rng = np.random.default_rng(seed)
    photos = []
    for label, name in enumerate(classes):
        paths = sorted(p for p in (folder / name).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if per_class and len(paths) > per_class:
            paths = [paths[i] for i in sorted(rng.choice(len(paths), per_class, replace=False))]
        photos += [(path, label) for path in paths]
    return photos


@dataclass
class PipelineReadings:
    """What the app showed for each labelled photo: probabilities of its largest face (NaN rows where no
    face was found), the labels, which photos had no face, and the largest face's uncertainty score, "unsure"
    flag and what made it unsure (NaN, False and [] without a face)."""

    probabilities: np.ndarray
    labels: np.ndarray
    face_found: np.ndarray
    uncertainty: np.ndarray
    uncertain: np.ndarray
    unsure_signals: list[list[str]]

    @property
    def found(self) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and labels of the photos with a face."""
        return self.probabilities[self.face_found], self.labels[self.face_found]


def largest_human(detections: list) -> DetectionResult | None:
    """The human face with the largest box among a photo's detections (DetectionResult or Detection), None if none."""
    faces = [face for face in detections if face.kind == DetectionKind.HUMAN]
    return max(faces, key=lambda face: (face.box[2] - face.box[0]) * (face.box[3] - face.box[1]), default=None)


def largest_face(pipeline: Pipeline, data: bytes) -> DetectionResult | None:
    """The app's reading of the largest face of an uploaded photo, None without a face."""
    return largest_human(pipeline.analyze_bytes(data).detections)


def largest_face_landmarks(pipeline: Pipeline, rgb: np.ndarray) -> tuple | None:
    """The five landmarks of the largest face the app finds in a photo, None without a face."""
    face = largest_human(pipeline.detect_photo(rgb, {"detect faces": 0.0}))
    return None if face is None else face.landmarks


def read_through_pipeline(pipeline: Pipeline, photos: list[tuple[Path, int]],
                          classes: tuple[str, ...] = HUMAN_EMOTIONS) -> PipelineReadings:
    """Every photo's file bytes through `Pipeline.analyze_bytes`, as an upload goes."""
    faces = [largest_face(pipeline, path.read_bytes()) for path, _ in photos]
    missing = [np.nan] * len(classes)
    probabilities = np.array([[face.emotions[name] for name in classes] if face else missing for face in faces],
                             dtype=np.float64).reshape(len(faces), len(classes))
    return PipelineReadings(probabilities, np.asarray([label for _, label in photos], dtype=np.int64),
                            np.asarray([face is not None for face in faces], dtype=bool),
                            np.array([face.uncertainty if face else np.nan for face in faces], dtype=np.float64),
                            np.array([bool(face and face.uncertain) for face in faces], dtype=bool),
                            [list(face.unsure_signals or []) if face else [] for face in faces])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--muxspace", type=Path, help="checkout of muxspace/facial_expressions (with --out)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--halves", type=Path, action="append", default=[],
                        help="a laid-out set whose calib/ is cut into fit/ and hold/ (repeatable)")
    args = parser.parse_args(argv)
    if bool(args.muxspace) != bool(args.out) or not (args.muxspace or args.halves):
        parser.error("give --muxspace with --out, and/or --halves SET")
    for name, labels in muxspace_labels(args.muxspace).items() if args.muxspace else ():
        print_counts(name, write_set(args.muxspace, labels, args.out / name), Split)
    for set_folder in args.halves:
        print_counts(str(set_folder), write_halves(set_folder), Half)


def print_counts(name: str, counts: Counter, parts: type[Enum]) -> None:
    for part in parts:
        row = ", ".join(f"{emotion} {counts[part.value, emotion]}" for emotion in HUMAN_EMOTIONS)
        print(f"{name}/{part.value}: {row}")


if __name__ == "__main__":
    main()
