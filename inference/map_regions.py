"""Where a saliency map is brightest, in words a page can say ("around the eyes and the mouth"): the text
equivalent of a "Why?" heat map for someone who cannot see it.

A face's map lies on the aligned crop the model read (inference/align.py puts the eyes, the nose and the mouth
corners at FER2013_TEMPLATE's places; a face found without landmarks is a box crop, about as framed), so its
brightest area is named by the facial part it covers: each part is a few points of the crop, scored by the map's
mean within a disc around them. A pet's map lies on its body crop, whose parts are nowhere in particular: it is
named by the ninth of the crop it is brightest in ("the upper left").
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from inference.align import FER2013_TEMPLATE
from inference.labels import DetectionKind


class MapRegion(StrEnum):
    """A part of a face, or a ninth of a pet's crop, that a map is brightest in."""

    FOREHEAD = "forehead"
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
# Each facial part's points as fractions (x, y) of the aligned crop.
FACE_PARTS: dict[MapRegion, tuple[tuple[float, float], ...]] = {
    MapRegion.FOREHEAD: ((0.5, 0.17),),
    MapRegion.EYES: (LEFT_EYE, RIGHT_EYE),
    MapRegion.NOSE: (NOSE_TIP,),
    MapRegion.MOUTH: (LEFT_MOUTH, (0.5, 0.79), RIGHT_MOUTH),
    MapRegion.CHEEKS: ((0.2, 0.62), (0.8, 0.62)),
    MapRegion.CHIN: ((0.5, 0.95),),
}
PART_RADIUS = 0.1  # of the crop's side: the disc around each point of a part
NINTHS = (MapRegion.UPPER_LEFT, MapRegion.TOP, MapRegion.UPPER_RIGHT, MapRegion.LEFT, MapRegion.MIDDLE,
          MapRegion.RIGHT, MapRegion.LOWER_LEFT, MapRegion.BOTTOM, MapRegion.LOWER_RIGHT)  # row by row
RUNNER_UP = 0.85  # a second region is named when its score is at least this share of the first's


def brightest_regions(saliency: np.ndarray, kind: str) -> list[MapRegion]:
    """The region a map (in [0, 1], over the crop) is brightest in, and a second one nearly as bright; none for a
    map that is dark everywhere."""
    scores = _face_part_scores(saliency) if kind == DetectionKind.HUMAN else _ninth_scores(saliency)
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (first, best), (second, next_best) = ranked[0], ranked[1]
    if best <= 0:
        return []
    return [first, second] if next_best >= RUNNER_UP * best else [first]


def _face_part_scores(saliency: np.ndarray) -> dict[MapRegion, float]:
    height, width = saliency.shape
    rows, columns = np.mgrid[0:height, 0:width]
    x, y = (columns + 0.5) / width, (rows + 0.5) / height
    scores = {}
    for part, points in FACE_PARTS.items():
        inside = np.zeros_like(saliency, dtype=bool)
        for point_x, point_y in points:
            inside |= (x - point_x) ** 2 + (y - point_y) ** 2 <= PART_RADIUS ** 2
        scores[part] = float(saliency[inside].mean())
    return scores


def _ninth_scores(saliency: np.ndarray) -> dict[MapRegion, float]:
    rows = np.array_split(saliency, 3, axis=0)
    cells = [cell for row in rows for cell in np.array_split(row, 3, axis=1)]
    return {region: float(cell.mean()) for region, cell in zip(NINTHS, cells)}
