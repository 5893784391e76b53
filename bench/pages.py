"""Benchmark: the queue pages and the case page, as a signed-in agent, through the real HTTP server.

Steps:

1. drop and create the PostgreSQL database ``--pg-url``, ``tousu migrate``, then ``tousu seed
   --complaints N`` (reference data, one user per role with the password "tousu-demo", the default
   time limits, N simulated cases over the past year, SLA clocks of the open ones);
2. start ``tousu serve --workers W`` (granian, WSGI) on a free loopback port;
3. sign in as the seeded ``agent`` through the sign-in form (CSRF cookie and token from the page);
4. request every queue page and K case pages in the agent's scope, R times each, after a warm-up;
   print each page's median and p95, then the failures (any answer other than 200: a missing page
   is counted, not fatal; a request that times out counts as a failure and, with the time it was
   given, in the p95).

Usage, from the repository root::

    .venv/bin/python bench/pages.py --cases 100000
    .venv/bin/python bench/pages.py --cases 1000000 --repeat 30
    .venv/bin/python bench/pages.py --reuse          # the previous run's data, migrated to this code

The inbox and the role homes (``HOME_PAGES``) are timed too, each signed in as the seeded person it
is for. The last line is always ``queue_p95_ms=<number> case_p95_ms=<number> home_p95_ms=<number>`` (``nan`` when no request of
that kind succeeded).
"""

from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import math
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

from _common import recreate_postgres  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
sys.path.insert(0, str(SRC))

QUEUES = [
    "mine",
    "department",
    "unassigned",
    "due_soon",
    "overdue",
    "escalated",
    "awaiting_customer",
    "approvals",
    "all",
]
# A few ordinary ways of using a queue besides opening it: the second page, a filter, a search.
QUEUE_VARIANTS = [
    "/queues/all/?page=2",
    "/queues/all/?level=major",
    "/queues/all/?" + urllib.parse.urlencode({"q": "账单"}),
]
# The inbox and each role's home (issue 11), each as the seeded person it is for.
HOME_PAGES = [
    ("agent", "/inbox/"),
    ("agent", "/inbox/count/"),
    ("supervisor", "/inbox/"),
    ("handler", "/work/"),
    ("visitor", "/return-visits/"),
    ("supervisor", "/approvals/"),
    ("handler", "/approvals/"),
]
USERNAME = "agent"
PASSWORD = "tousu-demo"  # tousu.ops.seed.DEMO_PASSWORD
SERVER_START_TIMEOUT = 120.0
SERVER_APP_NAME = "tousu-bench-pages-server"  # the server's PostgreSQL application_name


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000, help="cases to seed (default 100,000)")
    parser.add_argument(
        "--pg-url",
        default="postgres://postgres@127.0.0.1:5432/tousu_bench_pages",
        help="PostgreSQL database to drop, create and use (default %(default)s)",
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page (default 20)")
    parser.add_argument(
        "--case-pages", type=int, default=10, help="distinct case pages in the agent's scope (default 10)"
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed requests per page first (default: one per worker)"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds before a request counts as failed (default 30)"
    )
    parser.add_argument("--workers", type=int, default=2, help="web server processes (default 2)")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--seed", type=int, default=20261123, help="random seed of the data and the sample")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the data (no drop, no seed; pending migrations are applied): measure again on a big data set",
    )
    args = parser.parse_args(argv)
    if args.cases < 0 or args.repeat < 1 or args.case_pages < 0 or args.workers < 1:
        parser.error("--cases must be 0 or more; --repeat and --workers at least 1; --case-pages 0 or more")
    return args


# --- the database ---------------------------------------------------------------------------------


def tousu(env: dict[str, str], *args: str) -> None:
    """Run one ``tousu`` command, its output passed through; stop the benchmark if it fails."""
    command = [sys.executable, "-m", "tousu.cli", *args]
    started = time.monotonic()
    result = subprocess.run(command, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"`tousu {' '.join(args)}` failed with exit status {result.returncode}")
    print(f"tousu {' '.join(args)}: {time.monotonic() - started:.1f}s", file=sys.stderr)


