"""Face alignment: each face is warped so its landmarks land where FER2013's crops have them.

MTCNN gives five landmarks per face (eyes, nose tip, mouth corners). A similarity transform (rotation,
one scale, shift) fitted by least squares maps them onto `FER2013_TEMPLATE`, the median landmarks of
FER2013's training crops (`python -m bench.framing` measures them), so the classifier sees faces framed
as it was trained: eyes level, the same eye distance and the same margin around the face. Parts of the
window outside the photo repeat its edge pixels. Pixels are interpolated bicubically (bilinear
interpolation blurs: a half-pixel shift of FER2013's val crops costs 2.7 points of accuracy with it, 0.2
with bicubic); a large face is warped at a multiple of the crop size and then area-averaged down, so it
is not aliased.
"""

from __future__ import annotations

import cv2
import numpy as np

from inference.detectors import Point

# Left eye, right eye, nose, left and right mouth corner ("left" as seen in the image), as fractions of
# the crop side: the medians of FER2013's training crops (python -m bench.framing: 1,804 of 2,100 crops
# with a face), made left-right symmetric (flip test-time augmentation mirrors the crop).
FER2013_TEMPLATE = np.array([[0.312, 0.387], [0.688, 0.387], [0.500, 0.595], [0.343, 0.790], [0.657, 0.790]])


def alignment_matrix(landmarks: tuple[Point, ...], size: int,
                     template: np.ndarray = FER2013_TEMPLATE) -> np.ndarray:
    """The 2x3 similarity transform from photo pixels to a size x size crop that best maps the landmarks
    onto the template: least squares over all five points, in closed form with the points as complex
    numbers (target = a * source + b, a = scale and rotation)."""
    source = np.asarray(landmarks, dtype=np.float64) @ [1, 1j]
    target = (template * size) @ [1, 1j]
    centred = source - source.mean()
    a = np.vdot(centred, target - target.mean()) / max(np.vdot(centred, centred).real, 1e-9)
    b = target.mean() - a * source.mean()
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def aligned_crop(rgb: np.ndarray, landmarks: tuple[Point, ...], size: int) -> np.ndarray:
    """The size x size RGB crop of one face, aligned to the template."""
    matrix = alignment_matrix(landmarks, size, FER2013_TEMPLATE)
    upsample = max(1, int(1 / np.sqrt(abs(np.linalg.det(matrix[:, :2])))))  # photo pixels per crop pixel
    warped = cv2.warpAffine(rgb, matrix * [[upsample], [upsample]], (size * upsample, size * upsample),
                            flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return warped if upsample == 1 else cv2.resize(warped, (size, size), interpolation=cv2.INTER_AREA)


def aligned_gray_crops(rgb: np.ndarray, faces: list[tuple[Point, ...]], size: int) -> np.ndarray:
    """Grayscale uint8 crops (N, size, size) of faces given by their landmarks, for the face classifier."""
    crops = [cv2.cvtColor(aligned_crop(rgb, landmarks, size), cv2.COLOR_RGB2GRAY) for landmarks in faces]
    return np.stack(crops) if crops else np.zeros((0, size, size), dtype=np.uint8)
