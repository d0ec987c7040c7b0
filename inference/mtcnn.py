"""MTCNN face detection (Zhang et al. 2016): the cascade in numpy and OpenCV around three networks.

The networks and their weights are facenet-pytorch's (the .pt files bundled in its wheel). Each
runs on ONNX Runtime when its export (`python -m training.export`) is up to date, else on torch.
The cascade:
1. P-Net slides a 12x12 window (stride 2) over an image pyramid; windows scoring >= 0.6 are
   candidates, thinned by non-maximum suppression per level (IoU 0.5), then over all levels (0.7).
2. Candidates, refined by P-Net's box offsets and made square, are cropped at 24x24 for R-Net
   (keep > 0.7, suppression 0.7, refine, square again).
3. 48x48 crops go through O-Net (keep > 0.7, refine, suppression 0.7 over the smaller box); its five
   landmarks (eyes, nose tip, mouth corners) are placed in the box O-Net saw, before refinement.
Pre-processing: RGB, (pixel - 127.5) / 128, channels first; crops are clipped to the image and
resized with area interpolation, as facenet-pytorch does.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

Net = Callable[[np.ndarray], list[np.ndarray]]  # float32 NCHW batch -> the network's outputs

STAGES = ("pnet", "rnet", "onet")
SCORE_THRESHOLDS = (0.6, 0.7, 0.7)  # P-Net, R-Net, O-Net
PYRAMID_FACTOR = 0.709
WINDOW, STRIDE = 12, 2
DETECTION_COLUMNS = 15  # x1, y1, x2, y2, score, five landmark x, five landmark y


def weights_folder() -> Path:
    """facenet-pytorch's bundled weights (pnet.pt, rnet.pt, onet.pt), found without importing it."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("facenet-pytorch is not installed (scripts/setup.sh installs it)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def pyramid_scales(height: int, width: int, min_face_size: float) -> list[float]:
    """Scales at which a face of min_face_size pixels fills P-Net's 12-pixel window, down to 12 pixels."""
    scale = WINDOW / min_face_size
    shortest = min(height, width) * scale
    scales = []
    while shortest >= WINDOW:
        scales.append(scale)
        scale *= PYRAMID_FACTOR
        shortest *= PYRAMID_FACTOR
    return scales


