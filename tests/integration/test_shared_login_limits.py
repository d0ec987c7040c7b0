"""Login limits with REDIS_URL set: the counters are in Redis, and three gunicorn processes count together."""

from __future__ import annotations

import sqlite3

from tests.test_sessions import access_log_pids, guesses_across_gunicorn_workers  # noqa: F401 (a fixture)


def test_login_limits_hold_across_gunicorn_workers_with_redis(tmp_path, redis_server, access_log_pids):  # noqa: F811
    settings = {"SECRET_KEY": "multi-process", "REDIS_URL": redis_server.url}
    statuses, answered_by = guesses_across_gunicorn_workers(tmp_path, settings, limit=5)
    assert sorted(statuses) == [401] * 5 + [429] * (len(statuses) - 5)
    assert len(answered_by) >= 2
    with sqlite3.connect(tmp_path / "moodlens.sqlite") as database:  # counted in Redis, not in the database
        assert database.execute("SELECT count(*) FROM rate_limit_counter").fetchone() == (0,)
