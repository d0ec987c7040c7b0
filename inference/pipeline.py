"""The analysis pipeline shared by the web app, the CLI and the tests.

decode -> detect faces and pets (side by side) -> crop -> classify (one batch per model).
Faces are aligned by their landmarks to FER2013's framing (inference/align.py) for the FER2013 classifier.
A photo without a face, or whose face runs past its edge, is searched again with a border around it (a
photo that is itself a face crop: MTCNN misses such a face or places its landmarks badly).
Dogs and cats are cut out as squares with a margin: dogs for the dog-emotion model, cats for the
cat-emotion model when one ships (inference/cat_emotion.py; without it a cat's emotions are empty and its
top is None).
Models are built once per process, lazily, on the GPU when there is one; on a CPU the classifiers
run on ONNX Runtime (MOODLENS_BACKEND=torch keeps them on torch). Which models are in use (what an analysis
records, and a result page compares with) is told without building them, from their files, where none are built yet
(`models_in_use`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
from inference.backends import Backend, default_device, requested_backend
from inference.align import aligned_gray_crops
from inference.cat_emotion import CatEmotionClassifier
from inference.classifiers import Classifier, EmotionClassifier
from inference.crops import pet_body_crops, rgb_crops
from inference.detectors import CROP_SEARCHES, Detection, MTCNNFaceDetector, Point, SSDPetDetector, in_reading_order
from inference.dog_emotion import DogEmotionClassifier
from inference.heif import decode_photo
from inference.images import DEFAULT_MAX_PIXELS, DecodedImage
from inference.specs import CAT_HEAD_WEIGHTS, DOG_HEAD_WEIGHTS, HUMAN_WEIGHTS, PET_WEIGHTS
from inference.labels import DetectionKind
from inference.pet_species import PetCropModel
from inference.tracking import area
from inference.once import once_per_process

log = logging.getLogger(__name__)


@dataclass
class DetectionResult:
    """One classified detection, in original image pixels."""

    kind: DetectionKind
    box: list[int]
    score: float
    emotions: dict[str, float]
    top: str | None
    uncertainty: float | None = None  # faces: the estimated chance the top emotion is wrong (inference/uncertainty.py)
    uncertain: bool | None = None  # faces: the page says "unsure"; None for kinds without the rule (pets)
    unsure_signals: list[str] | None = None  # faces: what made it unsure (UnsureSignal values; [] when sure)
    landmarks: list[list[float]] | None = None  # faces: the five points it was aligned by ("Why?" crops it so again)


@dataclass
class ImageResult:
    """Everything the pipeline found in one image, with per-stage timings in milliseconds."""

    width: int
    height: int
    format: str
    detections: list[DetectionResult]
    models: dict[str, str]
    classifiers: dict[str, str]  # the emotion model of each kind, by kind (Pipeline.classifier_names)
    timings_ms: dict[str, float] = field(default_factory=dict)
    found: int | None = None  # the faces and animals found, where more than MOST_READ_PER_PHOTO (those read)


MOST_READ_PER_PHOTO = 100  # faces and animals read in one photo, the largest: a class photo has some 30, and a
                           # crowd of 400 took 7.6 s of CPU and made a result page of 2.7 MB


def largest(detections: list[Detection], most: int) -> list[Detection]:
    """The `most` largest of the detections (by their boxes' area), in their order."""
    if len(detections) <= most:
        return detections
    by_size = sorted(range(len(detections)), key=lambda index: -area(detections[index].box))
    kept = set(by_size[:most])
    return [detection for index, detection in enumerate(detections) if index in kept]


def _rounded_probabilities(row: np.ndarray, classes: tuple[str, ...]) -> dict[str, float]:
    return {label: round(float(p), 6) for label, p in zip(classes, row)}


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[stage] = (time.perf_counter() - started) * 1000


class Classified(NamedTuple):
    """One detection's emotions and top label; for faces, also how unsure the reading is."""

    emotions: dict[str, float]
    top: str | None
    uncertainty: float | None = None
    uncertain: bool | None = None
    unsure_signals: list[str] | None = None


def _readings(model: Classifier, crops: np.ndarray, flip_tta: bool) -> list[Classified]:
    """Each crop's classification; the face classifier adds its uncertainty score, flag and signals."""
    if isinstance(model, EmotionClassifier):
        probabilities, scores, features = model.read(crops, flip_tta)
        flags = model.uncertainty_rule.unsure(scores)
        because = [[str(signal) for signal in fired] for fired in model.uncertainty_rule.because(features)]
    else:
        probabilities = model.predict(crops, flip_tta)
        scores = flags = because = [None] * len(crops)
    return [Classified(_rounded_probabilities(row, model.classes), model.classes[int(row.argmax())],
                       None if score is None else round(float(score), 4), None if flag is None else bool(flag), fired)
            for row, score, flag, fired in zip(probabilities, scores, flags, because)]


def _at_edge(face: Detection, width: int, height: int) -> bool:
    """Whether a face's box was cut by the photo's edge (its landmarks then come from a clipped view)."""
    x1, y1, x2, y2 = face.box
    return min(x1, y1) <= 0 or x2 >= width or y2 >= height


def _points(landmarks: tuple[Point, ...] | None) -> list[list[float]] | None:
    """Landmarks as a result keeps them (as JSON can): lists of two numbers, exact, so a crop made again from them is
    the same crop."""
    return [[float(x), float(y)] for x, y in landmarks] if landmarks else None


def face_crops(frame: np.ndarray, faces: list[Detection], size: int) -> np.ndarray:
    """The face classifier's input: each face aligned by its landmarks."""
    return aligned_gray_crops(frame, [face.landmarks for face in faces], size)


def dog_crops(frame: np.ndarray, dogs: list[Detection], size: int) -> np.ndarray:
    """The dog-emotion model's input: each dog's body (5% margin; the pipeline shows a dog by its head)."""
    return pet_body_crops(frame, [dog.body or dog.box for dog in dogs], size)


def pet_crops(frame: np.ndarray, pets: list[Detection], size: int) -> np.ndarray:
    """A dog or cat classifier's input: a square around each box."""
    return rgb_crops(frame, [pet.box for pet in pets], size)


CLASSIFIER_CROPS = {DetectionKind.HUMAN: face_crops, DetectionKind.DOG: dog_crops, DetectionKind.CAT: pet_crops}
EMOTION_MODELS: dict[DetectionKind, tuple[type[Classifier], Path]] = {
    DetectionKind.HUMAN: (EmotionClassifier, HUMAN_WEIGHTS),
    DetectionKind.DOG: (DogEmotionClassifier, DOG_HEAD_WEIGHTS),
    DetectionKind.CAT: (CatEmotionClassifier, CAT_HEAD_WEIGHTS)}


def shipped_classifiers() -> dict[DetectionKind, tuple[type[Classifier], Path]]:
    """The emotion model of each kind whose weights ship, with its weights file (the face model's always: without
    it no pipeline loads; the cat model's only when good enough, inference/cat_emotion.py)."""
    return {kind: (model, weights) for kind, (model, weights) in EMOTION_MODELS.items()
            if kind == DetectionKind.HUMAN or weights.is_file()}


def pets_ship() -> bool:
    """Whether the dog and cat detector ships (scripts/setup.sh unpacks it)."""
    return PET_WEIGHTS.exists()


def detector_names(pets: bool) -> list[str]:
    """The names of the detectors a pipeline runs: the face detector, and with `pets` the pet detector and the model
    that reviews its pets."""
    return [MTCNNFaceDetector.name, *((SSDPetDetector.name, PetCropModel.name) if pets else ())]


def model_lines(detectors: list[str], classifiers: dict[DetectionKind, tuple[str, str]]) -> dict[str, str]:
    """Every model in one line a role, as an analysis records them: the detectors, the emotion classifiers (of all
    kinds: `Pipeline.classifier_names` says which reads which) and their weights by kind (their fingerprints);
    `classifiers` holds each kind's (name, fingerprint)."""
    return {"detector": " + ".join(detectors), "classifier": " + ".join(name for name, _ in classifiers.values()),
            "weights": " + ".join(f"{kind}:{fingerprint}" for kind, (_, fingerprint) in classifiers.items())}


class Pipeline:
    """Face and pet detectors, the face, dog and (when it ships) cat emotion classifiers, on one device."""

    def __init__(self, device: str | None = None, backend: Backend | None = None):
        backend = backend or requested_backend()
        self.device = device or default_device(backend)
        log.info("loading models on %s (classifier backend asked for: %s)", self.device, backend)
        self.detector = MTCNNFaceDetector(self.device, backend)
        self.pet_detector = SSDPetDetector() if pets_ship() else None
        self.pet_crop_model = PetCropModel(self.device, backend) if self.pet_detector else None
        classifiers = {kind: model(weights, self.device, backend)
                       for kind, (model, weights) in shipped_classifiers().items()}
        self.classifier = classifiers[DetectionKind.HUMAN]
        self.dog_classifier = classifiers.get(DetectionKind.DOG)
        self.cat_classifier = classifiers.get(DetectionKind.CAT)
        if self.pet_detector is None:
            log.warning("no dog/cat detector in %s (run scripts/setup.sh): photos are searched for faces only",
                        PET_WEIGHTS)

    @property
    def emotion_classifiers(self) -> dict[DetectionKind, Classifier]:
        """The emotion model of each kind of detection that has one (faces, dogs, and cats when their model ships)."""
        classifiers = {DetectionKind.HUMAN: self.classifier, DetectionKind.DOG: self.dog_classifier,
                       DetectionKind.CAT: self.cat_classifier}
        return {kind: model for kind, model in classifiers.items() if model is not None}

    @property
    def classifier_names(self) -> dict[str, str]:
        """The name of the emotion model that reads each kind of detection, by kind: what a reading names as its
        model (a face's never names the dog's)."""
        return {str(kind): model.name for kind, model in self.emotion_classifiers.items()}

    @property
    def models(self) -> dict[str, str]:
        """Every model in one line a role (`model_lines`), and the backends the face detector and the classifiers
        run on."""
        by_kind = self.emotion_classifiers
        lines = model_lines(detector_names(self.pet_detector is not None),
                            {kind: (model.name, model.fingerprint) for kind, model in by_kind.items()})
        backends = {model.runner.name for model in by_kind.values()} | {self.detector.runner_name}
        return {**lines, "backend": " + ".join(sorted(backends))}

    def detect_batch(self, frames: list[np.ndarray], min_face_size: int | None = None,
                     scan_pets: list[bool] | None = None, timings: dict[str, float] | None = None,
                     settle: bool = True) -> list[list[Detection]]:
        """Faces, then dogs and cats, in RGB frames of one size; one list per frame, without the faces that are a
        pet's and with no dog's head on a person's face (`PetCropModel.settle`) unless `settle` is False.

        `scan_pets` says which frames the pet detector looks at (default: all); video analysis
        uses it to look for pets less often while none are in sight. The pet detector runs in a
        second thread while MTCNN runs: MTCNN's Python and OpenCV steps keep one core busy only,
        and the SSD fills the other (2 cores, faces and pets of bench.latency's 1-face 1024 px photo,
        p50: 96 ms one after the other, 83 ms side by side). `timings` gets "detect faces" (MTCNN,
        with the SSD beside it) and "detect pets" (the wait for the SSD once the faces are found).
        """
        timings = {} if timings is None else timings
        with ThreadPoolExecutor(1, thread_name_prefix="pets") as pet_thread:
            pets = pet_thread.submit(self._find_pets, frames, scan_pets)
            with _timed(timings, "detect faces"):
                found = self.detector.detect_batch(frames, min_face_size)
            with _timed(timings, "detect pets"):
                self._join(frames, found, pets.result(), settle)
        return found

    def add_pets(self, frames: list[np.ndarray], found: list[list[Detection]], scan: list[bool] | None = None) -> None:
        """Append the dogs and cats of the frames marked in `scan` (default: all) to those frames' lists."""
        self._join(frames, found, self._find_pets(frames, scan))

    def _join(self, frames: list[np.ndarray], found: list[list[Detection]],
              pets: list[tuple[int, list[Detection]]], settle: bool = True) -> None:
        """Add each frame's dogs and cats (frame index, detections) after its faces, then settle faces and pets
        (`PetCropModel.settle`) unless told not to."""
        for index, detections in pets:
            found[index] = found[index] + detections
        if pets and settle:
            found[:] = self.pet_crop_model.settle(frames, found)

    def find_pets(self, frame: np.ndarray) -> list[Detection]:
        """The dogs and cats of one frame, as the pipeline reports them (a dog with its head and body boxes)."""
        return [pet for _, pets in self._find_pets([frame], None) for pet in pets]

    def _find_pets(self, frames: list[np.ndarray], scan: list[bool] | None) -> list[tuple[int, list[Detection]]]:
        """The dogs and cats of the frames marked in `scan` (default: all), with each frame's index: the SSD's
        boxes, each one's species voted (the dog-or-cat probe on its body, the ImageNet classes on its head where
        the vote is close, the SSD's score) and its box grown to hold its head, and close-ups the ImageNet classes
        find (pet_species.py); a dog is boxed by its head (its body box kept for its emotion model), a cat by its
        body."""
        if self.pet_detector is None:
            return []
        scanned = [i for i, wanted in enumerate(scan or [True] * len(frames)) if wanted]
        chosen = [frames[i] for i in scanned]
        reviewed = self.pet_crop_model.review(chosen, self.pet_detector.detect_batch(chosen))
        return [(i, in_reading_order([pet.as_found(frames[i]) for pet in pets])) for i, pets in zip(scanned, reviewed)]

    def classify_batch(self, frames: list[np.ndarray], detections: list[list[Detection]],
                       flip_tta: bool = True) -> list[list[Classified]]:
        """Emotions of every detection: all face crops of all frames in one batch, all dog crops in another,
        all cat crops in a third (a kind without a model keeps no emotions and no top label)."""
        results: list[list[Classified]] = [[Classified({}, None)] * len(found) for found in detections]
        for kind, model in self.emotion_classifiers.items():
            places = [(f, d) for f, found in enumerate(detections) for d, det in enumerate(found) if det.kind == kind]
            if not places:
                continue
            crop = CLASSIFIER_CROPS[kind]
            crops = np.concatenate([crop(frame, [det for det in found if det.kind == kind], model.input_size)
                                    for frame, found in zip(frames, detections)])
            for (f, d), reading in zip(places, _readings(model, crops, flip_tta)):
                results[f][d] = reading
        return results

    def read_as(self, frames: list[np.ndarray], pets: list[Detection], flip_tta: bool = True) -> list[Classified]:
        """One pet in each frame (`Detection.set_by_owner`: a photo's pet, or a video track's in each of its frames)
        read by its kind's emotion model, in one pass, as `classify_batch` reads what the detectors found; no
        emotions for a kind without a model."""
        return [reading for (reading,) in self.classify_batch(frames, [[pet] for pet in pets], flip_tta)]

    def detect_photo(self, rgb: np.ndarray, timings: dict[str, float]) -> list[Detection]:
        """Faces, then dogs and cats, in one photo, settled (`PetCropModel.settle`: no pet's face called a person's,
        no dog's head on a person's face). A photo without a face, or whose face runs past its edge, is searched for
        faces again with a border around it (`MTCNNFaceDetector.detect_padded`); a face found with some doubt in a
        photo without pets, turned too (`MTCNNFaceDetector.turned_over`); faces and pets are settled once,
        after the searches (a pet's face found by the first does not make a photo "without a face"). Both are added
        to "detect faces"."""
        found = self.detect_batch([rgb], timings=timings, settle=False)[0]
        faces = [detection for detection in found if detection.kind == DetectionKind.HUMAN]
        pets = [detection for detection in found if detection.kind != DetectionKind.HUMAN]
        height, width = rgb.shape[:2]
        began = time.perf_counter()
        if not faces or any(_at_edge(face, width, height) for face in faces):
            searches = CROP_SEARCHES[:1] if pets else CROP_SEARCHES  # a photo of a pet is no face crop: searched once
            faces = self.detector.detect_padded(rgb, searches) or faces
        elif not pets:
            faces = self.detector.turned_over(rgb, faces)
        found = self.pet_crop_model.settle([rgb], [faces + pets])[0] if pets else faces
        timings["detect faces"] += (time.perf_counter() - began) * 1000
        return found

    def analyze_bytes(self, data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageResult:
        """Decode and analyse one image file's bytes (raises inference.errors.MediaError).

        Each stage is timed: decode, face detection (see `detect_photo`), pet detection (side by side, see
        `detect_batch`), crop and classify.
        """
        timings: dict[str, float] = {}
        with _timed(timings, "decode"):
            image = decode_photo(data, max_pixels)
        return self.analyze_image(image, timings)

    def analyze_image(self, image: DecodedImage, timings: dict[str, float] | None = None) -> ImageResult:
        """Analyse a decoded image, at most MOST_READ_PER_PHOTO faces and animals of it (the largest); `timings`
        gets the detection and classification stages."""
        timings = {} if timings is None else timings
        found = self.detect_photo(image.rgb, timings)
        detections = largest(found, MOST_READ_PER_PHOTO)
        with _timed(timings, "crop+classify"):
            classified = self.classify_batch([image.rgb], [detections])[0]
        faces = [DetectionResult(d.kind, [round(v) for v in d.box], d.score, *reading, landmarks=_points(d.landmarks))
                 for d, reading in zip(detections, classified)]
        return ImageResult(width=image.width, height=image.height, format=image.format, detections=faces,
                           models=self.models, classifiers=self.classifier_names, timings_ms=timings,
                           found=len(found) if len(found) > len(detections) else None)


@once_per_process
def get_pipeline() -> Pipeline:
    """The process-wide pipeline, built on first use."""
    return Pipeline()


@functools.cache
def shipped_models() -> dict[str, str]:
    """`Pipeline.models` but the backends, told from the weights files without building a network (nor importing
    torch where the ONNX exports are up to date): what a pipeline built now records. Told once a process (hashing
    the weights takes a moment), like the pipeline that is built once."""
    return model_lines(detector_names(pets_ship()),
                       {kind: model.described(weights) for kind, (model, weights) in shipped_classifiers().items()})


def models_in_use() -> dict[str, str]:
    """The models a new analysis is made by (`Pipeline.models`): the pipeline's where this process has built it,
    else `shipped_models`; asking never builds one (nor waits for one being built)."""
    loaded = get_pipeline.if_loaded()
    return loaded.models if loaded is not None else shipped_models()
