"""Fixtures: an app on a temporary instance folder (migrated SQLite), clients, users and real photos."""

from __future__ import annotations

import ast
import codecs
import csv
import io
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from skimage import data as skdata
from werkzeug.test import TestResponse

import models
from bench.clips import moving_faces_frames, write_video
from bench.fixtures import csrf_token, login, make_app, make_user

DATA = Path(__file__).parent / "data"  # the test media (tests/data/README.md says where each comes from)


def _one_parse_at_a_time(parse):
    """CPython 3.11 keeps the AST builder's recursion depth per interpreter, not per thread: two threads parsing at
    once (pytest rewriting a module's asserts, a live server's thread importing torch for a "Why?") now and then
    fail with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905; seen in the browser
    tests' set-up). In the tests, ast.parse runs one call at a time."""
    lock = threading.RLock()

    def locked(*args, **kwargs):
        with lock:
            return parse(*args, **kwargs)
    return locked


ast.parse = _one_parse_at_a_time(ast.parse)

# Passwords are hashed with one round of PBKDF2 in the tests: the suite makes and checks thousands, and scrypt's
# 0.1 s each took a third of the time a profiler sampled. tests/test_isolation.py checks the shipped method.
SHIPPED_PASSWORD_HASH_METHOD = models.PASSWORD_HASH_METHOD
models.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"


def jpeg_bytes(rgb: np.ndarray, **save_options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=92, **save_options)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo: one face, roughly at x 180-268, y 60-175."""
    return skdata.astronaut()


@pytest.fixture(scope="session")
def astronaut_jpeg(astronaut) -> bytes:
    return jpeg_bytes(astronaut)


@pytest.fixture(scope="session")
def coffee_jpeg() -> bytes:
    """A cup of coffee: no face."""
    return jpeg_bytes(skdata.coffee())


@pytest.fixture(scope="session")
def two_faces(astronaut) -> np.ndarray:
    """Two real faces side by side: the astronaut and her mirror image."""
    return np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)


@pytest.fixture()
def refused_port() -> Iterator[int]:
    """A loopback port held bound, never listening, for the test: connecting to it is refused. A port only found
    free could be taken meanwhile by another test process's server (the tests run in several)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.fixture()
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture()
def client(app):
    return app.test_client()


def upload(client: FlaskClient, content: bytes, filename: str = "photo.jpg") -> TestResponse:
    token = csrf_token(client, "/analyze")
    return client.post("/analyze", data={"file": (io.BytesIO(content), filename), "csrf_token": token},
                       content_type="multipart/form-data")


@pytest.fixture()
def alice(app, client) -> int:
    """A logged-in user on `client`."""
    user_id = make_user(app, "alice")
    assert login(client, "alice").status_code == 302
    return user_id


@pytest.fixture()
def bob_client(app):
    """A second user, logged in on a client of their own."""
    make_user(app, "bob")
    other = app.test_client()
    assert login(other, "bob").status_code == 302
    return other


def csv_text(response) -> str:
    """A CSV export's text, as a spreadsheet reads it: UTF-8 after the byte order mark the export starts with
    (utf-8-sig), which a csv reader must not take for part of the first column's name."""
    body = response.get_data()
    assert body.startswith(codecs.BOM_UTF8) and not body[3:].startswith(codecs.BOM_UTF8)
    return body.decode("utf-8-sig")


def csv_rows(response) -> list[dict]:
    """A CSV export's rows by column name."""
    return list(csv.DictReader(io.StringIO(csv_text(response))))


def upload_files(app: Flask) -> list[Path]:
    return sorted(Path(app.config["UPLOAD_FOLDER"]).glob("*"))


@pytest.fixture()
def read_only_uploads(app, monkeypatch) -> Path:
    """The upload folder as on a file system remounted read-only (the tests run as root, whom permissions never
    stop): os.access says no file in it can be deleted; its path."""
    folder, access = Path(app.config["UPLOAD_FOLDER"]), os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **options: Path(path) != folder and access(path, mode,
                                                                                                      **options))
    return folder


@pytest.fixture(scope="session")
def two_face_video(tmp_path_factory, astronaut) -> Path:
    """3 seconds at 10 fps with two faces moving slowly."""
    return write_video(tmp_path_factory.mktemp("video") / "two.mp4", moving_faces_frames(astronaut, 30, faces=2))


@pytest.fixture(scope="session")
def faceless_video(tmp_path_factory) -> Path:
    coffee = np.asarray(Image.fromarray(skdata.coffee()).resize((320, 240)))
    return write_video(tmp_path_factory.mktemp("video") / "coffee.mp4", [coffee] * 20)


def early_face_frames(astronaut: np.ndarray) -> list[np.ndarray]:
    """3 seconds at 10 fps on a flat grey wall: one face top left for the first second, then two other faces
    lower right."""
    face = np.asarray(Image.fromarray(astronaut[20:260, 120:340]).resize((150, 164)))
    frames = []
    for index in range(30):
        canvas = np.full((360, 640, 3), 190, np.uint8)
        if index < 10:
            canvas[20:184, 20:170] = face
        else:
            canvas[180:344, 250:400] = face
            canvas[180:344, 460:610] = face[:, ::-1]
        frames.append(canvas)
    return frames


@pytest.fixture(scope="session")
def early_face_video(tmp_path_factory, astronaut) -> Path:
    """`early_face_frames` in MPEG-4. The poster frame (the most faces) is in the last two seconds, where the first
    face is gone."""
    return write_video(tmp_path_factory.mktemp("video") / "early.mp4", early_face_frames(astronaut))
