"""``tousu serve`` keeps serving when web processes die (issue 9, point 9): a real server on a free
port, its worker processes killed with SIGKILL twice in a row, ``/healthz`` polled throughout;
then SIGTERM stops everything."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid …: comm may hold spaces, so split after the last ')'
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def _workers(pid: int) -> list[int]:
    """The web processes: the leaves of the process tree under ``pid``."""
    children = _children(pid)
    if not children:
        return []
    return [leaf for child in children for leaf in (_workers(child) or [child])]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200 and response.read() == b"ok"
    except OSError:
        return False


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_killed_web_workers_are_replaced_and_sigterm_stops_everything(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "TOUSU_DATABASE_URL"}
    env.update({"TOUSU_DATA_DIR": str(tmp_path), "TOUSU_LOG_LEVEL": "WARNING"})
    serve = subprocess.Popen(
        [sys.executable, "-m", "tousu.cli", "serve", "--port", str(port), "--workers", "2", "--threads", "1"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait(lambda: _healthy(port), 60, "the server to answer")
        for round_ in range(2):
            workers = _workers(serve.pid)
            assert workers, f"round {round_}: no worker processes"
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
            _wait(lambda pid=killed: not _alive(pid), 10, "the killed worker to go")
            _wait(lambda: _healthy(port), 30, f"the server to answer after kill {round_ + 1}")
        # and again, both workers at once (granian's crash-loop guard may give up: then it is restarted)
        for pid in _workers(serve.pid):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        _wait(lambda: _healthy(port), 30, "the server to answer after killing every worker")
        assert serve.poll() is None
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
        with pytest.raises(ProcessLookupError):
            _wait(lambda: os.killpg(serve.pid, 0) and False, 10, "every process to stop")  # type: ignore[func-returns-value]
        assert not _healthy(port)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(serve.pid, signal.SIGKILL)
        serve.wait()
