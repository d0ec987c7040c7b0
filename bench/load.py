"""Load test of the production server: concurrent users uploading photos and reading their pages.

    python -m bench.load [--workers 3] [--clients 8] [--seconds 60]

Starts gunicorn (--workers processes, 2 threads each, SQLite in WAL mode) on loopback
with a fresh instance folder, registers --clients users, and has each of them loop:
upload a photo through the web form (CSRF token included), open the dashboard, open
the history. Prints
throughput, p50/p95 latency per kind of request, the error count and how often the
server logged "database is locked" (target: zero errors, zero locks).
"""

from __future__ import annotations

import argparse
import re
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import requests

from bench.clips import another_copy
from bench.latency import test_photos
from bench.server import AppServer, prepare_instance

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TAG = re.compile(r"<[^>]*>")


def csrf_from(session: requests.Session, url: str) -> str:
    return CSRF.search(session.get(url, timeout=60).text).group(1)


def registered_session(url: str, username: str) -> requests.Session:
    session = requests.Session()
    password = f"{username} password"
    form = {"username": username, "password": password, "confirm": password,
            "csrf_token": csrf_from(session, url + "/register")}
    response = session.post(url + "/register", data=form, allow_redirects=False, timeout=60)
    if response.status_code != 302:
        raise RuntimeError(f"registering {username} failed with {response.status_code}")
    return session


def failure(request: Callable[[], requests.Response], expected: tuple[int, ...]) -> str | None:
    """Send the request; None if it got an expected status, else why not (status and page, or the exception)."""
    try:
        response = request()
    except requests.RequestException as error:
        sent = f"{error.request.method} {error.request.url}: " if error.request is not None else ""
        return f"{sent}{type(error).__name__}: {error}"
    if response.status_code in expected:
        return None
    return f"{response.request.method} {response.url}: HTTP {response.status_code} {page_text(response)[:300]!r}"


def page_text(response: requests.Response) -> str:
    """The response's text without its HTML tags, whitespace collapsed (an error page's title and message)."""
    return " ".join(TAG.sub(" ", response.text).split())


class Recorder:
    """Latencies and failures per kind of request, shared by the client threads; keeps the first failures' reasons."""

    KEPT_REASONS = 5

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.reasons: list[str] = []
        self.lock = threading.Lock()

    def timed(self, kind: str, request: Callable[[], requests.Response], expected: tuple[int, ...]) -> None:
        began = time.perf_counter()
        reason = failure(request, expected)
        milliseconds = (time.perf_counter() - began) * 1000
        with self.lock:
            self.latencies[kind].append(milliseconds)
            if reason is not None:
                self.errors[kind] += 1
                if len(self.reasons) < self.KEPT_REASONS:
                    self.reasons.append(f"{kind} after {milliseconds:.0f} ms: {reason}")


def upload_photo(url: str, session: requests.Session, photo: bytes) -> requests.Response:
    token = csrf_from(session, url + "/analyze")
    return session.post(url + "/analyze", data={"csrf_token": token},
                        files={"file": ("photo.jpg", photo, "image/jpeg")}, allow_redirects=False, timeout=300)


def client_loop(url: str, session: requests.Session, photos: list[bytes], deadline: float, recorder: Recorder) -> None:
    turn = 0
    while time.monotonic() < deadline:
        photo = another_copy(photos[turn % len(photos)], f"{id(session)}-{turn}")  # the same bytes: not analysed again
        recorder.timed("upload photo", lambda: upload_photo(url, session, photo), expected=(302,))  # noqa: B023
        recorder.timed("dashboard", lambda: session.get(url + "/dashboard", timeout=120), expected=(200,))
        recorder.timed("history", lambda: session.get(url + "/analyses", timeout=120), expected=(200,))
        turn += 1


def run_load(workers: int, clients: int, seconds: float) -> tuple[Recorder, float, str]:
    """Start gunicorn on a fresh instance, run the clients; the recorder, elapsed seconds and the server log."""
    photos = list(test_photos().values())
    with tempfile.TemporaryDirectory(prefix="moodlens-load-") as folder:
        instance = Path(folder) / "instance"
        prepare_instance(instance, "loadadmin", "loadadmin password")
        with AppServer(instance, {"RATELIMIT_ENABLED": False, "JOBS_MODE": "external"}, workers=workers) as server:
            sessions = [registered_session(server.url, f"user{n}") for n in range(clients)]
            for session in sessions:  # load the models in the workers before timing
                upload_photo(server.url, session, photos[0])
            recorder = Recorder()
            deadline = time.monotonic() + seconds
            threads = [threading.Thread(target=client_loop, args=(server.url, s, photos, deadline, recorder))
                       for s in sessions]
            began = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - began
        return recorder, elapsed, server.log.read_text(errors="replace")


def report(recorder: Recorder, seconds: float, server_log: str) -> None:
    total = sum(len(samples) for samples in recorder.latencies.values())
    print(f"{total} requests in {seconds:.0f} s: {total / seconds:.1f} requests/s, "
          f"{len(recorder.latencies['upload photo']) / seconds:.2f} photos analysed/s")
    for kind, samples in recorder.latencies.items():
        print(f"  {kind:<13} n {len(samples):5d}   p50 {np.percentile(samples, 50):7.0f} ms   "
              f"p95 {np.percentile(samples, 95):7.0f} ms   errors {recorder.errors[kind]}")
    print(f"errors {sum(recorder.errors.values())}, 'database is locked' in the server log "
          f"{server_log.count('database is locked')}, tracebacks {server_log.count('Traceback')}")
    for reason in recorder.reasons:
        print(f"  {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--clients", type=int, default=8, choices=range(1, 33), metavar="1..32")
    parser.add_argument("--seconds", type=float, default=60, help="length of the run (at most 600)")
    args = parser.parse_args()
    seconds = min(args.seconds, 600)
    print(f"gunicorn, {args.workers} workers x 2 threads, {args.clients} clients, {seconds:.0f} s")
    report(*run_load(args.workers, args.clients, seconds))


if __name__ == "__main__":
    main()
