"""Export the emotion classifiers to ONNX, for the ONNX Runtime backend of inference/.

    python -m training.export [--out-dir inference/weights/onnx] [--check] [--force]

Writes emotion_fer2013.onnx (EmotionNet) and dog_emotion_head.onnx (EfficientNet-Lite0 with
the dog head), each with a dynamic batch size and the SHA-256 of the torch weights it came
from in its metadata (inference/backends.py ignores an export whose source has changed).
--check runs both backends on random inputs and prints the largest difference in probability.
The face detector (MTCNN) stays on torch: its image pyramid feeds a different input size per
level, and its torch speed is what `python -m bench.latency` reports.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from inference.backends import ONNX_DIR, SOURCE_KEY, OnnxRunner, TorchRunner, file_sha256
from inference.calibration import softmax
from inference.classifiers import HUMAN_WEIGHTS
from inference.dog_emotion import DOG_HEAD_WEIGHTS, DogEmotionNet, load_head
from inference.dog_emotion import INPUT_SIZE as DOG_INPUT_SIZE
from inference.emotion_net import INPUT_SIZE as FACE_INPUT_SIZE
from inference.emotion_net import load_weights

Model = tuple[Path, Callable[[], torch.nn.Module], tuple[int, ...]]  # weights, builder, one input's shape

MODELS: dict[str, Model] = {
    "human": (HUMAN_WEIGHTS, lambda: load_weights(str(HUMAN_WEIGHTS))[0], (1, FACE_INPUT_SIZE, FACE_INPUT_SIZE)),
    "dog": (DOG_HEAD_WEIGHTS, lambda: DogEmotionNet(load_head(DOG_HEAD_WEIGHTS)), (3, DOG_INPUT_SIZE, DOG_INPUT_SIZE)),
}


def export(module: torch.nn.Module, input_shape: tuple[int, ...], source: Path, out: Path) -> Path:
    """Trace `module` for a dynamic batch of `input_shape` inputs and write it with its source hash."""
    import onnx

    example = torch.rand(2, *input_shape)
    out.parent.mkdir(parents=True, exist_ok=True)
    program = torch.onnx.export(module.eval(), (example,), input_names=["images"], output_names=["logits"],
                                dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},), dynamo=True,
                                verbose=False)
    graph = program.model_proto
    onnx.helper.set_model_props(graph, {SOURCE_KEY: file_sha256(source)})
    onnx.save(graph, str(out))
    return out


def largest_difference(module: torch.nn.Module, path: Path, input_shape: tuple[int, ...]) -> float:
    """Max |p_torch - p_onnx| over the probabilities of 8 random inputs."""
    inputs = np.random.default_rng(0).standard_normal((8, *input_shape)).astype(np.float32)
    torch_logits = TorchRunner(module, torch.device("cpu"))(inputs)
    return float(np.abs(softmax(torch_logits) - softmax(OnnxRunner(path)(inputs))).max())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=ONNX_DIR)
    parser.add_argument("--check", action="store_true", help="compare torch and ONNX Runtime probabilities")
    parser.add_argument("--force", action="store_true", help="export even when an up-to-date file exists")
    args = parser.parse_args(argv)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    for name, (weights, build, input_shape) in MODELS.items():
        if not weights.is_file():
            print(f"{name}: no weights at {weights}, skipped")
            continue
        path = args.out_dir / f"{weights.stem}.onnx"
        if not args.force and path.is_file() and OnnxRunner(path).source_sha256 == file_sha256(weights):
            print(f"{name}: {path} is up to date")
            continue
        module = build()
        export(module, input_shape, weights, path)
        line = f"{name}: {path} ({path.stat().st_size / 1e6:.1f} MB)"
        if args.check:
            difference = largest_difference(module, path, input_shape)
            line += f", largest probability difference torch vs ONNX Runtime {difference:.2e}"
        print(line)


if __name__ == "__main__":
    main()
