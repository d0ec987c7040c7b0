#!/usr/bin/env bash
# Set everything up (venv, install, migrate) and start Moodlens on http://127.0.0.1:5000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
exec .venv/bin/flask --app app run --host 127.0.0.1 --port "${PORT:-5000}"