def case_sample(env: dict[str, str], count: int, seed: int) -> tuple[list[int], int]:
    """``count`` ids of cases the agent may open (through the access rules the pages use), and how
    many cases the agent may see in all."""
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    from tousu.accounts.models import User
    from tousu.complaints.access import visible_complaints_q
    from tousu.complaints.models import Complaint

    try:
        agent = User.objects.filter(username=USERNAME).first()
        if agent is None:
            raise SystemExit(f"no user {USERNAME!r}: was the database seeded (`tousu seed`)?")
        ids = list(Complaint.objects.filter(visible_complaints_q(agent)).values_list("pk", flat=True))
    finally:
        connections.close_all()
    rng = random.Random(seed)
    return sorted(rng.sample(ids, min(count, len(ids)))), len(ids)


# --- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tousu.cli", "serve", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out:
        # Its own process group: the server's worker processes are stopped with it.
        server = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped at start (exit {server.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    stop_server(server)
    raise SystemExit(f"the server did not answer /healthz within {SERVER_START_TIMEOUT:.0f}s; see {log}")


def server_database_url(url: str) -> str:
    """The database URL for the server, its connections named so they can be told apart."""
    return f"{url}{'&' if '?' in url else '?'}application_name={SERVER_APP_NAME}"


def cancel_server_queries(url: str) -> int:
    """Cancel the queries the stopped server left running (a request that timed out on our side
    goes on in PostgreSQL until the database notices its client is gone)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database() AND pid <> pg_backend_pid()",
            [SERVER_APP_NAME],
        ).fetchall()
    return len(rows)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    except ProcessLookupError:
        pass


# --- the browser's part ---------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None  # a redirect is an answer to look at, not to follow


class Session:
    """A cookie-keeping HTTP client that does not follow redirects."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        self.base = base
        self.timeout = timeout
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(
            self.base + path,
            data=body,
            headers={"Accept-Language": "zh-hans", "User-Agent": "tousu-bench-pages"},
        )
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return response.status, response.read().decode("utf-8", "replace"), dict(response.headers)
        except urllib.error.HTTPError as exc:  # 3xx (not followed), 4xx, 5xx
            return exc.code, exc.read().decode("utf-8", "replace"), dict(exc.headers or {})

    def cookie(self, name: str) -> str:
        return next((c.value or "" for c in self.cookies if c.name == name), "")


def sign_in(session: Session, username: str = USERNAME) -> None:
    """Sign in through the form as a person would: the page gives the CSRF cookie and token."""
    status, html, _headers = session.request("/accounts/login/")
    if status != 200:
        raise SystemExit(f"the sign-in page answered {status}")
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    token = match.group(1) if match else session.cookie("csrftoken")
    if not token:
        raise SystemExit("the sign-in page set no CSRF token")
    status, _html, headers = session.request(
        "/accounts/login/",
        {"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD, "next": "/"},
    )
    location = headers.get("Location", "")
    if status != 302 or "/accounts/login/" in location:
        raise SystemExit(f"signing in as {username!r} failed (status {status}, location {location!r})")


def p95(samples: list[float]) -> float:
    """The nearest-rank 95th percentile; ``nan`` without samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


TIMED_OUT = -1  # a "status" for requests that got no answer within --timeout
NO_ANSWER = 0  # refused or cut connections


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError)


def measure(
    session: Session, paths: list[str], repeat: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, dict[int, int]]]:
    """Request each path ``warmup`` times untimed, then ``repeat`` times timed, in rounds (each
    round visits every path once). Returns the timings and the failures per path.

    Timings are those of successful answers (200) and of requests that timed out (a lower bound
    of their real time: slowness counts); a missing page (404) or any other answer is only counted."""
    timings: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for round_no in range(warmup + repeat):
        for path in paths:
            started = time.perf_counter()
            try:
                status, _body, _headers = session.request(path)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                status = TIMED_OUT if _timed_out(exc) else NO_ANSWER
            elapsed = (time.perf_counter() - started) * 1000
            if round_no < warmup:
                continue
            if status in (200, TIMED_OUT):
                timings[path].append(elapsed)
            if status != 200:
                failures[path][status] += 1
    return timings, failures


def report(
    kind: str, paths: list[str], timings: dict[str, list[float]], failures: dict[str, dict[int, int]]
) -> tuple[float, int]:
    print(f"{kind} pages: median and p95 in ms")
    for path in paths:
        samples = timings.get(path, [])
        labels = {TIMED_OUT: "timed out", NO_ANSWER: "no answer"}
        failed = ", ".join(
            f"{n}×{labels.get(code, code)}" for code, n in sorted(failures.get(path, {}).items())
        )
        median = f"{statistics.median(samples):7.1f}" if samples else "      -"
        print(f"  {path:40s} {median} {p95(samples):7.1f}" + (f"   failed: {failed}" if failed else ""))
    everything = [t for path in paths for t in timings.get(path, [])]
    failed_count = sum(n for path in paths for n in failures.get(path, {}).values())
    return p95(everything), failed_count


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="tousu-bench-pages-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tousu.settings",
        "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p),
        "TOUSU_DATABASE_URL": args.pg_url,
        "TOUSU_DATA_DIR": str(workdir / "data"),
        "TOUSU_LOG_LEVEL": "WARNING",
    }
    env.pop("TOUSU_DEBUG", None)  # DEBUG records every query and would skew the timing

    if not args.reuse:
        recreate_postgres(args.pg_url)
    # On a reused database this applies the migrations added since it was seeded (new indexes), so
    # the measurement is of the code as it is; on a new one it creates the schema.
    tousu(env, "migrate", "--verbosity", "0", "--skip-checks")
    if not args.reuse:
        tousu(env, "seed", "--complaints", str(args.cases), "--seed", str(args.seed), "--skip-checks")
    case_ids, in_scope = case_sample(env, args.case_pages, args.seed)
    print(f"agent {USERNAME!r} may open {in_scope:,} cases; sampled {len(case_ids)}", file=sys.stderr)

    port = args.port or free_port()
    server_env = {**env, "TOUSU_DATABASE_URL": server_database_url(args.pg_url)}
    server = start_server(server_env, port, args.workers, workdir / "server.log")
    try:
        session = Session(f"http://127.0.0.1:{port}", timeout=args.timeout)
        sign_in(session)
        queue_paths = [f"/queues/{name}/" for name in QUEUES] + QUEUE_VARIANTS
        case_paths = [f"/cases/{pk}/" for pk in case_ids]
        # By default each worker process renders every page once before the timing starts.
        warmup = args.workers if args.warmup is None else args.warmup
        started = time.monotonic()
        queue_times, queue_failures = measure(session, queue_paths, args.repeat, warmup)
        case_times, case_failures = measure(session, case_paths, args.repeat, warmup)
        home_times: dict[str, list[float]] = {}
        home_failures: dict[str, dict[int, int]] = {}
        for username in dict.fromkeys(user for user, _path in HOME_PAGES):
            own = Session(f"http://127.0.0.1:{port}", timeout=args.timeout)
            sign_in(own, username)
            paths = [path for user, path in HOME_PAGES if user == username]
            times, fails = measure(own, paths, args.repeat, warmup)
            home_times.update({f"{username} {path}": t for path, t in times.items()})
            home_failures.update({f"{username} {path}": f for path, f in fails.items()})
        elapsed = time.monotonic() - started
    finally:
        stop_server(server)
        left = cancel_server_queries(args.pg_url)
        if left:
            print(f"cancelled {left} queries the server left running", file=sys.stderr)

    print(
        f"data: {args.cases if not args.reuse else 'reused'} cases; server: {args.workers} workers; "
        f"{args.repeat} timed requests per page after {warmup} warm-up; {elapsed:.1f}s of requests"
    )
    queue_p95, queue_failed = report("queue", queue_paths, queue_times, queue_failures)
    case_p95, case_failed = report("case", case_paths, case_times, case_failures)
    home_paths = [f"{user} {path}" for user, path in HOME_PAGES]
    home_p95, home_failed = report("inbox and home", home_paths, home_times, home_failures)
    total = len(queue_paths + case_paths + home_paths) * args.repeat
    print(f"failures: queue={queue_failed} case={case_failed} home={home_failed} of {total} timed requests")
    print(f"queue_p95_ms={queue_p95:.1f} case_p95_ms={case_p95:.1f} home_p95_ms={home_p95:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
