"""Two web processes and a job worker, as deployed: a "Why?" explanation asked of one web process finishes
whichever process answers the polls (its state is in the database), and the web processes never load torch:
the worker computes it."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import requests

from bench.fixtures import make_app
from bench.server import AppServer, JobWorker, api_session, prepare_instance
import jobs
from extensions import db
from models import User
from settings import _generated_secret_key
from tests.conftest import jpeg_bytes

SETTINGS = {"JOBS_MODE": "external", "JOBS_POLL_SECONDS": 0.3, "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "two web processes"}


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def loads_torch(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def test_an_explanation_finishes_whichever_web_process_answers_and_none_loads_torch(tmp_path, astronaut):
    prepare_instance(tmp_path, "owner", "owner password", SETTINGS)
    with AppServer(tmp_path, SETTINGS, workers=2) as server, JobWorker(tmp_path, SETTINGS):
        session = api_session(server.url, "owner", "owner password")
        created = session.post(server.url + "/api/v1/analyses", timeout=60,
                               files={"file": ("face.jpg", jpeg_bytes(astronaut))})
        assert created.status_code == 201, created.text
        url = f"{server.url}/api/v1/analyses/{created.json()['id']}/detections/1/explanation"
        started = session.post(url, timeout=30)
        assert started.status_code == 202 and started.json()["status"] in ("queued", "running")
        statuses, deadline = [], time.monotonic() + 240
        while time.monotonic() < deadline:
            document = requests.get(url, headers=session.headers, timeout=30).json()  # a new connection each time
            statuses.append(document["status"])
            if document["status"] not in ("queued", "running"):
                break
            time.sleep(0.3)
        assert statuses[-1] == "done", statuses
        assert set(statuses) <= {"queued", "running", "done"}  # never "none": every process sees the job
        assert [image["method"] for image in document["images"]] == ["occlusion", "grad_cam"]
        assert len(list((tmp_path / "explanations").glob("*.png"))) == 2
        web_processes = children(server.pid)
        assert len(web_processes) == 2
        assert not any(loads_torch(pid) for pid in web_processes)


def keys_read_at_once(folder: Path, readers: int = 6) -> set[str]:
    """The secret keys `readers` threads read from a new instance folder, all starting at once."""
    start = threading.Barrier(readers)

    def read_key(_: int) -> str:
        start.wait()
        return _generated_secret_key(folder)

    with ThreadPoolExecutor(readers) as pool:
        return set(pool.map(read_key, range(readers)))


def assert_one_key_each(tmp_path: Path, folders: int = 20) -> None:
    """In each of `folders` new instance folders, the readers starting at once read one key, the only file there."""
    for trial in range(folders):
        folder = tmp_path / str(trial)
        folder.mkdir()
        keys = keys_read_at_once(folder)
        assert len(keys) == 1 and len(keys.pop()) == 64
        assert [path.name for path in folder.iterdir()] == ["secret_key"]


def test_processes_starting_together_on_a_new_instance_read_one_secret_key(tmp_path):
    """Each starts by reading instance/secret_key, making it if missing: one of two crashed on the file the other
    made, or read it empty (a walk-through, two processes on 100 new folders: 51 crashes, 12 empty keys)."""
    assert_one_key_each(tmp_path)


def test_an_app_built_before_its_server_forks_runs_jobs_and_connects_only_in_the_forked_processes(tmp_path):
    """gunicorn --preload builds the app in its master process, then forks the workers: the master took jobs beside
    them (its own job thread, the models loaded into it), and the workers inherited its open database connections.
    Now the forking process hands its jobs to the children, each with a thread and connections of its own."""
    app = make_app(tmp_path, JOBS_MODE="thread")
    queue = app.extensions["moodlens_jobs"]  # built outside a command: its thread starts soon, unless it forks first
    assert queue._thread is None and queue._timer is not None
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 0  # the parent holds a connection
        db.session.remove()
        engine = db.engine
    held = engine.pool.checkedin()
    assert held >= 1
    child = os.fork()
    if child == 0:  # the worker: a job thread and an empty pool of its own
        works = queue._thread is not None and queue._thread.is_alive()
        os._exit(0 if works and engine.pool.checkedin() == 0 else 1)
    assert os.waitpid(child, 0)[1] == 0
    assert engine.pool.checkedin() == held  # the parent's connections stay the parent's
    time.sleep(jobs.START_DELAY_SECONDS + 0.5)
    app.test_client().get("/login")
    assert queue._thread is None  # no thread ever started in the forking process


def test_flask_runs_reloader_leaves_the_jobs_to_the_process_it_restarts(monkeypatch):
    """`flask run --debug` loads the app in an outer process that only watches for changes (never restarted, it took
    jobs with the code it started with); the inner one, restarted at each change, serves and works."""
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    for reload, debug, serving in ((True, False, "no"), (None, True, "no"), (None, False, "now"), (False, True, "now")):
        monkeypatch.setenv("FLASK_DEBUG", "1" if debug else "0")
        with click.Context(click.Command("run"), info_name="run") as context:
            context.params["reload"] = reload
            assert jobs._serving() == serving, (reload, debug)
            monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")  # the inner process
            assert jobs._serving() == "now"
            monkeypatch.delenv("WERKZEUG_RUN_MAIN")
    with click.Context(click.Command("upgrade"), info_name="upgrade"):
        assert jobs._serving() == "no"
    assert jobs._serving() == "soon"  # no command: a WSGI server's import (gunicorn may fork it first)


def test_without_hard_links_processes_starting_together_still_read_one_secret_key(tmp_path, monkeypatch):
    """FAT and some network shares refuse hard links: the key file is then made exclusively (it was a crash)."""
    def no_links(source, target):
        raise PermissionError(1, "Operation not permitted", str(source))

    monkeypatch.setattr(os, "link", no_links)
    assert_one_key_each(tmp_path)
