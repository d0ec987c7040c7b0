"""Flask extensions, created at module level and bound to the app in create_app()."""

import ipaddress
import os
import weakref

from flask import Flask, Response
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for the typed SQLAlchemy 2 models."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()  # the interface language: web/i18n.py
IPV6_SUBSCRIBER_PREFIX = 64  # a household or a server gets a /64 (or more): 2^64 addresses to pick from


def client_network() -> str:
    """The client as the rate limits count it by address (the log-in limits, web/login_limits.py; registration): its
    address (after ProxyFix in production, as get_remote_address reads it), an IPv4 address whole and an IPv6 address
    by its /64, since one client can send from any address of its /64 (keyed by the full address, 120 addresses of one
    /64 had 120 allowances). An IPv6 address that carries an IPv4 one (a dual-stack socket's ::ffff:a.b.c.d, 6to4's
    2002:a.b.c.d::/48, Teredo's 2001:0::/32) is that IPv4 address: 6to4 gives every IPv4 address a /48 of its own,
    65,536 /64s."""
    address = get_remote_address()
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:  # not an address (a proxy's odd X-Forwarded-For): counted as sent
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        parsed = parsed.ipv4_mapped or parsed.sixtofour or (parsed.teredo and parsed.teredo[1]) or parsed
    if parsed.version == 4:
        return str(parsed)
    host_bits = 128 - IPV6_SUBSCRIBER_PREFIX
    return f"{ipaddress.IPv6Address(int(parsed) >> host_bits << host_bits)}/{IPV6_SUBSCRIBER_PREFIX}"


# Counters in RATELIMIT_STORAGE_URI: the Redis of REDIS_URL when set, else the database (web/limiter_storage.py).
limiter = Limiter(key_func=client_network, default_limits=[])


WAIT_STATUSES = (429, 503)  # "too many" and "unavailable": the answers whose Retry-After says when to come back


def init_limiter(app: Flask) -> None:
    """Bind the limiter, its Retry-After kept for WAIT_STATUSES: Flask-Limiter sends one with every answer it counts,
    so a video's 202 told a client to wait a minute before asking for a result ready in seconds, and a corrupt
    upload's 400 to try it again later; X-RateLimit-* still say where the client stands. The hook goes first:
    Flask runs the last registered first."""
    app.after_request(_retry_after_only_to_wait)
    limiter.init_app(app)


def _retry_after_only_to_wait(response: Response) -> Response:
    if response.status_code not in WAIT_STATUSES:
        response.headers.pop("Retry-After", None)
    return response


def committed() -> bool:
    """Commit the session; False, the session rolled back, when a unique key refuses it (another request saved the
    same name, or queued the same job, a moment before)."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


# What a database down, restarting, locked or out of pooled connections raises.
DATABASE_OUTAGES = (OperationalError, InterfaceError, PoolTimeout)
# SQLite's errors that say the database cannot be used just now (busy, locked, unopenable, a disk error or a full
# disk); its OperationalError also covers programming errors ("no such column": a migration not run).
SQLITE_OUTAGES = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_PROTOCOL")


def database_outage(error: BaseException) -> bool:
    """Whether an error means the database is down, restarting, locked or out of connections, so that the same work
    may succeed in a moment (PostgreSQL's OperationalError, any InterfaceError or pool timeout; of SQLite's,
    SQLITE_OUTAGES), not a programming error."""
    if not isinstance(error, DATABASE_OUTAGES):
        return False
    name = getattr(getattr(error, "orig", None), "sqlite_errorname", None)
    return name is None or name.startswith(SQLITE_OUTAGES)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(connection, _record) -> None:
    """SQLite: enforce foreign keys (ON DELETE CASCADE), WAL for concurrent readers, wait on locks."""
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


_APP_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def keep_connections_per_process(app: Flask) -> None:
    """A process forked from one that had connected (gunicorn --preload builds the app before it forks its
    workers) opens its own connections: the parent's, copied into its pool, are never used there (SQLite and
    PostgreSQL connections are not to be shared across processes)."""
    with app.app_context():
        _APP_ENGINES.add(db.engine)


def _forget_parents_connections() -> None:
    for engine in list(_APP_ENGINES):
        engine.dispose(close=False)  # the parent's connections stay open, for the parent


os.register_at_fork(after_in_child=_forget_parents_connections)
