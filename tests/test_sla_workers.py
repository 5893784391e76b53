"""Warnings and breaches exactly once: three workers at the same time, a failure mid-batch, and a
worker killed with SIGKILL (PostgreSQL: rows are claimed with SKIP LOCKED)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone, translation

from tousu.complaints.models import ComplaintEvent
from tousu.complaints.services.deadlines import sla_breach
from tousu.sla.defaults import sla_bootstrap
from tousu.sla.models import SlaBreach, SlaClock

pytestmark = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="needs PostgreSQL row locks")


def register_due_cases(cases, n: int, time_machine, *, ago: timedelta) -> None:
    """``n`` cases whose first-response clock ran out ``ago`` minus 30 minutes ago."""
    time_machine.move_to(timezone.now() - ago, tick=False)
    for i in range(n):
        cases.register(phone=f"139{i:08d}")
    time_machine.move_to(timezone.now() + ago, tick=False)


def assert_each_clock_breached_once() -> None:
    breached = set(SlaClock.objects.filter(state="breached").values_list("pk", flat=True))
    assert set(SlaBreach.objects.values_list("clock_id", flat=True)) == breached
    per_case = ComplaintEvent.objects.filter(kind="sla_breached").values("complaint").annotate(n=Count("id"))
    assert all(row["n"] == 1 for row in per_case)
    assert {row["complaint"] for row in per_case} == set(
        SlaClock.objects.filter(state="breached").values_list("complaint_id", flat=True)
    )
    escalations = ComplaintEvent.objects.filter(
        kind="escalated", payload__trigger="sla_breach:first_response"
    )
    assert escalations.count() == len(breached)


@postgres_only
def test_three_workers_at_once_record_each_breach_exactly_once(org, cases, time_machine):
    sla_bootstrap()
    register_due_cases(cases, 45, time_machine, ago=timedelta(hours=1))
    assert SlaClock.objects.filter(kind="first_response", state="running").count() == 45
    start, handled, errors = threading.Barrier(3), [], []

    def worker() -> None:
        translation.activate("en")
        try:
            start.wait(5)
            while n := sla_breach(batch=4):
                handled.append(n)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(handled) == 45
    assert SlaBreach.objects.filter(kind="first_response").count() == 45
    assert_each_clock_breached_once()


def test_a_failure_mid_batch_leaves_the_whole_batch_for_the_next_sweep(org, cases, time_machine, monkeypatch):
    sla_bootstrap()
    register_due_cases(cases, 6, time_machine, ago=timedelta(hours=1))
    from tousu.complaints.services import deadlines as sweeper

    real = sweeper.complaints_escalate_locked

    def failing(**kwargs):
        real(**kwargs)  # the breaches, events and escalations are written, then the worker dies
        raise RuntimeError("worker died")

    monkeypatch.setattr(sweeper, "complaints_escalate_locked", failing)
    with pytest.raises(RuntimeError):
        sla_breach()
    assert SlaBreach.objects.count() == 0
    assert ComplaintEvent.objects.filter(kind__in=["sla_breached", "escalated"]).count() == 0
    assert SlaClock.objects.filter(kind="first_response", state="running").count() == 6
    monkeypatch.setattr(sweeper, "complaints_escalate_locked", real)
    assert sla_breach() == 6
    assert_each_clock_breached_once()


@postgres_only
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(org, cases, tmp_path: Path):
    sla_bootstrap()
    for i in range(150):
        cases.register(phone=f"139{i:08d}")
    # The worker process runs on the real clock: make the first-response clocks due already.
    SlaClock.objects.filter(kind="first_response").update(due_at=timezone.now() - timedelta(minutes=1))
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUSU_")}
    env |= {"TOUSU_DATABASE_URL": url, "TOUSU_DATA_DIR": str(tmp_path), "TOUSU_SLA_BATCH": "5"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "tousu.cli", "worker", "--interval", "0.05"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while SlaBreach.objects.count() < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    done = SlaBreach.objects.count()
    assert 20 <= done <= 150
    assert_each_clock_breached_once()  # whatever the kill interrupted left no trace
    while sla_breach():
        pass
    assert SlaBreach.objects.count() == 150
    assert_each_clock_breached_once()
