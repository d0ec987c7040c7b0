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


def test_the_domains_enum_columns_read_back_as_their_enums_and_tolerate_a_value_they_lack(app, client, alice,
                                                                                         astronaut_jpeg):
    """models.EnumText: a value set as text is the member at once (the validators), and read back as the member; a
    value the enum lacks (a later version's, a hand edit) is read as its text: one such row made the whole history
    and the back office's list of analyses a 500."""
    from bench.fixtures import login, make_user
    from inference.formats import FileFormat
    from tests.conftest import upload
    analysis_id = int(upload(client, astronaut_jpeg, "astro.jpg").location.rsplit("/", 1)[1])
    with app.app_context():
        analysis = db.session.get(models.Analysis, analysis_id)
        analysis.status = "done"
        assert analysis.status is models.JobStatus.DONE and analysis.format is FileFormat.JPEG
        db.session.execute(sa.text("UPDATE analysis SET format = 'gif' WHERE id = :id"), {"id": analysis_id})
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(models.Analysis, analysis_id).format == "gif"
    assert client.get("/analyses").status_code == 200
    make_user(app, "root", admin=True)
    admin = app.test_client()
    login(admin, "root")
    assert admin.get("/admin/admin_analyses/").status_code == 200
