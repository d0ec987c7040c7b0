"""Pack a face-training run's data into parts that each fit one call of the lent GPU machine; unpack them there.

A call of the `device` tool carries at most 64 MiB, the repository's tracked files (about 30 MB) included, and
FER2013's train and val splits alone are about 55 MB compressed. So the arrays (FER2013 as training.data decodes it,
and each --extra folder of aligned crops, training.aligned_faces) go into one xz stream cut into parts of
--part-mib, each part in its own folder, .gpu/part-1, .gpu/part-2, ...: one call carries one part, and the warm
machine keeps the ignored files an earlier call brought. scripts/device_faces.sh unpacks and trains there:

    python -m training.device_pack pack --data ../shared/datasets/fer2013 --extra CROPS:3 --extra EXPW:1 --out .gpu
    python -m training.device_pack unpack --packed .gpu --data .gpu/fer2013 --cache .cache/data

Unpacking checks the stream's SHA-256, writes FER2013's splits where training.data.load_split looks for them (so
`training.train --data .gpu/fer2013` needs no image files) and each extra folder back as PNG crops in class folders
under PACKED/extra/, and prints one `FOLDER:REPEAT` line per extra folder, for training.train's --extra.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
from pathlib import Path

import numpy as np
from PIL import Image

from inference.labels import HUMAN_EMOTIONS
from training.data import folder_and_count, load_split, store_split

MANIFEST = "manifest.json"
SPLITS = ("train", "val")
CROP_SIZE = 48


def packed_arrays(data: Path, extras: list[Path]) -> dict[str, np.ndarray]:
    """FER2013's splits and each extra folder's crops, as `NAME_images` / `NAME_labels` arrays."""
    arrays: dict[str, np.ndarray] = {}
    named = [(split, data / split) for split in SPLITS] + [(f"extra{index}", folder)
                                                          for index, folder in enumerate(extras)]
    for name, folder in named:
        arrays[f"{name}_images"], arrays[f"{name}_labels"] = load_split(folder, HUMAN_EMOTIONS, CROP_SIZE)
    return arrays


def pack(data: Path, extra_specs: list[str], out: Path, part_mib: float) -> list[Path]:
    """Write the parts, each in its own folder with the manifest; returns those folders."""
    extras = [folder_and_count(spec, 1) for spec in extra_specs]
    buffer = io.BytesIO()
    np.savez(buffer, **packed_arrays(data, [Path(folder) for folder, _ in extras]))
    return write_parts(lzma.compress(buffer.getvalue()), out, part_mib,
                       {"extras": [{"name": Path(folder).name, "repeat": repeat} for folder, repeat in extras]})


def write_parts(stream: bytes, out: Path, part_mib: float, about: dict,
                first_part_mib: float | None = None) -> list[Path]:
    """Cut `stream` into parts of at most `part_mib` MiB (the first: `first_part_mib`, when it travels with other
    files), each in its own folder out/part-N with the manifest (the number of parts, the stream's SHA-256 and
    `about`); returns those folders."""
    size, first = int(part_mib * 2**20), int((first_part_mib or part_mib) * 2**20)
    pieces = [stream[:first]] + [stream[start:start + size] for start in range(first, len(stream), size)]
    manifest = {"parts": len(pieces), "sha256": hashlib.sha256(stream).hexdigest(), **about}
    folders = []
    for number, piece in enumerate(pieces, 1):
        folder = out / f"part-{number}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"data.{number}").write_bytes(piece)
        (folder / MANIFEST).write_text(json.dumps(manifest))
        folders.append(folder)
    return folders


def packed_stream(packed: Path) -> tuple[bytes, dict]:
    """The parts joined, checked against their manifest; SystemExit says what is missing or wrong."""
    manifests = sorted(packed.glob(f"part-*/{MANIFEST}"))
    if not manifests:
        raise SystemExit(f"no packed parts under {packed}")
    manifest = json.loads(manifests[0].read_text())
    paths = [packed / f"part-{number}" / f"data.{number}" for number in range(1, manifest["parts"] + 1)]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SystemExit(f"parts missing (each part-N folder travels in its own call): {', '.join(missing)}")
    stream = b"".join(path.read_bytes() for path in paths)
    if hashlib.sha256(stream).hexdigest() != manifest["sha256"]:
        raise SystemExit("the parts do not make the packed stream: pack again and send every part")
    return stream, manifest


def write_crops(images: np.ndarray, labels: np.ndarray, folder: Path) -> Path:
    """Crops as PNG files in one folder per class (every class's folder, empty or not, as load_split wants)."""
    for label in HUMAN_EMOTIONS:
        (folder / label).mkdir(parents=True, exist_ok=True)
    for index, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(folder / HUMAN_EMOTIONS[label] / f"{index:05d}.png")
    return folder


def unpack(packed: Path, data: Path, cache: Path) -> list[str]:
    """Store FER2013's splits in load_split's cache for `data`, write the extra crops; their --extra specs."""
    stream, manifest = packed_stream(packed)
    specs = []
    with np.load(io.BytesIO(lzma.decompress(stream))) as arrays:
        for split in SPLITS:
            store_split(data / split, CROP_SIZE, cache, arrays[f"{split}_images"], arrays[f"{split}_labels"])
        for index, extra in enumerate(manifest["extras"]):
            folder = packed / "extra" / f"{index}-{extra['name']}"
            write_crops(arrays[f"extra{index}_images"], arrays[f"extra{index}_labels"], folder)
            specs.append(f"{folder}:{extra['repeat']}")
    return specs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="here: write the parts")
    packing.add_argument("--data", required=True, help="FER2013: a folder with train/ and val/ class folders")
    packing.add_argument("--extra", action="append", default=[], metavar="FOLDER[:REPEAT]",
                         help="aligned crops in class folders, and how often training.train sees them an epoch")
    packing.add_argument("--out", default=".gpu", help="where the part-N folders go (ignored by git)")
    packing.add_argument("--part-mib", type=float, default=26.0,
                         help="the largest part, in MiB: with the tracked files (37.5 MiB since 2026-12-04) "
                              "under 64 MiB")
    unpacking = commands.add_parser("unpack", help="on the GPU machine: rebuild the data")
    unpacking.add_argument("--packed", default=".gpu", help="the folder holding the part-N folders")
    unpacking.add_argument("--data", default=".gpu/fer2013", help="the --data that training.train will be given")
    unpacking.add_argument("--cache", default=".cache/data", help="training.train's --cache")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.command == "pack":
        for folder in pack(Path(args.data), args.extra, Path(args.out), args.part_mib):
            size = sum(path.stat().st_size for path in folder.iterdir()) / 2**20
            print(f"{folder}: {size:.1f} MiB")
    else:
        for spec in unpack(Path(args.packed), Path(args.data), Path(args.cache)):
            print(spec)


if __name__ == "__main__":
    main()
