"""Why did the model say that? Saliency maps of one detection's top emotion, over the crop the model saw.

Two methods, each a map in [0, 1] (1: mattered most for the top emotion):
- occlusion sensitivity (Zeiler and Fergus, 2014): a grey square slides over the crop, and each
  pixel gets the mean drop of the top emotion's probability over the squares that hid it. It only
  needs predictions, so it runs on the classifier as deployed (ONNX Runtime or torch), all occluded
  copies in batches, without flip test-time augmentation (a mirror image would smear left and right).
- Grad-CAM (Selvaraju et al., 2017): the last convolutional stage's activations, weighted by the
  gradient of the top emotion's logit, positive part; it needs the torch network. For an ensemble,
  the mean of its members' maps.
`python -m bench.explain` measures both with the deletion test (hide the most salient pixels first:
the faster the top probability falls, the better the map).

Grad-CAM's torch networks load in a thread (once per process; importing torch is most of it) while the crop is
found and occlusion runs on the deployed backend, so a first explanation waits only for what is left of it.
Progress is reported over three stages, in that order, each weighted by how long it takes: occlusion (reported
per batch), the wait for the networks, and Grad-CAM (per network). The weights start from times measured here
and follow each process's own measured times. `python -m bench.explain_speed` times each stage.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from pathlib import Path

from typing import TYPE_CHECKING

import cv2
import numpy as np

from inference.align import aligned_gray_crops
from inference.classifiers import Classifier, gray_batch
from inference.crops import gray_crops, pet_body_crops, rgb_crops, square_crop_box
from inference.detectors import Detection, MTCNNFaceDetector, Point
from inference.dog_emotion import imagenet_batch
from inference.files import write_atomic
from inference.once import once_per_process
from inference.pipeline import Pipeline, get_pipeline
from inference.specs import CAT_HEAD_WEIGHTS, DOG_HEAD_WEIGHTS, HUMAN_WEIGHTS
from inference.labels import DetectionKind
from inference.map_regions import MapRegion, brightest_regions
from inference.tracking import iou

if TYPE_CHECKING:  # torch is imported when Grad-CAM first runs, not by the web process at start
    import torch

    from inference.dog_net import DogEmotionNet, PetEnsemble, TunedNet
    from inference.emotion_net import EfficientFaceNet, EmotionEnsemble, EmotionNet


class ExplainMethod(StrEnum):
    """How a map is made: occlusion (the score's drop as parts are hidden) or Grad-CAM (the last layer's gradients)."""

    OCCLUSION = "occlusion"
    GRAD_CAM = "grad_cam"


METHODS = tuple(ExplainMethod)
Predict = Callable[[np.ndarray], np.ndarray]  # uint8 crops -> probabilities
ProgressCallback = Callable[[float], None]
PET_HEAD_WEIGHTS = {DetectionKind.DOG: DOG_HEAD_WEIGHTS, DetectionKind.CAT: CAT_HEAD_WEIGHTS}  # on the dog network
# Seconds per stage measured on the 2-core development machine (ONNX Runtime for occlusion; loading the networks
# in a process that has already imported torch: importing it adds TORCH_IMPORT_SECONDS): the progress bar's first
# weights. Loading and Grad-CAM on TORCH_THREADS, measured busy (bench.explain_speed, 2026-12-04).
STAGE_SECONDS = {
    DetectionKind.HUMAN: {"networks": 0.2, ExplainMethod.OCCLUSION: 4.2, ExplainMethod.GRAD_CAM: 0.1},
    DetectionKind.DOG: {"networks": 1.2, ExplainMethod.OCCLUSION: 6.6, ExplainMethod.GRAD_CAM: 0.2},
    DetectionKind.CAT: {"networks": 1.2, ExplainMethod.OCCLUSION: 6.6, ExplainMethod.GRAD_CAM: 0.2},  # the dog network
}
TORCH_IMPORT_SECONDS = 4.5
# Torch's threads while the Grad-CAM networks load and run: one crop gains little from a second thread, and on a
# busy 2-core machine two threads that wait for each other took 2.6-6.6 s for a dog's Grad-CAM, one 0.16-0.31 s, and
# 2.9-3.9 s to build its networks instead of 1.0-1.4 s (`python -m bench.explain_speed`).
TORCH_THREADS = 1


class StagedProgress:
    """One 0..1 progress over stages that each report their own 0..1, weighted by their expected seconds."""

    def __init__(self, expected: dict[str, float], report: ProgressCallback | None):
        total = sum(expected.values()) or 1.0
        self.report = report
        self.spans: dict[str, tuple[float, float]] = {}
        start = 0.0
        for stage, seconds in expected.items():
            self.spans[stage] = (start, seconds / total)
            start += seconds / total

    def stage(self, name: str) -> ProgressCallback:
        start, width = self.spans[name]
        return lambda done: self.report(min(1.0, start + width * min(max(done, 0.0), 1.0))) if self.report else None


@dataclass
class GradCamParts:
    """A network cut in two at its last convolutional stage, and the crops' pre-processing."""

    prepare: Callable[[np.ndarray], np.ndarray | torch.Tensor]  # uint8 crops -> to_activations' input; parts
    # that share it (an ensemble's frozen blocks) share its output: it runs once per map
    to_activations: Callable[[torch.Tensor], torch.Tensor]
    from_activations: Callable[[torch.Tensor], torch.Tensor]  # -> logits


