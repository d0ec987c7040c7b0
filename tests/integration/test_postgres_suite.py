"""The database-heavy parts of the suite, run again on PostgreSQL (this folder's `app` fixture).

Nothing is copied: the test functions are imported from their modules, and pytest runs them here
with the PostgreSQL-backed `app`. Postgres checks what SQLite lets pass: string lengths, types,
foreign keys in every transaction, and concurrent claims of one job.
"""

from extensions import db
from tests.test_admin import *  # noqa: F401,F403
from tests.test_analyze import *  # noqa: F401,F403
from tests.test_api import *  # noqa: F401,F403
from tests.test_auth import *  # noqa: F401,F403
from tests.test_isolation import *  # noqa: F401,F403
from tests.test_subjects import *  # noqa: F401,F403
from tests.test_insights import *  # noqa: F401,F403
from tests.test_video import *  # noqa: F401,F403


def test_these_tests_run_on_postgresql(app):
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
