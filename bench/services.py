"""Throw-away PostgreSQL and Redis servers on loopback, for the scale-out tests and benchmarks.

    with PostgresServer() as postgres, RedisServer() as redis:
        url = postgres.create_database("moodlens")      # postgresql+psycopg://...
        settings = {"REDIS_URL": redis.url}

Each server runs from Debian's binaries (packages postgresql and redis-server) in a temporary
folder on a free port of 127.0.0.1, keeps nothing on disk after stop() and skips fsync
(test data only). PostgreSQL refuses to run as root: as root it runs as the `postgres` user.
A process told to end (SIGTERM, SIGHUP: a CI timeout, `kill`) stops its servers first: PostgreSQL runs
detached from it and would otherwise be left running, its folder with it.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType

from bench.server import free_port


class ServiceUnavailable(RuntimeError):
    """The server's binaries are not installed."""


def _postgres_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4]))
    if not candidates:
        raise ServiceUnavailable("PostgreSQL is not installed (Debian package: postgresql)")
    return Path(candidates[-1]).parent


def _as_postgres_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def postgres_available() -> bool:
    try:
        _postgres_bin()
    except ServiceUnavailable:
        return False
    return True


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


_ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_live_services: list[Service] = []
_handlers_set: dict[int, int] = {}  # the ending signals this module handles, and the process that set the handler


def _stop_live_services_and_end(signum: int, frame: FrameType | None) -> None:
    """A signal that ends the process: stop the servers it started (not a forked child's: they are its parent's),
    then end as that signal would have."""
    if _handlers_set.get(signum) == os.getpid():
        for service in reversed(_live_services):
            try:
                service.stop()
            except Exception:  # the others still go
                pass
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _stop_services_when_ended() -> None:
    """From the main thread, where nothing else handles an ending signal: handle it while servers run."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _ENDING_SIGNALS:
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _stop_live_services_and_end)
            _handlers_set[signum] = os.getpid()


def _default_when_none_run() -> None:
    """The last server stopped: the ending signals end the process as before."""
    if _live_services or threading.current_thread() is not threading.main_thread():
        return
    for signum in list(_handlers_set):
        if signal.getsignal(signum) == _stop_live_services_and_end:
            signal.signal(signum, signal.SIG_DFL)
        del _handlers_set[signum]


class Service:
    """A server that start() brings up and stop() tears down; as a context manager, never left half-started, and
    stopped if the process is told to end while it runs."""

    def start(self) -> Service:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        _stop_services_when_ended()
        _live_services.append(self)
        try:
            return self.start()
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc_info) -> None:
        self.stop()
        if self in _live_services:
            _live_services.remove(self)
        _default_when_none_run()


class PostgresServer(Service):
    """A PostgreSQL cluster of its own: initdb, pg_ctl start on 127.0.0.1, pg_ctl stop, folder removed."""

    user = "moodlens"

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="moodlens-postgres-"))
        self.data = self.folder / "data"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*_as_postgres_user(), str(self.bin / tool), *args], check=True, capture_output=True,
                       text=True, timeout=120)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off " \
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 " \
                  "-c max_wal_size=64MB -c min_wal_size=32MB"  # a test run's databases wrote 1 GB of log otherwise
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database, empty or a copy of the database `template` (which nobody may be connected to); its
        SQLAlchemy URL."""
        self._administer(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Remove the database, ending any connection still open to it (each costs about 8 MB of disk)."""
        self._administer(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _administer(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres",
                             autocommit=True) as connection:
            connection.execute(statement)

    def stop(self) -> None:
        if self.data.exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except subprocess.CalledProcessError:
                pass  # never started
        shutil.rmtree(self.folder, ignore_errors=True)


class RedisServer(Service):
    """redis-server on 127.0.0.1 with no persistence, in a temporary folder."""

    def __init__(self) -> None:
        if not redis_available():
            raise ServiceUnavailable("Redis is not installed (Debian package: redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = Path(tempfile.mkdtemp(prefix="moodlens-redis-"))
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> RedisServer:
        from redis import Redis
        from redis.exceptions import ConnectionError as RedisConnectionError

        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--logfile", str(self.folder / "server.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                Redis.from_url(self.url).ping()
                return self
            except RedisConnectionError:
                time.sleep(0.1)
        raise TimeoutError(f"redis-server did not answer within {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        shutil.rmtree(self.folder, ignore_errors=True)
