"""Compare the face detectors available offline: MTCNN (facenet-pytorch) vs OpenCV's Haar cascade.

    python -m bench.detectors --faces ../shared/datasets/fer2013/val [--scenes 60]

Scenes: real background photos from scikit-image (coffee, rocket, chelsea,
hubble, coins...) with 1-4 real FER2013 face photos pasted at random places and
sizes (64-200 px), so every ground-truth box is known; plus the real photos
astronaut and camera (one face each). A detection counts when IoU >= 0.4 with
an unmatched ground-truth face. Prints recall, precision and time per scene.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata

from inference.detectors import MTCNNFaceDetector
from inference.tracking import iou

BACKGROUNDS = ("coffee", "rocket", "chelsea", "hubble_deep_field", "coins", "page", "immunohistochemistry")


def as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.stack([image] * 3, -1)
    if image.dtype != np.uint8:
        image = (255 * (image - image.min()) / max(1e-9, np.ptp(image))).astype(np.uint8)
    return np.ascontiguousarray(image[..., :3])


def synthetic_scenes(face_folder: Path, count: int, seed: int) -> list[tuple[np.ndarray, list[tuple]]]:
    rng = np.random.default_rng(seed)
    face_paths = sorted(face_folder.rglob("*.jpg"))
    backgrounds = [as_rgb(getattr(skdata, name)()) for name in BACKGROUNDS]
    scenes = []
    for _ in range(count):
        background = Image.fromarray(backgrounds[rng.integers(len(backgrounds))]).resize((640, 480))
        boxes: list[tuple] = []
        for _ in range(rng.integers(1, 5)):
            size = int(rng.integers(64, 200))
            for _attempt in range(20):
                x, y = int(rng.integers(0, 640 - size)), int(rng.integers(0, 480 - size))
                box = (x, y, x + size, y + size)
                if all(iou(box, other) == 0 for other in boxes):
                    break
            else:
                continue
            face = Image.open(face_paths[rng.integers(len(face_paths))]).convert("RGB").resize((size, size))
            background.paste(face, (x, y))
            boxes.append(box)
        scenes.append((np.asarray(background), boxes))
    return scenes


def real_scenes() -> list[tuple[np.ndarray, list[tuple]]]:
    return [(skdata.astronaut(), [(180, 60, 268, 175)]), (as_rgb(skdata.camera()), [(200, 118, 255, 192)])]


class HaarDetector:
    name = f"haar cascade frontalface_default (opencv {cv2.__version__})"

    def __init__(self):
        self.cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def detect(self, rgb: np.ndarray) -> list[tuple]:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        found = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
        return [(x, y, x + w, y + h) for x, y, w, h in found]


class MTCNNAdapter:
    def __init__(self):
        self.detector = MTCNNFaceDetector("cpu")
        self.name = self.detector.name

    def detect(self, rgb: np.ndarray) -> list[tuple]:
        return [d.box for d in self.detector.detect(rgb)]


def score(detector: MTCNNFaceDetector, scenes: list[tuple[np.ndarray, list[tuple]]]) -> tuple[float, float, float]:
    true_positive = found_total = truth_total = 0
    began = time.perf_counter()
    for image, truth in scenes:
        found = detector.detect(image)
        unmatched = list(truth)
        for box in found:
            match = max(unmatched, key=lambda t: iou(box, t), default=None)
            if match is not None and iou(box, match) >= 0.4:
                unmatched.remove(match)
                true_positive += 1
        found_total += len(found)
        truth_total += len(truth)
    milliseconds = (time.perf_counter() - began) * 1000 / len(scenes)
    return true_positive / truth_total, true_positive / max(1, found_total), milliseconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", required=True, help="folder of face photos (e.g. FER2013 val)")
    parser.add_argument("--scenes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sets = {"synthetic scenes": synthetic_scenes(Path(args.faces), args.scenes, args.seed),
            "real photos": real_scenes()}
    for detector in (MTCNNAdapter(), HaarDetector()):
        print(detector.name)
        for set_name, scenes in sets.items():
            recall, precision, milliseconds = score(detector, scenes)
            faces = sum(len(truth) for _, truth in scenes)
            print(f"  {set_name:<17} {len(scenes):>3} images, {faces:>3} faces: recall {recall:.3f}  "
                  f"precision {precision:.3f}  {milliseconds:.0f} ms/image")


if __name__ == "__main__":
    main()
