"""Benchmark: the SLA sweep over a large backlog of open cases (PostgreSQL).

Seeds ``--open`` open cases with their SLA clocks into a dropped and re-created PostgreSQL
database (binary COPY through ``bulk_insert_rows``; one customer row serves several cases), using
the calendars, policies and level rules of ``sla_bootstrap()``. The clock mix follows the case
lifecycle: first response met for every accepted case (late ones breached), the 15-day reply
running or paused, second response running for dispatched cases, return visits running for
replied ones, regulator and repair clocks where their policies match, and so on. Most clocks that
are not running are met, so the partial indexes over running clocks hold what production holds.
Then it measures:

1. the idle sweep: nothing due and nothing to warn (every running clock is due, and warns, at least
   30 minutes after seeding), one ``sla_sweep()`` call timed ``--runs`` times after three
   warm-up calls;
2. due processing: ``--due`` running clocks of as many cases are made due (an UPDATE moving their
   due time into the past, their warning already sent), then ``sla_breach()`` is called until
   it returns 0; each breach writes the breach row, the timeline event and the escalation through
   the case services. ``--rounds`` rounds, each on fresh clocks.

Usage, from the repository root::

    .venv/bin/python bench/sla_sweep.py --open 100000
    .venv/bin/python bench/sla_sweep.py --open 1000000 --due 3000 --profile 30

The database is dropped at the end unless ``--keep``. The last two lines are always
``idle_sweep_ms=<median>`` and ``due_per_s=<median>``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from _common import recreate_postgres, statement_kind  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

CHUNK = 50_000  # cases per COPY transaction
CASES_PER_CUSTOMER = 4
MARGIN = timedelta(minutes=30)  # no running clock is due, or warns, sooner than this after seeding
WARMUP_SWEEPS = 3
WARMUP_BREACHES = 100
QUERY_SAMPLE = 500  # breaches whose statements are counted and timed: one batch of the sweep
MAX_AGE_DAYS = 20
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "NOTIFY"}

# Where the open backlog stands (cases younger than half an hour are still registered or accepted).
STATUS_WEIGHTS = [
    ("accepted", 8),
    ("dispatched", 14),
    ("investigating", 30),
    ("awaiting_customer", 6),
    ("plan_proposed", 12),
    ("awaiting_approval", 3),
    ("replied", 18),
    ("return_visit", 5),
    ("reopened", 4),
]
LEVEL_WEIGHTS = [("dissatisfied", 62), ("very_dissatisfied", 28), ("major", 8), ("crisis", 2)]
CHANNEL_WEIGHTS = [
    ("hotline", 50),
    ("app", 12),
    ("wechat", 10),
    ("online_chat", 8),
    ("web", 5),
    ("store", 6),
    ("email", 2),
    ("social_media", 2),
    ("letter", 1),
    ("regulator", 4),
]
DISPATCHED_OR_LATER = {
    "dispatched",
    "investigating",
    "awaiting_customer",
    "plan_proposed",
    "awaiting_approval",
    "replied",
    "return_visit",
    "reopened",
}
INVESTIGATED_OR_LATER = DISPATCHED_OR_LATER - {"dispatched"}
PLANNED_OR_LATER = {"plan_proposed", "awaiting_approval", "replied", "return_visit", "reopened"}
REPLIED_OR_LATER = {"replied", "return_visit", "reopened"}
VISITED = {"return_visit", "reopened"}
EVENTS_BY_STATUS = {  # the case's version: one per event written since registration
    "registered": 1,
    "accepted": 2,
    "dispatched": 3,
    "investigating": 4,
    "awaiting_customer": 5,
    "plan_proposed": 5,
    "awaiting_approval": 6,
    "replied": 6,
    "return_visit": 7,
    "reopened": 9,
}

# Columns the bench writes per table; every other column must have a default (checked at start).
COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": (
        "id",
        "name",
        "phone",
        "region_id",
        "is_blacklisted",
        "created_at",
        "updated_at",
    ),
    "complaint": (
        "id",
        "ticket_no",
        "status",
        "version",
        "channel",
        "customer_id",
        "business_type",
        "category_id",
        "level",
        "region_id",
        "description",
        "demand",
        "preferred_reply_channel",
        "threatens_external",
        "registered_by_id",
        "first_contact_owner_id",
        "lead_department_id",
        "assignee_id",
        "escalation_level",
        "reopen_count",
        "is_first_contact_resolution",
        "received_at",
        "registered_at",
        "accepted_at",
        "replied_at",
        "status_changed_at",
        "updated_at",
    ),
    "clock": (
        "id",
        "complaint_id",
        "policy_id",
        "kind",
        "cycle",
        "state",
        "calendar_id",
        "target_minutes",
        "started_at",
        "due_at",
        "warn_at",
        "warned_at",
        "paused_at",
        "met_at",
        "breached_at",
        "ended_at",
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--open", type=int, default=100_000, help="open cases to seed (default 100000)")
    parser.add_argument("--due", type=int, default=3000, help="clocks made due per round (default 3000)")
    parser.add_argument("--runs", type=int, default=15, help="timed idle sweeps (default 15)")
    parser.add_argument("--rounds", type=int, default=3, help="timed due-processing rounds (default 3)")
    parser.add_argument("--seed", type=int, default=20261123, help="random seed (default %(default)s)")
    parser.add_argument(
        "--pg-url",
        default="postgres://postgres@127.0.0.1:5432/tousu_bench_sla",
        help="PostgreSQL database to drop, create and use (default %(default)s)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="TOP",
        help="after the timed rounds, profile one more round with cProfile and print the TOP functions to stderr",
    )
    parser.add_argument(
        "--profile-out", metavar="PATH", help="with --profile: also save the raw cProfile stats to PATH"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print the plans of the two idle sweep queries to stderr"
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database at the end")
    args = parser.parse_args(argv)
    if args.open < 1 or args.due < 1 or args.runs < 1 or args.rounds < 1:
        parser.error("--open, --due, --runs and --rounds must be at least 1")
    return args


# --- database ----------------------------------------------------------------------------------


def _database_name(url: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    name = conninfo_to_dict(url).get("dbname")
    if not name or name == "postgres":
        raise SystemExit(f"--pg-url must name a benchmark database other than 'postgres': {url}")
    return str(name)


def _maintenance(url: str, statement: str) -> None:
    """Run one statement on ``--pg-url``'s database, connected to the ``postgres`` database."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    name = _database_name(url)
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(name)))


