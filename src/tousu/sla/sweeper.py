"""The SLA sweep, run by ``tousu worker``: warnings and breaches of due clocks, each exactly once.

Clocks are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite's IMMEDIATE write
transaction serialises workers instead), so several workers share the work. Everything a claim
leads to (the clock's new state, the breach row, the timeline event, the escalation) is written in
the claiming transaction: a worker that dies mid-batch leaves the batch untouched for the next one,
and a clock that left 'running' is never claimed again. The cost of an idle sweep is two index
look-ups on partial indexes over running clocks, whatever the number of open cases.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.common.db import is_postgres
from tousu.common.origin import WORKER
from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint
from tousu.complaints.services import complaint_dispatch, complaint_events_record, complaints_escalate_locked
from tousu.complaints.states import Status, can_transition
from tousu.sla.models import ClockState, SlaBreach, SlaClock
from tousu.sla.services import level_rule, refresh_next_due

log = logging.getLogger("tousu.sla")


def _claim(queryset: QuerySet[Any], batch: int | None) -> list[Any]:
    batch = batch or settings.TOUSU_SLA_BATCH
    if is_postgres():
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    return list(queryset[:batch])


def sla_warn(*, batch: int | None = None) -> int:
    """Record a warning for each running clock whose warning time has come. Returns how many."""
    with transaction.atomic():
        now = timezone.now()
        clocks = _claim(
            SlaClock.objects.filter(state=ClockState.RUNNING, warned_at__isnull=True, warn_at__lte=now)
            .order_by("warn_at")
            .only("id", "complaint_id", "kind", "cycle", "due_at"),
            batch,
        )
        if not clocks:
            return 0
        SlaClock.objects.filter(pk__in=[c.pk for c in clocks]).update(warned_at=now)
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


def _penalty(clock: SlaClock, complaint: Complaint) -> Decimal:
    if clock.policy.penalty is not None:
        return clock.policy.penalty
    rule = level_rule(complaint.level)
    return rule.breach_penalty if rule else Decimal(0)


def sla_breach(*, batch: int | None = None) -> int:
    """Record a breach for each running clock past its due time: the penalty against the
    responsible department and person, a timeline event, the escalation and the reassignment the
    policy asks for. Returns how many clocks were handled. A few statements per batch, not per clock."""
    with transaction.atomic():
        now = timezone.now()
        clocks = _claim(
            SlaClock.objects.filter(state=ClockState.RUNNING, due_at__lte=now)
            .order_by("due_at")
            .select_related("policy"),
            batch,
        )
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
                penalty=_penalty(clock, complaint),
                due_at=clock.due_at,
                detected_at=now,
            )
            breaches.append(breach)
            clock.state = ClockState.BREACHED
            clock.breached_at = clock.due_at
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
                reason = _("Deadline missed: %(clock)s.") % {"clock": clock.get_kind_display()}
                causes[complaint.pk] = (reason, f"sla_breach:{clock.kind}")
        SlaClock.objects.filter(pk__in=[c.pk for c in done]).update(
            state=ClockState.BREACHED, breached_at=F("due_at")
        )
        SlaBreach.objects.bulk_create(breaches)
        complaint_events_record(rows=events)
        complaints_escalate_locked(complaints=list(to_escalate.values()), causes=causes)
        refresh_next_due(list(complaints))  # breached clocks no longer count as the next deadline
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
