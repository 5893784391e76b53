"""Read-only aggregates for the supervisor dashboard: open cases by status, level, department and
escalation level; deadlines due within the hour and missed; breaches and escalations of the local
day; remedy approvals waiting.

``dashboard_summary`` runs a fixed number of queries (``DASHBOARD_QUERIES``) whatever the number
of cases: counts are SQL aggregates, and the short lists are capped at ``LIST_LIMIT`` rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.common.errors import PermissionDenied
from tousu.complaints.choices import Level, RemedyStatus
from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint, ComplaintEvent, Remedy
from tousu.complaints.states import OPEN, EscalationLevel, Status
from tousu.sla.models import ClockState, SlaBreach, SlaClock

DUE_SOON = timedelta(hours=1)
LIST_LIMIT = 10
DASHBOARD_QUERIES = 8
CENT = Decimal("0.01")

# Lifecycle order, as the statuses are declared.
_OPEN_STATUSES = [s for s in Status if s in OPEN]
# Clocks that still count against a case: running, or missed and not met since.
_LIVE_CLOCK = Q(ended_at__isnull=True, state__in=[ClockState.RUNNING, ClockState.BREACHED])


@dataclass(frozen=True)
class Tally:
    """One labelled count: a status, a level, an escalation level."""

    key: str
    label: str
    count: int


@dataclass(frozen=True)
class DepartmentTally:
    """Open cases led by one department (``department_id`` None: not dispatched yet)."""

    department_id: int | None
    name: str
    count: int


@dataclass(frozen=True)
class DepartmentPenalty:
    """Breaches of the day charged to one department, with their penalties summed."""

    department_id: int | None
    name: str
    breaches: int
    penalty: Decimal


@dataclass(frozen=True)
class DeadlineItem:
    """One clock of an open case that is due within the hour or already missed."""

    complaint_id: int
    ticket_no: str
    level: str
    level_label: str
    status_label: str
    department: str
    clock_label: str
    due_at: datetime
    remaining: timedelta  # wall-clock time left; negative: overdue by that much


@dataclass(frozen=True)
class ApprovalItem:
    """One money remedy waiting for an approver."""

    remedy_id: int
    complaint_id: int
    ticket_no: str
    level: str
    level_label: str
    kind_label: str
    amount: Decimal
    requested_by: str
    requested_at: datetime


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    day_start: datetime
    open_total: int
    by_status: list[Tally]
    by_level: list[Tally]
    by_department: list[DepartmentTally]
    escalated_total: int
    escalated_by_level: list[Tally]
    escalations_today: int
    due_soon_total: int
    due_soon: list[DeadlineItem]
    overdue_total: int
    overdue: list[DeadlineItem]
    breaches_today: int
    penalties_today: Decimal
    breaches_by_department: list[DepartmentPenalty]
    approvals_cases: int
    approvals_remedies: int
    approvals_amount: Decimal
    approvals: list[ApprovalItem]


def _money(value: Decimal | None) -> Decimal:
    """Amounts in 元 with two decimals (SQLite's sums come back without their scale)."""
    return (value or Decimal(0)).quantize(CENT)


def local_day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Start and end (exclusive) of the local day (the current time zone) that contains ``now``."""
    day = timezone.localdate(now)
    start = timezone.make_aware(datetime.combine(day, time.min))
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
    return start, end


def _open_breakdown() -> tuple[Counter[str], Counter[str], dict[int | None, DepartmentTally], Counter[int]]:
    rows = (
        Complaint.objects.filter(status__in=_OPEN_STATUSES)
        .values("status", "level", "escalation_level", "lead_department_id", "lead_department__name")
        .annotate(n=Count("id"))
        .order_by()
    )
    statuses: Counter[str] = Counter()
    levels: Counter[str] = Counter()
    escalation: Counter[int] = Counter()
    departments: dict[int | None, DepartmentTally] = {}
    for row in rows:
        n = row["n"]
        statuses[row["status"]] += n
        levels[row["level"]] += n
        escalation[row["escalation_level"]] += n
        dept_id = row["lead_department_id"]
        name = row["lead_department__name"] if dept_id is not None else _("Not dispatched yet")
        before = departments.get(dept_id)
        departments[dept_id] = DepartmentTally(dept_id, name, n + (before.count if before else 0))
    return statuses, levels, departments, escalation


def _live_clocks() -> QuerySet[SlaClock]:
    return SlaClock.objects.filter(_LIVE_CLOCK, complaint__status__in=_OPEN_STATUSES)


def _deadline_items(clocks: QuerySet[SlaClock], now: datetime) -> list[DeadlineItem]:
    rows = clocks.select_related("complaint", "complaint__lead_department").order_by("due_at", "id")
    items = []
    for clock in rows[:LIST_LIMIT]:
        case = clock.complaint
        items.append(
            DeadlineItem(
                complaint_id=case.pk,
                ticket_no=str(case),
                level=case.level,
                level_label=str(case.get_level_display()),
                status_label=str(case.get_status_display()),
                department=case.lead_department.name if case.lead_department else "",
                clock_label=str(clock.get_kind_display()),
                due_at=clock.due_at,
                remaining=clock.due_at - now,
            )
        )
    return items


def dashboard_summary(*, actor: User, now: datetime | None = None) -> Dashboard:
    """Everything the supervisor dashboard shows, for users who may supervise every case."""
    if not actor.can(Cap.CASE_SUPERVISE):
        raise PermissionDenied(_("The dashboard is for supervisors and managers."))
    now = now or timezone.now()
    day_start, day_end = local_day_bounds(now)
    soon = now + DUE_SOON

    statuses, levels, departments, escalation = _open_breakdown()

    due_soon_q = Q(state=ClockState.RUNNING, due_at__gt=now, due_at__lte=soon)
    overdue_q = Q(due_at__lte=now)
    clock_counts = _live_clocks().aggregate(
        due_soon=Count("complaint_id", distinct=True, filter=due_soon_q),
        overdue=Count("complaint_id", distinct=True, filter=overdue_q),
    )
    due_soon = _deadline_items(_live_clocks().filter(due_soon_q), now)
    overdue = _deadline_items(_live_clocks().filter(overdue_q), now)

    breach_rows = (
        SlaBreach.objects.filter(detected_at__gte=day_start, detected_at__lt=day_end)
        .values("department_id", "department__name")
        .annotate(n=Count("id"), penalty=Sum("penalty"))
        .order_by("-penalty", "department__name")
    )
    breaches = [
        DepartmentPenalty(
            department_id=row["department_id"],
            name=row["department__name"] or _("No department"),
            breaches=row["n"],
            penalty=_money(row["penalty"]),
        )
        for row in breach_rows
    ]

    escalations_today = ComplaintEvent.objects.filter(
        kind=EventKind.ESCALATED, created_at__gte=day_start, created_at__lt=day_end
    ).count()

    waiting = Remedy.objects.filter(status=RemedyStatus.REQUESTED, complaint__status=Status.AWAITING_APPROVAL)
    approval_totals = waiting.aggregate(
        cases=Count("complaint_id", distinct=True), remedies=Count("id"), amount=Sum("amount")
    )
    approvals = [
        ApprovalItem(
            remedy_id=remedy.pk,
            complaint_id=remedy.complaint_id,
            ticket_no=str(remedy.complaint),
            level=remedy.complaint.level,
            level_label=str(remedy.complaint.get_level_display()),
            kind_label=str(remedy.get_kind_display()),
            amount=remedy.amount,
            requested_by=str(remedy.requested_by) if remedy.requested_by else "",
            requested_at=remedy.requested_at,
        )
        for remedy in waiting.select_related("complaint", "requested_by").order_by("requested_at", "id")[
            :LIST_LIMIT
        ]
    ]

    return Dashboard(
        now=now,
        day_start=day_start,
        open_total=sum(statuses.values()),
        by_status=[Tally(s.value, str(s.label), statuses[s.value]) for s in _OPEN_STATUSES],
        by_level=[Tally(lv.value, str(lv.label), levels[lv.value]) for lv in Level],
        by_department=sorted(departments.values(), key=lambda d: (d.department_id is None, -d.count, d.name)),
        escalated_total=sum(n for level, n in escalation.items() if level > EscalationLevel.NONE),
        escalated_by_level=[
            Tally(str(e.value), str(e.label), escalation[e.value])
            for e in EscalationLevel
            if e != EscalationLevel.NONE
        ],
        escalations_today=escalations_today,
        due_soon_total=clock_counts["due_soon"],
        due_soon=due_soon,
        overdue_total=clock_counts["overdue"],
        overdue=overdue,
        breaches_today=sum(b.breaches for b in breaches),
        penalties_today=_money(sum((b.penalty for b in breaches), Decimal(0))),
        breaches_by_department=breaches,
        approvals_cases=approval_totals["cases"],
        approvals_remedies=approval_totals["remedies"],
        approvals_amount=_money(approval_totals["amount"]),
        approvals=approvals,
    )