def shrink(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Each image resized to size (width, height). Bilinear: each pyramid level is made from the one
    before (a factor of about 0.7), where area interpolation costs 25 times as much for no measurable gain."""
    return np.stack([cv2.resize(image, size, interpolation=cv2.INTER_LINEAR) for image in images])


def normalise(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) RGB -> float32 (N, 3, H, W) in about [-1, 1]."""
    return ((images.astype(np.float32) - 127.5) * 0.0078125).transpose(0, 3, 1, 2)


def nms(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, threshold: float,
        over_smaller: bool = False) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, separately in each group (image), best first.

    Overlap is intersection over union (OpenCV's NMSBoxes), or over the smaller box with over_smaller.
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    shifted = boxes[:, :4] + groups[:, None] * (boxes[:, :4].max() + 1)  # groups never overlap
    if not over_smaller:
        corners = np.concatenate([shifted[:, :2], shifted[:, 2:] - shifted[:, :2]], axis=1)
        kept = cv2.dnn.NMSBoxes(corners.astype(np.float64), scores.astype(np.float64), 0.0, threshold)
        return np.asarray(kept, dtype=np.int64).reshape(-1)
    x1, y1, x2, y2 = shifted.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)[::-1]
    kept = []
    while len(order):
        best, rest = order[0], order[1:]
        kept.append(best)
        width = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        height = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        order = rest[width * height / np.minimum(areas[best], areas[rest]) <= threshold]
    return np.asarray(kept, dtype=np.int64)


def window_candidates(offsets: np.ndarray, scores: np.ndarray, scale: float,
                      threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """P-Net's output at one pyramid level -> rows (x1, y1, x2, y2, score, 4 offsets) and their image index.

    offsets: (N, 4, h, w); scores: (N, h, w), the face probability of each window.
    """
    images, rows, columns = np.nonzero(scores >= threshold)
    corners = np.stack([columns, rows], axis=1).astype(np.float32)
    top_left = np.floor((STRIDE * corners + 1) / scale)
    bottom_right = np.floor((STRIDE * corners + WINDOW) / scale)
    window_offsets = offsets[images, :, rows, columns]
    found = np.concatenate([top_left, bottom_right, scores[images, rows, columns][:, None], window_offsets], axis=1)
    return found.reshape(-1, 9), images


def refine(boxes: np.ndarray, offsets: np.ndarray, plus_one: bool = True) -> np.ndarray:
    """Boxes moved by the network's offsets (fractions of the box's width and height)."""
    refined = boxes.copy()
    extra = 1 if plus_one else 0
    width = boxes[:, 2] - boxes[:, 0] + extra
    height = boxes[:, 3] - boxes[:, 1] + extra
    refined[:, :4] = boxes[:, :4] + offsets * np.stack([width, height, width, height], axis=1)
    return refined


def square(boxes: np.ndarray) -> np.ndarray:
    """Each box grown to a square around its centre (its longer side)."""
    squared = boxes.copy()
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(width, height)
    squared[:, 0] = boxes[:, 0] + width * 0.5 - side * 0.5
    squared[:, 1] = boxes[:, 1] + height * 0.5 - side * 0.5
    squared[:, 2:4] = squared[:, :2] + side[:, None]
    return squared


def place_landmarks(boxes: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """O-Net's landmarks (fractions of the box: five x, then five y) in image pixels."""
    width = boxes[:, 2:3] - boxes[:, 0:1] + 1
    height = boxes[:, 3:4] - boxes[:, 1:2] + 1
    return np.concatenate([width * landmarks[:, :5] + boxes[:, 0:1] - 1,
                           height * landmarks[:, 5:10] + boxes[:, 1:2] - 1], axis=1)


def crops(images: np.ndarray, boxes: np.ndarray, image_index: np.ndarray, size: int) -> np.ndarray:
    """(M, size, size, 3) uint8: each box's part of its image, clipped to the image, area-resized."""
    height, width = images.shape[1:3]
    corners = np.trunc(boxes[:, :4]).astype(np.int64)
    x1, y1 = np.maximum(corners[:, 0], 1) - 1, np.maximum(corners[:, 1], 1) - 1
    x2, y2 = np.minimum(corners[:, 2], width), np.minimum(corners[:, 3], height)
    out = np.zeros((len(boxes), size, size, 3), dtype=np.uint8)
    for n, (index, left, top, right, bottom) in enumerate(zip(image_index, x1, y1, x2, y2)):
        if right > left and bottom > top:
            out[n] = cv2.resize(images[index, top:bottom, left:right], (size, size), interpolation=cv2.INTER_AREA)
    return out


STAGE_BATCH = 64  # candidate crops per R-Net or O-Net run: a photo of two hundred faces stays within bounds


def in_batches(net: Net, inputs: np.ndarray) -> list[np.ndarray]:
    """`net`'s outputs for `inputs` (not empty), run STAGE_BATCH at a time and put back together."""
    runs = [net(inputs[start:start + STAGE_BATCH]) for start in range(0, len(inputs), STAGE_BATCH)]
    return [np.concatenate(parts) for parts in zip(*runs)]


class MTCNN:
    """The three-stage cascade; `detect` maps a batch of same-sized RGB images to boxes per image."""

    def __init__(self, pnet: Net, rnet: Net, onet: Net):
        self.pnet, self.rnet, self.onet = pnet, rnet, onet

    def detect(self, images: np.ndarray, min_face_size: float) -> list[np.ndarray]:
        """uint8 (N, H, W, 3) -> per image, float rows (x1, y1, x2, y2, score, then the five landmarks'
        x, then their y: left eye, right eye, nose, left and right mouth corner, as seen in the image)."""
        boxes, image_index = self._propose(images, min_face_size)
        if len(boxes):
            boxes, image_index = self._rnet_stage(images, boxes, image_index)
        if not len(boxes):
            return [np.zeros((0, DETECTION_COLUMNS), np.float32) for _ in images]
        boxes, image_index = self._onet_stage(images, boxes, image_index)
        return [boxes[image_index == n] for n in range(len(images))]

    def _propose(self, images: np.ndarray, min_face_size: float) -> tuple[np.ndarray, np.ndarray]:
        height, width = images.shape[1:3]
        levels, level_images = [], []
        resized = images
        for scale in pyramid_scales(height, width, min_face_size):
            resized = shrink(resized, (int(width * scale + 1), int(height * scale + 1)))
            offsets, probabilities = self.pnet(normalise(resized))[:2]
            found, found_images = window_candidates(offsets, probabilities[:, 1], scale, SCORE_THRESHOLDS[0])
            kept = nms(found, found[:, 4], found_images, 0.5)
            levels.append(found[kept])
            level_images.append(found_images[kept])
        if not levels:
            return np.zeros((0, 9), np.float32), np.zeros(0, np.int64)
        boxes, image_index = np.concatenate(levels), np.concatenate(level_images)
        kept = nms(boxes, boxes[:, 4], image_index, 0.7)
        boxes, image_index = boxes[kept], image_index[kept]
        return square(refine(boxes[:, :5], boxes[:, 5:9], plus_one=False)), image_index

    def _rnet_stage(self, images: np.ndarray, boxes: np.ndarray,
                    image_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        offsets, probabilities = in_batches(self.rnet, normalise(crops(images, boxes, image_index, 24)))[:2]
        passed = probabilities[:, 1] > SCORE_THRESHOLDS[1]
        boxes = np.concatenate([boxes[passed, :4], probabilities[passed, 1:2]], axis=1)
        offsets, image_index = offsets[passed], image_index[passed]
        kept = nms(boxes, boxes[:, 4], image_index, 0.7)
        return square(refine(boxes[kept], offsets[kept])), image_index[kept]

    def _onet_stage(self, images: np.ndarray, boxes: np.ndarray,
                    image_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        offsets, landmarks, probabilities = in_batches(self.onet, normalise(crops(images, boxes, image_index, 48)))[:3]
        passed = probabilities[:, 1] > SCORE_THRESHOLDS[2]
        boxes = np.concatenate([boxes[passed, :4], probabilities[passed, 1:2]], axis=1)
        points = place_landmarks(boxes, landmarks[passed])
        boxes, image_index = refine(boxes, offsets[passed]), image_index[passed]
        kept = nms(boxes, boxes[:, 4], image_index, 0.7, over_smaller=True)
        return np.concatenate([boxes[kept], points[kept]], axis=1), image_index[kept]
