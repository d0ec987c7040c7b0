"""Face signatures ("is this Ana?"), no Flask: dlib's ResNet face descriptor (a 128-number signature per face),
its input aligned by dlib's 5-point landmark model; both weights ship in the `face-recognition-models` PyPI
package and run on `dlib-bin`. Two signatures of one person lie close (Euclidean distance), so a new face is
matched to the nearest of a user's named people, and unnamed faces are grouped by agglomerative clustering.

The threshold (SAME_PERSON_DISTANCE) is measured by `python -m bench.identity` on LFW (docs in the README).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from inference.once import once_per_process

SIGNATURE_SIZE = 128
# Nearest named face closer than this: suggest that person. Chosen on half A of LFW's people by bench.identity
# (the largest coverage with precision >= 0.99), reported on half B.
SAME_PERSON_DISTANCE = 0.5
GROUP_DISTANCE = 0.5  # unnamed faces whose average-linkage distance is below this form one group
MIN_GROUP_SIZE = 2
CHIP_PADDING = 0.25
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"


def models_folder() -> Path:
    """Where `face-recognition-models` keeps its weights (found without importing it: its __init__ needs the
    removed pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face signatures need the face-recognition-models package (requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class SignatureModel:
    """dlib's 5-point aligner and ResNet descriptor, loaded once; embed() is safe to call from several threads."""

    def __init__(self, folder: Path | None = None):
        import dlib

        folder = folder or models_folder()
        self._landmarks = dlib.shape_predictor(str(folder / LANDMARKS_FILE))
        self._descriptor = dlib.face_recognition_model_v1(str(folder / DESCRIPTOR_FILE))
        self._dlib = dlib
        self._lock = threading.Lock()
        self.name = "dlib ResNet face descriptor v1 (5-point alignment)"

    def embed(self, rgb: np.ndarray, boxes: list[list[int]]) -> np.ndarray:
        """One signature (float32, 128) per face box [x1, y1, x2, y2] of the RGB photo: shape (len(boxes), 128)."""
        return self.embed_frames([(rgb, boxes)])[0]

    def embed_frames(self, frames: list[tuple[np.ndarray, list[list[int]]]]) -> list[np.ndarray]:
        """`embed` for each (RGB frame, face boxes) pair, the faces of every frame in one batch of the descriptor."""
        images = [np.ascontiguousarray(rgb, dtype=np.uint8) for rgb, _ in frames]
        signed = [index for index, (_, boxes) in enumerate(frames) if boxes]
        vectors: dict[int, np.ndarray] = {}
        with self._lock:
            shapes = [self._dlib.full_object_detections([self._landmarks(images[index], self._dlib.rectangle(
                *map(int, box))) for box in frames[index][1]]) for index in signed]
            if signed:
                batches = self._descriptor.compute_face_descriptor([images[index] for index in signed], shapes, 0,
                                                                   CHIP_PADDING)
                vectors = {index: np.asarray([np.asarray(vector) for vector in batch], np.float32)
                           for index, batch in zip(signed, batches)}
        return [vectors.get(index, np.zeros((0, SIGNATURE_SIZE), np.float32)) for index in range(len(frames))]


@once_per_process
def get_signature_model() -> SignatureModel:
    """The process's one model (loaded on the first signature job, never by a web request)."""
    return SignatureModel()


def to_bytes(signature: np.ndarray) -> bytes:
    return np.asarray(signature, dtype="<f4").tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


@dataclass(frozen=True)
class Match:
    """The nearest named person of a face, and how far their closest face is."""

    label: int
    distance: float


def nearest_label(signature: np.ndarray, references: np.ndarray, labels: list[int],
                  threshold: float = SAME_PERSON_DISTANCE) -> Match | None:
    """The label of the reference signature nearest to `signature` when it is closer than `threshold`; None
    when there are no references or none is close enough."""
    if len(labels) == 0:
        return None
    distances = np.linalg.norm(references - signature, axis=1)
    best = int(distances.argmin())
    return Match(labels[best], float(distances[best])) if distances[best] < threshold else None


def group_indices(signatures: np.ndarray, threshold: float = GROUP_DISTANCE,
                  min_size: int = MIN_GROUP_SIZE) -> list[list[int]]:
    """Agglomerative (average-linkage) groups of signatures that look like one person: lists of row indices,
    largest group first, groups smaller than min_size left out."""
    if len(signatures) < min_size:
        return []
    clusters = fcluster(linkage(signatures, method="average", metric="euclidean"), t=threshold,
                        criterion="distance")
    groups = [np.flatnonzero(clusters == cluster).tolist() for cluster in np.unique(clusters)]
    return sorted((group for group in groups if len(group) >= min_size), key=len, reverse=True)
