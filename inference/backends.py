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

import functools
import hashlib
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from enum import StrEnum
from typing import TYPE_CHECKING, BinaryIO, Protocol

import numpy as np

from inference.specs import ONNX_DIR

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


class Backend(StrEnum):
    """What runs the networks: ONNX Runtime (on a CPU, where an up-to-date export exists) or torch."""

    ONNX = "onnx"
    TORCH = "torch"


DEFAULT_BACKEND = Backend.ONNX  # measured faster on a 2-core CPU: `python -m bench.latency --backends onnx,torch`
SOURCE_KEY = "source_sha256"  # ONNX metadata entry: the hash of the torch weights file it was exported from
FORMAT_KEY, FORMAT = "export_format", "4"  # ONNX metadata: the export's format (training/export.py says what
# each adds); an export of another format is not used
INFO_KEY = "model_info"  # ONNX metadata entry: JSON of the classes and the name, so no torch.load is needed
METADATA_FIELD = 14  # ModelProto.metadata_props, entries of StringStringEntryProto (key = 1, value = 2)
FIXED_SIZES = {1: 8, 5: 4}  # bytes of a protobuf field of wire type 1 (64-bit) and 5 (32-bit)
NVIDIA_DRIVER = Path("/proc/driver/nvidia/version")
_cpu_threads: int | None = None  # set_cpu_threads()


class Runner(Protocol):
    name: str

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """The network's first output."""

    def outputs(self, inputs: np.ndarray) -> list[np.ndarray]:
        """All of the network's outputs, in order."""


class TorchRunner:
    """Runs a torch module in inference mode on a device ("cpu", "cuda")."""

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
        self.name = f"onnxruntime {onnxruntime.__version__} (cpu)"

    def outputs(self, inputs: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(inputs, dtype=np.float32)})

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        return self.outputs(inputs)[0]


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, hashed once a process for each version of the file (its inode, size, and
    times of change of its bytes and of its inode: a file copied over with its old modification time kept, as
    `cp -p` and unpacking an archive do, still has a new inode time): loading a model reads its weights' hash for
    the export, the calibration and the fingerprint, and the description of the models in use
    (inference/pipeline.py `shipped_models`) reads them without loading any."""
    status = Path(path).stat()
    return _sha256(Path(path).resolve(), (status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns))


@functools.cache
def _sha256(path: Path, version: tuple[int, int, int, int]) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _varint(stream: BinaryIO) -> int | None:
    """The next base-128 varint of a serialised protobuf message; None at its end."""
    value = shift = 0
    while byte := stream.read(1):
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7
    if shift:
        raise ValueError("a protobuf message ends inside a number")
    return None


def _delimited_fields(stream: BinaryIO, wanted: set[int]) -> Iterator[tuple[int, bytes]]:
    """(number, bytes) of a serialised protobuf message's length-delimited fields numbered in `wanted`, in order;
    every other field is skipped unread (an ONNX file's graph: tens of MB)."""
    while (tag := _varint(stream)) is not None:
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            _varint(stream)
            continue
        if wire not in (2, *FIXED_SIZES):
            raise ValueError(f"protobuf wire type {wire} is not read here")
        size = FIXED_SIZES.get(wire) or _varint(stream)
        if wire == 2 and number in wanted:
            yield number, stream.read(size)
        else:
            stream.seek(size, io.SEEK_CUR)


def onnx_metadata(path: Path) -> dict[str, str]:
    """An ONNX file's metadata (OnnxRunner.metadata), read without ONNX Runtime, the onnx package or the graph."""
    with open(path, "rb") as stream:
        entries = [dict(_delimited_fields(io.BytesIO(entry), {1, 2}))
                   for _, entry in _delimited_fields(stream, {METADATA_FIELD})]
    return {entry.get(1, b"").decode(): entry.get(2, b"").decode() for entry in entries}


def usable_export(metadata: dict[str, str], weights: Path) -> bool:
    """Whether an ONNX export (by its metadata) was made from these weights, in the current format."""
    return metadata.get(SOURCE_KEY) == file_sha256(weights) and metadata.get(FORMAT_KEY) == FORMAT


def export_info(weights: Path) -> dict | None:
    """What a weights file's usable ONNX export says about its model (classes, name: INFO_KEY), read without
    building the network or importing torch; None without such an export."""
    onnx_file = onnx_path_for(weights)
    if not onnx_file.is_file():
        return None
    metadata = onnx_metadata(onnx_file)
    return json.loads(metadata[INFO_KEY]) if INFO_KEY in metadata and usable_export(metadata, weights) else None


def onnx_path_for(weights: Path) -> Path:
    """Where the ONNX export of a torch weights file lives."""
    return ONNX_DIR / f"{Path(weights).stem}.onnx"


def requested_backend() -> Backend:
    """The backend named by MOODLENS_BACKEND (onnx or torch), else the default."""
    backend = os.environ.get("MOODLENS_BACKEND", DEFAULT_BACKEND).strip().lower()
    if backend not in set(Backend):
        raise ValueError(f"MOODLENS_BACKEND must be one of {', '.join(Backend)}, not {backend!r}")
    return Backend(backend)


def default_device(backend: Backend) -> str:
    """"cuda" when torch sees a GPU, else "cpu". Torch is imported to ask only where an NVIDIA driver is
    installed or the torch backend is wanted: the ONNX backend on a CPU machine never loads torch."""
    if backend == Backend.ONNX and not NVIDIA_DRIVER.exists():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def make_runner(build_module: Callable[[], torch.nn.Module], weights: Path, device: str, backend: Backend) -> Runner:
    """An ONNX Runtime runner when asked for on a CPU and an up-to-date export exists, else torch."""
    if backend == Backend.ONNX and str(device) == "cpu":
        onnx_file = onnx_path_for(weights)
        if not onnx_file.is_file():
            log.warning("%s is missing (run `python -m training.export`): %s runs on torch", onnx_file, weights.name)
        else:
            runner = OnnxRunner(onnx_file)
            if usable_export(runner.metadata, weights):
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
