"""``tousu serve``: granian (WSGI) under a small supervisor.

A web process that dies is replaced, every time: granian respawns a failed worker itself
(``--respawn-failed-workers``), and since granian's crash-loop guard still makes it exit when
workers die in quick succession, this command runs granian as a child and starts it again
whenever it exits on its own (waiting 1 s, then 2, 4… up to 30 s while it keeps failing quickly).
SIGTERM or SIGINT stops granian and then this command.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

log = logging.getLogger("tousu.serve")

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
HEALTHY_AFTER = 60.0  # a granian that ran this long was healthy: the next restart is quick again
STOP_TIMEOUT = 10.0  # granian's own graceful stop; then its whole process group is killed


class Command(BaseCommand):
    help = "Run the production web server (granian, WSGI), restarted whenever it fails."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("TOUSU_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("TOUSU_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("TOUSU_WEB_WORKERS", "2")))
        parser.add_argument(
            "--threads",
            type=int,
            default=int(os.environ.get("TOUSU_WEB_THREADS", "4")),
            help="blocking threads per worker process",
        )

    def handle(self, *args, **options):
        call_command("collectstatic", interactive=False, verbosity=0)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # granian's processes count requests into one folder, summed by /metrics; a fresh start
            # starts from zero (Prometheus handles counter resets).
            shared = Path(settings.DATA_DIR) / "metrics"
            shutil.rmtree(shared, ignore_errors=True)
            shared.mkdir(parents=True, exist_ok=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
        argv = serve_argv(options["host"], options["port"], options["workers"], options["threads"])
        self.stdout.write(
            f"Serving on http://{options['host']}:{options['port']} with {options['workers']} workers"
        )
        sys.stdout.flush()
        Supervisor(argv).run()


def serve_argv(host: str, port: int, workers: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--respawn-failed-workers",
        "--respawn-interval",
        "1",
        "--no-ws",
        "--log-level",
        "warning",
        "tousu.wsgi:application",
    ]


class Supervisor:
    """Runs ``argv`` until SIGTERM/SIGINT, starting it again with backoff whenever it exits."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.stopping = False
        self.child: subprocess.Popen[bytes] | None = None

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        child = self.child
        if child is not None and child.poll() is None:
            # granian runs in a process group of its own (so that a stuck stop can kill its workers
            # too): pass the signal on, Ctrl-C included.
            child.send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        backoff = BACKOFF_FIRST
        code = 0
        while not self.stopping:
            started = time.monotonic()
            self.child = subprocess.Popen(self.argv, process_group=0)
            if self.stopping:  # a signal between the start and the assignment above
                self.child.send_signal(signal.SIGTERM)
            code = self._wait_child(self.child)
            if self.stopping:
                break
            ran = time.monotonic() - started
            if ran >= HEALTHY_AFTER:
                backoff = BACKOFF_FIRST
            log.error(
                "serve: granian exited (code %s) after %.1fs; starting it again in %.0fs", code, ran, backoff
            )
            self._sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
        self._stop_child()
        return 0 if self.stopping else code  # a stop that was asked for is a clean stop

    def _wait_child(self, child: subprocess.Popen[bytes]) -> int:
        """Wait for granian to exit; once asked to stop, at most ``STOP_TIMEOUT`` seconds."""
        deadline: float | None = None
        while True:
            try:
                return child.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
            if self.stopping:
                deadline = deadline or time.monotonic() + STOP_TIMEOUT
                if time.monotonic() >= deadline:
                    log.error(
                        "serve: granian did not stop within %.0fs; killing it and its workers", STOP_TIMEOUT
                    )
                    self._kill_group(child)
                    return child.wait()

    @staticmethod
    def _kill_group(child: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))

    def _stop_child(self) -> None:
        child = self.child
        if child is None or child.poll() is not None:
            return
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill_group(child)
            child.wait()