def drop_postgres(url: str) -> None:
    _maintenance(url, "DROP DATABASE IF EXISTS {} WITH (FORCE)")


def configure(args: argparse.Namespace, workdir: Path) -> None:
    """Environment first, then ``django.setup()``: settings read TOUSU_* once, at import."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tousu.settings"
    os.environ["TOUSU_DATA_DIR"] = str(workdir / "data")
    os.environ.setdefault("TOUSU_LOG_LEVEL", "WARNING")
    os.environ.pop("TOUSU_DEBUG", None)  # DEBUG would record every query and skew the timing
    recreate_postgres(args.pg_url)
    os.environ["TOUSU_DATABASE_URL"] = args.pg_url

    import django

    django.setup()


# --- rows --------------------------------------------------------------------------------------


class Layout:
    """All columns of a model's table, in order, with each field's default; ``make`` fills a row."""

    def __init__(self, model: Any, written: Iterable[str]) -> None:
        from django.db.models.fields import NOT_PROVIDED

        fields = list(model._meta.concrete_fields)
        self.model = model
        self.columns = [f.column for f in fields]
        self.at = {c: i for i, c in enumerate(self.columns)}
        written = set(written)
        unknown = written - set(self.columns)
        if unknown:
            raise SystemExit(
                f"{model._meta.label} has no column {sorted(unknown)}; update bench/sla_sweep.py"
            )
        self.template: list[Any] = []
        for f in fields:
            value = f.get_default()  # "" for text fields without a default, as the ORM writes
            missing = value is None and not f.null and f.db_default is NOT_PROVIDED
            if f.column not in written and missing:
                raise SystemExit(f"no value for {model._meta.label}.{f.name}; update bench/sla_sweep.py")
            self.template.append(value)

    def make(self, values: dict[str, Any]) -> list[Any]:
        row = self.template.copy()
        at = self.at
        for column, value in values.items():
            row[at[column]] = value
        return row


class _Weighted:
    def __init__(self, pairs: list[tuple[str, int]]) -> None:
        self.values = [p[0] for p in pairs]
        total = 0
        self.cum: list[int] = []
        for _value, weight in pairs:
            total += weight
            self.cum.append(total)

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.values, cum_weights=self.cum)[0]


class World:
    """Reference data read back from the database, and the generator of cases and clocks."""

    def __init__(self, *, open_cases: int, seed: int) -> None:
        from django.utils import timezone

        from tousu.accounts.models import Department, Region, User
        from tousu.accounts.roles import Role
        from tousu.complaints.models import Category, Complaint
        from tousu.customers.models import Customer
        from tousu.ops.seed import CATEGORIES, TEXTS, _fill
        from tousu.sla.models import BusinessCalendar, LevelRule, SlaClock, SlaPolicy

        self.rng = random.Random(seed)
        self.now = timezone.now()
        self.customers = Layout(Customer, COLUMNS["customer"])
        self.complaints = Layout(Complaint, COLUMNS["complaint"])
        self.clocks = Layout(SlaClock, COLUMNS["clock"])
        self.n_customers = max(1, open_cases // CASES_PER_CUSTOMER)

        users = list(User.objects.select_related("department"))
        by_name = {u.username: u for u in users}
        self.agent = by_name["agent"].pk
        self.departments = {d.code: d.pk for d in Department.objects.all()}
        self.handlers = {
            u.department.code: u.pk for u in users if u.role == Role.HANDLER and u.department is not None
        }
        business = {c[0]: str(c[5]) for c in CATEGORIES}
        leaves = (
            Category.objects.filter(is_active=True, children__isnull=True)
            .select_related("parent", "default_department")
            .order_by("pk")
            .distinct()
        )
        rng = self.rng
        self.categories: list[tuple[int, str, str, list[tuple[str, str]]]] = []
        for c in leaves:
            top = c.parent.code if c.parent else c.code
            texts = [(_fill(d, rng), _fill(m, rng)) for d, m in TEXTS.get(c.code, TEXTS["other"]) * 4]
            dept = c.default_department.code if c.default_department else "customer_service"
            self.categories.append((c.pk, dept, business.get(top, "other"), texts))
        if not self.categories:
            raise SystemExit("no leaf categories: did seed_reference() run?")
        self.family: dict[int, set[int]] = {}
        for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
            self.family.setdefault(pk, set()).add(pk)
            if parent_id is not None:
                self.family.setdefault(parent_id, set()).add(pk)
        self.regions: list[tuple[int | None, bool | None]] = [
            *Region.objects.order_by("pk").values_list("pk", "is_rural"),
            (None, None),
        ]
        self.specs = {c.pk: c.spec() for c in BusinessCalendar.objects.prefetch_related("days")}
        self.policies: dict[str, list[Any]] = {}
        for p in SlaPolicy.objects.filter(is_active=True).order_by("clock", "order", "id"):
            self.policies.setdefault(p.clock, []).append(p)
        if "reply" not in self.policies:
            raise SystemExit("no SLA policies: did sla_bootstrap() run?")
        self._chosen: dict[tuple[str, str, int, bool | None], dict[str, Any]] = {}
        self.statuses = _Weighted(STATUS_WEIGHTS)
        self.levels = _Weighted(LEVEL_WEIGHTS)
        self.channels = _Weighted(CHANNEL_WEIGHTS)
        self.escalate_to = {r.level: r.escalate_to_level for r in LevelRule.objects.all()}
        self.next_clock = 1
        self.counts: Counter[str] = Counter()
        self.dueable: list[int] = []  # one running clock per case: what the due rounds arm

    # -- policies --

    def _policy(self, kind: str, level: str, channel: str, category_id: int, rural: bool | None) -> Any:
        for p in self.policies.get(kind, ()):
            if p.match_levels and level not in p.match_levels:
                continue
            if p.match_channels and channel not in p.match_channels:
                continue
            if p.match_category_id is not None and category_id not in self.family[p.match_category_id]:
                continue
            if p.match_area == "urban" and rural is not False:
                continue
            if p.match_area == "rural" and rural is not True:
                continue
            return p
        return None

    def chosen(self, level: str, channel: str, category_id: int, rural: bool | None) -> dict[str, Any]:
        """The first matching policy of every clock kind for a case like this one (cached)."""
        key = (level, channel, category_id, rural)
        found = self._chosen.get(key)
        if found is None:
            found = {}
            for kind in self.policies:
                policy = self._policy(kind, level, channel, category_id, rural)
                if policy is not None:
                    found[kind] = policy
            self._chosen[key] = found
        return found

    # -- clocks --

    def _add(self, policy: Any, start: datetime, amount: timedelta) -> datetime:
        from tousu.sla.calendars import add_business_time

        spec = self.specs[policy.calendar_id]
        return start + amount if spec.always_open else add_business_time(spec, start, amount)

    def clock(
        self,
        out: list[list[Any]],
        complaint_id: int,
        policy: Any,
        started: datetime,
        *,
        stopped: datetime | None = None,
        paused: datetime | None = None,
        cycle: int = 1,
    ) -> tuple[int, str]:
        """One clock row as the SLA services would have left it by now. Returns (id, state)."""
        now, rng = self.now, self.rng
        target = timedelta(minutes=policy.target_minutes)
        due = self._add(policy, started, target)
        warn: datetime | None = None
        if policy.warn_percent:
            warn = self._add(policy, started, target * policy.warn_percent / 100)
        elif policy.warn_lead_minutes:
            warn = self._add(
                policy, started, target - min(timedelta(minutes=policy.warn_lead_minutes), target)
            )
        values: dict[str, Any] = {}
        if stopped is not None:  # met, on time or late
            state = "met" if stopped <= due else "breached"
            values = {"met_at": stopped, "ended_at": stopped}
            if state == "breached":
                values["breached_at"] = due
            horizon = stopped
        elif paused is not None and due > paused:
            state = "paused"
            values = {"paused_at": paused}
            horizon = paused
        elif due <= now or paused is not None:  # missed, not met yet: stays open
            state = "breached"
            values = {"breached_at": due}
            horizon = due
        else:
            state = "running"
            horizon = now
            if due < now + MARGIN:  # would fall due while seeding or measuring: give it more time
                due = now + MARGIN + timedelta(seconds=rng.uniform(0, 7200))
            if warn is not None and warn < now + MARGIN:  # warned already (within the margin: now)
                values["warned_at"] = min(warn, now)
                warn = min(warn, due)
        if warn is not None and warn <= horizon and "warned_at" not in values:
            values["warned_at"] = warn
        clock_id = self.next_clock
        self.next_clock += 1
        values.update(
            id=clock_id,
            complaint_id=complaint_id,
            policy_id=policy.pk,
            kind=policy.clock,
            cycle=cycle,
            state=state,
            calendar_id=policy.calendar_id,
            target_minutes=policy.target_minutes,
            started_at=started,
            due_at=due,
            warn_at=warn,
        )
        out.append(self.clocks.make(values))
        self.counts[f"{policy.clock}:{state}"] += 1
        return clock_id, state

    # -- rows --

    def customer_rows(self, first: int, last: int) -> list[list[Any]]:
        rng, now = self.rng, self.now
        rows = []
        for cid in range(first, last + 1):
            created = now - timedelta(days=400 + cid % 300)
            serial = (cid * 7_919_341) % 100_000_000
            rows.append(
                self.customers.make(
                    {
                        "id": cid,
                        "name": "张王李赵刘陈杨黄"[cid % 8] + "伟芳娜敏静丽强磊"[(cid // 8) % 8],
                        "phone": f"+86139{serial:08d}",
                        "region_id": self.regions[rng.randrange(len(self.regions))][0],
                        "is_blacklisted": False,
                        "created_at": created,
                        "updated_at": created,
                    }
                )
            )
        return rows

    def case_rows(self, first: int, last: int) -> tuple[list[list[Any]], list[list[Any]]]:
        """Complaints ``first``..``last`` and their clocks."""
        complaints: list[list[Any]] = []
        clocks: list[list[Any]] = []
        for cid in range(first, last + 1):
            complaints.append(self._case(cid, clocks))
        return complaints, clocks

    def _case(self, cid: int, clocks: list[list[Any]]) -> list[Any]:
        rng, now = self.rng, self.now
        minute = timedelta(minutes=1)
        category_id, dept, business, texts = self.categories[rng.randrange(len(self.categories))]
        region_id, rural = self.regions[rng.randrange(len(self.regions))]
        level = self.levels.draw(rng)
        channel = self.channels.draw(rng)
        age = timedelta(days=MAX_AGE_DAYS * rng.random() ** 2)
        registered = now - age
        if age < timedelta(minutes=30):
            status = "registered" if rng.random() < 0.5 else "accepted"
        else:
            status = self.statuses.draw(rng)
        accepted = registered + minute * rng.uniform(1, 15)
        dispatched = accepted + minute * rng.uniform(5, 60)
        investigated = dispatched + minute * rng.uniform(30, 480)
        if accepted > now:
            status = "registered"
        elif status in DISPATCHED_OR_LATER and dispatched > now:
            status = "accepted"
        elif status in INVESTIGATED_OR_LATER and investigated > now:
            status = "dispatched"
        span = now - investigated
        waiting = planned = replied = visited = None
        changed = {"registered": registered, "accepted": accepted, "dispatched": dispatched}.get(status)
        if status == "investigating":
            changed = investigated
        elif status == "awaiting_customer":
            waiting = changed = investigated + span * rng.uniform(0.2, 0.95)
        elif status in PLANNED_OR_LATER:
            planned = investigated + span * rng.uniform(0.05, 0.5)
            changed = planned
            if status == "awaiting_approval":
                changed = planned + (now - planned) * rng.uniform(0.5, 0.99)
            elif status in REPLIED_OR_LATER:
                replied = changed = planned + (now - planned) * rng.uniform(0.1, 0.8)
                if status in VISITED:
                    visited = changed = replied + (now - replied) * rng.uniform(0.3, 0.9)
                    if status == "reopened":
                        changed = visited + (now - visited) * rng.uniform(0.1, 0.9)
        assert changed is not None

        # Clocks, in the order the events started them.
        policies = self.chosen(level, channel, category_id, rural)
        running: list[int] = []

        def add(kind: str, started: datetime, **kw: Any) -> None:
            policy = policies.get(kind)
            if policy is not None:
                clock_id, state = self.clock(clocks, cid, policy, started, **kw)
                if state == "running":
                    running.append(clock_id)

        is_accepted = status != "registered"
        add("first_response", registered, stopped=accepted if is_accepted else None)
        add("regulator_accept", registered, stopped=accepted if is_accepted else None)
        for kind in ("reply", "regulator_answer", "repair"):
            add(kind, registered, stopped=replied, paused=waiting)
        if status in DISPATCHED_OR_LATER:
            add("second_response", dispatched, stopped=planned, paused=waiting)
        if planned is not None and (status == "awaiting_approval" or rng.random() < 0.2):
            requested = planned + minute * rng.uniform(1, 30)
            decided = None
            if status == "awaiting_approval":
                requested = changed
            else:
                decided = min(now, requested + minute * rng.uniform(10, 600))
            add("remedy_approval", requested, stopped=decided)
        if replied is not None:
            add("return_visit", replied, stopped=visited)
        if running:
            self.dueable.append(running[rng.randrange(len(running))])

        escalation = self.escalate_to.get(level, 0)
        threat = rng.random() < 0.03
        if threat:
            escalation = max(escalation, 1)
        if status == "reopened":
            escalation = min(3, escalation + 1)
        text, demand = texts[rng.randrange(len(texts))]
        dispatched_yet = status in DISPATCHED_OR_LATER
        self.counts[f"status:{status}"] += 1
        return self.complaints.make(
            {
                "id": cid,
                "ticket_no": f"TS{accepted:%Y%m%d}{cid:08d}" if is_accepted else None,
                "status": status,
                "version": EVENTS_BY_STATUS[status] + (1 if escalation else 0),
                "channel": channel,
                "customer_id": 1 + rng.randrange(self.n_customers),
                "business_type": business,
                "category_id": category_id,
                "level": level,
                "region_id": region_id,
                "description": text,
                "demand": demand,
                "preferred_reply_channel": "phone",
                "threatens_external": threat,
                "registered_by_id": self.agent,
                "first_contact_owner_id": self.agent,
                "lead_department_id": self.departments[dept] if dispatched_yet else None,
                "assignee_id": self.handlers.get(dept, self.handlers.get("customer_service"))
                if dispatched_yet
                else None,
                "escalation_level": escalation,
                "reopen_count": 1 if status == "reopened" else 0,
                "is_first_contact_resolution": False,
                "received_at": registered - minute * rng.uniform(0, 3),
                "registered_at": registered,
                "accepted_at": accepted if is_accepted else None,
                "replied_at": replied,
                "status_changed_at": changed,
                "updated_at": changed,
            }
        )


# --- seeding -----------------------------------------------------------------------------------


def _write(
    world: World, customers: list[list[Any]], complaints: list[list[Any]], clocks: list[list[Any]]
) -> None:
    from django.db import transaction

    from tousu.common.db import bulk_insert_rows

    with transaction.atomic():
        if customers:
            bulk_insert_rows(world.customers.model, world.customers.columns, customers)
        if complaints:
            bulk_insert_rows(world.complaints.model, world.complaints.columns, complaints)
        if clocks:
            bulk_insert_rows(world.clocks.model, world.clocks.columns, clocks)


def _close_thread_connections() -> None:
    from django.db import connections

    connections.close_all()


def seed(args: argparse.Namespace) -> World:
    """Reference data, SLA defaults, then customers, cases and clocks by COPY. Python builds the
    next chunk while a second thread (its own connection) writes the previous one."""
    from django.core.management import call_command
    from django.db import connection

    from tousu.common.db import reset_sequence
    from tousu.ops.seed import seed_reference
    from tousu.sla.defaults import sla_bootstrap

    call_command("migrate", verbosity=0, interactive=False)
    seed_reference()
    sla_bootstrap()
    world = World(open_cases=args.open, seed=args.seed)

    started = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-writer")
    pending: Future[None] | None = None

    def submit(job: Callable[[], None]) -> None:
        nonlocal pending
        if pending is not None:
            pending.result()
        pending = pool.submit(job)

    try:
        for first in range(1, world.n_customers + 1, CHUNK * 2):
            last = min(world.n_customers, first + CHUNK * 2 - 1)
            rows = world.customer_rows(first, last)
            submit(lambda rows=rows: _write(world, rows, [], []))
        for first in range(1, args.open + 1, CHUNK):
            last = min(args.open, first + CHUNK - 1)
            complaints, clocks = world.case_rows(first, last)
            submit(lambda c=complaints, k=clocks: _write(world, [], c, k))
        if pending is not None:
            pending.result()
    finally:
        pool.submit(_close_thread_connections)
        pool.shutdown(wait=True)
    loaded = time.perf_counter() - started

    for model in (world.customers.model, world.complaints.model, world.clocks.model):
        reset_sequence(model)
    tables = ", ".join(
        connection.ops.quote_name(m._meta.db_table)
        for m in (world.customers.model, world.complaints.model, world.clocks.model)
    )
    with connection.cursor() as cursor:
        # VACUUM ANALYZE: statistics for the planner, and no autovacuum of the fresh tables
        # running behind the measurement; then a checkpoint, so its writes are not measured either.
        cursor.execute(f"VACUUM (ANALYZE) {tables}")
        cursor.execute("CHECKPOINT")
    total = time.perf_counter() - started
    clocks = world.next_clock - 1
    print(
        f"seeded open_cases={args.open} customers={world.n_customers} clocks={clocks} "
        f"copy_seconds={loaded:.1f} seed_seconds={total:.1f}"
    )
    states: Counter[str] = Counter()
    for key, count in world.counts.items():
        if not key.startswith("status:"):
            states[key.split(":", 1)[1]] += count
    print("clock_states " + " ".join(f"{k}={v}" for k, v in states.most_common()))
    kinds = sorted(k for k in world.counts if not k.startswith("status:"))
    print("clocks " + " ".join(f"{k}={world.counts[k]}" for k in kinds))
    print(
        "statuses "
        + " ".join(f"{k[7:]}={v}" for k, v in world.counts.most_common() if k.startswith("status:"))
    )
    return world


# --- measurements ------------------------------------------------------------------------------


def check_idle() -> None:
    """Refuse to measure an idle sweep that is not idle (seeding took longer than the margin)."""
    from django.utils import timezone

    from tousu.sla.models import SlaClock

    soon = timezone.now() + timedelta(minutes=2)
    due = SlaClock.objects.filter(state="running", due_at__lte=soon).count()
    warn = SlaClock.objects.filter(state="running", warned_at__isnull=True, warn_at__lte=soon).count()
    if due or warn:
        raise SystemExit(f"not idle: {due} clocks due and {warn} to warn within 2 minutes; raise MARGIN")


def explain_idle() -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from tousu.sla.models import SlaClock

    now = timezone.now()
    queries = {
        "sla_warn": SlaClock.objects.filter(state="running", warned_at__isnull=True, warn_at__lte=now)
        .order_by("warn_at")
        .only("id", "complaint_id", "kind", "cycle", "due_at"),
        "sla_breach": SlaClock.objects.filter(state="running", due_at__lte=now)
        .order_by("due_at")
        .select_related("policy"),
    }
    for name, queryset in queries.items():
        with transaction.atomic():
            sql, params = queryset.select_for_update(skip_locked=True, of=("self",))[
                :500
            ].query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                plan = "\n  ".join(row[0] for row in cursor.fetchall())
        print(f"plan {name}:\n  {plan}", file=sys.stderr)


def measure_idle(runs: int) -> list[float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tousu.complaints.services.deadlines import sla_sweep

    check_idle()
    for _ in range(WARMUP_SWEEPS):
        if sla_sweep():
            raise SystemExit("the idle sweep handled clocks: the backlog is not idle")
    with CaptureQueriesContext(connection) as ctx:
        sla_sweep()
    kinds = Counter(statement_kind(q["sql"]) for q in ctx.captured_queries)
    print(f"idle_queries={len(ctx.captured_queries)} ({', '.join(f'{k}×{v}' for k, v in kinds.items())})")
    times = []
    for run in range(1, runs + 1):
        started = time.perf_counter()
        handled = sla_sweep()
        elapsed = (time.perf_counter() - started) * 1000
        if handled:
            raise SystemExit(f"run {run}: the idle sweep handled {handled} clocks")
        times.append(elapsed)
        print(f"run={run} idle_sweep_ms={elapsed:.3f}")
    return times


def arm(clock_ids: list[int]) -> None:
    """Make these running clocks due: due a second to an hour ago, the warning already sent."""
    from django.db import connection, transaction
    from django.utils import timezone

    from tousu.sla.models import SlaClock

    table = connection.ops.quote_name(SlaClock._meta.db_table)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET due_at = %s - interval '1 second' * (1 + random() * 3600), "
            "warned_at = COALESCE(warned_at, %s - interval '2 hours') "
            "WHERE id = ANY(%s) AND state = 'running'",
            [now, now, clock_ids],
        )
        if cursor.rowcount != len(clock_ids):
            raise SystemExit(f"armed {cursor.rowcount} of {len(clock_ids)} clocks")


def drain() -> tuple[int, int]:
    """Call ``sla_breach()`` until nothing is due. Returns (breaches, calls)."""
    from tousu.complaints.services.deadlines import sla_breach

    total = calls = 0
    while True:
        calls += 1
        handled = sla_breach()
        if not handled:
            return total, calls
        total += handled


def measure_due(args: argparse.Namespace, world: World) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rng = random.Random(args.seed + 1)
    needed = WARMUP_BREACHES + QUERY_SAMPLE + args.due * (args.rounds + (1 if args.profile else 0))
    if len(world.dueable) < needed:
        raise SystemExit(f"{len(world.dueable)} cases with running clocks; need {needed}: raise --open")
    pool = rng.sample(world.dueable, needed)

    def take(count: int) -> list[int]:
        batch = pool[-count:]
        del pool[-count:]
        return batch

    # Warm-up (policy cache, cold pages), then one batch with every statement captured and timed.
    arm(take(WARMUP_BREACHES))
    drain()
    arm(take(QUERY_SAMPLE))
    seconds: Counter[str] = Counter()

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds[statement_kind(sql)] += time.perf_counter() - started

    started = time.perf_counter()
    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(timed):
        handled, _calls = drain()
    elapsed = time.perf_counter() - started
    if handled != QUERY_SAMPLE:
        raise SystemExit(f"query sample: {handled} breaches of {QUERY_SAMPLE}")
    kinds = Counter(statement_kind(query["sql"]) for query in ctx.captured_queries)
    per = len(ctx.captured_queries) / handled
    data = sum(v for k, v in kinds.items() if k not in TRANSACTION_CONTROL) / handled
    breakdown = ", ".join(f"{k}×{v / handled:.3g}" for k, v in kinds.most_common())
    print(f"queries_per_breach={per:.2f} data_statements={data:.2f} ({breakdown})")
    db_ms = sum(seconds.values()) * 1000 / handled
    timing = ", ".join(f"{k} {v * 1000 / handled:.3f}" for k, v in seconds.most_common(8))
    print(  # time in cursor.execute (round trip and server); BEGIN/COMMIT are not timed
        f"sample_ms_per_breach={elapsed * 1000 / handled:.3f} in_statements_ms={db_ms:.3f} "
        f"(ms per breach: {timing})"
    )

    rates = []
    processed = WARMUP_BREACHES + QUERY_SAMPLE
    for rnd in range(1, args.rounds + 1):
        arm(take(args.due))
        started = time.perf_counter()
        handled, calls = drain()
        elapsed = time.perf_counter() - started
        processed += handled
        if handled != args.due:
            print(f"warning: round {rnd} handled {handled} of {args.due}")
        rate = handled / elapsed
        rates.append(rate)
        print(f"round={rnd} breaches={handled} calls={calls} seconds={elapsed:.3f} due_per_s={rate:.1f}")

    if args.profile:
        arm(take(args.due))
        profiler = cProfile.Profile()
        profiler.enable()
        handled, _calls = drain()
        profiler.disable()
        processed += handled
        if args.profile_out:
            profiler.dump_stats(args.profile_out)
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)
    return rates, processed


def verify(processed: int) -> None:
    from django.utils import timezone

    from tousu.complaints.models import ComplaintEvent
    from tousu.sla.models import SlaBreach, SlaClock

    breaches = SlaBreach.objects.count()
    events = ComplaintEvent.objects.filter(kind="sla_breached").count()
    escalated = ComplaintEvent.objects.filter(kind="escalated").count()
    running_due = SlaClock.objects.filter(state="running", due_at__lte=timezone.now()).count()
    print(f"check breaches={breaches} breach_events={events} escalations={escalated} still_due={running_due}")
    if breaches != processed or events != processed or running_due:
        raise SystemExit(f"expected {processed} breaches and events and nothing left due")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tousu-bench-") as tmp:
        configure(args, Path(tmp))
        from django.db import connection

        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT version()")
                version = cursor.fetchone()[0].split(" on ")[0]
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(
                f"db={version} open={args.open} due={args.due} runs={args.runs} rounds={args.rounds} "
                f"python={sys.version.split()[0]} cpus={os.cpu_count()} loadavg={load}"
            )
            world = seed(args)
            if args.explain:
                explain_idle()
            idle = measure_idle(args.runs)
            rates, processed = measure_due(args, world)
            verify(processed)
            if args.explain:
                explain_idle()
            median_idle = statistics.median(idle)
            median_rate = statistics.median(rates)
            print(
                f"summary open={args.open} idle_ms median={median_idle:.3f} min={min(idle):.3f} "
                f"max={max(idle):.3f} due_per_s median={median_rate:.1f} min={min(rates):.1f} "
                f"max={max(rates):.1f} loadavg={' '.join(f'{x:.2f}' for x in os.getloadavg())}"
            )
            print(f"idle_sweep_ms={median_idle:.3f}")
            print(f"due_per_s={median_rate:.1f}")
        finally:
            connection.close()
            if not args.keep:
                drop_postgres(args.pg_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
