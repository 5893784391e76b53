"""The SLA sweep's clock side: which clocks are due a warning or a breach, claimed, and marked.

Clocks are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite's IMMEDIATE write
transaction serialises workers instead), so several workers share the work. The cost of an idle
sweep is two index look-ups on partial indexes over running clocks, whatever the number of open
cases. What a claim leads to on the case (the timeline event, the escalation, the reassignment)
is written in the same transaction by ``tousu.complaints.services.deadlines``, above the case
services (``sla`` never imports ``complaints``; ADR 0014), which ``tousu worker`` runs.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F, QuerySet

from tousu.common.db import is_postgres
from tousu.sla.models import ClockState, SlaBreach, SlaClock
from tousu.sla.services import level_rule


def _claim(queryset: QuerySet[Any], batch: int | None) -> list[Any]:
    batch = batch or settings.TOUSU_SLA_BATCH
    if is_postgres():
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    return list(queryset[:batch])


def clocks_warn_claim(now: datetime, batch: int | None = None) -> list[SlaClock]:
    """Claim the running clocks whose warning time has come and mark them warned (``now``).
    Call inside the transaction that records the warnings."""
    clocks = _claim(
        SlaClock.objects.filter(state=ClockState.RUNNING, warned_at__isnull=True, warn_at__lte=now)
        .order_by("warn_at")
        .only("id", "complaint_id", "kind", "cycle", "due_at"),
        batch,
    )
    if clocks:
        SlaClock.objects.filter(pk__in=[c.pk for c in clocks]).update(warned_at=now)
    return clocks


def clocks_breach_claim(now: datetime, batch: int | None = None) -> list[SlaClock]:
    """Claim the running clocks past their due time (with their policies), oldest first. Call
    inside the transaction that records the breaches (``clocks_breached``)."""
    return _claim(
        SlaClock.objects.filter(state=ClockState.RUNNING, due_at__lte=now)
        .order_by("due_at")
        .select_related("policy"),
        batch,
    )


def breach_penalty(clock: SlaClock, level: str) -> Decimal:
    """The penalty of a missed clock: its policy's, else its case level's rule, else nothing."""
    if clock.policy.penalty is not None:
        return clock.policy.penalty
    rule = level_rule(level)
    return rule.breach_penalty if rule else Decimal(0)


def clocks_breached(clocks: list[SlaClock], breaches: list[SlaBreach]) -> None:
    """Mark these claimed clocks breached (at their due time) and write their breach rows."""
    for clock in clocks:
        clock.state = ClockState.BREACHED
        clock.breached_at = clock.due_at
    SlaClock.objects.filter(pk__in=[c.pk for c in clocks]).update(
        state=ClockState.BREACHED, breached_at=F("due_at")
    )
    SlaBreach.objects.bulk_create(breaches)
