"""Cut each detection out of the image as a square crop with a margin.

The crop is the box's longer side plus `margin` on every side, kept square,
moved inside the image where possible and shrunk only when the image itself
is smaller than the square.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def square_crop_box(box: tuple[float, float, float, float], width: int, height: int,
                    margin: float = 0.15) -> tuple[int, int, int, int]:
    """The integer square (x1, y1, x2, y2) around `box`, inside a width x height image."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    side = int(round(min(max(side, 1), width, height)))  # at least a pixel: a box may be a point
    center_x, center_y = (x1 + x2) / 2, (y1 + y2) / 2
    left = int(round(min(max(center_x - side / 2, 0), width - side)))
    top = int(round(min(max(center_y - side / 2, 0), height - side)))
    return left, top, left + side, top + side


def _square_crops(rgb: np.ndarray, boxes: list[tuple[float, float, float, float]], size: int,
                  margin: float, mode: str) -> list[np.ndarray]:
    """Each square cut out of the array (it lies inside the image), converted to `mode`, resized: the same
    pixels as converting the whole image first, without copying it."""
    height, width = rgb.shape[:2]
    crops = []
    for box in boxes:
        left, top, right, bottom = square_crop_box(box, width, height, margin)
        square = Image.fromarray(rgb[top:bottom, left:right]).convert(mode)
        crops.append(np.asarray(square.resize((size, size), Image.BILINEAR)))
    return crops


def gray_crops(rgb: np.ndarray, boxes: list[tuple[float, float, float, float]], size: int,
               margin: float = 0.15) -> np.ndarray:
    """Grayscale uint8 crops (N, size, size) for the given boxes, one batch for the face classifier."""
    crops = _square_crops(rgb, boxes, size, margin, "L")
    return np.stack(crops) if crops else np.zeros((0, size, size), dtype=np.uint8)


def rgb_crops(rgb: np.ndarray, boxes: list[tuple[float, float, float, float]], size: int,
              margin: float = 0.05) -> np.ndarray:
    """RGB uint8 crops (N, size, size, 3) for the given boxes, one batch for a pet classifier."""
    crops = _square_crops(rgb, boxes, size, margin, "RGB")
    return np.stack(crops) if crops else np.zeros((0, size, size, 3), dtype=np.uint8)


BODY_MARGIN = 0.05  # around a pet's body box


def pet_body_crops(rgb: np.ndarray, boxes: list[tuple[float, float, float, float]], size: int) -> np.ndarray:
    """Pets' bodies (5% margin) as square RGB crops: what the species check and head-box network read, and what
    the dog-emotion model reads (a dog's body box, though the dog is shown by its head)."""
    return rgb_crops(rgb, boxes, size, BODY_MARGIN)


def dog_face_crops(rgb: np.ndarray, boxes: list[tuple[float, float, float, float]], size: int) -> np.ndarray:
    """A dog's face: its head box with a 15% margin, as RGB crops (the published dog work's crop, which
    `bench.dog_crops` and `training.dogs --crop face` compare with the body the app reads)."""
    return rgb_crops(rgb, boxes, size, margin=0.15)
