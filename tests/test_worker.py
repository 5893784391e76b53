"""The background worker: one pass handles the outbox and deliveries; the process stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from tousu.complaints.models import ComplaintEvent
from tousu.complaints.services import OUTBOX_CHANNEL
from tousu.complaints.states import Status
from tousu.notifications.models import Notification
from tousu.ops.worker import Worker

BIN = Path(sys.executable).parent


def tousu_command() -> list[str]:
    """The venv's ``tousu`` script next to this Python, else the module."""
    script = BIN / "tousu"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tousu.cli"]


# --- one pass, in process -----------------------------------------------------------------------


@pytest.mark.django_db
def test_run_once_handles_pending_events_and_deliveries(cases, settings):
    c = cases.make(Status.DISPATCHED)
    assert (
        ComplaintEvent.objects.filter(complaint=c, pending_dispatch=True).count() == 2
    )  # accepted, dispatched

    assert (
        Worker(interval=0.1).run_once() == 7
    )  # 2 events + 2 SMS delivered (the inbox item needs no sending) + 3 events into the rollups

    assert ComplaintEvent.objects.filter(pending_dispatch=True).count() == 0
    assert list(Notification.objects.order_by("id").values_list("template", "status", "attempts")) == [
        ("ack", "sent", 1),
        ("progress_dispatched", "sent", 1),
        ("staff_assigned", "sent", 0),
    ]
    lines = [json.loads(line) for line in settings.TOUSU_NOTIFY_FILE.read_text(encoding="utf-8").splitlines()]
    assert [(line["transport"], line["to"]) for line in lines] == [("sms", "+8613812348000")] * 2
    assert Worker(interval=0.1).run_once() == 0


@pytest.mark.django_db
def test_worker_once_command_reports_what_it_handled(cases):
    cases.make(Status.ACCEPTED)
    out = StringIO()
    call_command("worker", once=True, stdout=out)
    assert out.getvalue() == "handled=4\n"  # the event, then its SMS; 2 events into the rollups
    out = StringIO()
    call_command("worker", once=True, stdout=out)
    assert out.getvalue() == "handled=0\n"


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_idle_worker_on_postgresql_wakes_on_notify():
    """Idle on PostgreSQL, the worker sleeps on LISTEN and wakes at once on a NOTIFY, instead of
    waiting for its interval (the fallback, polling, would take the full 5 s)."""
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL only")
    worker = Worker(interval=0.05)
    worker._wait()  # opens the listening connection
    assert worker._listener is not None
    worker.interval = 5.0
    params = connection.get_connection_params()

    def notify() -> None:
        time.sleep(0.3)
        with psycopg.connect(dbname=params["dbname"], **_conn_kwargs(params), autocommit=True) as conn:
            conn.execute(f"NOTIFY {OUTBOX_CHANNEL}")

    thread = threading.Thread(target=notify)
    start = time.monotonic()
    thread.start()
    try:
        worker._wait()
        elapsed = time.monotonic() - start
    finally:
        thread.join()
        worker._close_listener()
    assert 0.2 < elapsed < 3.0
    assert worker._listener is None


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_committed_cases_wake_the_workers_at_most_every_200_ms(cases, monkeypatch):
    """A committed case that notifies someone sends one NOTIFY after its commit; a second one
    within WAKE_EVERY_SECONDS sends none (the workers also poll); a rolled-back one sends none."""
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL only")
    from django.db import transaction

    from tousu.complaints.services import _base

    params = connection.get_connection_params()
    clock = [1000.0]
    monkeypatch.setattr(_base.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(_base, "_last_wake", -1e9)
    with psycopg.connect(dbname=params["dbname"], **_conn_kwargs(params), autocommit=True) as listener:
        listener.execute(f"LISTEN {OUTBOX_CHANNEL}")

        def received() -> int:
            return sum(1 for _note in listener.notifies(timeout=0.3))

        cases.make(Status.ACCEPTED)
        assert received() == 1
        clock[0] += 0.1
        cases.make(Status.ACCEPTED)
        assert received() == 0
        clock[0] += 0.2

        def make_and_roll_back() -> None:
            with transaction.atomic():
                cases.make(Status.ACCEPTED)
                raise RuntimeError("roll back")

        with pytest.raises(RuntimeError, match="roll back"):
            make_and_roll_back()
        assert received() == 0
        cases.make(Status.ACCEPTED)
        assert received() == 1


def _conn_kwargs(params: dict) -> dict:
    return {k: params[k] for k in ("user", "password", "host", "port") if params.get(k)}


# --- the real process ---------------------------------------------------------------------------


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUSU_")}
    env.update(
        TOUSU_DATABASE_URL=f"sqlite:///{tmp_path / 'w.sqlite3'}",
        TOUSU_DATA_DIR=str(tmp_path),
        TOUSU_LOG_LEVEL="INFO",
        DJANGO_SETTINGS_MODULE="tousu.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def _lines(stream, into: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        into.put(line)
    into.put(None)


def test_worker_process_starts_and_stops_cleanly_on_sigterm(tmp_path):
    """Runs on its own SQLite file whatever database the suite uses."""
    env = _env(tmp_path)
    migrate = subprocess.run(
        [*tousu_command(), "migrate", "--no-input"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert (tmp_path / "w.sqlite3").is_file()

    once = subprocess.run(
        [*tousu_command(), "worker", "--once"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (once.returncode, once.stdout) == (0, "handled=0\n"), once.stderr

    proc = subprocess.Popen(
        [*tousu_command(), "worker", "--interval", "0.2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("worker: started" in line for line in seen):
            assert time.monotonic() < deadline, f"no 'worker: started' in {seen!r}"
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                continue
            assert line is not None, f"the worker exited early ({proc.wait()}): {''.join(seen)}"
            seen.append(line)
        time.sleep(0.5)  # a few idle polls
        assert proc.poll() is None, "the worker stopped by itself"

        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=5)
    while (line := lines.get_nowait() if not lines.empty() else None) is not None:
        seen.append(line)
    log = "".join(seen)
    assert returncode == 0, log
    assert "worker: started (sqlite, every 0.20s, work: sla,notifications,imap,triage,analytics," in log
    assert "worker: stopping after the current batch (signal 15)" in log
    assert log.rstrip().endswith("worker: stopped"), log
    assert "Traceback" not in log
