"""Every setting of the app in one table: its name, default and meaning (README.md lists the same table).

Values come from, in order (later wins): the defaults below, `instance/config.py`, environment variables
`MOODLENS_<NAME>` (JSON values: `MOODLENS_MAX_UPLOAD_MB=20`, `MOODLENS_PRODUCTION=true`), and the
overrides given to create_app() (tests); then the conventional variables named in a setting's `environment`
(DATABASE_URL, REDIS_URL, SECRET_KEY) fill in what none of those set, and settings whose default depends on
the instance folder or on other settings are derived. The app's own files are private: the instance, upload and
explanation folders 0700, the SQLite database and the secret key 0600 (created so, and tightened at start-up when
this user owns them).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy.engine import make_url



@dataclass(frozen=True)
class Setting:
    """One setting: `default` None means derived at start-up (see `help`)."""

    name: str
    default: object
    help: str
    environment: str | None = None  # a conventional variable read besides MOODLENS_<name>


SETTINGS: tuple[Setting, ...] = (
    Setting("MAX_UPLOAD_MB", 10, "largest photo upload, in MB"),
    Setting("MAX_IMAGE_PIXELS", 40_000_000, "largest photo, in pixels (decompression bombs are refused)"),
    Setting("MAX_VIDEO_MB", 100, "largest video upload, in MB"),
    Setting("MAX_VIDEO_SECONDS", 120, "longest video, in seconds"),
    Setting("VIDEO_FPS", 4.0, "video frames analysed per second"),
    Setting("LOAD_MODELS_EARLY", True, "a web process starts loading the models when the upload form is first "
            "opened, so the first upload after a start does not wait for them (off in tests: on first use)"),
    Setting("UPLOAD_LIMITS", "30 per minute;300 per day", "uploads per user (web and API together)"),
    Setting("DECODE_LIMITS", "600 per minute;6000 per hour", "faces' crops and videos' frames a user may ask for "
            "(each decodes the stored file again; a page shows up to 48 crops, and the video scrubber a few frames a "
            "second)"),
    Setting("ANALYSIS_CONCURRENCY", 2, "photos decoded and analysed at once per process (each may take "
                                       "about 300 MB, and a HEIC or AVIF one up to 540 MB more in its decoding "
                                       "child); more uploads wait for a free slot"),
    Setting("FRAME_CONCURRENCY", 2, "stored video frames (the scrubber's, a track's crop) decoded at once per "
                                    "process, one user at most all but one of them; slots of their own, never an "
                                    "upload's"),
    Setting("ANALYSIS_WAIT_SECONDS", 60, "how long an upload (or a frame) waits for a free slot before a 429"),
    Setting("ADMIN_CONTACT", "", "how users reach this server's administrators (an e-mail address, or a sentence), "
            "told with a deactivated account's and a removed upload's messages; empty: \"whoever runs this server\""),
    Setting("API_TOKEN_DAYS", 30, "lifetime of an API bearer token, in days"),
    Setting("LOGIN_LIMITS", "10 per minute", "password attempts per client address (an IPv6 one by its /64), and "
            "again per account and address (per account and browser for a browser whose device cookie vouches for "
            "the account), a right password clearing the latter (the log-in form, the API's token exchange and the "
            "password change counted together)"),
    Setting("LOGIN_ACCOUNT_LIMITS", "50 per hour", "wrong passwords per account (under its name or the one it had "
            "before a rename) from every client without its device cookie together; past it, the account is under "
            "attack: such clients are refused outright until the window ends, however many addresses they use (the "
            "owner on a browser or script that never logged in to it waits too), while the browsers that logged in "
            "to it before log in as usual"),
    Setting("REGISTER_LIMITS", "5 per hour;20 per day", "new accounts per client address (an IPv6 one by its /64; "
            "each account has its own upload limits and analysis slot); a form sent back to correct makes none"),
    Setting("REGISTER_ATTEMPT_LIMITS", "30 per hour", "sign-up forms sent per client address, those sent back to "
            "correct too (a name already taken is said so: guessing names is slowed)"),
    Setting("RATELIMIT_ENABLED", True, "rate limits on logging in, registering and uploading (off only in tests)"),
    Setting("RATELIMIT_HEADERS_ENABLED", True, "rate-limited answers say where the client stands: "
            "`X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds) and `Retry-After` (seconds)"),
    Setting("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True, "while the counters' storage (Redis) is unreachable, each "
            "process counts in its own memory, rather than every log-in and upload failing"),
    Setting("PRODUCTION", False, "behind an HTTPS proxy: Secure cookies, HSTS, trust one proxy's X-Forwarded-* "
            "(PROXY_HOPS)"),
    Setting("PROXY_HOPS", None, "how many reverse proxies in front are trusted for X-Forwarded-For, -Proto and -Host "
            "(the client's address, which the log-in and upload limits count by); default 1 with PRODUCTION, else 0. "
            "Set 0 where clients reach the app directly: a client's own X-Forwarded-For would choose its address"),
    Setting("JOBS_MODE", "thread", "background work: thread (in the web process), external (`flask jobs work` "
                                   "polls the database), redis (RQ on REDIS_URL), eager (at once; tests)"),
    Setting("JOBS_POLL_SECONDS", 2.0, "how often an idle worker looks for queued jobs"),
    Setting("JOBS_STALE_SECONDS", 60, "a running job whose heartbeat is older is queued again"),
    Setting("JOBS_MAX_ATTEMPTS", 3, "a job interrupted this many times is failed"),
    Setting("JOBS_QUEUE", "moodlens", "the RQ queue's name (JOBS_MODE=redis)"),
    Setting("JOBS_TIMEOUT_SECONDS", 3600, "RQ stops a job that runs longer (JOBS_MODE=redis); RQ takes it from the "
            "process that queues the job: set it on the web machines and the workers alike"),
    Setting("SQLALCHEMY_DATABASE_URI", None, "the database; default SQLite in instance/moodlens.sqlite",
            environment="DATABASE_URL"),
    Setting("REDIS_URL", None, "Redis for JOBS_MODE=redis and shared rate limits", environment="REDIS_URL"),
    Setting("RATELIMIT_STORAGE_URI", None, "rate-limit counters, shared by every process: default REDIS_URL when "
                                           "set, else the database (database://)"),
    Setting("UPLOAD_FOLDER", None, "uploads and thumbnails; default instance/uploads (share it between machines)"),
    Setting("EXPLAIN_FOLDER", None,
            "cached \"Why?\" heat maps and detection crops; default instance/explanations (share it too)"),
    Setting("SECRET_KEY", None, "signs sessions; default a random key generated once into instance/secret_key",
            environment="SECRET_KEY"),
    Setting("MAX_CONTENT_LENGTH", None, "largest request, in bytes; default the larger upload limit + 64 KB"),
)

PRIVATE_FOLDER, PRIVATE_FILE = 0o700, 0o600
LIMITS_IN_DATABASE = "database"  # RATELIMIT_STORAGE_URI's scheme: the limits' counters in the app's database
                                 # (web/limiter_storage.py)

# Flask settings that are not meant to be changed: cookie flags, CSRF tokens that last the session.
FIXED = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},  # survive a database restart
    # counters that a request can give back (web/login_limits.py: a right password's attempt at the account's cap);
    # the database storage (web/limiter_storage.py) keeps no other kind
    "RATELIMIT_STRATEGY": "fixed-window",
}
PRODUCTION_SETTINGS = {"SESSION_COOKIE_SECURE": True, "REMEMBER_COOKIE_SECURE": True,
                       "PREFERRED_URL_SCHEME": "https"}

# Read from the environment only, before there is an app: the instance folder, and where the networks run.
ENVIRONMENT_ONLY = {
    "MOODLENS_INSTANCE": "the instance folder (database, uploads, secret key); default ./instance",
    "MOODLENS_BACKEND": "onnx (default) or torch: where the networks run on a CPU (inference/backends.py)",
}


def configure(app: Flask, overrides: dict | None) -> None:
    """Fill app.config from the table, instance/config.py, the environment and `overrides`, then derive the rest."""
    instance_path = Path(app.instance_path)
    _private_folder(instance_path)
    app.config.update(FIXED)
    app.config.update({setting.name: setting.default for setting in SETTINGS if setting.default is not None})
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("MOODLENS")
    app.config.update(overrides or {})
    for setting in SETTINGS:  # the conventional variables fill in only what nothing above set
        if setting.environment and not app.config.get(setting.name):
            app.config[setting.name] = os.environ.get(setting.environment)
    if app.config["PRODUCTION"]:
        app.config.update(PRODUCTION_SETTINGS)
        _refuse_a_weak_secret_key(app.config.get("SECRET_KEY"))
    _derive(app.config, instance_path)
    _make_private(app.config, instance_path)


MIN_SECRET_KEY_LENGTH = 16  # characters or bytes: no placeholder or word is this long; os.urandom(16) and the
# generated key (64 hexadecimal characters) are


def _refuse_a_weak_secret_key(key: str | bytes | None) -> None:
    """In production, a SECRET_KEY given shorter than MIN_SECRET_KEY_LENGTH stops the start: a placeholder copied
    from the documentation ("...") or a word would let anyone sign a session cookie for any user. None or empty: the
    key generated into the instance folder (long enough)."""
    if key and len(key) < MIN_SECRET_KEY_LENGTH:
        raise RuntimeError(
            f"SECRET_KEY is {len(key)} characters long; with PRODUCTION it must be at least {MIN_SECRET_KEY_LENGTH} "
            "random ones: python3 -c 'import secrets; print(secrets.token_hex(32))' makes one")


def _derive(config: dict, instance_path: Path) -> None:
    """Defaults that depend on the instance folder or on other settings."""
    config["SQLALCHEMY_DATABASE_URI"] = sqlalchemy_url(
        config.get("SQLALCHEMY_DATABASE_URI") or f"sqlite:///{instance_path / 'moodlens.sqlite'}")
    config["RATELIMIT_STORAGE_URI"] = (config.get("RATELIMIT_STORAGE_URI") or config["REDIS_URL"]
                                       or f"{LIMITS_IN_DATABASE}://")
    config["UPLOAD_FOLDER"] = config.get("UPLOAD_FOLDER") or str(instance_path / "uploads")
    config["EXPLAIN_FOLDER"] = config.get("EXPLAIN_FOLDER") or str(instance_path / "explanations")
    config["SECRET_KEY"] = config.get("SECRET_KEY") or _generated_secret_key(instance_path)
    if config.get("PROXY_HOPS") is None:
        config["PROXY_HOPS"] = 1 if config["PRODUCTION"] else 0
    if not config.get("MAX_CONTENT_LENGTH"):
        largest_mb = max(config["MAX_UPLOAD_MB"], config["MAX_VIDEO_MB"])
        config["MAX_CONTENT_LENGTH"] = int(largest_mb * 1024 * 1024) + 64 * 1024  # room for the form fields


KEY_WAIT_SECONDS = 5.0  # how long a process waits for another's key file to be written (where links are not had)


def _generated_secret_key(instance_path: Path) -> str:
    """A random key generated once into instance/secret_key (readable by its owner only). Written whole under a
    name of its own, then linked into place, which fails if another process got there first: two processes starting
    on a new instance folder read the same key (one crashed, or read the file before the other had written it). On a
    file system without hard links (FAT, some network shares) the key file is created exclusively instead, and a
    process that finds it empty waits for the other to write it."""
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        draft = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            _write_new(draft)
            os.link(draft, key_file)
        except FileExistsError:
            pass  # another process linked its key first: that one is read below
        except OSError:  # no hard links here
            with contextlib.suppress(FileExistsError):  # another process is writing it: `_written_key` waits
                _write_new(key_file)
        finally:
            draft.unlink(missing_ok=True)
    return _written_key(key_file)


def _write_new(path: Path) -> None:
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE), "w") as file:
        file.write(secrets.token_hex(32))
        file.flush()
        os.fsync(file.fileno())


def _written_key(key_file: Path) -> str:
    """The key in the file, once written (an empty file: another process is between creating and writing it)."""
    deadline = time.monotonic() + KEY_WAIT_SECONDS
    while not (key := key_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.01)
    if not key:
        raise RuntimeError(f"{key_file} is empty: delete it and start again (a new key is made)")
    return key


def _make_private(config: dict, instance_path: Path) -> None:
    """The upload and explanation folders and a SQLite database file: created private, or made so."""
    for folder in (config["UPLOAD_FOLDER"], config["EXPLAIN_FOLDER"]):
        _private_folder(Path(folder))
    if database := _sqlite_file(config["SQLALCHEMY_DATABASE_URI"], instance_path):
        _private_folder(database.parent)
        database.touch(PRIVATE_FILE)  # before SQLite creates it with the umask's mode (its journals copy this one)
        tighten(database, PRIVATE_FILE)


def _sqlite_file(uri: str, instance_path: Path) -> Path | None:
    """The database file of a SQLite URL (a relative path is in the instance folder, as Flask-SQLAlchemy reads
    it); None for other databases, memory and file: URIs."""
    url = make_url(uri)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.database.startswith("file:"):
        return None
    return instance_path / url.database


def _private_folder(folder: Path) -> None:
    folder.mkdir(PRIVATE_FOLDER, parents=True, exist_ok=True)
    tighten(folder, PRIVATE_FOLDER)


def tighten(path: Path, mode: int) -> None:
    """Take group's and others' access away from a file or folder this user owns."""
    status = path.stat()
    if status.st_uid == os.geteuid() and status.st_mode & 0o077:
        path.chmod(mode)


def sqlalchemy_url(url: str) -> str:
    """A PostgreSQL URL as hosting services write it (postgres://, postgresql://) made to use psycopg 3."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)