def face_parts(model: EmotionNet | EfficientFaceNet | EmotionEnsemble) -> list[GradCamParts]:
    """EmotionNet cut before its last max-pool (last-stage channels x 6 x 6 activations for a 48 px face);
    EfficientFaceNet at its backbone's last feature map; an ensemble: each member's parts."""
    if hasattr(model, "members"):
        return [parts for member in model.members for parts in face_parts(member)]
    if hasattr(model, "backbone"):
        return [GradCamParts(gray_batch,
                             lambda images: model.backbone.extract_features(model.backbone_input(images)),
                             lambda activations: model.head(activations.mean((2, 3))))]
    last_stage = model.features[-1]
    return [GradCamParts(gray_batch,
                         lambda images: last_stage[:-1](model.features[:-1](images)),
                         lambda activations: model.head(last_stage[-1](activations)))]


def dog_parts(net: DogEmotionNet | TunedNet | PetEnsemble) -> list[GradCamParts]:
    """EfficientNet-Lite0's last feature map (1280 x 7 x 7 for a 224 px crop), then pooling and the head; an
    ensemble: each member's parts from the output of the blocks they share, which runs once."""
    if not hasattr(net, "members"):
        return [GradCamParts(imagenet_batch, net.feature_map, net.classify)]
    import torch

    def shared_part(crops: np.ndarray) -> torch.Tensor:
        return net.shared_part(torch.from_numpy(imagenet_batch(crops)))

    return [GradCamParts(shared_part, partial(member.map_from, start=net.shared_blocks), member.classify)
            for member in net.members]


def _starts(size: int, patch: int, stride: int) -> list[int]:
    """Square positions every `stride` pixels, plus one flush with the far edge so every pixel is covered."""
    starts = list(range(0, size - patch + 1, stride))
    return starts + [size - patch] if starts[-1] != size - patch else starts


def occlusion_map(predict: Predict, crop: np.ndarray, target: int, patch: int, stride: int,
                  batch_size: int = 32, progress: ProgressCallback | None = None) -> np.ndarray:
    """Mean drop of the target's probability when a `patch`-pixel grey square hides each pixel."""
    height, width = crop.shape[:2]
    corners = [(y, x) for y in _starts(height, patch, stride) for x in _starts(width, patch, stride)]
    baseline = predict(crop[None])[0, target]
    fill = crop.reshape(height * width, -1).mean(0).astype(crop.dtype)
    drops = np.zeros((height, width))
    counts = np.zeros((height, width))
    for start in range(0, len(corners), batch_size):
        chunk = corners[start:start + batch_size]
        hidden = np.repeat(crop[None], len(chunk), axis=0)
        for copy, (y, x) in zip(hidden, chunk):
            copy[y:y + patch, x:x + patch] = fill
        for (y, x), probability in zip(chunk, predict(hidden)[:, target]):
            drops[y:y + patch, x:x + patch] += baseline - probability
            counts[y:y + patch, x:x + patch] += 1
        if progress:
            progress(min(1.0, (start + len(chunk)) / len(corners)))
    return normalise(np.where(counts > 0, drops / np.maximum(counts, 1), 0).clip(min=0))


