#!/usr/bin/env bash
# Set everything up (venv, install, migrate) and start Moodlens on http://127.0.0.1:5000 (PORT=5001 for another
# port; HOST=0.0.0.0 to try it from a phone on the same network: Flask's development server, for a trial only)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
exec .venv/bin/flask --app app run --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
