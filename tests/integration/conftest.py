"""Real PostgreSQL and Redis servers on loopback for the scale-out tests (started by bench/services.py).

Their binaries come from Debian's packages, which scripts/test.sh installs. On a machine without
them these tests are skipped, except under CI (CI=true), where a missing server fails the run.
In this folder the `app` fixture is backed by a fresh PostgreSQL database per test, so the tests
imported from the SQLite suite run again, unchanged, on PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from bench.fixtures import make_app
from bench.services import PostgresServer, RedisServer, postgres_available, redis_available
from extensions import db


def _unavailable(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed: CI runs the scale-out tests against real servers")
    pytest.skip(f"{what} is not installed (scripts/test.sh installs it)")


@pytest.fixture(scope="session")
def postgres():
    if not postgres_available():
        _unavailable("PostgreSQL")
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server():
    if not redis_available():
        _unavailable("Redis")
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def migrated_database(postgres, tmp_path_factory) -> str:
    """The name of a PostgreSQL database migrated to the newest revision, made once per test process: each test's
    database is a copy of it (running the migrations for each of them took a fifth of this folder's time)."""
    name = "migrated"
    app = make_app(tmp_path_factory.mktemp("migrated"), SQLALCHEMY_DATABASE_URI=postgres.create_database(name))
    with app.app_context():
        db.engine.dispose()  # a template database takes no connections
    return name


@pytest.fixture()
def database_url(postgres, migrated_database) -> Iterator[str]:
    """A new PostgreSQL database at the newest revision, dropped after the test (a run's 270 of them took 2.3 GB of
    /tmp)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield postgres.create_database(name, template=migrated_database)
    postgres.drop_database(name)


@pytest.fixture()
def empty_database_url(postgres) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped after the test: for the tests of the migrations themselves."""
    name = f"empty_{uuid.uuid4().hex[:12]}"
    yield postgres.create_database(name)
    postgres.drop_database(name)


@pytest.fixture()
def app(tmp_path, database_url):
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=database_url)
    yield app
    with app.app_context():
        db.engine.dispose()  # one pool per test: give its connections back
