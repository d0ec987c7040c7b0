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
from tests.test_ids import *  # noqa: F401,F403
from tests.test_isolation import *  # noqa: F401,F403
from tests.test_sessions import (  # noqa: F401 (those on the `app` fixture; the rest build SQLite apps of their own)
    limited_app,
    test_deactivation_by_admin_action_revokes_sessions_for_good,
    test_deactivation_in_the_admin_edit_form_revokes_sessions,
    test_login_limits_are_counted_in_the_database_by_default,
    test_logout_ends_the_session_cookie_and_the_remember_me_cookie,
    test_migration_lowercases_usernames_and_renames_later_case_variants,
    test_password_change_needs_the_current_password_and_ends_other_sessions,
    test_reset_password_command_keeps_the_role_and_ends_sessions,
    test_token_endpoint_limits_the_account_of_the_basic_credentials_not_a_decoy_field,
    test_usernames_are_unique_case_insensitively,
)
from tests.test_job_claims import (  # noqa: F401
    test_a_users_batch_and_another_users_stream_of_jobs_alternate,
    test_workers_take_users_jobs_in_turn_so_one_user_cannot_hold_up_another)
from tests.test_races import *  # noqa: F401,F403
from tests.test_subjects import *  # noqa: F401,F403
from tests.test_insights import *  # noqa: F401,F403
from tests.test_video import *  # noqa: F401,F403
from tests.test_copies import *  # noqa: F401,F403
from tests.test_copies_races import *  # noqa: F401,F403
from tests.test_copies_reanalysis import *  # noqa: F401,F403
from tests.test_kept_readings import *  # noqa: F401,F403
from tests.test_species import *  # noqa: F401,F403
from tests.test_track_readings import *  # noqa: F401,F403


def test_these_tests_run_on_postgresql(app):
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
