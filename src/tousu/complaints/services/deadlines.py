"""Where cases and their deadlines meet, above both (ADR 0014): the SLA sweep's case side (the
warning and breach events, the escalation and the reassignment a missed deadline calls for),
``next_due_at`` kept in bulk, the recomputation of running clocks and the replay of history.

``sla`` (policies, calendars, clock rows, the clock side of the sweep) sits below the case
services and never imports them; this module is what ``tousu worker``, the commands and the
admin call. Everything a claim leads to is written in the claiming transaction: a worker that
dies mid-batch leaves the batch untouched for the next one, and a clock that left 'running' is
never claimed again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.common.db import bulk_insert_rows, is_postgres
from tousu.common.fastsql import insert_fields
from tousu.common.origin import SYSTEM, WORKER, Origin
from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint, ComplaintEvent
from tousu.complaints.reasons import automatic_reason, sla_breach_trigger
from tousu.complaints.services._base import complaint_events_record
from tousu.complaints.services.escalation import complaints_escalate_locked
from tousu.complaints.services.routing import complaint_dispatch
from tousu.complaints.states import Status, can_transition
from tousu.sla.models import ClockState, SlaBreach, SlaClock
from tousu.sla.services import OWED_CLOCK, sla_clocks_recompute, sla_plan_new_case
from tousu.sla.sweeper import breach_penalty, clocks_breach_claim, clocks_breached, clocks_warn_claim

log = logging.getLogger("tousu.sla")


def refresh_next_due(complaint_ids: list[int]) -> None:
    """Recompute ``next_due_at`` of these cases from their owed clocks, running or missed and not
    met (``sla.services.next_due``), after a recomputation changed clocks in bulk. One statement
    whatever the number of cases."""
    earliest = (
        SlaClock.objects.filter(complaint_id=OuterRef("pk"))
        .filter(OWED_CLOCK)
        .order_by("due_at")
        .values("due_at")[:1]
    )
    Complaint.objects.filter(pk__in=complaint_ids).update(next_due_at=Subquery(earliest))


def sla_warn(*, batch: int | None = None) -> int:
    """Record a warning for each running clock whose warning time has come. Returns how many."""
    with transaction.atomic():
        now = timezone.now()
        clocks = clocks_warn_claim(now, batch)
        if not clocks:
            return 0
        complaints = Complaint.objects.in_bulk([c.complaint_id for c in clocks])
        complaint_events_record(
            rows=[
                (
                    complaints[clock.complaint_id],
                    EventKind.SLA_WARNING,
                    {"clock": clock.kind, "cycle": clock.cycle, "due_at": clock.due_at.isoformat()},
                )
                for clock in clocks
            ]
        )
    return len(clocks)


def sla_breach(*, batch: int | None = None) -> int:
    """Record a breach for each running clock past its due time: the penalty against the
    responsible department and person, a timeline event, the escalation and the reassignment the
    policy asks for. Returns how many clocks were handled. A few statements per batch, not per clock."""
    with transaction.atomic():
        now = timezone.now()
        clocks = clocks_breach_claim(now, batch)
        if not clocks:
            return 0
        cases = Complaint.objects.filter(pk__in={c.complaint_id for c in clocks}).select_related(
            "first_contact_owner"
        )
        if is_postgres():
            # A case being changed right now is left for the next sweep rather than waited for:
            # waiting here while holding clock locks could deadlock with that change.
            cases = cases.select_for_update(skip_locked=True, of=("self",))
        complaints = {c.pk: c for c in cases}
        done = [c for c in clocks if c.complaint_id in complaints]
        breaches, events = [], []
        to_escalate: dict[int, Complaint] = {}
        causes: dict[int, tuple[str, str]] = {}
        for clock in done:
            complaint = complaints[clock.complaint_id]
            owner = complaint.first_contact_owner
            breach = SlaBreach(
                clock=clock,
                complaint=complaint,
                kind=clock.kind,
                level=complaint.level,
                department_id=complaint.lead_department_id or (owner.department_id if owner else None),
                person_id=complaint.assignee_id or complaint.first_contact_owner_id,
                penalty=breach_penalty(clock, complaint.level),
                due_at=clock.due_at,
                detected_at=now,
            )
            breaches.append(breach)
            events.append(
                (
                    complaint,
                    EventKind.SLA_BREACHED,
                    {
                        "clock": clock.kind,
                        "cycle": clock.cycle,
                        "due_at": clock.due_at.isoformat(),
                        "penalty": str(breach.penalty),
                        "department_id": breach.department_id,
                        "person_id": breach.person_id,
                    },
                )
            )
            if clock.policy.escalate_on_breach and complaint.pk not in to_escalate:
                to_escalate[complaint.pk] = complaint
                trigger = sla_breach_trigger(clock.kind)
                causes[complaint.pk] = (automatic_reason(trigger) or "", trigger)
        clocks_breached(done, breaches)
        complaint_events_record(rows=events)
        complaints_escalate_locked(complaints=list(to_escalate.values()), causes=causes)
        for clock in done:
            _reassign(clock, complaints[clock.complaint_id])
    return len(done)


def _reassign(clock: SlaClock, complaint: Complaint) -> None:
    """Dispatch the case to the department the policy names, when it asks for that (rare)."""
    department_id = clock.policy.reassign_department_id
    if (
        department_id is not None
        and department_id != complaint.lead_department_id
        and can_transition(Status(complaint.status), Status.DISPATCHED)
    ):
        dispatched = complaint_dispatch(
            actor=None,
            complaint_id=complaint.pk,
            lead_department_id=department_id,
            origin=WORKER,
            note=_("Reassigned after a missed deadline: %(clock)s.") % {"clock": clock.get_kind_display()},
        )
        complaint.status, complaint.lead_department_id, complaint.version = (
            dispatched.status,
            dispatched.lead_department_id,
            dispatched.version,
        )


def sla_sweep() -> int:
    """One sweep: warnings, then breaches. Returns how many clocks were handled."""
    return sla_warn() + sla_breach()


@transaction.atomic
def sla_recompute(*, actor: User, origin: Origin = SYSTEM) -> int:
    """Apply the current policies to every running or paused clock (``sla_clocks_recompute``:
    audited) and refresh the cases' ``next_due_at``. Returns how many clocks moved."""
    moved = sla_clocks_recompute(actor=actor, origin=origin)
    refresh_next_due(
        list(
            SlaClock.objects.filter(state=ClockState.RUNNING)
            .values_list("complaint_id", flat=True)
            .distinct()
        )
    )
    return moved


