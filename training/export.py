"""Export the networks of inference/ to ONNX, for its ONNX Runtime backend.

    python -m training.export [--out-dir inference/weights/onnx] [--check] [--force]

Writes emotion_fer2013.onnx (EmotionNet), dog_emotion_head.onnx and cat_emotion_head.onnx
(EfficientNet-Lite0 with the dog and the cat head; the cat's only where it ships), pet_head_box.onnx
(its ImageNet classifier, the head-box regressor and the pooled features: the pets' species check and heads) and
pnet/rnet/onet.onnx (MTCNN's three networks, from facenet-pytorch's bundled weights), each with a
dynamic batch size (P-Net also a dynamic height and width, for its image pyramid) and the SHA-256
of the torch weights it came from in its metadata (inference/backends.py ignores an export whose
source has changed). MTCNN's PReLU layers of a
multiple of 8 channels are written as slope * x + (1 - slope) * relu(x): ONNX Runtime runs that
as per-channel scales inside its layout of 8-channel blocks, where a PRelu makes it convert to the
plain layout and back. The others (10 and 28 channels, P-Net's and R-Net's first) stay PRelu: padded
to whole blocks they got slower. Same outputs within 2e-6; P-Net, R-Net and O-Net on the 1-face and
4-face 1024 px photos of bench.latency, 2 cores: 66 -> 60, 44 -> 42 and 20 -> 16 ms. An export in
an older format is redone (format 2: the scaled PReLUs; 3: the face classifier's second output, each
member's logits, `emotion_net.WithMemberLogits`; 4: the pet-crop network's third output, the pooled features
its dog-or-cat probe reads). --check runs both backends on random inputs and prints the largest
difference of the outputs (probabilities for the outputs that are logits, `Model.logit_outputs`).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from inference import mtcnn
from inference.backends import (FORMAT, FORMAT_KEY, INFO_KEY, SOURCE_KEY, OnnxRunner, TorchRunner, file_sha256,
                                onnx_metadata, usable_export)
from inference.calibration import softmax
from inference.classifiers import emotion_net, emotion_net_info
from inference.detectors import mtcnn_network
from inference.dog_emotion import dog_head_info
from inference.dog_net import load_head, pet_emotion_net
from inference.pet_species import pet_crop_info, pet_crop_net
from inference.specs import CAT_HEAD_WEIGHTS, DOG_HEAD_WEIGHTS, FACE_INPUT_SIZE, HUMAN_WEIGHTS, ONNX_DIR
from inference.specs import PET_HEAD_WEIGHTS
from inference.specs import PET_INPUT_SIZE as DOG_INPUT_SIZE

CHANNEL_BLOCK = 8  # ONNX Runtime's blocked layout on AVX2 (16 on AVX-512: MTCNN's 16 to 256 are whole there too)


@dataclass(frozen=True)
class Model:
    weights: Path
    build: Callable[[], torch.nn.Module]
    input_shape: tuple[int, ...]  # one input's (channels, height, width)
    sized_input: bool = False  # height and width vary too (a fully convolutional network)
    read_info: Callable[[Path], dict] | None = None  # classifiers: their classes and name, copied into the export
    logit_outputs: tuple[int, ...] = ()  # outputs compared as probabilities by --check (logits over the last axis)


MTCNN_FOLDER = mtcnn.weights_folder()
MODELS: dict[str, Model] = {
    "human": Model(HUMAN_WEIGHTS, lambda: emotion_net(HUMAN_WEIGHTS, "cpu"), (1, FACE_INPUT_SIZE, FACE_INPUT_SIZE),
                   read_info=emotion_net_info, logit_outputs=(0, 1)),
    "dog": Model(DOG_HEAD_WEIGHTS, lambda: pet_emotion_net(load_head(DOG_HEAD_WEIGHTS)),
                 (3, DOG_INPUT_SIZE, DOG_INPUT_SIZE), read_info=dog_head_info, logit_outputs=(0,)),
    "cat": Model(CAT_HEAD_WEIGHTS, lambda: pet_emotion_net(load_head(CAT_HEAD_WEIGHTS)),
                 (3, DOG_INPUT_SIZE, DOG_INPUT_SIZE), read_info=dog_head_info, logit_outputs=(0,)),
    "pet crops": Model(PET_HEAD_WEIGHTS, lambda: pet_crop_net(PET_HEAD_WEIGHTS), (3, DOG_INPUT_SIZE, DOG_INPUT_SIZE),
                       read_info=pet_crop_info, logit_outputs=(0,)),
    "mtcnn p-net": Model(MTCNN_FOLDER / "pnet.pt", lambda: mtcnn_network("pnet"), (3, 64, 80), sized_input=True),
    "mtcnn r-net": Model(MTCNN_FOLDER / "rnet.pt", lambda: mtcnn_network("rnet"), (3, 24, 24)),
    "mtcnn o-net": Model(MTCNN_FOLDER / "onet.pt", lambda: mtcnn_network("onet"), (3, 48, 48)),
}


def dynamic_dimensions(model: Model) -> dict[int, torch.export.Dim]:
    dimensions = {0: torch.export.Dim("batch", min=1, max=4096)}
    if model.sized_input:
        dimensions.update({2: torch.export.Dim("height", min=12, max=8192),
                           3: torch.export.Dim("width", min=12, max=8192)})
    return dimensions


class ScaledPReLU(torch.nn.Module):
    """A PReLU computed as slope * x + (1 - slope) * relu(x), for ONNX Runtime (see the module's docstring)."""

    def __init__(self, prelu: torch.nn.PReLU):
        super().__init__()
        self.register_buffer("slope", prelu.weight.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        slope = self.slope.reshape(1, -1, *[1] * (x.dim() - 2))  # one slope per channel
        return x * slope + torch.relu(x) * (1 - slope)


def with_scaled_prelus(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of `module` whose PReLU layers of whole channel blocks are ScaledPReLUs."""
    module = copy.deepcopy(module)
    for name, child in list(module.named_modules()):
        if isinstance(child, torch.nn.PReLU) and child.num_parameters % CHANNEL_BLOCK == 0:
            parent, _, attribute = name.rpartition(".")
            setattr(module.get_submodule(parent), attribute, ScaledPReLU(child))
    return module


def export(model: Model, module: torch.nn.Module, out: Path) -> Path:
    """Trace `module` for a dynamic batch of inputs and write it with its source hash."""
    import onnx

    example = torch.rand(2, *model.input_shape)
    out.parent.mkdir(parents=True, exist_ok=True)
    program = torch.onnx.export(with_scaled_prelus(module.eval()), (example,), input_names=["images"],
                                dynamic_shapes=(dynamic_dimensions(model),), dynamo=True, verbose=False)
    graph = program.model_proto
    properties = {SOURCE_KEY: file_sha256(model.weights), FORMAT_KEY: FORMAT}
    if model.read_info:
        properties[INFO_KEY] = json.dumps(model.read_info(model.weights))
    onnx.helper.set_model_props(graph, properties)
    onnx.save(graph, str(out))
    return out


def largest_difference(model: Model, module: torch.nn.Module, path: Path) -> float:
    """Max |torch - ONNX Runtime| over the outputs for 8 random inputs (logits: their probabilities)."""
    inputs = np.random.default_rng(0).standard_normal((8, *model.input_shape)).astype(np.float32)
    pairs = zip(TorchRunner(module, torch.device("cpu")).outputs(inputs), OnnxRunner(path).outputs(inputs))
    pairs = [(softmax_last(ours), softmax_last(theirs)) if index in model.logit_outputs else (ours, theirs)
             for index, (ours, theirs) in enumerate(pairs)]
    return max(float(np.abs(ours - theirs).max()) for ours, theirs in pairs)


def softmax_last(logits: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis (classes) of logits of any shape."""
    return softmax(logits.reshape(-1, logits.shape[-1])).reshape(logits.shape)


def up_to_date(model: Model, path: Path) -> bool:
    """The export exists in the current format, comes from the current weights and carries the classifier's info."""
    if not path.is_file():
        return False
    metadata = onnx_metadata(path)
    return usable_export(metadata, model.weights) and (model.read_info is None or INFO_KEY in metadata)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=ONNX_DIR)
    parser.add_argument("--check", action="store_true", help="compare torch and ONNX Runtime probabilities")
    parser.add_argument("--force", action="store_true", help="export even when an up-to-date file exists")
    args = parser.parse_args(argv)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    for name, model in MODELS.items():
        if not model.weights.is_file():
            print(f"{name}: no model ships (no {model.weights.name}), nothing to export")
            continue
        path = args.out_dir / f"{model.weights.stem}.onnx"
        if not args.force and up_to_date(model, path):
            print(f"{name}: {path} is up to date")
            continue
        module = model.build()
        export(model, module, path)
        line = f"{name}: {path} ({path.stat().st_size / 1e6:.1f} MB)"
        if args.check:
            line += f", largest difference torch vs ONNX Runtime {largest_difference(model, module, path):.2e}"
        print(line)


if __name__ == "__main__":
    main()
