"""The app in a separate process on loopback, with its own instance folder (benchmarks and fault tests).

    with AppServer(instance, {"JOBS_STALE_SECONDS": 2}) as server:      # `flask run`, embedded worker
    with AppServer(instance, workers=4) as server:                       # gunicorn, 4 processes
    with JobWorker(instance, {"JOBS_MODE": "redis"}) as worker:          # `flask jobs work`

Settings travel as MOODLENS_* environment variables (JSON values), as a deployment would set them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from bench import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_environment(instance: Path, settings: dict | None = None) -> dict[str, str]:
    environment = {**os.environ, "MOODLENS_INSTANCE": str(instance), "FLASK_APP": "app"}
    environment.update({f"MOODLENS_{key}": json.dumps(value) for key, value in (settings or {}).items()})
    return environment


def flask_command(instance: Path, *args: str, settings: dict | None = None) -> subprocess.CompletedProcess:
    """Run `flask --app app ARGS` against this instance; raises if it fails."""
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, check=True,
                          env=app_environment(instance, settings), capture_output=True, text=True, timeout=600)


def prepare_instance(instance: Path, username: str, password: str, settings: dict | None = None) -> None:
    """Create and migrate the database, with one admin account."""
    flask_command(instance, "db", "upgrade", settings=settings)
    flask_command(instance, "users", "create-admin", username, "--password", password, settings=settings)


class Background:
    """A process of the app in its own session (so a kill takes its children too), logging to a file."""

    def __init__(self, instance: Path, settings: dict | None = None, log: Path | None = None):
        self.instance, self.settings = instance, settings or {}
        self.log = log or instance / "server.log"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def spawn(self) -> None:
        self.instance.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as log:
            self.process = subprocess.Popen(self.command(), cwd=ROOT, env=app_environment(self.instance, self.settings),
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean-up runs, as in a crash or power loss."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __exit__(self, *exc_info) -> None:
        self.stop()


class JobWorker(Background):
    """`flask jobs work [--threads N]`: a worker process (from Redis with JOBS_MODE=redis, else the database)."""

    def __init__(self, instance: Path, settings: dict | None = None, threads: int = 0):
        super().__init__(instance, settings)
        self.threads = threads

    def command(self) -> list[str]:
        return [sys.executable, "-m", "flask", "--app", "app", "jobs", "work", "--threads", str(self.threads)]

    def __enter__(self) -> JobWorker:
        self.spawn()
        return self


class AppServer(Background):
    """`flask run` (workers=0: one process, threaded, embedded job worker) or gunicorn with N workers."""

    def __init__(self, instance: Path, settings: dict | None = None, workers: int = 0, log: Path | None = None):
        super().__init__(instance, settings, log)
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.workers:
            # --keep-alive 0 closes each connection after its response, as gunicorn does behind a reverse proxy:
            # gthread's keep-alive path can reset a reused connection under load (gunicorn issues #1698, #2676),
            # which the load test saw once in CI as a 'connection reset' on an upload.
            return [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--threads", "2",
                    "--keep-alive", "0", "--bind", f"127.0.0.1:{self.port}", "--timeout", "120", "app:create_app()"]
        return [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(self.port), "--no-reload"]

    def start(self, timeout: float = 180) -> str:
        """Start the server and wait until it answers; a server that does not is stopped, never left behind."""
        self.spawn()
        try:
            return self._wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see {self.log}")
            try:
                if requests.get(self.url + "/login", timeout=5).status_code == 200:
                    return self.url
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the server did not answer within {timeout} s; see {self.log}")

    def __enter__(self) -> AppServer:
        self.start()
        return self


def api_session(url: str, username: str, password: str) -> requests.Session:
    """A requests session carrying a bearer token for this user."""
    response = requests.post(url + "/api/v1/tokens", auth=(username, password), timeout=30)
    response.raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    return session
