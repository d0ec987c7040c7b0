"""`flask analyze PATH --json`: photos and videos, the API's JSON only on stdout, the upload limits; bad files
give one line on stderr and exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench import ROOT


def run_cli(*args: str, **settings: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "FLASK_APP": "app", **{f"MOODLENS_{name}": value for name, value in settings.items()}}
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


def test_analyze_a_video_prints_its_tracks(two_face_video):
    result = run_cli("analyze", str(two_face_video), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["media"] == "video" and document["status"] == "done" and document["id"] is None
    assert len(document["tracks"]) == 2
    assert all(track["summary"]["dominant"] and len(track["timeline"]) >= 10 for track in document["tracks"])


def test_the_cli_obeys_the_upload_limits(tmp_path, astronaut_jpeg, two_face_video):
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg)
    too_many_pixels = run_cli("analyze", str(photo), "--json", MAX_IMAGE_PIXELS="100000")
    assert too_many_pixels.returncode == 1 and "pixels" in too_many_pixels.stderr
    too_long = run_cli("analyze", str(two_face_video), MAX_VIDEO_SECONDS="1")
    assert too_long.returncode == 1 and "the limit is 1 s" in too_long.stderr