def sla_rebuild(*, complaint_ids: list[int], chunk: int = 2000) -> int:
    """Give cases that have no clocks (imported or generated history) the clocks their events
    imply, by replaying the events in order with their own times. Returns the clocks created.
    Overdue clocks are then breached by the next sweep, as they would have been.

    In bulk: each case's history is replayed in memory (``sla_plan_new_case``, what registration
    uses: exactly what ``sla_on_event`` leaves after each event in turn), the clocks of a chunk of
    cases are inserted at once (COPY on PostgreSQL) and their ``next_due_at`` set in one statement."""
    created = 0
    have_clocks = set(
        SlaClock.objects.filter(complaint_id__in=complaint_ids).values_list("complaint_id", flat=True)
    )
    todo = [pk for pk in complaint_ids if pk not in have_clocks]
    for start in range(0, len(todo), chunk):
        ids = todo[start : start + chunk]
        with transaction.atomic():
            cases = Complaint.objects.filter(pk__in=ids).select_related("region").in_bulk()
            # Before its first status change an event sees the case's status now, as live replay did.
            status = {pk: Status(c.status) for pk, c in cases.items()}
            steps: dict[int, list[tuple[str, str, Status, datetime]]] = {pk: [] for pk in cases}
            events = (
                ComplaintEvent.objects.filter(complaint_id__in=ids)
                .order_by("created_at", "id")
                .values_list("complaint_id", "kind", "to_status", "created_at")
            )
            for complaint_id, kind, to_status, created_at in events:
                if to_status:
                    status[complaint_id] = Status(to_status)
                steps[complaint_id].append((kind, to_status or "", status[complaint_id], created_at))
            clocks: list[SlaClock] = []
            due: list[tuple[int, datetime]] = []
            for pk, complaint in cases.items():
                before = complaint.next_due_at
                clocks += sla_plan_new_case(complaint, steps[pk])  # sets complaint.next_due_at
                if complaint.next_due_at != before and complaint.next_due_at is not None:
                    due.append((pk, complaint.next_due_at))
            fields = insert_fields(SlaClock)  # every column but the key, which the database gives
            bulk_insert_rows(
                SlaClock,
                [f.column for f in fields],
                ([getattr(clock, f.attname) for f in fields] for clock in clocks),
            )
            _set_next_due(due)
            created += len(clocks)
    return created


def _set_next_due(due: list[tuple[int, datetime]]) -> None:
    """Set ``next_due_at`` of many cases at once: one UPDATE joined to a list of values on
    PostgreSQL; ``bulk_update`` (one CASE statement per batch) on SQLite."""
    if not due:
        return
    if not is_postgres():
        rows = [Complaint(pk=pk, next_due_at=at) for pk, at in due]
        Complaint.objects.bulk_update(rows, ["next_due_at"], batch_size=500)
        return
    table = connection.ops.quote_name(Complaint._meta.db_table)
    for first in range(0, len(due), 5000):
        part = due[first : first + 5000]
        values = ", ".join(["(%s::bigint, %s::timestamptz)"] * len(part))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS c SET next_due_at = v.due FROM (VALUES {values}) AS v(id, due) "
                "WHERE c.id = v.id",
                [value for row in part for value in row],
            )
