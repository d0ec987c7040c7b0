"""Ids are never given twice: "analysis 26" in an administrator's notes, the logs or an old export names one upload
for good, on a new database and on one migrated from before (SQLite gave the newest deleted row's id to the next
row; PostgreSQL never did)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from bench import ROOT
from extensions import db
from models import (AlertRule, Analysis, ApiToken, Detection, Explanation, FaceSignature, SignatureJob, Subject, User,
                    subject_name_key, utcnow)

BEFORE = "040cc2e9b334"  # the migration before AUTOINCREMENT
NEVER_REUSED = (User, Analysis, Detection, Subject, AlertRule)
EVERY_TABLE = (*NEVER_REUSED, ApiToken, Explanation, FaceSignature, SignatureJob)


def insert(model: type, **values: object) -> int:
    """Write a row of `model` with only the columns its table has at the database's revision (an older one's
    too: the ORM would name every column the model has now), the model's Python defaults filled in; its id."""
    connection = db.session.connection()
    table = sa.Table(model.__tablename__, sa.MetaData(), autoload_with=connection)
    row = {column.name: column.default.arg(None) if column.default.is_callable else column.default.arg
           for column in model.__table__.columns if column.default is not None and column.name in table.c}
    return connection.execute(sa.insert(table).values({**row, **values})).inserted_primary_key[0]


def new_user() -> int:
    return insert(User, username=f"u{uuid.uuid4().hex[:12]}", password_hash="-")


def new_analysis(user_id: int | None = None) -> int:
    return insert(Analysis, user_id=user_id or new_user(), original_name="a.jpg", stored_name=uuid.uuid4().hex,
                  format="jpeg", width=10, height=10)


def new_detection(analysis_id: int | None = None, subject_id: int | None = None) -> int:
    return insert(Detection, analysis_id=analysis_id or new_analysis(), position=1, x1=0, y1=0, x2=5, y2=5, score=0.9,
                  emotions={"sad": 1.0}, top="sad", subject_id=subject_id)


def new_subject(user_id: int | None = None) -> int:
    name = uuid.uuid4().hex[:8]
    return insert(Subject, user_id=user_id or new_user(), name=name, name_key=subject_name_key(name))


def new_alert_rule(subject_id: int | None = None) -> int:
    return insert(AlertRule, subject_id=subject_id or new_subject(), emotion="sad", share=0.4, days=7)


NEW_ROWS: dict[type, Callable[[], int]] = {User: new_user, Analysis: new_analysis, Detection: new_detection,
                                           Subject: new_subject, AlertRule: new_alert_rule}


def ids_after_deleting_the_newest(model: type) -> tuple[int, int]:
    """(the id of the newest row, deleted, and that of the row made next)."""
    NEW_ROWS[model]()
    deleted_id = NEW_ROWS[model]()
    db.session.commit()
    db.session.execute(db.delete(model).where(model.id == deleted_id))
    db.session.commit()
    made_next = NEW_ROWS[model]()
    db.session.commit()
    return deleted_id, made_next


def migrate(revision: str, down: bool = False) -> None:
    """Migrate as `flask db` does, with no transaction of the app's left open (on PostgreSQL, a table dropped by a
    downgrade waits for the locks of the counts read before)."""
    db.session.commit()
    (downgrade if down else upgrade)(directory=str(ROOT / "migrations"), revision=revision)


def row_counts() -> dict[str, int]:
    return {model.__tablename__: db.session.scalar(db.select(db.func.count()).select_from(model))
            for model in EVERY_TABLE}


def autoincrement_tables() -> set[str]:
    """SQLite: the tables declared with AUTOINCREMENT."""
    return set(db.session.scalars(db.text("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE "
                                          "'%AUTOINCREMENT%'")))


def sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


@pytest.mark.parametrize("model", NEVER_REUSED, ids=lambda model: model.__tablename__)
def test_the_newest_rows_id_is_not_given_again_after_it_is_deleted(app, model):
    with app.app_context():
        deleted_id, next_id = ids_after_deleting_the_newest(model)
    assert next_id > deleted_id


def a_bit_of_everything() -> None:
    """A user with a photo whose face is assigned to a person with an alert, signed and explained; a token."""
    user = new_user()
    subject = new_subject(user)
    analysis = new_analysis(user)
    detection = new_detection(analysis, subject)
    new_alert_rule(subject)
    insert(ApiToken, user_id=user, token_hash=uuid.uuid4().hex, expires_at=utcnow())
    insert(Explanation, detection_id=detection)
    insert(SignatureJob, analysis_id=analysis)
    insert(FaceSignature, detection_id=detection, user_id=user, vector=b"\0" * 512)
    db.session.commit()


def delete_a_person_with_a_face() -> int:
    """Delete (in SQL, as the database's own foreign keys do it) a person a face is assigned to; the face's id."""
    face, person = db.session.execute(db.select(Detection.id, Detection.subject_id)
                                      .where(Detection.subject_id.is_not(None))).first()
    db.session.execute(db.delete(Subject).where(Subject.id == person))
    db.session.commit()
    return face


def test_the_migration_keeps_every_row_and_stops_giving_ids_again(app):
    with app.app_context():
        migrate(BEFORE, down=True)
        if sqlite():
            assert autoincrement_tables() == set()
            deleted_id, next_id = ids_after_deleting_the_newest(Analysis)
            assert next_id == deleted_id  # what the migration ends
        for _ in range(2):
            a_bit_of_everything()
        before = row_counts()
        migrate("head")
        assert row_counts() == before
        if sqlite():
            assert autoincrement_tables() == {model.__tablename__ for model in NEVER_REUSED}
            assert db.session.execute(db.text("PRAGMA foreign_key_check")).all() == []
        for model in NEVER_REUSED:
            deleted_id, next_id = ids_after_deleting_the_newest(model)
            assert next_id > deleted_id, model
        rules = row_counts()["alert_rule"]
        face = delete_a_person_with_a_face()  # the foreign keys' actions are kept: the face unassigned, the alert gone
        assert db.session.get(Detection, face).subject_id is None and row_counts()["alert_rule"] == rules - 1
        after = row_counts()
        migrate(BEFORE, down=True)
        assert row_counts() == after
        if sqlite():
            assert autoincrement_tables() == set()
        migrate("head")
