"""A throwaway app with data in it, for the benchmarks and the tests alike: an app on a migrated SQLite database in
a folder, users, subjects, histories of analyses written straight to the database, and a client's log-in."""

from __future__ import annotations

import re
import sqlite3
import tempfile
import uuid
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from werkzeug.test import TestResponse

from app import create_app
from bench import ROOT
from extensions import db, limiter
from inference.labels import DOG_EMOTIONS, DetectionKind
from bench.synthetic import START
from models import Analysis, Detection, Media, Subject, SubjectKind, User

MIGRATIONS = ROOT / "migrations"
TEST_SETTINGS = {"TESTING": True, "SECRET_KEY": "test-secret-of-the-32-characters-production-needs",
                 "JOBS_MODE": "eager", "RATELIMIT_ENABLED": False, "LOAD_MODELS_EARLY": False}


def make_app(folder: Path, **overrides: object) -> Flask:
    """An app on a migrated SQLite database in `folder` (a copy of `_migrated_database` when there is none yet);
    `overrides` win over the test settings, and a database they name is migrated in place."""
    database = folder / "test.sqlite"
    copied = "SQLALCHEMY_DATABASE_URI" not in overrides and not database.exists()
    if copied:
        folder.mkdir(parents=True, exist_ok=True)
        database.write_bytes(_migrated_database())
    settings = {**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}
    app = create_app({**settings, **overrides}, instance_path=str(folder / "instance"))
    # Flask-Limiter is one object per process: an earlier app whose counters' storage failed left it counting in
    # memory until a timed health check, which would switch this app's counts between memory and its database.
    limiter._storage_dead = False
    if not copied:
        with app.app_context():
            upgrade(directory=str(MIGRATIONS))
    return app


@cache
def _migrated_database() -> bytes:
    """An empty SQLite database migrated to the newest revision, made once per process: the test suite makes about
    two thousand apps, and running the migrations for each took a fifth of its time."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "empty.sqlite"
        app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"},
                         instance_path=str(Path(folder) / "instance"))  # no job thread left polling a deleted file
        with app.app_context():
            upgrade(directory=str(MIGRATIONS))
            db.engine.dispose()
        with closing(sqlite3.connect(path)) as connection:
            return connection.serialize()


def make_user(app: Flask, username: str, password: str = "correct horse", admin: bool = False) -> int:
    with app.app_context():
        user = User(username=username, is_admin=admin)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        return user.id


def make_subject(app: Flask, user_id: int, name: str, kind: str = SubjectKind.PERSON) -> int:
    with app.app_context():
        subject = Subject(user_id=user_id, name=name, kind=kind)
        db.session.add(subject)
        db.session.commit()
        return subject.id


@dataclass(frozen=True)
class StoredAnalysis:
    """An analysis to write straight to the database: one detection of `kind` whose top emotion is `top` (its
    readings `emotions`, by default all on `top`), assigned to `subject_id`; none without a top emotion."""

    name: str
    top: str | None = None
    subject_id: int | None = None
    media: Media = Media.IMAGE
    emotions: dict[str, float] | None = None
    kind: DetectionKind = DetectionKind.HUMAN
    created_at: datetime | None = None  # None: when it is written


def store_analyses(app: Flask, user_id: int, analyses: Iterable[StoredAnalysis]) -> None:
    """Write `analyses` straight to the database (no pipeline, no files: the pages need none), in order: those
    without a time each get their own created_at, in order."""
    with app.app_context():
        for stored in analyses:
            analysis = Analysis(user_id=user_id, original_name=stored.name, stored_name=uuid.uuid4().hex,
                                media=stored.media, format="jpeg", width=10, height=10, top_emotion=stored.top,
                                shown_count=int(bool(stored.top)))
            if stored.created_at:
                analysis.created_at = stored.created_at
            if stored.top:
                detection = Detection(position=1, kind=stored.kind, x1=0, y1=0, x2=5, y2=5, score=0.9,
                                      emotions=stored.emotions or {stored.top: 1.0}, top=stored.top,
                                      subject_id=stored.subject_id)
                detection.keep_reading()  # as the app keeps it when it stores an analysis
                analysis.detections.append(detection)
            db.session.add(analysis)
            db.session.flush()
        db.session.commit()


def add_history(app: Flask, user_id: int, subject_id: int, vectors: np.ndarray, start: datetime = START,
                spacing: timedelta = timedelta(days=1)) -> None:
    """Photo analyses of a dog subject from `start`, one every `spacing`, with these probability vectors over
    DOG_EMOTIONS."""
    readings = [dict(zip(DOG_EMOTIONS, map(float, vector))) for vector in vectors]
    store_analyses(app, user_id, [StoredAnalysis(f"dog{day}.jpg", max(emotions, key=emotions.get), subject_id,
                                                 emotions=emotions, kind=DetectionKind.DOG,
                                                 created_at=start + spacing * day)
                                  for day, emotions in enumerate(readings)])


def csrf_token(client: FlaskClient, path: str = "/login", base_url: str = "http://localhost") -> str:
    """The CSRF token from a form on `path` (the session cookie stays in the client; over HTTPS with base_url
    https://localhost: a production app's cookie is Secure)."""
    page = client.get(path, base_url=base_url).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = "correct horse", remember: bool = False
          ) -> TestResponse:
    form = {"username": username, "password": password, "csrf_token": csrf_token(client, "/login")}
    if remember:
        form["remember"] = "y"
    return client.post("/login", data=form)
