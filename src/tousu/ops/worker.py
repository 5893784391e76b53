"""The background worker: one loop that runs every periodic job until SIGTERM/SIGINT.

Jobs claim their rows themselves (see each job's module), so any number of workers on any
machines share the work through the database: SLA sweeps and deliveries claim rows with
``SKIP LOCKED`` and leases, the consumers of the event log lock their cursor row, and the mailbox
poll holds an advisory lock. Each process may run only some kinds of work (``--only sla,imap``);
each writes a heartbeat row after every loop (``ops.WorkerHeartbeat``), read by ``/readyz`` and
``/metrics``. On PostgreSQL the loop sleeps on ``LISTEN tousu_outbox`` and wakes as soon as a case service
commits an event that notifies someone; elsewhere it polls.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from tousu.analytics.services import analytics_consume
from tousu.analytics.services_schedule import reports_send_scheduled
from tousu.api.hub import tmf_fanout
from tousu.audit.services import audit_seal
from tousu.channels.email_in import email_poll
from tousu.common.formtokens import form_tokens_purge
from tousu.complaints.services import OUTBOX_CHANNEL
from tousu.complaints.services.deadlines import sla_breach, sla_warn
from tousu.notifications.services import notifications_deliver, outbox_dispatch
from tousu.ops.models import WorkerHeartbeat
from tousu.privacy.retention import retention_job
from tousu.quality.services import quality_sample_due
from tousu.triage.services import triage_clusters, triage_intake

log = logging.getLogger("tousu.worker")

Job = Callable[[], int]
# (job name, kind of work, job). ``tousu worker --only KIND,...`` runs the jobs of those kinds.
JOBS: list[tuple[str, str, Job]] = [
    ("sla_warn", "sla", sla_warn),
    ("sla_breach", "sla", sla_breach),
    (
        "outbox",
        "notifications",
        partial(outbox_dispatch, fanouts=[tmf_fanout]),
    ),  # + the TMF621 hub's webhooks
    ("deliver", "notifications", notifications_deliver),
    ("email_in", "imap", email_poll),
    ("triage", "triage", triage_intake),  # classify cases that came in without an agent
    ("clusters", "triage", triage_clusters),  # outage clusters → major incidents
    ("analytics", "analytics", analytics_consume),  # the rollups, from the event log with their own cursor
    (
        "reports",
        "analytics",
        reports_send_scheduled,
    ),  # the scheduled reports, once per subscription and period
    ("quality", "quality", quality_sample_due),  # sample last week's cases for inspection, once it is over
    (
        "form_tokens",
        "housekeeping",
        form_tokens_purge,
    ),  # forget one-time form tokens used more than a day ago
    ("audit_seal", "privacy", audit_seal),  # the access log's hash chain
    ("retention", "privacy", retention_job),  # personal data past its retention time (hourly)
]
HEARTBEAT_SECONDS = 5.0  # well inside TOUSU_WORKER_STALE_SECONDS
KINDS: tuple[str, ...] = tuple(dict.fromkeys(kind for _name, kind, _job in JOBS))


def parse_kinds(text: str | None) -> tuple[str, ...]:
    """The kinds named in ``--only`` (comma-separated), checked; all kinds when ``text`` is empty."""
    if not text:
        return KINDS
    chosen = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [kind for kind in chosen if kind not in KINDS]
    if unknown or not chosen:
        named = ", ".join(unknown) or repr(text)
        raise ValueError(f"unknown kind of work: {named}; choose from {', '.join(KINDS)}")
    return chosen


class Worker:
    def __init__(self, *, interval: float | None = None, kinds: tuple[str, ...] = KINDS) -> None:
        self.interval = settings.TOUSU_WORKER_INTERVAL if interval is None else interval
        self.kinds = kinds
        self.jobs = [(name, job) for name, kind, job in JOBS if kind in kinds]
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.last_seconds: dict[str, float] = {}
        self.batches = 0
        self.handled = 0
        self.started_at = timezone.now()
        self._next_beat = 0.0
        self.stopping = False
        self.stop_event = threading.Event()  # tells a delivery batch to hand back what it has not sent
        self._listener: Any = None

    def stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("worker: stopping after the current batch (signal %s)", signum)
        self.stopping = True
        self.stop_event.set()

    def run_once(self) -> int:
        """Run every job once; returns how many rows they handled."""
        total = 0
        for name, job in self.jobs:
            if self.stopping:
                break
            began = time.perf_counter()
            handled = notifications_deliver(stop=self.stop_event) if job is notifications_deliver else job()
            self.last_seconds[name] = round(time.perf_counter() - began, 4)
            if handled:
                log.debug("worker: %s handled %s", name, handled)
            total += handled
        self.batches += 1
        self.handled += total
        if time.monotonic() >= self._next_beat:  # a busy worker loops many times a second
            self.beat()
        return total

    def beat(self) -> None:
        """Write this process's heartbeat row (one UPDATE; an INSERT the first time), at most every
        ``HEARTBEAT_SECONDS`` from the loop."""
        self._next_beat = time.monotonic() + HEARTBEAT_SECONDS
        now = timezone.now()
        values = {
            "kinds": ",".join(self.kinds),
            "started_at": self.started_at,
            "beat_at": now,
            "batches": self.batches,
            "handled": self.handled,
            "last_seconds": self.last_seconds,
        }
        if not WorkerHeartbeat.objects.filter(name=self.name).update(**values):
            WorkerHeartbeat.objects.update_or_create(name=self.name, defaults=values)
            # The first beat also clears rows of processes gone for a day.
            WorkerHeartbeat.objects.filter(beat_at__lt=now - timedelta(days=1)).delete()

    def forget(self) -> None:
        """A clean stop removes the row: a stopped worker is not a stale one."""
        WorkerHeartbeat.objects.filter(name=self.name).delete()

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info(
            "worker: started (%s, every %.2fs, work: %s)",
            connection.vendor,
            self.interval,
            ",".join(self.kinds),
        )
        while not self.stopping:
            try:
                busy = self.run_once()
            except DatabaseError as exc:
                log.error("worker: database error, retrying shortly: %s", exc)
                close_old_connections()
                self._close_listener()
                busy = 0
                self._sleep(max(self.interval, 2.0))
                continue
            if not busy:
                self._wait()
        self._close_listener()
        try:
            self.forget()
        except DatabaseError as exc:
            log.warning("worker: could not remove the heartbeat row: %s", exc)
        connection.close()
        log.info("worker: stopped")

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))

    def _wait(self) -> None:
        if connection.vendor != "postgresql":
            self._sleep(self.interval)
            return
        try:
            if self._listener is None:
                import psycopg

                params = connection.get_connection_params()
                self._listener = psycopg.connect(**params, autocommit=True)
                self._listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
            for _note in self._listener.notifies(timeout=self.interval, stop_after=1):
                pass
        except Exception as exc:  # a lost listener connection: fall back to polling, reconnect later
            log.warning("worker: listen failed (%s); polling", exc)
            self._close_listener()
            self._sleep(self.interval)

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None
