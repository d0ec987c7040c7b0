"""ExpW, the third face dev set: lay out the public copy of its balanced subset as class folders, split by photo.

    python -m training.expw --repo REPO --out DIR/expw

REPO is a checkout of the public repository Sansonisimone/ExpW_dataset (ExpW: Zhang et al., "From Facial Expression
Recognition to Interpersonal Relation Prediction", arXiv:1609.06426; web photos; released for non-commercial research;
no licence file in the copy): photos in `Images/`, one line per labelled face in `label.lst` (photo, face id in the
photo, box top, left, right, bottom, detector confidence, label 0-6 in our order). Each face is cut with half a box of
margin on every side (within the photo), as a face in a larger photo. Near-duplicate faces (64-bit difference hashes
of the crops within MAX_HASH_BITS) are one group: a group with conflicting labels is dropped, one face of any other
group is kept. There are no identities, so each photo's faces go to `calib/` or `eval/` by the parity of the SHA-1 of
its name. Written as DIR/expw/{calib,eval}/<emotion>/<photo stem>_<face id>.png.
"""

from __future__ import annotations

import argparse
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from inference.labels import HUMAN_EMOTIONS
from training.face_sets import Split, print_counts
from training.near_copies import CONFLICTS, REPEATS, linked_groups, one_per_group

MAX_HASH_BITS = 4  # difference hashes this close: the same face, re-cropped or re-compressed
MARGIN = 0.5  # of the box's width and height, on each side


@dataclass(frozen=True)
class LabelledFace:
    photo: str
    face_id: int
    box: tuple[int, int, int, int]  # left, top, right, bottom
    emotion: str

    @property
    def file_name(self) -> str:
        return f"{Path(self.photo).stem}_{self.face_id}.png"


def read_labels(repo: Path) -> list[LabelledFace]:
    """Every face line of label.lst whose photo exists."""
    faces = []
    for line in (repo / "label.lst").read_text(encoding="utf-8-sig").splitlines():
        fields = line.split()
        if len(fields) == 8 and (repo / "Images" / fields[0]).is_file():
            top, left, right, bottom = map(int, fields[2:6])
            faces.append(LabelledFace(fields[0], int(fields[1]), (left, top, right, bottom),
                                      HUMAN_EMOTIONS[int(fields[7])]))
    return faces


def crop(photo: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """The face with MARGIN of its box around it, within the photo, in RGB."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    return photo.convert("RGB").crop((max(0, int(left - MARGIN * width)), max(0, int(top - MARGIN * height)),
                                      min(photo.width, int(right + MARGIN * width)),
                                      min(photo.height, int(bottom + MARGIN * height))))


def difference_hash(image: Image.Image) -> int:
    """64 bits: whether each pixel of the 9 x 8 gray thumbnail is brighter than its right neighbour."""
    pixels = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    return int("".join("1" if bright else "0" for bright in (pixels[:, :-1] > pixels[:, 1:]).ravel()), 2)


def near_copy_groups(hashes: list[int]) -> np.ndarray:
    """Each hash's group (`near_copies.linked_groups`): hashes within MAX_HASH_BITS are linked."""
    values = np.array(hashes, dtype=np.uint64)
    firsts, seconds = [], []
    for index in range(len(hashes)):
        close = np.flatnonzero(np.bitwise_count(values[index + 1:] ^ values[index]) <= MAX_HASH_BITS) + index + 1
        firsts.append(np.full(len(close), index))
        seconds.append(close)
    return linked_groups(len(hashes), np.concatenate([[], *firsts]).astype(int),
                         np.concatenate([[], *seconds]).astype(int))


def split_of(photo: str) -> Split:
    """A photo's split, by the parity of its name's SHA-1 (all its faces go together)."""
    return (Split.CALIB, Split.EVAL)[hashlib.sha1(photo.encode()).digest()[-1] % 2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, required=True, help="checkout of Sansonisimone/ExpW_dataset")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    faces = read_labels(args.repo)
    crops = []
    for face in faces:
        with Image.open(args.repo / "Images" / face.photo) as photo:
            crops.append(crop(photo, face.box))
    groups = near_copy_groups([difference_hash(image) for image in crops])
    kept, removed = one_per_group(range(len(faces)), np.array([face.emotion for face in faces]), groups)
    counts: Counter = Counter()
    for index in kept:
        face, split = faces[index], split_of(faces[index].photo)
        folder = args.out / split.value / face.emotion
        folder.mkdir(parents=True, exist_ok=True)
        crops[index].save(folder / face.file_name)
        counts[split.value, face.emotion] += 1
    print(f"{len(faces)} faces; dropped {removed[CONFLICTS]} near-copies with conflicting labels and "
          f"{removed[REPEATS]} repeated copies")
    print_counts(str(args.out), counts, Split)


if __name__ == "__main__":
    main()
