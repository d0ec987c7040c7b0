"""The scale-out deployment for real: gunicorn web processes, two `flask jobs work` processes on an
RQ queue in Redis, PostgreSQL, and an upload folder shared by all (each process has an instance
folder of its own, as on separate machines).

Jobs submitted through the web tier are run by both workers; SIGKILLing a worker in the middle of a
job loses nothing (the other one runs it again); a person's browser sees the progress bar move.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page

from bench.clips import another_copy, moving_faces_frames, write_video
from bench.server import AppServer, JobWorker, api_session, flask_command, prepare_instance
from tests.e2e.conftest import Chromium, browser, launched_chromium, page  # noqa: F401 (the browser fixtures)
from tests.e2e.test_browser import shot, watch_progress
from tests.test_faults import wait_for
from tests.test_schema import differences

OWNER = ("owner", "owner password")


def deployment_settings(database_url: str, redis_url: str, uploads: Path) -> dict:
    return {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url, "JOBS_MODE": "redis",
            "UPLOAD_FOLDER": str(uploads), "SECRET_KEY": "scale-out test", "JOBS_STALE_SECONDS": 3,
            "JOBS_POLL_SECONDS": 0.5, "RATELIMIT_ENABLED": False,
            "VIDEO_FPS": 10}  # more frames per video: a worker can be caught mid-job, the progress bar moves


def submit(url: str, session, clips: list[Path]) -> list[int]:
    ids = []
    for clip in clips:
        content = another_copy(clip.read_bytes(), clip.name)  # the clips of a length are one video: copies of it
        response = session.post(url + "/api/v1/analyses", files={"file": (clip.name, content)}, timeout=60)
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


def jobs_table(database_url: str, ids: list[int]) -> dict[int, sa.Row]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT id, status, progress, attempts, worker, error FROM analysis WHERE id = ANY(:ids)"),
                {"ids": ids}).all()
    finally:
        engine.dispose()
    return {row.id: row for row in rows}


def all_finished(database_url: str, ids: list[int]):
    rows = jobs_table(database_url, ids)
    return rows if all(row.status in ("done", "failed") for row in rows.values()) else None


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    """This module's own Chromium, closed when it ends (a package fixture imported here would live for the whole
    session)."""
    with launched_chromium() as launched:
        yield launched


def worker_pid(row) -> int:
    """The pid in a job's worker, host:pid:token."""
    return int(row.worker.rsplit(":", 2)[1])


def test_two_workers_share_the_jobs_and_a_killed_worker_loses_none(tmp_path, empty_database_url, redis_server,
                                                                   astronaut, page: Page):  # noqa: F811
    database_url = empty_database_url  # migrated by the deployment's own `flask db upgrade` (prepare_instance)
    settings = deployment_settings(database_url, redis_server.url, tmp_path / "shared-uploads")
    prepare_instance(tmp_path / "web", *OWNER, settings=settings)
    short = [write_video(tmp_path / f"short{n}.mp4", moving_faces_frames(astronaut, 30, faces=1), fps=10)
             for n in range(4)]
    long = [write_video(tmp_path / f"long{n}.mp4", moving_faces_frames(astronaut, 160, faces=2), fps=10)
            for n in range(2)]
    with AppServer(tmp_path / "web", settings, workers=2) as server, \
            JobWorker(tmp_path / "worker-1", settings, threads=1) as first, \
            JobWorker(tmp_path / "worker-2", settings, threads=1) as second:
        session = api_session(server.url, *OWNER)
        ids = submit(server.url, session, short)
        rows = wait_for(lambda: all_finished(database_url, ids), timeout=240, interval=0.5)
        assert {row.status for row in rows.values()} == {"done"}
        assert {worker_pid(row) for row in rows.values()} == {first.pid, second.pid}

        ids = submit(server.url, session, long)
        running = wait_for(lambda: [row for row in jobs_table(database_url, ids).values()
                                    if row.status == "running" and row.progress > 0], timeout=120)[0]
        victim, survivor = (first, second) if worker_pid(running) == first.pid else (second, first)
        victim.kill()
        rows = wait_for(lambda: all_finished(database_url, ids), timeout=300, interval=0.5)
        assert [rows[n].status for n in ids] == ["done", "done"], [rows[n].error for n in ids]
        assert rows[running.id].attempts == 2 and worker_pid(rows[running.id]) == survivor.pid
        documents = [session.get(f"{server.url}/api/v1/analyses/{n}", timeout=30).json() for n in ids]
        assert all(len(document["tracks"]) == 2 for document in documents)

        page.goto(server.url + "/login")
        page.fill("#username", OWNER[0])
        page.fill("#password", OWNER[1])
        page.click("input[type=submit]")
        page.goto(server.url + "/analyze")
        page.set_input_files("#file", str(long[0]))
        page.click("input[type=submit]")
        page.wait_for_url(re.compile(r"/analyses/\d+"), timeout=120_000)  # the upload has been stored
        seen = watch_progress(page)
        page.wait_for_selector(".timeline-chart", timeout=120_000)
        shot(page, "scaleout-video-result")
    assert len(set(seen)) > 1 and seen == sorted(seen), f"the progress bar should move forward: {seen}"
    assert page.console_errors == []


def schema(database_url: str) -> dict[str, set[str]]:
    """Table name -> column names."""
    engine = sa.create_engine(database_url)
    try:
        inspector = sa.inspect(engine)
        return {table: {column["name"] for column in inspector.get_columns(table)}
                for table in inspector.get_table_names()}
    finally:
        engine.dispose()


def test_migrations_run_unchanged_on_postgresql_down_and_up(tmp_path, empty_database_url):
    database_url = empty_database_url
    settings = {"SQLALCHEMY_DATABASE_URI": database_url}
    instance = tmp_path / "instance"
    flask_command(instance, "db", "upgrade", settings=settings)
    upgraded = schema(database_url)
    assert set(upgraded) >= {"user", "analysis", "detection", "subject", "alert_rule", "api_token"}
    assert "worker" in upgraded["analysis"]
    flask_command(instance, "db", "downgrade", "base", settings=settings)
    assert set(schema(database_url)) == {"alembic_version"}
    flask_command(instance, "db", "upgrade", settings=settings)
    assert schema(database_url) == upgraded
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            assert differences(connection) == []  # the models' schema, the widened columns included
    finally:
        engine.dispose()
