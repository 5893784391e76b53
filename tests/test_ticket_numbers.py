"""Ticket numbers reserved in blocks (docs/adr/0006-ticket-number-blocks.md): exact numbers with
blocks of 1 and 3, nothing cached by a rolled-back reservation, the cache dropped when the day
changes, and unique numbers from several processes and threads at once on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from tousu.complaints import services as svc
from tousu.complaints.models import Complaint, TicketCounter
from tousu.complaints.services._tickets import ticket_cache_clear

pytestmark = pytest.mark.django_db(transaction=True)  # real commits: on_commit runs

DAY = "2026-11-23 10:15:00+08:00"


@pytest.fixture(autouse=True)
def _clean_cache(time_machine):
    time_machine.move_to(DAY, tick=False)
    ticket_cache_clear()
    yield
    ticket_cache_clear()


def _register(cases: Any, i: int, **fields: Any) -> Complaint:
    return cases.register(phone=f"1391234{i:04d}", **fields)


def _counter(day: str = "2026-11-23") -> int | None:
    row = TicketCounter.objects.filter(day=day).first()
    return row.last if row is not None else None


def _rolled_back(run: Any) -> Any:
    """What ``run`` returned inside a transaction that then rolled back."""
    result = []

    def fail() -> None:
        with transaction.atomic():
            result.append(run())
            raise RuntimeError("the transaction fails after the case took its number")

    with pytest.raises(RuntimeError):
        fail()
    return result[0]


def _counter_statements(run: Any) -> int:
    table = TicketCounter._meta.db_table
    with CaptureQueriesContext(connection) as ctx:
        run()
    return sum(table in q["sql"] for q in ctx.captured_queries)


def test_blocks_of_one_take_the_counter_every_time(cases, people, settings):
    settings.TOUSU_TICKET_BLOCK = 1
    agent = people["agent"]
    issued, counters, statements = [], [], []
    for i in range(4):
        c = _register(cases, i)
        n = _counter_statements(
            lambda c=c: issued.append(svc.complaint_accept(actor=agent, complaint_id=c.pk))
        )
        statements.append(n)
        counters.append(_counter())
    assert [c.ticket_no for c in issued] == [f"TS20261123{n:06d}" for n in (1, 2, 3, 4)]
    assert counters == [1, 2, 3, 4]
    assert statements[1:] == [1, 1, 1]  # one UPDATE … RETURNING each


def test_blocks_of_three_reserve_then_issue_from_the_cache(cases, people, settings):
    """Every path: register+accept in one call, complaint_accept and complaint_reject."""
    settings.TOUSU_TICKET_BLOCK = 3
    agent = people["agent"]
    issued, counters, statements = [], [], []

    def accept_true(i: int) -> Complaint:
        return _register(cases, i, accept=True)

    def accept(i: int) -> Complaint:
        return svc.complaint_accept(actor=agent, complaint_id=_register(cases, i).pk)

    def reject(i: int) -> Complaint:
        c = _register(cases, i)
        return svc.complaint_reject(
            actor=agent, complaint_id=c.pk, reason="repeated", explanation="已有相同投诉在处理中。"
        )

    for i, way in enumerate([accept_true, accept, reject, accept, accept_true, reject, accept_true]):
        statements.append(_counter_statements(lambda i=i, way=way: issued.append(way(i))))
        counters.append(_counter())
    assert [c.ticket_no for c in issued] == [f"TS20261123{n:06d}" for n in range(1, 8)]
    assert [Complaint.objects.get(pk=c.pk).ticket_no for c in issued] == [c.ticket_no for c in issued]
    assert counters == [3, 3, 3, 6, 6, 6, 9]  # the highest number reserved, not issued
    # Numbers 2, 3, 5 and 6 came from the process's cache: no counter statement at all.
    assert [statements[i] for i in (1, 2, 4, 5)] == [0, 0, 0, 0]
    assert all(statements[i] >= 1 for i in (3, 6))


def test_a_rolled_back_reservation_caches_nothing(cases, people, settings):
    settings.TOUSU_TICKET_BLOCK = 3
    agent = people["agent"]
    first = _register(cases, 0)
    taken = _rolled_back(lambda: svc.complaint_accept(actor=agent, complaint_id=first.pk))
    assert taken.ticket_no == "TS20261123000001"  # reserved 1…3, took 1, then rolled back
    assert _counter() is None
    assert Complaint.objects.get(pk=first.pk).ticket_no is None

    # A savepoint rolled back inside a transaction that commits: its reservation is gone too.
    second = _register(cases, 1)
    with transaction.atomic():
        try:
            with transaction.atomic():
                svc.complaint_accept(actor=agent, complaint_id=second.pk)
                raise RuntimeError
        except RuntimeError:
            pass
        later = svc.complaint_accept(actor=agent, complaint_id=first.pk)
    assert later.ticket_no == "TS20261123000001"  # 1 was never issued: the rollback undid it
    assert _counter() == 3
    again = svc.complaint_accept(actor=agent, complaint_id=second.pk)
    assert again.ticket_no == "TS20261123000002"


def test_a_case_rolled_back_after_a_cached_number_leaves_a_gap(cases, people, settings):
    settings.TOUSU_TICKET_BLOCK = 3
    agent = people["agent"]
    a, b, c = (_register(cases, i) for i in range(3))
    assert svc.complaint_accept(actor=agent, complaint_id=a.pk).ticket_no == "TS20261123000001"
    taken = _rolled_back(lambda: svc.complaint_accept(actor=agent, complaint_id=b.pk))
    assert taken.ticket_no == "TS20261123000002"
    # 2 is never issued again (another process may hold numbers above the counter's old value).
    assert svc.complaint_accept(actor=agent, complaint_id=c.pk).ticket_no == "TS20261123000003"
    assert svc.complaint_accept(actor=agent, complaint_id=b.pk).ticket_no == "TS20261123000004"
    assert _counter() == 6


def test_the_day_change_drops_the_cache(cases, people, settings, time_machine):
    settings.TOUSU_TICKET_BLOCK = 3
    agent = people["agent"]
    a, b, c = (_register(cases, i) for i in range(3))
    assert svc.complaint_accept(actor=agent, complaint_id=a.pk).ticket_no == "TS20261123000001"
    time_machine.move_to("2026-11-24 00:00:01+08:00", tick=False)  # local midnight passed
    assert svc.complaint_accept(actor=agent, complaint_id=b.pk).ticket_no == "TS20261124000001"
    assert (_counter("2026-11-23"), _counter("2026-11-24")) == (3, 3)
    # A case still stamped with the old day finds nothing cached for it: 2 and 3 were dropped.
    time_machine.move_to("2026-11-23 23:59:59+08:00", tick=False)
    assert svc.complaint_accept(actor=agent, complaint_id=c.pk).ticket_no == "TS20261123000004"
    assert _counter("2026-11-23") == 6


def _client(pks: list[int], actor_id: int, threads: int) -> None:
    """A forked process: ``threads`` threads accepting its cases, each in its own transaction."""
    from tousu.accounts.models import User

    actor = User.objects.get(pk=actor_id)
    errors: list[BaseException] = []

    def run(part: list[int]) -> None:
        try:
            for pk in part:
                svc.complaint_accept(actor=actor, complaint_id=pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(pks[i::threads],)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    connection.close()
    if errors:
        raise SystemExit(f"{errors[0]!r}")


@pytest.mark.postgres_only
def test_processes_and_threads_get_unique_numbers(cases, people, settings):
    if connection.vendor != "postgresql":
        pytest.skip("several processes writing at once need PostgreSQL")
    settings.TOUSU_TICKET_BLOCK = 5
    agent = people["agent"]
    # This process holds 2…5 in its cache before forking: the children must not issue them.
    head = _register(cases, 0, accept=True)
    assert head.ticket_no == "TS20261123000001"
    pks = [_register(cases, i).pk for i in range(1, 61)]
    connections.close_all()  # each child opens its own connection
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_client, args=(pks[i::3], agent.pk, 2)) for i in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    assert [child.exitcode for child in children] == [0, 0, 0]
    tail = _register(cases, 99, accept=True)
    assert tail.ticket_no == "TS20261123000002"  # the parent's cache survived the fork

    numbers = [
        int(t[10:])
        for t in Complaint.objects.exclude(ticket_no=None).values_list("ticket_no", flat=True)
        if t.startswith("TS20261123")
    ]
    assert len(numbers) == len(set(numbers)) == 62
    children_numbers = {int(Complaint.objects.get(pk=pk).ticket_no[10:]) for pk in pks}
    assert not children_numbers & {1, 2, 3, 4, 5}
    last = _counter()
    assert last is not None
    assert last % 5 == 0
    assert max(numbers) <= last
