"""Flask-Limiter's counters in the application's database (RATELIMIT_STORAGE_URI = "database://"), so that
every process that shares the database (gunicorn workers, several machines) counts against one limit.

A `limits` storage for its default fixed-window strategy: one row per limit key holds the count and the end
of its window; an increment is one atomic upsert (SQLite and PostgreSQL both have INSERT ... ON CONFLICT).
"""

from __future__ import annotations

import hashlib
import time

from limits.storage import Storage
from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from models import RateLimitCounter
from settings import LIMITS_IN_DATABASE


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _upsert(values: dict):
    """INSERT ... ON CONFLICT for the database in use."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(RateLimitCounter).values(**values)


class DatabaseStorage(Storage):
    """`limits` storage on the Flask-SQLAlchemy engine (used inside an app context: requests, CLI)."""

    STORAGE_SCHEME = [LIMITS_IN_DATABASE]

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's count, starting a new window of `expiry` seconds if the last one ended; a count
        given back (a negative amount) only to a window still open, never below 0 (given back just after a window
        ended, it opened a new one at -1: one more attempt than the limit)."""
        now = time.time()
        counter = RateLimitCounter.__table__.c
        if amount < 0:
            return self._give_back(key, -amount, now)
        expired = counter.expires_at <= now
        statement = _upsert({"key_hash": _key_hash(key), "count": amount, "expires_at": now + expiry})
        statement = statement.on_conflict_do_update(index_elements=[counter.key_hash], set_={
            "count": case((expired, amount), else_=counter.count + amount),
            "expires_at": case((expired, now + expiry), else_=counter.expires_at),
        }).returning(counter.count)
        with db.engine.begin() as connection:
            count = connection.scalar(statement)
        if count == amount:  # a new window: also drop the counters whose windows are over
            with db.engine.begin() as connection:
                connection.execute(delete(RateLimitCounter).where(RateLimitCounter.expires_at <= now))
        return count

    def _give_back(self, key: str, amount: int, now: float) -> int:
        counter = RateLimitCounter.__table__.c
        statement = update(RateLimitCounter).where(counter.key_hash == _key_hash(key), counter.expires_at > now).values(
            count=case((counter.count > amount, counter.count - amount), else_=0)).returning(counter.count)
        with db.engine.begin() as connection:
            return connection.scalar(statement) or 0

    def _live_row(self, key: str):
        now = time.time()
        with db.engine.connect() as connection:
            return connection.execute(select(RateLimitCounter.count, RateLimitCounter.expires_at).where(
                RateLimitCounter.key_hash == _key_hash(key), RateLimitCounter.expires_at > now)).first()

    def get(self, key: str) -> int:
        row = self._live_row(key)
        return row.count if row is not None else 0

    def get_expiry(self, key: str) -> float:
        row = self._live_row(key)
        return row.expires_at if row is not None else time.time()

    def check(self) -> bool:
        try:
            with db.engine.connect() as connection:
                connection.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with db.engine.begin() as connection:
            return connection.execute(delete(RateLimitCounter)).rowcount

    def clear(self, key: str) -> None:
        with db.engine.begin() as connection:
            connection.execute(delete(RateLimitCounter).where(RateLimitCounter.key_hash == _key_hash(key)))