def grad_cam_map(networks: list[GradCamParts], crop: np.ndarray, target: int,
                 progress: ProgressCallback | None = None) -> np.ndarray:
    """Grad-CAM of the target class, upsampled to the crop's size (the mean map of several networks)."""
    maps, inputs = [], {}
    for parts in networks:
        if parts.prepare not in inputs:
            inputs[parts.prepare] = _network_input(parts, crop)
        maps.append(_grad_cam(parts, inputs[parts.prepare], target, crop.shape[1::-1]))
        if progress:
            progress(len(maps) / len(networks))
    return normalise(np.mean(maps, axis=0))


def _network_input(parts: GradCamParts, crop: np.ndarray) -> torch.Tensor:
    import torch

    with torch.no_grad():
        return torch.as_tensor(parts.prepare(crop[None]))


def _grad_cam(parts: GradCamParts, inputs: torch.Tensor, target: int, size: tuple[int, int]) -> np.ndarray:
    """One network's map, normalised and upsampled to `size` (width, height). The gradient flows from the logit
    to the activations only, so the layers before them run without recording it."""
    import torch

    with torch.no_grad():
        activations = parts.to_activations(inputs)
    activations.requires_grad_(True)
    with torch.enable_grad():
        parts.from_activations(activations)[0, target].backward()
    weights = activations.grad.mean((2, 3), keepdim=True)
    cam = torch.relu((weights * activations).sum(1))[0].detach().numpy()
    return normalise(cv2.resize(cam, size, interpolation=cv2.INTER_LINEAR))


