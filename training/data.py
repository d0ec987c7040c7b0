"""Load an image-folder data set (one sub-folder per class) into memory.

FER2013 is 48x48 grayscale; the whole train split fits in ~70 MB as uint8,
so we decode once, cache the arrays as .npz beside nothing in the repo
(a cache folder you choose), and augment whole batches as tensors.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def load_rgb(path: Path, longer_side: int = 0) -> np.ndarray:
    """A photo as an RGB array, scaled down to `longer_side` px on its longer side if that is given."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        if longer_side:
            image.thumbnail((longer_side, longer_side), Image.BICUBIC)
        return np.asarray(image)


def _cache_file(folder: Path, size: int, cache_dir: Path) -> Path:
    key = hashlib.sha1(f"{folder.resolve()}:{size}".encode()).hexdigest()[:16]
    return cache_dir / f"{folder.name}-{key}.npz"


def _decode_folder(folder: Path, classes: tuple[str, ...], size: int) -> tuple[np.ndarray, np.ndarray]:
    images: list[np.ndarray] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        class_dir = folder / name
        if not class_dir.is_dir():
            raise FileNotFoundError(f"missing class folder {class_dir}")
        for path in sorted(class_dir.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            with Image.open(path) as image:
                gray = image.convert("L").resize((size, size), Image.BILINEAR)
            images.append(np.asarray(gray, dtype=np.uint8))
            labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def load_split(
    folder: str | Path, classes: tuple[str, ...], size: int = 48, cache_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 [N, size, size], labels int64 [N]) for one split folder."""
    folder = Path(folder)
    cache = _cache_file(folder, size, Path(cache_dir)) if cache_dir else None
    if cache and cache.exists():
        with np.load(cache) as stored:
            return stored["images"], stored["labels"]
    images, labels = _decode_folder(folder, classes, size)
    if cache_dir:
        store_split(folder, size, cache_dir, images, labels)
    return images, labels


def store_split(folder: str | Path, size: int, cache_dir: str | Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """Put a split's arrays where load_split(folder, ..., size, cache_dir) finds them, whether or not the folder
    exists (training.device_pack unpacks FER2013 this way on a GPU machine that has no image files)."""
    cache = _cache_file(Path(folder), size, Path(cache_dir))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, images=images, labels=labels)
    return cache


def folder_and_count(spec: str, default: int) -> tuple[str, int]:
    """A command line's FOLDER[:N] (N a whole number; a colon inside the folder's path stays part of it)."""
    folder, _, count = spec.rpartition(":")
    return (folder, int(count)) if folder and count.isdigit() else (spec, default)
