"""The app's files: private permissions, and a full disk or a write that fails part-way leaves nothing behind."""

from __future__ import annotations

import errno
import io
import os
import stat
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from flask_migrate import upgrade
from PIL import Image

from app import create_app
from bench import ROOT
from bench.fixtures import csrf_token, login, make_app, make_user
from extensions import db
from models import Analysis
from services import storage
from tests.conftest import upload


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def every_file(folder: Path) -> list[Path]:
    """Every file left in the folder, hidden temporary ones included."""
    return sorted(path for path in folder.rglob("*") if path.is_file())


def noise_jpeg(side: int) -> bytes:
    """A photo that does not compress: about side * side * 1.2 bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), np.uint8)).save(buffer, "JPEG",
                                                                                              quality=95)
    return buffer.getvalue()


def noise_video(path: Path, frames: int) -> Path:
    """An MJPEG AVI of noise (about 34 KB a frame)."""
    rng = np.random.default_rng(1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (240, 180))
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (180, 240, 3), np.uint8))
    writer.release()
    return path


def logged_in(app):
    make_user(app, "alice")
    client = app.test_client()
    login(client, "alice")
    return client


def rows(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Analysis.id)))


def test_the_database_folders_and_files_are_private(tmp_path, astronaut_jpeg, two_face_video):
    instance = tmp_path / "instance"
    instance.mkdir(0o755)  # as a git checkout leaves it
    (instance / "moodlens.sqlite").touch(0o644)  # as an older version created it
    app = create_app({"TESTING": True, "JOBS_MODE": "eager", "RATELIMIT_ENABLED": False},
                     instance_path=str(instance))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    client = logged_in(app)
    analysis_id = int(upload(client, astronaut_jpeg).location.rsplit("/", 1)[1])
    assert upload(client, two_face_video.read_bytes(), "clip.mp4").status_code == 302
    url = f"/api/v1/analyses/{analysis_id}/detections/1/explanation"
    assert client.post(url, headers={"X-CSRFToken": csrf_token(client, f"/analyses/{analysis_id}")}
                       ).get_json()["status"] == "done"
    uploads, explanations = Path(app.config["UPLOAD_FOLDER"]), Path(app.config["EXPLAIN_FOLDER"])
    assert {folder.name: mode(folder) for folder in (instance, uploads, explanations)} == {
        "instance": 0o700, "uploads": 0o700, "explanations": 0o700}
    files = every_file(instance)
    # photo, video, 2 thumbnails; the face's 2 overlays and its crop
    assert len(every_file(uploads)) == 4 and len(every_file(explanations)) == 3
    assert {"moodlens.sqlite", "secret_key"} <= {path.name for path in files}
    assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}


def failing_part_way(real_fdopen):
    """os.fdopen whose files write half of what they are given, then fail as a full disk does."""

    def fdopen(descriptor, *args, **kwargs):
        file = real_fdopen(descriptor, *args, **kwargs)
        real_write = file.write

        def write(data):
            real_write(bytes(data)[:len(data) // 2])
            file.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        file.write = write
        return file

    return fdopen


def test_a_write_that_fails_part_way_leaves_nothing(tmp_path, astronaut_jpeg, two_face_video, monkeypatch):
    app = make_app(tmp_path)
    client = logged_in(app)
    monkeypatch.setattr(os, "fdopen", failing_part_way(os.fdopen))
    for content, name in ((astronaut_jpeg, "photo.jpg"), (two_face_video.read_bytes(), "clip.mp4")):
        response = upload(client, content, name)
        assert response.status_code == 507 and "disk is full" in response.get_data(as_text=True)
    monkeypatch.undo()
    assert every_file(Path(app.config["UPLOAD_FOLDER"])) == [] and rows(app) == 0


@pytest.fixture()
def small_disk(tmp_path):
    """A 1 MB tmpfs, mounted for the test (needs root: skipped elsewhere, never on CI)."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs: {mounted.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_refuses_uploads_and_leaves_nothing(tmp_path, small_disk, astronaut_jpeg):
    app = make_app(tmp_path, UPLOAD_FOLDER=str(small_disk))
    client = logged_in(app)
    big_photo, big_video = noise_jpeg(1100), noise_video(tmp_path / "noise.avi", 40).read_bytes()
    assert len(big_photo) > 1024 * 1024 and len(big_video) > 1024 * 1024
    for content, name in ((big_photo, "big.jpg"), (big_video, "big.avi")):
        response = upload(client, content, name)
        assert response.status_code == 507 and "disk is full" in response.get_data(as_text=True)
        assert every_file(small_disk) == [] and rows(app) == 0
    assert upload(client, astronaut_jpeg).status_code == 302  # what fits is stored
    assert len(every_file(small_disk)) == 2 and rows(app) == 1


def test_a_storage_folder_made_again_while_the_app_runs_is_private(app):
    """Mutant 36 (storage._private_folder makes a missing folder with mode 0o755): the app's start makes both
    folders private, but one removed meanwhile (emptied by hand, say) came back readable by every local user."""
    folder = Path(app.config["EXPLAIN_FOLDER"])
    if folder.exists():
        folder.rmdir()
    with app.app_context():
        made = storage.explain_folder()
    assert made == folder and folder.stat().st_mode & 0o777 == 0o700
