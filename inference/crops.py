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


LUMA_WEIGHTS = (19595, 38470, 7471)  # Pillow's RGB to L (ITU-R 601-2 luma) in 16-bit fixed point, rounded
LUMA_BAND_ROWS = 256  # rows converted at a time: a 6,320-pixel-wide band of 32-bit sums is 19 MB


def _luma(square: np.ndarray) -> np.ndarray:
    """The RGB pixels as Pillow's convert("L") makes them, a band of rows at a time."""
    gray = np.empty(square.shape[:2], np.uint8)
    for start in range(0, len(square), LUMA_BAND_ROWS):
        band = square[start:start + LUMA_BAND_ROWS].astype(np.uint32)
        red, green, blue = (band[..., channel] * weight for channel, weight in enumerate(LUMA_WEIGHTS))
        gray[start:start + LUMA_BAND_ROWS] = (red + green + blue + 0x8000) >> 16
    return gray


def _resized(plane: np.ndarray, size: int) -> np.ndarray:
    """One 8-bit plane resized as Pillow's BILINEAR resizes it (an "L" image maps a contiguous array in place)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(plane)).resize((size, size), Image.BILINEAR))


def _square_crops(rgb: np.ndarray, boxes: list[tuple[float, float, float, float]], size: int,
                  margin: float, mode: str) -> list[np.ndarray]:
    """Each square cut out of the array (it lies inside the image), converted to `mode` ("L" or "RGB"), resized
    with Pillow's BILINEAR filter: the same pixels as converting the whole image to a Pillow image first. A plane
    at a time: a Pillow RGB image holds 4 bytes a pixel, so a 40-megapixel photo's whole-frame square (a close-up
    pet) cost 160 MB twice over; a plane costs 40 MB."""
    height, width = rgb.shape[:2]
    crops = []
    for box in boxes:
        left, top, right, bottom = square_crop_box(box, width, height, margin)
        square = rgb[top:bottom, left:right]
        crops.append(_resized(_luma(square), size) if mode == "L"
                     else np.stack([_resized(square[..., channel], size) for channel in range(3)], axis=-1))
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
