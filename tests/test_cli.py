"""`flask analyze PATH --json`: JSON only on stdout; bad files give one line on stderr and exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "FLASK_APP": "app"}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)


def test_analyze_json_prints_only_json(tmp_path, astronaut_jpeg):
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg)
    result = run_cli("analyze", str(photo), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["media"] == "image" and len(document["detections"]) == 1
    assert document["detections"][0]["kind"] == "human"


def test_bad_file_gives_one_line_and_exit_1(tmp_path):
    fake = tmp_path / "fake.jpg"
    fake.write_text("hello, not an image")
    result = run_cli("analyze", str(fake), "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "Traceback" not in result.stderr
