"""The analysis pipeline shared by the web app, the CLI and the tests.

decode -> detect -> crop (square, with margin) -> classify (one batch).
Models are built once per process, lazily, on the GPU when there is one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from inference.classifiers import HUMAN_WEIGHTS, EmotionClassifier
from inference.crops import gray_crops
from inference.detectors import Detection, MTCNNFaceDetector
from inference.images import DEFAULT_MAX_PIXELS, decode_image

log = logging.getLogger(__name__)


@dataclass
class FaceResult:
    """One classified detection, in original image pixels."""

    kind: str
    box: list[int]
    score: float
    emotions: dict[str, float]
    top: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "box": self.box, "score": round(self.score, 4),
                "emotions": self.emotions, "top": self.top}


@dataclass
class ImageResult:
    """Everything the pipeline found in one image, with per-stage timings in milliseconds."""

    width: int
    height: int
    format: str
    detections: list[FaceResult]
    models: dict[str, str]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The media part of the analysis JSON (the app adds id, status and dates)."""
        return {"media": "image", "width": self.width, "height": self.height,
                "detections": [face.to_dict() for face in self.detections], "model": self.models}


def _rounded_probabilities(row: np.ndarray, classes: tuple[str, ...]) -> dict[str, float]:
    return {label: round(float(p), 6) for label, p in zip(classes, row)}


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[stage] = (time.perf_counter() - started) * 1000


class Pipeline:
    """Face detector + emotion classifier on one device."""

    def __init__(self, device: torch.device | None = None):
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        log.info("loading models on %s", self.device)
        self.detector = MTCNNFaceDetector(self.device)
        self.classifier = EmotionClassifier(HUMAN_WEIGHTS, self.device)

    @property
    def models(self) -> dict[str, str]:
        return {"detector": self.detector.name, "classifier": self.classifier.name}

    def _face_results(self, detections: list[Detection], probabilities: np.ndarray) -> list[FaceResult]:
        classes = self.classifier.classes
        return [
            FaceResult(kind=detection.kind, box=[round(v) for v in detection.box], score=detection.score,
                       emotions=_rounded_probabilities(row, classes), top=classes[int(row.argmax())])
            for detection, row in zip(detections, probabilities)
        ]

    def analyze_bytes(self, data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageResult:
        """Decode and analyse one image file's bytes (raises inference.errors.MediaError).

        Each stage is timed separately: decode, detect, crop, classify.
        """
        timings: dict[str, float] = {}
        with _timed(timings, "decode"):
            image = decode_image(data, max_pixels)
        with _timed(timings, "detect"):
            detections = self.detector.detect(image.rgb)
        with _timed(timings, "crop"):
            crops = gray_crops(image.rgb, [d.box for d in detections], self.classifier.input_size)
        with _timed(timings, "classify"):
            probabilities = self.classifier.predict(crops)
        return ImageResult(width=image.width, height=image.height, format=image.format,
                           detections=self._face_results(detections, probabilities),
                           models=self.models, timings_ms=timings)


_pipeline: Pipeline | None = None
_pipeline_lock = threading.Lock()


def get_pipeline() -> Pipeline:
    """The process-wide pipeline, built on first use."""
    global _pipeline
    with _pipeline_lock:
        if _pipeline is None:
            _pipeline = Pipeline()
        return _pipeline
