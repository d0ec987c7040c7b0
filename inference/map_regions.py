"""Where a saliency map is brightest, in words a page can say ("around the eyes and the mouth"): the text
equivalent of a "Why?" heat map for someone who cannot see it.

A face's map lies on the aligned crop the model read (inference/align.py puts the eyes, the nose and the mouth
corners at FER2013_TEMPLATE's places; a face found without landmarks is a box crop, about as framed): every point
of the crop belongs to the facial part nearest it (a few points each: the eyes, the brows and the space between
them, ...), so no bright spot falls between parts. A pet's map lies on the crop of its body (or of its head box
when its body is not found again): its parts are nowhere in particular, so it is cut in ninths ("the upper
left"). Each region scores the brightest point of the map smoothed over a twentieth of the crop (a region's size
does not dilute a small bright spot), and the second region is named too when nearly as bright.
"""

from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np

from inference.align import FER2013_TEMPLATE
from inference.labels import DetectionKind


class MapRegion(StrEnum):
    """A part of a face, or a ninth of a pet's crop, that a map is brightest in."""

    FOREHEAD = "forehead"
    BROWS = "brows"
    EYES = "eyes"
    NOSE = "nose"
    MOUTH = "mouth"
    CHEEKS = "cheeks"
    CHIN = "chin"
    UPPER_LEFT = "upper_left"
    TOP = "top"
    UPPER_RIGHT = "upper_right"
    LEFT = "left"
    MIDDLE = "middle"
    RIGHT = "right"
    LOWER_LEFT = "lower_left"
    BOTTOM = "bottom"
    LOWER_RIGHT = "lower_right"


LEFT_EYE, RIGHT_EYE, NOSE_TIP, LEFT_MOUTH, RIGHT_MOUTH = (tuple(point) for point in FER2013_TEMPLATE)
# Each facial part's points as fractions (x, y) of the aligned crop; every point of the crop is the nearest one's.
FACE_PARTS: dict[MapRegion, tuple[tuple[float, float], ...]] = {
    MapRegion.FOREHEAD: ((0.5, 0.12), (0.25, 0.15), (0.75, 0.15)),
    MapRegion.BROWS: ((0.3, 0.28), (0.5, 0.33), (0.7, 0.28)),  # and the space between them, where a frown shows
    MapRegion.EYES: (LEFT_EYE, RIGHT_EYE),
    MapRegion.NOSE: (NOSE_TIP, (0.5, 0.5)),
    MapRegion.MOUTH: (LEFT_MOUTH, (0.5, 0.79), RIGHT_MOUTH),
    MapRegion.CHEEKS: ((0.15, 0.6), (0.85, 0.6)),
    MapRegion.CHIN: ((0.5, 0.95), (0.25, 0.95), (0.75, 0.95)),
}
NINTHS = (MapRegion.UPPER_LEFT, MapRegion.TOP, MapRegion.UPPER_RIGHT, MapRegion.LEFT, MapRegion.MIDDLE,
          MapRegion.RIGHT, MapRegion.LOWER_LEFT, MapRegion.BOTTOM, MapRegion.LOWER_RIGHT)  # row by row
SMOOTHING = 0.05  # of the crop's side: the Gaussian's sigma over which a point's brightness is taken
RUNNER_UP = 0.85  # a second region is named when its score is at least this share of the first's


def brightest_regions(saliency: np.ndarray, kind: DetectionKind) -> list[MapRegion]:
    """The region a map (in [0, 1], over the crop) is brightest in, and a second one nearly as bright; none for a
    map that is dark everywhere."""
    height, width = saliency.shape
    smoothed = cv2.GaussianBlur(saliency.astype(np.float32), (0, 0), SMOOTHING * max(height, width))
    labels = _face_parts(height, width) if kind == DetectionKind.HUMAN else _ninths(height, width)
    scores = {region: float(smoothed[labels == index].max()) for index, region in enumerate(_regions(kind))}
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (first, best), (second, next_best) = ranked[0], ranked[1]
    if best <= 0:
        return []
    return [first, second] if next_best >= RUNNER_UP * best else [first]


def _regions(kind: DetectionKind) -> tuple[MapRegion, ...]:
    return tuple(FACE_PARTS) if kind == DetectionKind.HUMAN else NINTHS


def _face_parts(height: int, width: int) -> np.ndarray:
    """Each pixel's facial part, as its index in FACE_PARTS: the part of the nearest point."""
    rows, columns = np.mgrid[0:height, 0:width]
    x, y = (columns + 0.5) / width, (rows + 0.5) / height
    points = [(index, point) for index, part_points in enumerate(FACE_PARTS.values()) for point in part_points]
    distances = np.stack([(x - point_x) ** 2 + (y - point_y) ** 2 for _, (point_x, point_y) in points])
    return np.array([index for index, _ in points])[distances.argmin(axis=0)]


def _ninths(height: int, width: int) -> np.ndarray:
    """Each pixel's ninth of the crop, row by row (NINTHS' order)."""
    rows, columns = np.mgrid[0:height, 0:width]
    return (rows * 3 // height) * 3 + columns * 3 // width
