"""The background worker: one loop that runs every periodic job until SIGTERM/SIGINT.

Jobs claim their rows themselves (see each job's module), so several workers can run at once.
On PostgreSQL the loop sleeps on ``LISTEN tousu_outbox`` and wakes as soon as a case service
commits an event that notifies someone; elsewhere it polls.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from functools import partial
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from tousu.analytics.services import analytics_consume
from tousu.analytics.services_schedule import reports_send_scheduled
from tousu.api.hub import tmf_fanout
from tousu.channels.email_in import email_poll
from tousu.complaints.services import OUTBOX_CHANNEL
from tousu.complaints.services.deadlines import sla_breach, sla_warn
from tousu.notifications.services import notifications_deliver, outbox_dispatch
from tousu.triage.services import triage_clusters, triage_intake

log = logging.getLogger("tousu.worker")

Job = Callable[[], int]
JOBS: list[tuple[str, Job]] = [
    ("sla_warn", sla_warn),
    ("sla_breach", sla_breach),
    ("outbox", partial(outbox_dispatch, fanouts=[tmf_fanout])),  # + the TMF621 hub's webhooks
    ("deliver", notifications_deliver),
    ("email_in", email_poll),
    ("triage", triage_intake),  # classify cases that came in without an agent
    ("clusters", triage_clusters),  # outage clusters → major incidents
    ("analytics", analytics_consume),  # the rollups, from the event log with their own cursor
    ("reports", reports_send_scheduled),  # the scheduled reports, once per subscription and period
]


class Worker:
    def __init__(self, *, interval: float | None = None) -> None:
        self.interval = settings.TOUSU_WORKER_INTERVAL if interval is None else interval
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
        for name, job in JOBS:
            if self.stopping:
                break
            handled = notifications_deliver(stop=self.stop_event) if job is notifications_deliver else job()
            if handled:
                log.debug("worker: %s handled %s", name, handled)
            total += handled
        return total

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info("worker: started (%s, every %.2fs)", connection.vendor, self.interval)
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