class _ThreadsHeld:
    """Who holds torch's thread count down (torch_threads), shared by the process's threads: the count is torch's,
    process-wide, so blocks that overlap (two explanations at once) set it once and restore it once, when the last
    leaves; one restoring the count another had set would leave the process on one thread for good."""

    lock = threading.Lock()
    holders = 0
    before = 0


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Torch's intra-op threads set to `count` inside the block (imports torch), then set back once no other block
    holds them. Process-wide: torch work in other threads meanwhile (the torch backend's analyses) runs on `count`
    threads too."""
    import torch

    with _ThreadsHeld.lock:
        if _ThreadsHeld.holders == 0:
            _ThreadsHeld.before = torch.get_num_threads()
            torch.set_num_threads(count)
        _ThreadsHeld.holders += 1
    try:
        yield
    finally:
        with _ThreadsHeld.lock:
            _ThreadsHeld.holders -= 1
            if _ThreadsHeld.holders == 0:
                torch.set_num_threads(_ThreadsHeld.before)


def normalise(saliency: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; an all-zero map stays zero."""
    peak = float(saliency.max())
    return (saliency / peak if peak > 0 else np.zeros_like(saliency)).astype(np.float32)


def stretched(image: np.ndarray, low: float = 1, high: float = 99) -> np.ndarray:
    """The image's levels stretched so that its `low` and `high` percentiles span 0-255, for display: a face in a
    dim photo (a 27 px face of an underexposed group photo: mean level 60) is seen under its map; a flat image
    stays as it is."""
    floor, ceiling = np.percentile(image, (low, high))
    if ceiling - floor < 1:
        return image
    return ((image.astype(np.float32) - floor) * (255 / (ceiling - floor))).clip(0, 255).astype(np.uint8)


def overlay(crop: np.ndarray, saliency: np.ndarray, size: int = 224, opacity: float = 0.75,
            contrast: float = 0.7) -> np.ndarray:
    """The crop (grey or RGB, its levels stretched) enlarged to `size`, with the map blended over it in the inferno
    colour map, each pixel's colour as opaque as the map is bright there (`opacity` x map ** `contrast`: a
    middling part of the map shows, not only its peak): where the map is dark the face shows as it is, not
    dimmed under the colour map's black."""
    rgb = stretched(crop if crop.ndim == 3 else np.repeat(crop[..., None], 3, axis=2))
    rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_CUBIC)
    heat = cv2.resize((saliency * 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
    colours = cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    weights = ((heat.astype(np.float32) / 255) ** contrast * opacity)[..., None]
    return (rgb * (1 - weights) + colours * weights).round().astype(np.uint8)


@dataclass
class Explanation:
    """The maps of one detection's top emotion, and the crop they lie on."""

    target: str
    probability: float
    crop: np.ndarray
    maps: dict[ExplainMethod, np.ndarray]
    brightest: dict[ExplainMethod, list[MapRegion]]  # where each map is brightest, in words a page can say

    def overlays(self, size: int = 224) -> dict[str, np.ndarray]:
        return {method: overlay(self.crop, saliency, size) for method, saliency in self.maps.items()}

    def save_overlays(self, paths: dict[str, Path]) -> dict[str, Path]:
        """Write each method's overlay as a PNG file at paths[method]; the paths written."""
        return {method: save_png(paths[method], image) for method, image in self.overlays().items()}


def landmarks_near(detector: MTCNNFaceDetector, rgb: np.ndarray,
                   box: tuple[float, float, float, float]) -> tuple[Point, ...] | None:
    """The landmarks of the face at a stored box (analyses keep boxes, not landmarks): the face found in
    the square around the box with half its side as margin that overlaps the box most (IoU >= 0.5)."""
    height, width = rgb.shape[:2]
    left, top, right, bottom = square_crop_box(box, width, height, margin=0.5)
    moved_box = (box[0] - left, box[1] - top, box[2] - left, box[3] - top)
    faces = [(iou(face.box, moved_box), face) for face in detector.detect_padded(rgb[top:bottom, left:right])]
    overlap, face = max(faces, key=lambda pair: pair[0], default=(0.0, None))
    if face is None or overlap < 0.5:
        return None
    return tuple((x + left, y + top) for x, y in face.landmarks or ())


def body_near(dogs: list[Detection], shown: tuple[float, float, float, float]) -> tuple[float, ...] | None:
    """The body box of the dog shown at a stored box (analyses keep the box a dog is shown by): the body of the dog
    found again whose head box overlaps it most (IoU >= 0.5), or the box the dog was found at where that is what
    was shown (a dog whose head box lay on a person's face, `pet_species._head_off_faces`, shown and read by it)."""
    candidates = [(iou(dog.box, shown), dog.body) for dog in dogs if dog.body]
    candidates += [(iou(dog.detected, shown), dog.detected) for dog in dogs if dog.detected]
    overlap, body = max(candidates, key=lambda pair: pair[0], default=(0.0, None))
    return body if overlap >= 0.5 else None


class Explainer:
    """Explains detections with the pipeline's classifiers; the torch networks for Grad-CAM load on first use."""

    def __init__(self, classifiers: dict[str, Classifier], face_detector: MTCNNFaceDetector | None = None,
                 find_pets: Callable[[np.ndarray], list[Detection]] | None = None):
        """With a face detector, a face is explained on the aligned crop the pipeline classified (its
        landmarks found again near the box); without one, on the square box crop. With `find_pets` (the
        pipeline's), a dog is explained on the body crop the pipeline classified (found again at its head
        box); without it, or if it is not found again, on a crop of its head box."""
        self.classifiers = classifiers
        self.face_detector = face_detector
        self.find_pets = find_pets
        self._networks: dict[str, Future[list[GradCamParts]]] = {}  # each kind's Grad-CAM networks, loaded or
        # loading in the loader's thread
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grad-cam-networks")
        self._lock = threading.Lock()
        # each kind's occlusion and Grad-CAM seconds: the measured defaults, then this process's last run
        self.seconds: dict[str, dict[str, float]] = {kind: dict(STAGE_SECONDS[kind]) for kind in classifiers}

    def expected_seconds(self, kind: DetectionKind) -> dict[str, float]:
        """How long each stage should take now, in the order they run. The networks load while occlusion runs:
        their stage is the wait for what is left of the loading, nothing once they are loaded."""
        loaded = kind in self._networks and self._networks[kind].done()
        loading = 0.0 if loaded else STAGE_SECONDS[kind]["networks"] + (
            0.0 if "torch" in sys.modules else TORCH_IMPORT_SECONDS)
        occlusion = self.seconds[kind][ExplainMethod.OCCLUSION]
        return {ExplainMethod.OCCLUSION: occlusion, "networks": max(0.0, loading - occlusion),
                ExplainMethod.GRAD_CAM: self.seconds[kind][ExplainMethod.GRAD_CAM]}

    @contextmanager
    def _stage(self, kind: DetectionKind, name: str, progress: StagedProgress) -> Iterator[ProgressCallback]:
        """Run a stage that reports its own progress; its time becomes its weight next time (loading happens
        once, so its time is not kept)."""
        started = time.perf_counter()
        yield progress.stage(name)
        if name != "networks":
            self.seconds[kind][name] = time.perf_counter() - started
        progress.stage(name)(1.0)

    @classmethod
    def for_pipeline(cls, pipeline: Pipeline) -> Explainer:
        """An explainer over the pipeline's own classifiers (kinds without one cannot be explained)."""
        return cls(pipeline.emotion_classifiers, pipeline.detector, pipeline.find_pets)

    def crop(self, rgb: np.ndarray, box: tuple[float, float, float, float], kind: DetectionKind,
             landmarks: Sequence[Sequence[float]] | None = None) -> np.ndarray:
        """The classifier's input for the detection at `box`, as the pipeline made it: a face by the `landmarks` it
        was aligned by (an analysis keeps them), else by those found again near the box."""
        size = self.classifiers[kind].input_size
        if kind == DetectionKind.DOG:
            body = self.find_pets and body_near(self.find_pets(rgb), box)
            return pet_body_crops(rgb, [body or box], size)[0]
        if kind != DetectionKind.HUMAN:
            return rgb_crops(rgb, [box], size)[0]
        landmarks = landmarks or (self.face_detector and landmarks_near(self.face_detector, rgb, box))
        return aligned_gray_crops(rgb, [landmarks], size)[0] if landmarks else gray_crops(rgb, [box], size)[0]

    def load_networks(self, kind: DetectionKind) -> Future[list[GradCamParts]]:
        """Start loading the kind's Grad-CAM networks in the loader's thread (once; again after a failure)."""
        with self._lock:
            loading = self._networks.get(kind)
            if loading is None or (loading.done() and loading.exception() is not None):
                self._networks[kind] = self._loader.submit(self._load, kind)
            return self._networks[kind]

    def grad_cam_parts(self, kind: DetectionKind) -> list[GradCamParts]:
        """The kind's Grad-CAM networks, once loaded."""
        return self.load_networks(kind).result()

    @staticmethod
    def _load(kind: DetectionKind) -> list[GradCamParts]:
        with torch_threads(TORCH_THREADS):
            from inference.dog_net import load_head, pet_emotion_net
            from inference.emotion_net import load_weights

            if kind == DetectionKind.HUMAN:
                return face_parts(load_weights(str(HUMAN_WEIGHTS))[0])
            return dog_parts(pet_emotion_net(load_head(PET_HEAD_WEIGHTS[kind])))

    def explain(self, rgb: np.ndarray, box: tuple[float, float, float, float] | list, kind: DetectionKind,
                emotion: str | None = None, landmarks: Sequence[Sequence[float]] | None = None,
                progress: ProgressCallback | None = None) -> Explanation:
        """Occlusion and Grad-CAM maps of `emotion` (default: the top one now) for the `kind` detection at
        `box` in an RGB image (a face's `landmarks`, where kept: `crop`). Pass the emotion the page shows, so the
        maps answer the question asked even after the weights have changed."""
        classifier = self.classifiers[kind]
        stages = StagedProgress(self.expected_seconds(kind), progress)  # before the loading imports torch
        self.load_networks(kind)  # in its thread, while the crop is found and occlusion runs
        crop = self.crop(rgb, tuple(box), kind, landmarks)
        probabilities = classifier.predict(crop[None])[0]
        target = classifier.classes.index(emotion) if emotion in classifier.classes else int(probabilities.argmax())
        patch = max(4, classifier.input_size // 6)
        with self._stage(kind, ExplainMethod.OCCLUSION, stages) as report:
            occlusion = occlusion_map(lambda crops: classifier.predict(crops, flip_tta=False), crop, target,
                                      patch, patch // 2, progress=report)
        with self._stage(kind, "networks", stages):
            networks = self.grad_cam_parts(kind)
        with self._stage(kind, ExplainMethod.GRAD_CAM, stages) as report, torch_threads(TORCH_THREADS):
            grad_cam = grad_cam_map(networks, crop, target, report)
        maps = {ExplainMethod.OCCLUSION: occlusion, ExplainMethod.GRAD_CAM: grad_cam}
        return Explanation(classifier.classes[target], float(probabilities[target]), crop, maps,
                           {method: brightest_regions(saliency, kind) for method, saliency in maps.items()})


def save_png(path: Path, rgb: np.ndarray) -> Path:
    """Write an RGB image as PNG, whole or not at all (inference/files.py)."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"PNG encoding failed for {path.name}")
    return write_atomic(path, encoded.tobytes())


@once_per_process
def get_explainer() -> Explainer:
    """The process's explainer over its pipeline (`get_pipeline`), made on its first explanation."""
    return Explainer.for_pipeline(get_pipeline())
