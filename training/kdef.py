"""KDEF, a held-out face test set: lay out the Karolinska Directed Emotional Faces as class folders, never to train,
calibrate or choose on.

    python -m training.kdef --repo REPO --out DIR/kdef

REPO holds the release's photos under any folder, named as the release names them: session A/B, F/M, person 01-35,
emotion (AF AN DI HA NE SA SU), angle (FL HL S HR FR), e.g. AF01ANS.JPG (Lundqvist, Flykt & Ohman 1998; 70 posed
actors, studio colour photos 562 x 762; the copy used, Ignautics/NUS_GAN_KDEF at 14f8a43, `data/KDEF/`, states no
licence: KDEF's own terms apply, non-commercial research). The straight and half-profile photos (S, HL, HR) are kept,
as a user's photos show faces (the full profiles rarely show an expression the model could read); the few all-black
placeholders of the release (mean pixel value under BLACK) are left out. Written, copied as they are, to
DIR/kdef/test/<emotion>/<file>: read with `python -m bench.faces --data DIR/kdef --split test`.
"""

from __future__ import annotations

import argparse
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

KDEF_NAME = re.compile(r"([AB])([FM])(\d\d)(AF|AN|DI|HA|NE|SA|SU)(S|HL|HR|FL|FR)", re.IGNORECASE)
EMOTIONS = {"AF": "fear", "AN": "angry", "DI": "disgust", "HA": "happy", "NE": "neutral", "SA": "sad",
            "SU": "surprise"}
ANGLES = ("S", "HL", "HR")
BLACK = 10  # the release's placeholders for missing photos are black (mean about 0.6)
SPLIT = "test"


def kdef_photos(repo: Path) -> list[tuple[Path, str]]:
    """Every photo of the kept angles under `repo`, with its emotion, in name order."""
    photos = []
    for path in sorted(repo.rglob("*")):
        match = KDEF_NAME.fullmatch(path.stem)
        if match and path.suffix.lower() in (".jpg", ".jpeg") and match[5].upper() in ANGLES:
            photos.append((path, EMOTIONS[match[4].upper()]))
    return photos


def is_placeholder(path: Path) -> bool:
    with Image.open(path) as image:
        return float(np.asarray(image.convert("L")).mean()) < BLACK


def write_kdef(repo: Path, out: Path) -> Counter:
    """Copy the kept photos to out/test/<emotion>/; the count per emotion, and of placeholders left out."""
    counts = Counter()
    for path, emotion in kdef_photos(repo):
        if is_placeholder(path):
            counts["placeholders left out"] += 1
            continue
        folder = out / SPLIT / emotion
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / path.name.upper())
        counts[emotion] += 1
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, required=True, help="a copy of the KDEF release's photos")
    parser.add_argument("--out", type=Path, required=True, help="the set's folder, e.g. FACES/kdef")
    args = parser.parse_args(argv)
    for name, count in sorted(write_kdef(args.repo, args.out).items()):
        print(f"{name}: {count}")


if __name__ == "__main__":
    main()
