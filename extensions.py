"""Flask extensions, created at module level and bound to the app in create_app()."""

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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for the typed SQLAlchemy 2 models."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()  # the interface language: web/i18n.py
# Counters in RATELIMIT_STORAGE_URI: the Redis of REDIS_URL when set, else the database (web/limiter_storage.py).
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def committed() -> bool:
    """Commit the session; False, the session rolled back, when a unique key refuses it (another request saved the
    same name, or queued the same job, a moment before)."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(connection, _record) -> None:
    """SQLite: enforce foreign keys (ON DELETE CASCADE), WAL for concurrent readers, wait on locks."""
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()
