#!/usr/bin/env bash
# Set up the test environment and run the whole test suite, browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
bash scripts/setup.sh requirements-dev.txt
exec .venv/bin/python -m pytest -q "$@"
