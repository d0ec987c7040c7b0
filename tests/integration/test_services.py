"""The throw-away servers of bench/services.py do not outlive a test run told to end."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.services import PostgresServer, postgres_available

STARTS_AND_WAITS = """
import sys, time
from bench.services import PostgresServer
with PostgresServer() as server:
    print(server.folder, server.port, flush=True)
    time.sleep(120)
"""


def ends_at_signals() -> None:
    """In the child: the signals' default actions (a run under nohup ignores SIGHUP, and its children with it)."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_process_told_to_end_stops_its_postgresql_server_and_removes_its_folder(signum):
    """A test run killed by a CI timeout or `kill` left PostgreSQL running (pg_ctl detaches it) with its folder."""
    if not postgres_available():
        pytest.skip("PostgreSQL is not installed")
    process = subprocess.Popen([sys.executable, "-c", STARTS_AND_WAITS], stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).parents[2], preexec_fn=ends_at_signals)
    try:
        folder, port = process.stdout.readline().split()
        assert (Path(folder) / "data" / "postmaster.pid").exists()
        process.send_signal(signum)
        assert process.wait(60) == -signum  # it ends as the signal would have ended it
    finally:
        if process.poll() is None:  # never left behind: Ctrl-C's way out stops its server
            process.send_signal(signal.SIGINT)
            process.wait(60)
    assert not Path(folder).exists()
    assert subprocess.run(["pgrep", "-f", "--", f"-p {port} "], capture_output=True).returncode == 1  # no postmaster


def test_the_signals_end_the_process_as_before_once_its_servers_stopped():
    """The handler stayed for the whole test process, so every later test saw SIGTERM handled."""
    if not postgres_available():
        pytest.skip("PostgreSQL is not installed")
    before = signal.getsignal(signal.SIGTERM)
    with PostgresServer():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is before
