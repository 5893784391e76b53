"""Benchmark: TMF621 creates through the real HTTP server on PostgreSQL.

Steps:

1. drop and create the PostgreSQL database ``--pg-url``, ``tousu migrate``, ``tousu seed
   --complaints 0`` (reference data: categories, departments, the default time limits), and
   ``tousu apikey create`` a write key on the ``app`` channel (no rate limit that matters);
2. start ``tousu serve --workers W`` (granian, WSGI) on a free loopback port;
3. send ``--warmup`` creates, then ``--requests`` creates from ``--connections`` threads, each
   with its own keep-alive connection (http.client), every body a standard TMF621 body (severity
   ``Minor``, a ticketType, name, priority, channel, a customer party) with its own
   ``externalId``, so each is a new case (registered and accepted, with its ticket number, SLA
   clocks and the channel's attributes);
4. print the throughput, the median and the p95 latency, and the failures (any answer but 201).

Usage, from the repository root::

    .venv/bin/python bench/api_create.py
    .venv/bin/python bench/api_create.py --workers 4 --connections 16 --requests 3000

The last line is always ``creates_per_s=<number> p95_ms=<number>``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import recreate_postgres  # bench/ is on sys.path when a script runs
from pages import free_port, start_server, stop_server, tousu

ROOT = Path(__file__).resolve().parent.parent
URL = "/tmf-api/troubleTicket/v4/troubleTicket"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("TOUSU_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/tousu_bench_api"),
        help="benchmark database (dropped and created)",
    )
    parser.add_argument("--workers", type=int, default=2, help="web server processes (2–4; default 2)")
    parser.add_argument("--connections", type=int, default=8, help="client connections (default 8)")
    parser.add_argument("--requests", type=int, default=2000, help="measured creates (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="creates before measuring (default 200)")
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= 16 or args.connections < 1 or args.requests < 1 or args.warmup < 0:
        parser.error("workers 1–16, connections ≥ 1, requests ≥ 1, warmup ≥ 0")
    return args


def leaf_category(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT c.code FROM complaints_category c WHERE c.is_active AND NOT EXISTS"
            " (SELECT 1 FROM complaints_category k WHERE k.parent_id = c.id) ORDER BY c.id LIMIT 1"
        ).fetchone()
    if row is None:
        raise SystemExit("no leaf category: did `tousu seed` run?")
    return str(row[0])


def create_key(env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "tousu.cli", "apikey", "create", "--name", "bench", "--channel", "app"]
    command += ["--scope", "write", "--rate-limit", "100000000"]
    result = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"`tousu apikey create` failed: {result.stderr}")
    return result.stdout.strip().splitlines()[-1]


class Load:
    """``total`` creates shared by ``connections`` threads; latencies in seconds."""

    def __init__(self, port: int, token: str, category: str, prefix: str) -> None:
        self.port, self.token, self.category, self.prefix = port, token, category, prefix
        self.lock = threading.Lock()
        self.next = 0
        self.latencies: list[float] = []
        self.failures: dict[str, int] = {}

    def body(self, n: int) -> bytes:
        return json.dumps(
            {  # a standard TMF621 v4 body; the contact is Tousu's extension of the party
                "name": f"bench ticket {n}",
                "description": f"压测工单 {n}：用户反映流量包重复扣费，要求退还。",
                "severity": "Minor",
                "ticketType": self.category,
                "priority": "Medium",
                "externalId": f"{self.prefix}-{n}",
                "channel": {"id": "app", "name": "mobile app"},
                "relatedParty": [
                    {
                        "id": f"c{n % 10000}",
                        "role": "customer",
                        "name": "压测",
                        "phone": f"1390000{n % 10000:04d}",
                        "@referredType": "Individual",
                    }
                ],
                "@type": "TroubleTicket",
            },
            ensure_ascii=False,
        ).encode()

    def worker(self, total: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        while True:
            with self.lock:
                n = self.next
                if n >= total:
                    break
                self.next += 1
            body = self.body(n)
            started = time.perf_counter()
            try:
                conn.request("POST", URL, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = str(response.status)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            elapsed = time.perf_counter() - started
            with self.lock:
                self.latencies.append(elapsed)
                if status != "201":
                    self.failures[status] = self.failures.get(status, 0) + 1
        conn.close()

    def run(self, total: int, connections: int) -> float:
        threads = [threading.Thread(target=self.worker, args=(total,)) for _ in range(connections)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - started


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] if ordered else float("nan")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="tousu-bench-api-"))
    env = {
        **os.environ,
        "TOUSU_DATABASE_URL": args.pg_url,
        "TOUSU_DATA_DIR": str(workdir / "data"),
        "TOUSU_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT / "src"),
    }
    env.pop("TOUSU_DEBUG", None)
    recreate_postgres(args.pg_url)
    tousu(env, "migrate", "--verbosity", "0", "--skip-checks")
    tousu(env, "seed", "--complaints", "0", "--skip-checks")
    token = create_key(env)
    category = leaf_category(args.pg_url)
    port = free_port()
    server = start_server(env, port, args.workers, workdir / "server.log")
    try:
        if args.warmup:
            Load(port, token, category, "warmup").run(args.warmup, args.connections)
        load = Load(port, token, category, "bench")
        elapsed = load.run(args.requests, args.connections)
    finally:
        stop_server(server)
    ok = args.requests - sum(load.failures.values())
    rate = ok / elapsed if elapsed else float("nan")
    ms = [x * 1000 for x in load.latencies]
    print(
        f"{args.requests} creates, {args.connections} connections, {args.workers} server workers: "
        f"{elapsed:.2f}s; median {statistics.median(ms):.1f} ms; failures {load.failures or 'none'}; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs",
        file=sys.stderr,
    )
    print(f"creates_per_s={rate:.1f} p95_ms={p95(ms):.1f}")


if __name__ == "__main__":
    main()
