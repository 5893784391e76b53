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
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.common.db import is_postgres
from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint
from tousu.complaints.services import complaint_dispatch, complaint_escalate, complaint_event_record
from tousu.complaints.states import MAX_ESCALATION_LEVEL, OPEN, Status, can_transition
from tousu.sla.models import ClockState, SlaBreach, SlaClock
from tousu.sla.services import level_rule

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
        for clock in clocks:
            complaint_event_record(
                complaint=complaints[clock.complaint_id],
                kind=EventKind.SLA_WARNING,
                payload={"clock": clock.kind, "cycle": clock.cycle, "due_at": clock.due_at.isoformat()},
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
    policy asks for. Returns how many clocks were handled."""
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
        ids = list({c.complaint_id for c in clocks})
        cases = Complaint.objects.filter(pk__in=ids).select_related("first_contact_owner")
        if is_postgres():
            # A case being changed right now is left for the next sweep rather than waited for:
            # waiting here while holding clock locks could deadlock with that change.
            cases = cases.select_for_update(skip_locked=True, of=("self",))
        complaints = {c.pk: c for c in cases}
        breaches: list[SlaBreach] = []
        done: list[SlaClock] = []
        for clock in clocks:
            complaint = complaints.get(clock.complaint_id)
            if complaint is None:
                continue
            owner = complaint.first_contact_owner
            penalty = _penalty(clock, complaint)
            breaches.append(
                SlaBreach(
                    clock=clock,
                    complaint=complaint,
                    kind=clock.kind,
                    level=complaint.level,
                    department_id=complaint.lead_department_id or (owner.department_id if owner else None),
                    person_id=complaint.assignee_id or complaint.first_contact_owner_id,
                    penalty=penalty,
                    due_at=clock.due_at,
                    detected_at=now,
                )
            )
            clock.state = ClockState.BREACHED
            clock.breached_at = clock.due_at
            done.append(clock)
            complaint_event_record(
                complaint=complaint,
                kind=EventKind.SLA_BREACHED,
                payload={
                    "clock": clock.kind,
                    "cycle": clock.cycle,
                    "due_at": clock.due_at.isoformat(),
                    "penalty": str(penalty),
                    "department_id": breaches[-1].department_id,
                    "person_id": breaches[-1].person_id,
                },
            )
            _act_on_breach(clock, complaint)
        SlaClock.objects.bulk_update(done, ["state", "breached_at"])
        SlaBreach.objects.bulk_create(breaches)
    return len(done)


def _act_on_breach(clock: SlaClock, complaint: Complaint) -> None:
    policy = clock.policy
    label = clock.get_kind_display()
    if (
        policy.escalate_on_breach
        and complaint.status in OPEN
        and complaint.escalation_level < MAX_ESCALATION_LEVEL
    ):
        escalated = complaint_escalate(
            actor=None,
            complaint_id=complaint.pk,
            reason=_("Deadline missed: %(clock)s.") % {"clock": label},
            trigger=f"sla_breach:{clock.kind}",
        )
        complaint.escalation_level = escalated.escalation_level
        complaint.version = escalated.version
    department_id = policy.reassign_department_id
    if (
        department_id is not None
        and department_id != complaint.lead_department_id
        and can_transition(Status(complaint.status), Status.DISPATCHED)
    ):
        complaint_dispatch(
            actor=None,
            complaint_id=complaint.pk,
            lead_department_id=department_id,
            note=_("Reassigned after a missed deadline: %(clock)s.") % {"clock": label},
        )


def sla_sweep() -> int:
    """One sweep: warnings, then breaches. Returns how many clocks were handled."""
    return sla_warn() + sla_breach()
