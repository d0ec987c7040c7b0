#!/usr/bin/env bash
# Rebuild requirements.lock and requirements-dev.lock from requirements.txt and requirements-dev.txt: every
# package, transitive ones too, pinned with the SHA-256 of each file the configured indexes offer (PyPI's
# and this machine's local copies, whose hashes differ). Run it after changing a requirements file, then
# commit the locks; pins already in a lock are kept unless the requirements need another version.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install --quiet pip==26.3 pip-tools==7.6.2
compile() {
  "$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras --no-header --no-emit-index-url --no-emit-find-links -o "$2" "$1"
}
compile requirements.txt requirements.lock
[ -f requirements-dev.lock ] || cp requirements.lock requirements-dev.lock  # the same pins for shared packages
compile requirements-dev.txt requirements-dev.lock
