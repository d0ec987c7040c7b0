"""Training crops from labelled face photos, cut as the app cuts them: each photo's largest face, found by the
app's photo detection (MTCNN, the second search with a border) and aligned to FER2013's framing, as a 48x48
gray PNG in FER2013's layout (one sub-folder per emotion).

    python -m training.aligned_faces --set DIR[:PER_CLASS] [--set ...] --out FOLDER

DIR holds one sub-folder per emotion: photos set aside for training (never those a figure or a calibration is
measured on; the model card says which); PER_CLASS draws at most that many photos of each emotion (seed 0;
default: all). Each crop is written as FOLDER/<emotion>/<set>-<photo>.png, where <set> names DIR by its last two
folders (film-fit). Photos without a face, or that do not decode, are left out and counted. `python -m
training.train --extra FOLDER[:REPEAT]` trains on them beside FER2013.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from inference.align import aligned_gray_crops
from inference.errors import MediaError
from inference.heif import decode_photo
from inference.labels import HUMAN_EMOTIONS
from inference.pipeline import Pipeline
from inference.specs import FACE_INPUT_SIZE
from training.data import folder_and_count
from training.face_sets import labelled_photos, largest_face_landmarks


def aligned_largest_face(pipeline: Pipeline, data: bytes) -> np.ndarray | None:
    """The classifier's input for the largest face of a photo's bytes (uint8 48x48 gray), None without one."""
    rgb = decode_photo(data).rgb
    landmarks = largest_face_landmarks(pipeline, rgb)
    return None if landmarks is None else aligned_gray_crops(rgb, [landmarks], FACE_INPUT_SIZE)[0]


def write_crops(pipeline: Pipeline, folder: Path, per_class: int, out: Path) -> tuple[int, int]:
    """Write the aligned crops of one labelled set; (crops written, photos without a face or unreadable)."""
    prefix = f"{folder.parent.name}-{folder.name}"
    written = missed = 0
    for path, label in labelled_photos(folder, HUMAN_EMOTIONS, per_class, 0):
        try:
            crop = aligned_largest_face(pipeline, path.read_bytes())
        except MediaError:
            crop = None
        if crop is None:
            missed += 1
            continue
        target = out / HUMAN_EMOTIONS[label] / f"{prefix}-{path.stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), crop)
        written += 1
    return written, missed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", required=True, metavar="DIR[:PER_CLASS]")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    pipeline = Pipeline()
    for spec in args.set:
        folder, per_class = folder_and_count(spec, 0)
        written, missed = write_crops(pipeline, Path(folder), per_class, args.out)
        print(f"{folder}: {written} crops written, {missed} photos without a face or unreadable", flush=True)


if __name__ == "__main__":
    main()
