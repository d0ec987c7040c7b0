#!/usr/bin/env bash
# Set up the test environment, run the linter, then the whole test suite: browser tests, and the scale-out tests
# against real PostgreSQL and Redis servers that the tests start on loopback (tests/integration/).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)  # the video tests make their odd files with ffmpeg and ffprobe
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ -n "$(fc-list :lang=ko family 2>/dev/null)" ] || missing+=(fonts-nanum)  # Hangul for the Korean browser test's screenshots
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian's ${missing[*]} for the browser and scale-out tests" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi
bash scripts/setup.sh requirements-dev.txt
.venv/bin/ruff check .  # the linter first (ruff.toml): a finding fails the run like a test
# One test process per core, up to four (pytest-xdist): on CI's two cores the suite took 36 minutes in one process.
exec .venv/bin/python -m pytest -q --numprocesses=auto --maxprocesses=4 "$@"
