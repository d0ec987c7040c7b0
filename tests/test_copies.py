"""Copies: the migration hashes the stored files and goes back."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from extensions import db
from models import Analysis, Detection
from tests.conftest import ROOT, upload
from tests.test_subjects import analysis_of

BEFORE_HASHES = "a8b9c0d1e2f3"


def analysis_count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Analysis.id)))


def columns_of_analysis(app) -> set[str]:
    with app.app_context():
        return {column["name"] for column in sa.inspect(db.engine).get_columns("analysis")}


def test_the_migration_hashes_the_stored_files_and_goes_back(app, client, alice, astronaut_jpeg, coffee_jpeg):
    """On a database with rows: copies stored before get one hash, a row whose file is gone keeps NULL, and no
    detection is lost either way."""
    photo = analysis_of(upload(client, astronaut_jpeg, "astro.jpg"))
    analysis_of(upload(client, coffee_jpeg, "cup.jpg"))
    copy_name, gone_name = f"{uuid.uuid4().hex}.jpeg", f"{uuid.uuid4().hex}.jpeg"
    (Path(app.config["UPLOAD_FOLDER"]) / copy_name).write_bytes(astronaut_jpeg)
    with app.app_context():
        original = db.session.get(Analysis, photo)
        for stored_name in (copy_name, gone_name):  # a copy stored before uploads were checked; a file gone since
            copy = Analysis(user_id=alice, original_name="copy.jpg", stored_name=stored_name, format="jpeg",
                            width=original.width, height=original.height)
            copy.detections.append(Detection(position=1, x1=0, y1=0, x2=5, y2=5, score=0.9, top="happy",
                                             emotions={"happy": 1.0}))
            db.session.add(copy)
        db.session.commit()
        detections = db.session.scalar(db.select(db.func.count(Detection.id)))
        db.session.remove()
        downgrade(directory=str(ROOT / "migrations"), revision=BEFORE_HASHES)
    assert "content_hash" not in columns_of_analysis(app) and analysis_count(app) == 4
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        hashes = db.session.execute(sa.text("SELECT content_hash FROM analysis ORDER BY id")).scalars().all()
        indexes = {index["name"] for index in sa.inspect(db.engine).get_indexes("analysis")}
        assert db.session.scalar(db.select(db.func.count(Detection.id))) == detections
    astronaut_hash, coffee_hash = (hashlib.sha256(content).hexdigest() for content in (astronaut_jpeg, coffee_jpeg))
    assert hashes == [astronaut_hash, coffee_hash, astronaut_hash, None]
    assert "ix_analysis_user_id_content_hash" in indexes
