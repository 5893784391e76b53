"""Benchmark: register and accept cases through the service layer, one transaction per case.

Each case is ``complaint_register(..., accept=True)``, one transaction, as the channels, the API
and the portal call it, so it writes what production writes: the customer and identity (for a new
phone number), the case, the ticket counter, the "registered" event (and an "escalated" one for a
major or crisis case or a threat), the "accepted" event (an outbox row: ``pending_dispatch``; on
PostgreSQL a ``NOTIFY`` delivered at commit) and the SLA clocks. ``--two-calls`` measures the
older way instead: ``complaint_register`` then ``complaint_accept`` inside one
``transaction.atomic()`` (the same record, more statements).

``--clients N`` runs N client processes side by side (agents registering at once); each run's
cases are split between them and the rate is all cases over the wall-clock time of the run.

Every invocation starts from an empty database: a fresh SQLite file in a temporary directory, or
a dropped and re-created PostgreSQL database. Usage, from the repository root::

    .venv/bin/python bench/register.py --db sqlite --n 2000 --runs 5
    .venv/bin/python bench/register.py --db postgres --n 2000
    .venv/bin/python bench/register.py --db postgres --n 2000 --clients 4

The last line is always ``registrations_per_s=<median>``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import recreate_postgres, statement_kind  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

WARMUP_CASES = 50
QUERY_SAMPLE_CASES = 20
CLIENT_WARMUP_CASES = 10  # per client process, untimed
PHONE_STRIDE = 7_919  # prime, coprime to 10**8: distinct 139xxxxxxxx numbers for 10**8 cases
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}
REPEAT_EVERY = 10  # every tenth case comes from a caller who complained before

DESCRIPTIONS = [
    "用户反映{m}月账单被收取{a}元彩铃费用，从未订购。",
    "用户称{m}月流量超出套餐{a}元，但未收到任何提醒短信。",
    "用户家中宽带近{m}天频繁掉线，多次报修未解决。",
    "用户反映所在小区信号差，通话经常中断，已持续{m}周。",
    "用户称营业厅办理套餐变更时被告知的资费与实际扣费不一致，差额{a}元。",
    "用户反映客服热线等待超过{a}分钟仍无人接听，态度恶劣。",
    "用户申请携号转网被拒，未被告知具体原因。",
    "用户号码因涉诈被关停，称本人从未参与任何诈骗，要求恢复。",
]
DEMANDS = ["退还{a}元", "尽快修复网络", "给出书面解释", "恢复号码使用", "赔偿损失{a}元", ""]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--n", type=int, default=2000, help="cases per timed run (default 2000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument(
        "--pg-url",
        default="postgres://postgres@127.0.0.1:5432/tousu_bench",
        help="PostgreSQL database to drop, create and use (default %(default)s)",
    )
    parser.add_argument(
        "--clients", type=int, default=1, help="client processes registering at once (default 1)"
    )
    parser.add_argument(
        "--two-calls",
        action="store_true",
        help="complaint_register then complaint_accept in one transaction, instead of accept=True",
    )
    parser.add_argument(
        "--no-sla",
        action="store_true",
        help="skip the default SLA calendars and policies (tousu bootstrap loads them in a real installation)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="TOP",
        help="after the timed runs, profile one more run with cProfile and print the TOP functions to stderr",
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.runs < 1 or args.clients < 1:
        parser.error("--n, --runs and --clients must be at least 1")
    return args


def configure(args: argparse.Namespace, workdir: Path) -> None:
    """Environment first, then ``django.setup()``: settings read TOUSU_* once, at import."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tousu.settings"
    os.environ["TOUSU_DATA_DIR"] = str(workdir / "data")
    os.environ.setdefault("TOUSU_LOG_LEVEL", "WARNING")
    os.environ.pop("TOUSU_DEBUG", None)  # DEBUG would record every query and skew the timing
    if args.db == "sqlite":
        os.environ["TOUSU_DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    else:
        recreate_postgres(args.pg_url)
        os.environ["TOUSU_DATABASE_URL"] = args.pg_url

    import django

    django.setup()


class CaseInputs:
    """Deterministic, varied keyword arguments for ``complaint_register``."""

    def __init__(self) -> None:
        from tousu.accounts.models import Region
        from tousu.complaints.choices import BusinessType, Channel, Level, ReplyChannel
        from tousu.complaints.models import Category
        from tousu.ops.seed import CATEGORIES

        business = {code: str(btype) for code, _n, _e, _g, _d, btype, _leaves in CATEGORIES}
        leaves = list(
            Category.objects.filter(is_active=True, children__isnull=True)
            .select_related("parent")
            .order_by("pk")
            .distinct()
        )
        # Leaves under a parent, plus parents with no sub-categories (e.g. "other").
        self.categories = [
            (c.pk, business.get(c.parent.code if c.parent else c.code, BusinessType.OTHER.value))
            for c in leaves
        ]
        if not self.categories:
            raise SystemExit("no leaf categories: did seed_reference() run?")
        self.regions: list[int | None] = [None, *Region.objects.order_by("pk").values_list("pk", flat=True)]
        self.channels = [str(c) for c in Channel.values]
        self.levels = [str(v) for v in Level.values]
        self.reply_channels = [str(v) for v in ReplyChannel.values]
        self.next_index = 0

    @staticmethod
    def phone(i: int) -> str:
        if i >= REPEAT_EVERY and i % REPEAT_EVERY == 0:
            i -= REPEAT_EVERY // 2  # a repeat caller: the customer exists already
        return f"139{(i * PHONE_STRIDE) % 100_000_000:08d}"

    def take(self, count: int) -> list[dict[str, Any]]:
        from django.utils import timezone

        now = timezone.now()
        batch = []
        for i in range(self.next_index, self.next_index + count):
            category_id, business_type = self.categories[i % len(self.categories)]
            channel = self.channels[(i // 3) % len(self.channels)]
            fields: dict[str, Any] = {
                "channel": channel,
                "phone": self.phone(i),
                "customer_name": "张三李四王五赵六"[i % 8] + "先生女士"[(i // 8) % 4],
                "business_type": business_type,
                "category_id": category_id,
                "level": self.levels[(i * 7) % len(self.levels)],
                "description": DESCRIPTIONS[i % len(DESCRIPTIONS)].format(m=1 + i % 12, a=10 + i % 190),
                "demand": DEMANDS[(i // 2) % len(DEMANDS)].format(a=10 + i % 190),
                "preferred_reply_channel": self.reply_channels[(i // 5) % len(self.reply_channels)],
                "region_id": self.regions[(i * 3) % len(self.regions)],
                "received_at": now - timedelta(minutes=i % 240),
                "threatens_external": i % 25 == 0,
            }
            if channel in ("app", "wechat", "web"):  # channel intake carries the message id
                fields["external_id"] = f"{channel}-{i:09d}"
            batch.append(fields)
        self.next_index += count
        return batch


def load_sla_defaults() -> str:
    """The SLA calendars and policies ``tousu bootstrap`` loads, so the clocks start and stop as in
    production. "absent" when this version of tousu has no SLA app."""
    try:
        from tousu.sla.defaults import sla_bootstrap
    except ImportError:
        return "absent"
    return f"on({sla_bootstrap()} policies)"


TWO_CALLS = False  # set from --two-calls


def register_and_accept(actor: Any, cases: list[dict[str, Any]]) -> None:
    from django.db import transaction

    from tousu.complaints.services import complaint_accept, complaint_register

    if TWO_CALLS:
        for fields in cases:
            with transaction.atomic():
                complaint = complaint_register(actor=actor, **fields)
                complaint_accept(actor=actor, complaint_id=complaint.pk)
        return
    for fields in cases:
        complaint_register(actor=actor, accept=True, **fields)


def run_clients(actor: Any, slices: list[list[dict[str, Any]]], warmups: list[list[dict[str, Any]]]) -> float:
    """Register each slice in its own forked process, all started together; returns the wall-clock
    seconds from the common start to the last one's end. Each process first warms up (its own
    connection, the SQL built once) on its warm-up cases, outside the timing."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # each child opens its own connection
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(len(slices) + 1)

    def client(cases: list[dict[str, Any]], warmup: list[dict[str, Any]]) -> None:
        register_and_accept(actor, warmup)
        ready.wait()
        register_and_accept(actor, cases)
        connections.close_all()

    processes = [
        context.Process(target=client, args=(cases, warmup))
        for cases, warmup in zip(slices, warmups, strict=True)
    ]
    for process in processes:
        process.start()
    ready.wait()
    started = time.perf_counter()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise SystemExit(f"error: {len(failed)} client process(es) failed: exit codes {failed}")
    return elapsed


def count_queries(actor: Any, inputs: CaseInputs) -> tuple[float, Counter[str]]:
    """Statements per registered+accepted case as Django records them: data statements plus
    transaction control (BEGIN/COMMIT, SAVEPOINT/RELEASE) and, on PostgreSQL, the after-commit NOTIFY."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cases = inputs.take(QUERY_SAMPLE_CASES)
    with CaptureQueriesContext(connection) as ctx:
        register_and_accept(actor, cases)
    kinds: Counter[str] = Counter(statement_kind(query["sql"]) for query in ctx.captured_queries)
    return len(ctx.captured_queries) / len(cases), kinds


def main(argv: list[str] | None = None) -> int:
    global TWO_CALLS
    args = parse_args(argv)
    TWO_CALLS = args.two_calls
    with tempfile.TemporaryDirectory(prefix="tousu-bench-") as tmp:
        configure(args, Path(tmp))

        from django.core.management import call_command
        from django.db import connection
        from django.db.models import Count

        from tousu.accounts.models import User
        from tousu.complaints.models import Complaint, ComplaintEvent
        from tousu.ops.seed import seed_reference

        call_command("migrate", verbosity=0, interactive=False)
        seed_reference()
        sla = "off" if args.no_sla else load_sla_defaults()
        actor = User.objects.get(username="agent")
        inputs = CaseInputs()

        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        path = "two-calls" if args.two_calls else "accept=True"
        print(
            f"db={connection.vendor} n={args.n} runs={args.runs} clients={args.clients} path={path} "
            f"sla={sla} python={sys.version.split()[0]} loadavg={load}"
        )
        register_and_accept(actor, inputs.take(WARMUP_CASES))

        per_case, kinds = count_queries(actor, inputs)
        breakdown = ", ".join(f"{k}×{v / QUERY_SAMPLE_CASES:g}" for k, v in kinds.most_common())
        control = sum(v for k, v in kinds.items() if k in TRANSACTION_CONTROL) / QUERY_SAMPLE_CASES
        print(f"queries_per_case={per_case:g} data_statements={per_case - control:g} ({breakdown})")

        rates = []
        client_warmups = 0
        for run in range(1, args.runs + 1):
            cases = inputs.take(args.n)
            if args.clients > 1:
                size = -(-args.n // args.clients)
                slices = [cases[i : i + size] for i in range(0, args.n, size)]
                warmups = [inputs.take(CLIENT_WARMUP_CASES) for _slice in slices]
                client_warmups += CLIENT_WARMUP_CASES * len(slices)
                elapsed = run_clients(actor, slices, warmups)
                cpu = ""
            else:
                started, cpu_started = time.perf_counter(), time.process_time()
                register_and_accept(actor, cases)
                elapsed = time.perf_counter() - started
                cpu_ms = (
                    (time.process_time() - cpu_started) * 1000 / args.n
                )  # this process only, not the server
                cpu = f" client_cpu_ms_per_case={cpu_ms:.2f}"
            rate = args.n / elapsed
            rates.append(rate)
            print(f"run={run} registrations_per_s={rate:.1f} seconds={elapsed:.3f}{cpu}")

        if args.profile:
            cases = inputs.take(args.n)
            profiler = cProfile.Profile()
            profiler.enable()
            register_and_accept(actor, cases)
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats("cumulative").print_stats(args.profile)
            stats.sort_stats("tottime").print_stats(args.profile)

        expected = (
            WARMUP_CASES
            + QUERY_SAMPLE_CASES
            + client_warmups
            + args.n * (args.runs + (1 if args.profile else 0))
        )
        total = Complaint.objects.count()
        accepted = Complaint.objects.filter(status="accepted").exclude(ticket_no=None).count()
        events = ComplaintEvent.objects.count()
        kinds = dict(
            ComplaintEvent.objects.filter(kind__in=["registered", "accepted"])
            .values_list("kind")
            .annotate(n=Count("id"))
        )
        outbox = ComplaintEvent.objects.filter(kind="accepted", pending_dispatch=True).count()
        if not total == accepted == kinds.get("registered") == kinds.get("accepted") == outbox == expected:
            print(
                f"error: expected {expected} accepted cases with a registered and an accepted event "
                f"(pending dispatch) each; got {total} cases, {accepted} accepted, events {kinds}, "
                f"{outbox} pending"
            )
            return 1
        median = statistics.median(rates)
        print(
            f"summary db={connection.vendor} clients={args.clients} path={path} runs={args.runs} n={args.n} "
            f"median={median:.1f} min={min(rates):.1f} max={max(rates):.1f} "
            f"cases={total} events={events} outbox_rows={outbox} "
            f"loadavg={' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(f"registrations_per_s={median:.1f}")
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
