"""Benchmark: the report pages, the drill-down and the .xlsx export through the real HTTP server,
and how fast the rollups follow the event log, on PostgreSQL.

Steps:

1. drop and create ``--pg-url``, ``tousu migrate``, ``tousu seed --complaints N`` (the seed's bulk
   path: N cases with realistic histories over the past year);
2. ``tousu analytics rebuild`` (timed), then the incremental consumer over the last
   ``--replay`` events again (timed: events/s; applying them again changes nothing);
3. rollup lag: start ``tousu worker``, register and accept a burst of cases through the real
   services (``--burst`` events), and time from the burst's last commit until the worker's cursor
   has passed every event of it;
4. start ``tousu serve`` and, signed in as the seeded manager, time the monthly KPI report, a
   filtered report, the drill-down and the .xlsx export;
5. print the figures and the load average (the machine may be shared).

Usage, from the repository root::

    .venv/bin/python bench/reports.py --cases 100000
    .venv/bin/python bench/reports.py --reuse --cases 100000   # the previous run's data

The last line is always
``report_p95_ms=<n> drilldown_p95_ms=<n> xlsx_s=<n> rollup_lag_s=<n> rollup_events_per_s=<n>``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import recreate_postgres  # bench/ is on sys.path when a script runs
from pages import (
    SRC,
    Session,
    cancel_server_queries,
    free_port,
    measure,
    p95,
    server_database_url,
    start_server,
    stop_server,
    tousu,
)

USERNAME = "manager"
PASSWORD = "tousu-demo"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000, help="cases to seed (default 100,000)")
    parser.add_argument(
        "--pg-url",
        default="postgres://postgres@127.0.0.1:5432/tousu_bench_reports",
        help="database to drop and use",
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="web server processes (default 2)")
    parser.add_argument("--replay", type=int, default=20_000, help="events the consumer applies again, timed")
    parser.add_argument(
        "--burst", type=int, default=1_000, help="new events in the lag burst (default 1,000)"
    )
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--reuse", action="store_true", help="keep the data: no drop, no seed, no rebuild")
    return parser.parse_args(argv)


def sign_in(session: Session) -> None:
    import re

    status, html, _ = session.request("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    status, _, _headers = session.request(
        "/accounts/login/",
        {
            "csrfmiddlewaretoken": token.group(1) if token else session.cookie("csrftoken"),
            "username": USERNAME,
            "password": PASSWORD,
            "next": "/",
        },
    )
    if status != 302:
        raise SystemExit(f"signing in as {USERNAME!r} failed ({status})")


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def replay_rate(count: int) -> float:
    """Move the analytics cursor back ``count`` events and time the consumer catching up."""
    from tousu.analytics.models import EventCursor
    from tousu.analytics.services import analytics_consume

    cursor = EventCursor.objects.get(consumer="analytics")
    top = cursor.last_id
    EventCursor.objects.filter(pk=cursor.pk).update(last_id=max(0, top - count), gaps=[])
    started = time.perf_counter()
    events = 0
    while handled := analytics_consume():
        events += handled
    elapsed = time.perf_counter() - started
    print(f"consumer: {events:,} events in {elapsed:.1f}s", file=sys.stderr)
    return events / elapsed if elapsed else float("nan")


def rollup_lag(env: dict[str, str], burst: int, workdir: Path) -> float:
    """Seconds from the last commit of a burst of ``burst`` events until the worker's cursor is past it."""
    from django.db.models import Max

    from tousu.accounts.models import User
    from tousu.analytics.models import EventCursor
    from tousu.complaints import services as svc
    from tousu.complaints.models import Category, ComplaintEvent

    log = (workdir / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "tousu.cli", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        time.sleep(3)  # the worker is up and has caught up with the seed
        agent = User.objects.get(username="agent")
        leaves = list(Category.objects.filter(parent__isnull=False).values_list("pk", flat=True))
        first = ComplaintEvent.objects.aggregate(m=Max("id"))["m"] or 0
        n = 0
        while (ComplaintEvent.objects.aggregate(m=Max("id"))["m"] or 0) - first < burst:
            c = svc.complaint_register(
                actor=agent,
                channel="hotline",
                phone=f"139{n:08d}",
                customer_name="压测",
                business_type="mobile",
                category_id=leaves[n % len(leaves)],
                description="压测：账单扣费不明。",
            )
            svc.complaint_accept(actor=agent, complaint_id=c.pk)
            n += 1
        last = ComplaintEvent.objects.aggregate(m=Max("id"))["m"]
        done = time.perf_counter()
        while EventCursor.objects.get(consumer="analytics").last_id < last:
            time.sleep(0.05)
            if time.perf_counter() - done > 600:
                raise SystemExit("the worker did not catch up within 600 s")
        return time.perf_counter() - done
    finally:
        import signal

        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="tousu-bench-reports-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tousu.settings",
        "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p),
        "TOUSU_DATABASE_URL": args.pg_url,
        "TOUSU_DATA_DIR": str(workdir / "data"),
        "TOUSU_LOG_LEVEL": "WARNING",
        "TOUSU_WORKER_INTERVAL_MS": "200",
    }
    env.pop("TOUSU_DEBUG", None)
    if not args.reuse:
        recreate_postgres(args.pg_url)
    tousu(env, "migrate", "--verbosity", "0", "--skip-checks")
    rebuild_s = float("nan")
    if not args.reuse:
        tousu(env, "seed", "--complaints", str(args.cases), "--seed", str(args.seed), "--skip-checks")
        started = time.monotonic()
        tousu(env, "analytics", "rebuild", "--skip-checks")
        rebuild_s = time.monotonic() - started
    django_setup(env)
    rate = replay_rate(args.replay)
    lag = rollup_lag(env, args.burst, workdir)
    from django.db import connections

    connections.close_all()

    port = free_port()
    server = start_server(
        {**env, "TOUSU_DATABASE_URL": server_database_url(args.pg_url)},
        port,
        args.workers,
        workdir / "server.log",
    )
    try:
        session = Session(f"http://127.0.0.1:{port}", timeout=60)
        sign_in(session)
        reports = ["/reports/?period=month", "/reports/?period=year"]
        filtered = [
            "/reports/?period=month&level=very_dissatisfied&channel=hotline",
            "/reports/?period=quarter&regulator_group=service",
        ]
        drill = [
            "/reports/cases/?period=month&fact=accepted",
            "/reports/cases/?period=month&fact=closed&page=3",
        ]
        report_t, report_f = measure(session, reports + filtered, args.repeat, args.workers)
        drill_t, drill_f = measure(session, drill, args.repeat, args.workers)
        started = time.perf_counter()
        status, _body, _ = session.request("/reports/?period=month&format=xlsx")
        xlsx_s = time.perf_counter() - started
        print(f"monthly report as .xlsx: {xlsx_s:.2f}s (status {status})", file=sys.stderr)
        # The year's cases (a long list, streamed): a longer timeout, and a failure is reported.
        session.timeout = 900
        started = time.perf_counter()
        try:
            status2, body2, _ = session.request("/reports/cases/?period=year&fact=accepted&format=xlsx")
        except OSError as exc:
            status2, body2 = 0, str(exc)
        cases_xlsx_s = time.perf_counter() - started
        if status != 200 or status2 != 200:
            print(f"xlsx exports answered {status} and {status2}", file=sys.stderr)
    finally:
        stop_server(server)
        cancel_server_queries(args.pg_url)

    for path in reports + filtered + drill:
        samples = (report_t | drill_t).get(path, [])
        print(f"  {path:70s} p95 {p95(samples):7.1f} ms")
    failures = sum(n for f in (report_f, drill_f) for per in f.values() for n in per.values())
    load = os.getloadavg()
    print(
        f"data: {'reused' if args.reuse else f'{args.cases:,} cases'}; rebuild {rebuild_s:.1f}s; failures {failures}"
    )
    print(f"year of cases as .xlsx: {cases_xlsx_s:.1f}s ({len(body2.encode()):,} bytes)")
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    all_reports = [t for p in reports + filtered for t in report_t.get(p, [])]
    all_drill = [t for p in drill for t in drill_t.get(p, [])]
    print(
        f"report_p95_ms={p95(all_reports):.1f} drilldown_p95_ms={p95(all_drill):.1f} xlsx_s={xlsx_s:.2f} "
        f"rollup_lag_s={lag:.2f} rollup_events_per_s={rate:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
