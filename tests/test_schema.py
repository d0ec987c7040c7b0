"""The migrations build the schema that models.py declares: a column, an index or a type added to one and not the
other fails here (on PostgreSQL: tests/integration/test_scaleout.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import models  # noqa: F401 (its tables on db.metadata)
from extensions import db

# SQLite keeps a VARCHAR of any length, so the migration that widened these left their declared length (its docstring)
SQLITE_KEPT_LENGTHS = {("analysis", "detector"), ("analysis", "classifier")}


def differences(connection: sa.Connection) -> list:
    """What autogenerate would add to a migration to make the database match the models."""
    return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), db.metadata)


def test_the_migrated_database_is_the_models_schema(app):
    with app.app_context(), db.engine.connect() as connection:
        found = differences(connection)
    left = [change for change in found
            if not (isinstance(change, list) and change[0][0] == "modify_type"
                    and (change[0][2], change[0][3]) in SQLITE_KEPT_LENGTHS)]
    assert not left, left
    assert len(found) == len(SQLITE_KEPT_LENGTHS), found  # still there: the exception is needed
