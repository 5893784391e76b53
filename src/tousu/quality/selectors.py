"""Reads of the quality loop: the rules in force, the cases of a week and the rule picks among
them, the inspector's queue, an agent's scorecards, the calibration spread."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce

from tousu.accounts.models import User
from tousu.complaints.models import Complaint, Remedy, ReturnVisit
from tousu.quality.models import Appeal, Inspection, Pick, PickReason, SamplingRules
from tousu.sla.models import SlaClock
from tousu.triage.selectors import case_flags
from tousu.vocabulary.choices import RemedyStatus


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_start(day: date) -> datetime:
    """The first instant of a local day."""
    return datetime.combine(day, time(0), tzinfo=local_zone())


def week_of(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def current_rules() -> SamplingRules:
    """The rules in force (the defaults, unsaved, before a supervisor or the seed sets any)."""
    return SamplingRules.objects.order_by("pk").first() or SamplingRules()


# The agent whose work a case is: its assignee, else its first-contact owner, else who registered it.
AGENT_OF_CASE = Coalesce(F("assignee_id"), F("first_contact_owner_id"), F("registered_by_id"))


def week_cases(week_start: date) -> dict[int, int]:
    """The cases closed in the week (local days), with their agent: {case id: agent id}."""
    rows = (
        Complaint.objects.filter(
            closed_at__gte=local_start(week_start), closed_at__lt=local_start(week_start + timedelta(days=7))
        )
        .annotate(agent=AGENT_OF_CASE)
        .filter(agent__isnull=False)
        .values_list("pk", "agent")
    )
    return dict(rows)


def week_rule_reasons(week_start: date, ids: list[int], rules: SamplingRules) -> dict[int, list[str]]:
    """Why each of these cases is picked by a rule (cases no rule picks are left out)."""
    reasons: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return {}
    cases = Complaint.objects.filter(pk__in=ids)
    if rules.pick_reopened:
        for cid in cases.filter(reopen_count__gt=0).values_list("pk", flat=True):
            reasons[cid].append(PickReason.REOPENED.value)
    if rules.pick_escalated:
        for cid in cases.filter(escalation_level__gt=0).values_list("pk", flat=True):
            reasons[cid].append(PickReason.ESCALATED.value)
    if rules.pick_dissatisfied:
        unhappy = ReturnVisit.objects.filter(complaint_id=OuterRef("pk"), reached=True).filter(
            Q(resolved=False) | Q(satisfaction__lt=3)
        )
        for cid in cases.filter(Exists(unhappy)).values_list("pk", flat=True):
            reasons[cid].append(PickReason.DISSATISFIED.value)
    if rules.pick_breached:
        missed = SlaClock.objects.filter(complaint_id=OuterRef("pk"), breached_at__isnull=False)
        for cid in cases.filter(Exists(missed)).values_list("pk", flat=True):
            reasons[cid].append(PickReason.BREACHED.value)
    if rules.remedy_above is not None:
        big = Remedy.objects.filter(
            complaint_id=OuterRef("pk"), status=RemedyStatus.APPROVED, amount__gt=rules.remedy_above
        )
        for cid in cases.filter(Exists(big)).values_list("pk", flat=True):
            reasons[cid].append(PickReason.REMEDY.value)
    if rules.pick_risk:
        for cid, flags in case_flags(sorted(ids)).items():
            if flags.risk is not None:
                reasons[cid].append(PickReason.RISK.value)
    return {cid: sorted(set(r), key=list(PickReason.values).index) for cid, r in reasons.items()}


# -- the inspector's queue and the scorecards --------------------------------------------------------
def queue_for(inspector: User) -> QuerySet[Pick]:
    """Picks waiting for this inspector: never inspected, or calibration picks scored by one other
    inspector (blind: the queue does not say by whom or how). Not the inspector's own cases."""
    mine = Inspection.objects.filter(pick_id=OuterRef("pk"), inspector_id=inspector.pk)
    scored = Inspection.objects.filter(pick_id=OuterRef("pk"))
    return (
        Pick.objects.exclude(agent_id=inspector.pk)
        .filter(~Exists(mine))
        .filter(Q(~Exists(scored)) | Q(calibration=True))
        .select_related("run", "complaint", "complaint__category", "agent")
        .order_by("-run__week_start", "id")
    )


def pending_appeals() -> QuerySet[Appeal]:
    return (
        Appeal.objects.filter(decided_at__isnull=True)
        .select_related("inspection", "inspection__complaint", "inspection__agent", "filed_by")
        .order_by("filed_at", "id")
    )


def inspections_of_agent(agent: User) -> QuerySet[Inspection]:
    """The scorecards an agent receives (calibration scores excluded), newest first."""
    return (
        Inspection.objects.filter(agent_id=agent.pk, is_calibration=False)
        .select_related("complaint", "card", "card__scorecard", "inspector")
        .order_by("-submitted_at", "-id")
    )


@dataclass(frozen=True)
class CalibrationRow:
    pick: Pick
    scores: list[tuple[str, Decimal]]  # (inspector, score)

    @property
    def spread(self) -> Decimal:
        values = [s for _, s in self.scores]
        return max(values) - min(values)


def calibration_report() -> tuple[list[CalibrationRow], Decimal | None]:
    """Calibration picks scored by two inspectors, each with the spread of their scores (max − min),
    and the average spread (None before any)."""
    rows: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    picks: dict[int, Pick] = {}
    for ins in (
        Inspection.objects.filter(pick__calibration=True)
        .select_related("pick", "pick__complaint", "pick__agent", "inspector")
        .order_by("pick_id", "submitted_at", "id")
    ):
        rows[ins.pick_id].append((ins.inspector.username, ins.score))
        picks[ins.pick_id] = ins.pick
    out = [CalibrationRow(picks[pid], scores) for pid, scores in rows.items() if len(scores) >= 2]
    average = (sum((r.spread for r in out), Decimal(0)) / len(out)).quantize(Decimal("0.1")) if out else None
    return out, average
