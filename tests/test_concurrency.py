"""Two people changing one case at the same moment: no lost update, one clear error (PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone, translation

from tousu.common.errors import ConflictError, InvalidTransition
from tousu.complaints import services as svc
from tousu.complaints.models import Complaint, ComplaintEvent, TicketCounter
from tousu.complaints.states import Status

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "connection.vendor != 'postgresql'", reason="row locks across connections need PostgreSQL"
    ),
]


def in_thread(fn: Callable[[], Any], results: dict[str, Any], key: str) -> threading.Thread:
    def run() -> None:
        translation.activate("en")
        try:
            results[key] = fn()
        except Exception as exc:  # the loser's error is the result under test
            results[key] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_second_writer_waits_for_the_lock_then_gets_a_clear_error(cases, people):
    c = cases.make(Status.INVESTIGATING)
    locked, results = threading.Event(), {}

    def first() -> Complaint:
        with transaction.atomic():
            Complaint.objects.select_for_update().get(pk=c.pk)  # hold the row like a slow writer
            locked.set()
            time.sleep(0.5)
            return svc.complaint_request_info(
                actor=people["handler"], complaint_id=c.pk, question="请配合测试"
            )

    def second() -> Complaint:
        locked.wait(5)
        return svc.complaint_propose_plan(
            actor=people["handler"],
            complaint_id=c.pk,
            kind="immediate",
            measures="退费",
            responsible_id=people["handler"].pk,
            deadline=timezone.now() + timedelta(days=1),
        )

    threads = [in_thread(first, results, "first"), in_thread(second, results, "second")]
    for t in threads:
        t.join(10)
    assert isinstance(results["first"], Complaint)
    assert isinstance(results["second"], InvalidTransition)
    assert "'Awaiting customer' and cannot become 'Plan proposed'" in str(results["second"])
    c = cases.reload(c)
    assert c.status == Status.AWAITING_CUSTOMER
    assert (
        list(ComplaintEvent.objects.filter(complaint=c).values_list("kind", flat=True).order_by("id"))[-1]
        == "info_requested"
    )
    assert not ComplaintEvent.objects.filter(complaint=c, kind="plan_proposed").exists()


def test_same_version_edits_one_wins_one_conflicts(cases, people):
    c = cases.make(Status.INVESTIGATING)
    version = c.version
    start, results = threading.Barrier(2), {}

    def escalate(level: int) -> Callable[[], Complaint]:
        def run() -> Complaint:
            start.wait(5)
            return svc.complaint_escalate(
                actor=people["supervisor"],
                complaint_id=c.pk,
                reason=f"to {level}",
                to_level=level,
                expected_version=version,
            )

        return run

    threads = [in_thread(escalate(1), results, "a"), in_thread(escalate(2), results, "b")]
    for t in threads:
        t.join(10)
    outcomes = sorted(type(r).__name__ for r in results.values())
    assert outcomes == ["Complaint", "ConflictError"]
    winner = next(r for r in results.values() if isinstance(r, Complaint))
    loser = next(r for r in results.values() if isinstance(r, ConflictError))
    assert "Reload it and try again" in str(loser)
    c = cases.reload(c)
    assert c.escalation_level == winner.escalation_level
    assert ComplaintEvent.objects.filter(complaint=c, kind="escalated").count() == 1


@pytest.mark.parametrize("block", [1, 5])
def test_concurrent_accepts_get_distinct_ticket_numbers(cases, people, settings, block):
    """One at a time on the day's counter: with blocks of 1 the numbers are exactly 1…12; with
    blocks of 5 each thread that finds no number cached reserves 5, so they are distinct, all
    reserved, and the counter is a whole number of blocks."""
    settings.TOUSU_TICKET_BLOCK = block
    ids = [cases.register(phone=f"1391234{i:04d}").pk for i in range(12)]
    start, results = threading.Barrier(len(ids)), {}

    def accept(pk: int) -> Callable[[], str]:
        def run() -> str:
            start.wait(5)
            return svc.complaint_accept(actor=people["agent"], complaint_id=pk).ticket_no or ""

        return run

    threads = [in_thread(accept(pk), results, str(pk)) for pk in ids]
    for t in threads:
        t.join(20)
    tickets = sorted(results.values())
    day = timezone.localdate().strftime("%Y%m%d")
    if block == 1:
        assert tickets == [f"TS{day}{n:06d}" for n in range(1, 13)]
        return
    numbers = sorted(int(t[10:]) for t in tickets)
    assert [t[:10] for t in tickets] == [f"TS{day}"] * 12
    assert len(set(numbers)) == 12
    last = TicketCounter.objects.get(day=timezone.localdate()).last
    assert last % block == 0
    assert 15 <= last <= 12 * block
    assert numbers[0] == 1
    assert numbers[-1] <= last
