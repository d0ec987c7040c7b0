"""Where a classifier's network runs: torch (CPU or GPU) or ONNX Runtime (CPU).

A runner takes a float32 batch, already pre-processed, and returns float32 logits.
ONNX files are exported from the project's torch weights by `python -m training.export`
(the set-up runs it) into inference/weights/onnx/; each records the SHA-256 of the weights
file it came from, so weights retrained after an export are never paired with a stale
ONNX file: that model then runs on torch, with a warning in the log.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

log = logging.getLogger(__name__)

BACKENDS = ("onnx", "torch")
DEFAULT_BACKEND = "onnx"  # measured faster on a 2-core CPU: `python -m bench.latency --backends onnx,torch`
ONNX_DIR = Path(__file__).parent / "weights" / "onnx"
SOURCE_KEY = "source_sha256"  # ONNX metadata entry: the hash of the torch weights file it was exported from


class Runner(Protocol):
    name: str

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """The network's first output."""

    def outputs(self, inputs: np.ndarray) -> list[np.ndarray]:
        """All of the network's outputs, in order."""


class TorchRunner:
    """Runs a torch module in inference mode on a device."""

    def __init__(self, module: torch.nn.Module, device: torch.device):
        self.module = module.to(device).eval()
        self.device = device
        self.name = f"torch {torch.__version__} ({device.type})"

    @torch.inference_mode()
    def outputs(self, inputs: np.ndarray) -> list[np.ndarray]:
        result = self.module(torch.from_numpy(inputs).to(self.device))
        return [tensor.float().cpu().numpy() for tensor in (result if isinstance(result, tuple) else (result,))]

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        return self.outputs(inputs)[0]


class OnnxRunner:
    """Runs an exported ONNX graph with ONNX Runtime's CPU provider."""

    def __init__(self, path: Path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads must not
        # busy-wait: torch runs the face detector on the same cores right after (measured 10% slower)
        options.intra_op_num_threads = torch.get_num_threads()  # one knob for both: OMP_NUM_THREADS
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.source_sha256 = self.session.get_modelmeta().custom_metadata_map.get(SOURCE_KEY)
        self.name = f"onnxruntime {onnxruntime.__version__} (cpu)"

    def outputs(self, inputs: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(inputs, dtype=np.float32)})

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        return self.outputs(inputs)[0]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def onnx_path_for(weights: Path) -> Path:
    """Where the ONNX export of a torch weights file lives."""
    return ONNX_DIR / f"{Path(weights).stem}.onnx"


def requested_backend() -> str:
    """The backend named by MOODLENS_BACKEND (onnx or torch), else the default."""
    backend = os.environ.get("MOODLENS_BACKEND", DEFAULT_BACKEND).strip().lower()
    if backend not in BACKENDS:
        raise ValueError(f"MOODLENS_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return backend


def make_runner(build_module: Callable[[], torch.nn.Module], weights: Path, device: torch.device,
                backend: str) -> Runner:
    """An ONNX Runtime runner when asked for on a CPU and an up-to-date export exists, else torch."""
    if backend == "onnx" and device.type == "cpu":
        onnx_file = onnx_path_for(weights)
        if not onnx_file.is_file():
            log.warning("%s is missing (run `python -m training.export`): %s runs on torch", onnx_file, weights.name)
        else:
            runner = OnnxRunner(onnx_file)
            if runner.source_sha256 == file_sha256(weights):
                return runner
            log.warning("%s was exported from other weights than %s: it runs on torch", onnx_file, weights.name)
    return TorchRunner(build_module(), device)


def set_cpu_threads(count: int) -> None:
    """CPU threads for torch, OpenCV and (through torch's count) ONNX Runtime sessions made after this call.

    Several worker processes on one machine run fastest with cores / processes threads each.
    """
    import cv2

    torch.set_num_threads(count)
    cv2.setNumThreads(count)
