"""What each case contributes to the KPIs, computed from the case as it is now and its history.

``cases_facts`` reads a set of cases with a fixed number of queries and returns their
``CaseFact`` rows (unsaved). It is the only place that decides which day and which bucket a fact
falls in; the rollup consumer and ``tousu analytics rebuild`` both call it, so they cannot differ.

Each case-count fact happens at most once per case (``KPIS.md``: a reopened case is still one
case): accepted and its derivatives on the day of acceptance, closed on the last closing, replied
on the last reply, reopened on the last reopening, escalated on the first escalation, visited on
the last reached return visit. So a case that is reopened leaves the "closed" bucket until it is
closed again, and the sum of days over any period counts each case once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q

from tousu.analytics.models import CaseFact
from tousu.complaints.choices import Channel, RemedyStatus
from tousu.complaints.events import EventKind
from tousu.complaints.models import Category, Complaint, ComplaintEvent, Remedy, ReturnVisit
from tousu.sla.calendars import CalendarSpec, business_time_between
from tousu.sla.models import BusinessCalendar, ClockKind, SlaBreach, SlaClock

# Channels by which a customer goes over the operator's head (越级).
OVER_THE_HEAD = frozenset({Channel.REGULATOR, Channel.SOCIAL_MEDIA})
# Escalation triggers, as the services write them, to the KPI's four causes (+ level rules).
TRIGGERS = {
    "sla": "escalated_sla",
    "sla_breach": "escalated_sla",
    "dissatisfied_return_visit": "escalated_dissatisfaction",
    "threat": "escalated_threat",
    "manual": "escalated_manual",
}
_EVENT_KINDS = (EventKind.REJECTED, EventKind.REOPENED, EventKind.ESCALATED)
# CaseFact's columns in the model's order (the primary key first, None for a new row).
_COLUMNS = tuple(f.attname for f in CaseFact._meta.concrete_fields)


def report_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def repeat_window() -> timedelta:
    return timedelta(days=getattr(settings, "TOUSU_REPEAT_DAYS", 30))


def fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def escalation_fact(trigger: str) -> str:
    if trigger.startswith("level_"):
        return "escalated_level"
    if trigger.startswith("sla"):
        return "escalated_sla"
    return TRIGGERS.get(trigger, "escalated_manual")


class _Rows:
    """The fact rows of one case, keyed by (day, department), in its current bucket."""

    def __init__(self, case: Complaint, zone: ZoneInfo) -> None:
        self.case = case
        self.zone = zone
        self.rows: dict[tuple[date, int], dict[str, int]] = {}

    def add(
        self, at: datetime | None, fact: str, value: int = 1, *, department_id: int | None = None
    ) -> None:
        if at is None or not value:
            return
        dept = self.case.lead_department_id or 0 if department_id is None else department_id
        row = self.rows.setdefault((at.astimezone(self.zone).date(), dept), defaultdict(int))
        row[fact] += value

    def facts(self) -> list[CaseFact]:
        c = self.case
        out = []
        for (day, dept), values in sorted(self.rows.items()):
            if not any(values.values()):
                continue
            row = {
                "id": None,
                "complaint_id": c.pk,
                "day": day,
                "region_id": c.region_id or 0,
                "category_id": c.category_id,
                "channel": c.channel,
                "department_id": dept,
                "level": c.level,
                "business_type": c.business_type,
            }
            # Positional arguments: Django's fast path for building a model with many fields.
            out.append(CaseFact(*(row.get(name, values.get(name, 0)) for name in _COLUMNS)))  # type: ignore[misc]
        return out


class _Calendars:
    def __init__(self) -> None:
        self.specs: dict[int, CalendarSpec] = {}

    def spec(self, calendar_id: int) -> CalendarSpec:
        if calendar_id not in self.specs:
            self.specs[calendar_id] = (
                BusinessCalendar.objects.prefetch_related("days").get(pk=calendar_id).spec()
            )
        return self.specs[calendar_id]


def _top_categories() -> dict[int, int]:
    return {pk: parent or pk for pk, parent in Category.objects.values_list("pk", "parent_id")}


def cases_facts(complaint_ids: Iterable[int], *, calendars: _Calendars | None = None) -> list[CaseFact]:
    """The fact rows of these cases (unsaved), computed from what the database holds now."""
    ids = sorted(set(complaint_ids))
    if not ids:
        return []
    zone = report_zone()
    calendars = calendars or _Calendars()
    top = _top_categories()
    cases = list(
        Complaint.objects.filter(pk__in=ids).only(
            "pk",
            "status",
            "channel",
            "customer_id",
            "category_id",
            "region_id",
            "lead_department_id",
            "level",
            "business_type",
            "is_first_contact_resolution",
            "registered_at",
            "accepted_at",
            "replied_at",
            "closed_at",
        )
    )
    events: dict[int, list[tuple[datetime, str, dict[str, Any]]]] = defaultdict(list)
    for cid, at, kind, payload in (
        ComplaintEvent.objects.filter(complaint_id__in=ids, kind__in=_EVENT_KINDS)
        .order_by("created_at", "id")
        .values_list("complaint_id", "created_at", "kind", "payload")
    ):
        events[cid].append((at, kind, payload or {}))
    clocks = defaultdict(list)
    for clock in SlaClock.objects.filter(complaint_id__in=ids).only(
        "complaint_id", "kind", "cycle", "state", "calendar_id", "met_at", "breached_at"
    ):
        clocks[clock.complaint_id].append(clock)
    breaches = defaultdict(list)
    for breach in SlaBreach.objects.filter(complaint_id__in=ids).only(
        "complaint_id", "department_id", "penalty", "detected_at"
    ):
        breaches[breach.complaint_id].append(breach)
    remedies = defaultdict(list)
    for remedy in Remedy.objects.filter(complaint_id__in=ids, status=RemedyStatus.APPROVED).only(
        "complaint_id", "kind", "amount", "decided_at", "requested_at"
    ):
        remedies[remedy.complaint_id].append(remedy)
    visits = defaultdict(list)
    for visit in ReturnVisit.objects.filter(complaint_id__in=ids).only(
        "complaint_id", "reached", "satisfaction", "visited_at"
    ):
        visits[visit.complaint_id].append(visit)
    # The customers' other cases, for repeats and going over the operator's head.
    siblings: dict[int, list[tuple[int, int, datetime, datetime | None]]] = defaultdict(list)
    customer_ids = {c.customer_id for c in cases if c.customer_id is not None}
    for pk, customer_id, category_id, registered_at, accepted_at in Complaint.objects.filter(
        customer_id__in=customer_ids
    ).values_list("pk", "customer_id", "category_id", "registered_at", "accepted_at"):
        siblings[customer_id].append((pk, top.get(category_id, category_id), registered_at, accepted_at))

    window = repeat_window()
    out: list[CaseFact] = []
    for c in cases:
        rows = _Rows(c, zone)
        c_top = top.get(c.category_id, c.category_id)
        kin = siblings[c.customer_id] if c.customer_id is not None else []  # to identify: none
        others = [s for s in kin if s[0] != c.pk and s[1] == c_top]
        if c.accepted_at is not None:
            rows.add(c.accepted_at, "accepted")
            if c.channel == Channel.REGULATOR:
                rows.add(c.accepted_at, "regulator_referrals")
            if c.channel in OVER_THE_HEAD and any((s[2], s[0]) < (c.registered_at, c.pk) for s in others):
                rows.add(c.accepted_at, "went_over")
            since = c.accepted_at - window
            if any(
                s[3] is not None and since <= s[3] and (s[3], s[0]) < (c.accepted_at, c.pk) for s in others
            ):
                rows.add(c.accepted_at, "repeat")
        history = events[c.pk]
        rejections = [at for at, kind, _ in history if kind == EventKind.REJECTED]
        if rejections and c.accepted_at is None:
            rows.add(rejections[-1], "rejected")
        reopenings = [at for at, kind, _ in history if kind == EventKind.REOPENED]
        if reopenings:
            rows.add(reopenings[-1], "reopened")
        escalations = [(at, p) for at, kind, p in history if kind == EventKind.ESCALATED]
        if escalations:
            at, payload = escalations[0]
            rows.add(at, "escalated")
            rows.add(at, escalation_fact(str(payload.get("trigger", "manual"))))
        if c.closed_at is not None and c.status == "closed":
            rows.add(c.closed_at, "closed")
            if c.is_first_contact_resolution:
                rows.add(c.closed_at, "closed_first_contact")
        if c.replied_at is not None:
            rows.add(c.replied_at, "replied")
            if c.accepted_at is not None and c.replied_at >= c.accepted_at:
                rows.add(
                    c.replied_at, "handling_seconds", int((c.replied_at - c.accepted_at).total_seconds())
                )
                reply_clock = min(
                    (k for k in clocks[c.pk] if k.kind == ClockKind.REPLY),
                    key=lambda k: k.cycle,
                    default=None,
                )
                work = (
                    business_time_between(
                        calendars.spec(reply_clock.calendar_id), c.accepted_at, c.replied_at
                    )
                    if reply_clock is not None
                    else c.replied_at - c.accepted_at
                )
                rows.add(c.replied_at, "handling_work_seconds", int(work.total_seconds()))
        reached = [v for v in visits[c.pk] if v.reached]
        if reached:
            rows.add(max(v.visited_at for v in reached), "visited")
        for v in visits[c.pk]:
            if not v.reached:
                rows.add(v.visited_at, "visits_unreached")
                continue
            rows.add(v.visited_at, "visits_reached")
            if v.satisfaction is not None:
                rows.add(v.visited_at, "visits_scored")
                rows.add(v.visited_at, "satisfaction_sum", v.satisfaction)
                if v.satisfaction >= 4:
                    rows.add(v.visited_at, "visits_satisfied")
        for k in clocks[c.pk]:
            if k.breached_at is not None:
                rows.add(k.breached_at, f"clock_{k.kind}_ended")
            elif k.state == "met" and k.met_at is not None:
                rows.add(k.met_at, f"clock_{k.kind}_ended")
                rows.add(k.met_at, f"clock_{k.kind}_met")
        for b in breaches[c.pk]:
            dept = b.department_id or 0
            rows.add(b.detected_at, "breaches", department_id=dept)
            rows.add(b.detected_at, "penalty_fen", fen(b.penalty), department_id=dept)
        for r in remedies[c.pk]:
            at = r.decided_at or r.requested_at
            rows.add(at, f"remedy_{r.kind}")
            rows.add(at, f"remedy_{r.kind}_fen", fen(r.amount))
        out.extend(rows.facts())
    return out


def customers_cases(complaint_ids: Iterable[int]) -> set[int]:
    """These cases and every other case of their customers (whose repeat and 越级 facts depend on
    each other)."""
    ids = set(complaint_ids)
    if not ids:
        return ids
    customers = Complaint.objects.filter(pk__in=ids, customer_id__isnull=False).values("customer_id")
    return ids | set(Complaint.objects.filter(Q(customer_id__in=customers)).values_list("pk", flat=True))
