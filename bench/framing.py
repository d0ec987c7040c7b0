"""Where FER2013's crops put the face: MTCNN's five landmarks measured on the training crops, the
template inference/align.py maps every detected face onto.

    python -m bench.framing --data ../shared/datasets/fer2013 [--split train] [--limit 300]

Each 48x48 crop is upscaled (x4) and padded (a crop is all face, and MTCNN needs room around one); the
landmarks of the face found are mapped back to the crop's own pixels. Prints, as fractions of the crop's
side, the median of each landmark (left eye, right eye, nose, mouth corners; "left" as seen in the image),
the spread (interquartile range), the eye distance and the tilt of the eye line, and how many crops had a face.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from inference.detectors import MTCNNFaceDetector
from inference.labels import HUMAN_EMOTIONS
from training.face_sets import labelled_photos

LANDMARKS = ("left eye", "right eye", "nose", "left mouth", "right mouth")
UPSCALE, PAD = 4, 0.5


def crop_landmarks(detector: MTCNNFaceDetector, gray: np.ndarray) -> np.ndarray | None:
    """The landmarks (5, 2) of the largest face in a square gray crop, in fractions of its side."""
    side = gray.shape[0]
    big = cv2.resize(gray, (side * UPSCALE, side * UPSCALE), interpolation=cv2.INTER_CUBIC)
    pad = int(PAD * big.shape[0])
    padded = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    faces = [face for face in detector.detect(np.dstack([padded] * 3)) if face.landmarks]
    if not faces:
        return None
    largest = max(faces, key=lambda face: face.box[2] - face.box[0])
    return (np.asarray(largest.landmarks) - pad) / big.shape[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--limit", type=int, default=300, help="crops per class")
    args = parser.parse_args(argv)
    detector = MTCNNFaceDetector("cpu", max_side=10_000)
    photos = labelled_photos(args.data / args.split, HUMAN_EMOTIONS, args.limit)
    found = [crop_landmarks(detector, np.asarray(Image.open(path).convert("L"))) for path, _ in photos]
    points = np.stack([landmarks for landmarks in found if landmarks is not None])
    print(f"{args.data / args.split}: a face in {len(points)} of {len(photos)} crops "
          f"(x4, padded {PAD:.0%} each side); landmarks as fractions of the crop side")
    for name, median, low, high in zip(LANDMARKS, np.median(points, 0), *np.percentile(points, [25, 75], 0)):
        print(f"  {name:<12} x {median[0]:.3f} (IQR {low[0]:.3f}-{high[0]:.3f})  "
              f"y {median[1]:.3f} (IQR {low[1]:.3f}-{high[1]:.3f})")
    eye_line = points[:, 1] - points[:, 0]
    print(f"  eye distance {np.median(np.hypot(*eye_line.T)):.3f}; eye-line tilt median "
          f"{np.degrees(np.median(np.arctan2(eye_line[:, 1], eye_line[:, 0]))):.1f} deg, "
          f"IQR {np.subtract(*np.percentile(np.degrees(np.arctan2(eye_line[:, 1], eye_line[:, 0])), [75, 25])):.1f}")


if __name__ == "__main__":
    main()
