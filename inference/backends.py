"""Where a classifier's network runs: torch (CPU or GPU) or ONNX Runtime (CPU).

A runner takes a float32 batch, already pre-processed, and returns float32 outputs (logits).
With the ONNX backend on a CPU, nothing here imports torch: a web process then needs about
half the memory (`python -m bench.latency`).
ONNX files are exported from the project's torch weights by `python -m training.export`
(the set-up runs it) into inference/weights/onnx/; each records the SHA-256 of the weights
file it came from, so weights retrained after an export are never paired with a stale
ONNX file: that model then runs on torch, with a warning in the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from inference.specs import ONNX_DIR

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

BACKENDS = ("onnx", "torch")
DEFAULT_BACKEND = "onnx"  # measured faster on a 2-core CPU: `python -m bench.latency --backends onnx,torch`
SOURCE_KEY = "source_sha256"  # ONNX metadata entry: the hash of the torch weights file it was exported from
FORMAT_KEY, FORMAT = "export_format", "4"  # ONNX metadata: the export's format (training/export.py says what
# each adds); an export of another format is not used
INFO_KEY = "model_info"  # ONNX metadata entry: JSON of the classes and the name, so no torch.load is needed
NVIDIA_DRIVER = Path("/proc/driver/nvidia/version")
_cpu_threads: int | None = None  # set_cpu_threads()


class Runner(Protocol):
    name: str
    info: dict | None  # what the weights file says about the model (classes, name), when the runner carries it

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """The network's first output."""

    def outputs(self, inputs: np.ndarray) -> list[np.ndarray]:
        """All of the network's outputs, in order."""


class TorchRunner:
    """Runs a torch module in inference mode on a device ("cpu", "cuda")."""

    info = None

    def __init__(self, module: torch.nn.Module, device: str):
        import torch

        self.torch = torch
        self.module = module.to(device).eval()
        self.device = device
        self.name = f"torch {torch.__version__} ({torch.device(device).type})"

    def outputs(self, inputs: np.ndarray) -> list[np.ndarray]:
        with self.torch.inference_mode():
            result = self.module(self.torch.from_numpy(inputs).to(self.device))
        return [tensor.float().cpu().numpy() for tensor in (result if isinstance(result, tuple) else (result,))]

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        return self.outputs(inputs)[0]


class OnnxRunner:
    """Runs an exported ONNX graph with ONNX Runtime's CPU provider (no torch import)."""

    def __init__(self, path: Path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads must not
        # busy-wait: the next stage (another network, OpenCV) runs on the same cores right after
        if _cpu_threads:
            options.intra_op_num_threads = _cpu_threads
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.metadata: dict[str, str] = self.session.get_modelmeta().custom_metadata_map
        self.source_sha256 = self.metadata.get(SOURCE_KEY)
        self.info = json.loads(self.metadata[INFO_KEY]) if INFO_KEY in self.metadata else None
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


def default_device(backend: str) -> str:
    """"cuda" when torch sees a GPU, else "cpu". Torch is imported to ask only where an NVIDIA driver is
    installed or the torch backend is wanted: the ONNX backend on a CPU machine never loads torch."""
    if backend == "onnx" and not NVIDIA_DRIVER.exists():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def make_runner(build_module: Callable[[], torch.nn.Module], weights: Path, device: str, backend: str) -> Runner:
    """An ONNX Runtime runner when asked for on a CPU and an up-to-date export exists, else torch."""
    if backend == "onnx" and str(device) == "cpu":
        onnx_file = onnx_path_for(weights)
        if not onnx_file.is_file():
            log.warning("%s is missing (run `python -m training.export`): %s runs on torch", onnx_file, weights.name)
        else:
            runner = OnnxRunner(onnx_file)
            if runner.source_sha256 == file_sha256(weights) and runner.metadata.get(FORMAT_KEY) == FORMAT:
                return runner
            log.warning("%s was exported from other weights than %s or in an older format (run "
                        "`python -m training.export`): it runs on torch", onnx_file, weights.name)
    return TorchRunner(build_module(), device)


def set_cpu_threads(count: int) -> None:
    """CPU threads for torch, OpenCV and the ONNX Runtime sessions made after this call.

    Several worker processes on one machine run fastest with cores / processes threads each.
    """
    import cv2

    global _cpu_threads
    _cpu_threads = count
    cv2.setNumThreads(count)
    os.environ["OMP_NUM_THREADS"] = str(count)  # torch, if it is imported later (Grad-CAM, torch backend)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)
