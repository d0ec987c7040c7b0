"""Face detection with MTCNN, using the weights bundled in the facenet-pytorch wheel.

Large images are downscaled so their longer side is at most `max_side` before
detection, and the boxes are mapped back to the original pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
import torch
from PIL import Image


@dataclass(frozen=True)
class Detection:
    """One found subject: box in original pixels (x1, y1, x2, y2), detector confidence, kind."""

    box: tuple[float, float, float, float]
    score: float
    kind: str = "human"


def downscale_factor(width: int, height: int, max_side: int) -> float:
    """The factor (<= 1) that brings the longer side down to max_side."""
    return min(1.0, max_side / max(width, height))


def _resize(rgb: np.ndarray, factor: float) -> np.ndarray:
    if factor >= 1.0:
        return rgb
    height, width = rgb.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))


class MTCNNFaceDetector:
    """Multi-task cascaded CNN face detector (Zhang et al. 2016) from facenet-pytorch."""

    def __init__(self, device: torch.device, max_side: int = 640, min_face_size: int = 20,
                 min_score: float = 0.9):
        from facenet_pytorch import MTCNN  # heavy import, done only when the detector is built

        self.name = f"mtcnn (facenet-pytorch {version('facenet-pytorch')})"
        self.max_side = max_side
        self.min_face_size = min_face_size
        self.min_score = min_score
        self._mtcnn = MTCNN(keep_all=True, min_face_size=min_face_size, device=device)

    def detect_batch(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        """Detect faces in RGB uint8 frames of one size; one list of detections per frame."""
        if not frames:
            return []
        height, width = frames[0].shape[:2]
        factor = downscale_factor(width, height, self.max_side)
        if min(width, height) * factor < self.min_face_size:  # no room for a face (MTCNN would fail)
            return [[] for _ in frames]
        small = np.stack([_resize(frame, factor) for frame in frames])
        with torch.inference_mode():
            boxes_per_frame, scores_per_frame = self._mtcnn.detect(small)
        return [
            self._to_detections(boxes, scores, factor, width, height)
            for boxes, scores in zip(boxes_per_frame, scores_per_frame)
        ]

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Detect faces in one RGB uint8 image."""
        return self.detect_batch([rgb])[0]

    def _to_detections(self, boxes, scores, factor: float, width: int, height: int) -> list[Detection]:
        if boxes is None:
            return []
        found = []
        for box, score in zip(boxes, scores):
            if score is None or score < self.min_score:
                continue
            x1, y1, x2, y2 = (float(value) / factor for value in box)
            clipped = (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
            if clipped[2] - clipped[0] >= 2 and clipped[3] - clipped[1] >= 2:
                found.append(Detection(box=clipped, score=float(score)))
        return sorted(found, key=lambda detection: (detection.box[0], detection.box[1]))
