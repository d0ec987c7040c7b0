"""The throw-away servers of bench/services.py do not outlive a test run told to end."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.services import postgres_available

STARTS_AND_WAITS = """
import sys, time
from bench.services import PostgresServer
with PostgresServer() as server:
    print(server.folder, server.port, flush=True)
    time.sleep(120)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_process_told_to_end_stops_its_postgresql_server_and_removes_its_folder(signum):
    """A test run killed by a CI timeout or `kill` left PostgreSQL running (pg_ctl detaches it) with its folder."""
    if not postgres_available():
        pytest.skip("PostgreSQL is not installed")
    process = subprocess.Popen([sys.executable, "-c", STARTS_AND_WAITS], stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).parents[2])
    folder, port = process.stdout.readline().split()
    assert (Path(folder) / "data" / "postmaster.pid").exists()
    process.send_signal(signum)
    assert process.wait(60) == -signum  # it ends as the signal would have ended it
    assert not Path(folder).exists()
    assert subprocess.run(["pgrep", "-f", "--", f"-p {port} "], capture_output=True).returncode == 1  # no postmaster
