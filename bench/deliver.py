"""Benchmark: the worker's delivery step, end to end, by one worker process.

Queues ``--n`` customer messages, then calls ``notifications_deliver`` until none is due: each batch
is claimed (one transaction, a delivery record per message), each message is sent outside any
transaction, and each outcome recorded (one short transaction per message). ``--transport http``
sends every SMS to a local HTTP gateway on loopback (``http.server``, answering 200);
``--transport smtp`` sends every message as e-mail to a local SMTP server (aiosmtpd);
``--transport file`` appends to the development outbox file.

Every invocation starts from an empty database (a fresh SQLite file, or a re-created PostgreSQL
database). Usage, from the repository root::

    .venv/bin/python bench/deliver.py --db sqlite --transport http --n 1000 --runs 3
    .venv/bin/python bench/deliver.py --db postgres --transport smtp --n 1000

The last line is always ``deliveries_per_s=<median>``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _common import recreate_postgres  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--transport", choices=["http", "smtp", "file"], default="http")
    parser.add_argument("--n", type=int, default=1000, help="messages per timed run (default 1000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (default 3)")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/tousu_bench")
    args = parser.parse_args()
    if args.n < 1 or args.runs < 1:
        parser.error("--n and --runs must be at least 1")
    return args


class _Gateway(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tousu-bench-deliver-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tousu.settings"
    os.environ["TOUSU_DATA_DIR"] = str(workdir / "data")
    os.environ.setdefault("TOUSU_LOG_LEVEL", "ERROR")
    os.environ.pop("TOUSU_DEBUG", None)
    stop: list[Any] = []
    if args.transport == "http":
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stop.append(server.shutdown)
        os.environ["TOUSU_SMS_TRANSPORT"] = "http"
        os.environ["TOUSU_SMS_GATEWAY_URL"] = f"http://127.0.0.1:{server.server_address[1]}/sms"
        os.environ["TOUSU_SMS_GATEWAY_TOKEN"] = "bench"
    elif args.transport == "smtp":
        from aiosmtpd.controller import Controller

        port = _free_port()
        controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
        controller.start()
        stop.append(controller.stop)
        os.environ.update(
            TOUSU_EMAIL_TRANSPORT="smtp", TOUSU_SMTP_HOST="127.0.0.1", TOUSU_SMTP_PORT=str(port)
        )
    else:
        os.environ["TOUSU_NOTIFY_TRANSPORT"] = "file"
    if args.db == "sqlite":
        os.environ["TOUSU_DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    else:
        recreate_postgres(args.pg_url)
        os.environ["TOUSU_DATABASE_URL"] = args.pg_url

    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from tousu.notifications.models import DeliveryAttempt, Notification
    from tousu.notifications.services import notifications_deliver

    call_command("migrate", verbosity=0)
    transport = "email" if args.transport == "smtp" else "sms"
    rates = []
    for run in range(args.runs):
        now = timezone.now()
        Notification.objects.bulk_create(
            Notification(
                key=f"bench:{run}:{i}",
                template="otp",
                transport=transport,
                address=f"user{i}@example.com" if transport == "email" else f"+86139{i:08d}",
                subject="您的验证码",
                body=f"【Tousu 客服】您的验证码是 {i:06d}，10分钟内有效。",
                next_attempt_at=now,
                created_at=now,
            )
            for i in range(args.n)
        )
        start = time.perf_counter()
        sent = 0
        while handled := notifications_deliver(batch=50):
            sent += handled
        elapsed = time.perf_counter() - start
        ok = Notification.objects.filter(key__startswith=f"bench:{run}:", status="sent").count()
        attempts = DeliveryAttempt.objects.filter(notification__key__startswith=f"bench:{run}:").count()
        if not sent == ok == attempts == args.n:
            raise SystemExit(f"run {run}: attempted {sent}, sent {ok}, attempts recorded {attempts}")
        rates.append(args.n / elapsed)
        print(f"run {run + 1}: {args.n} {args.transport} deliveries in {elapsed:.2f}s = {rates[-1]:.0f}/s")
    for fn in stop:
        fn()
    print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"deliveries_per_s={statistics.median(rates):.0f}")


if __name__ == "__main__":
    main()
