"""Agent performance per agent and team, per period: cases handled, FCR, 及时率, average handling
time, reopen rate, satisfaction, QA score, remedies granted.

The analytics rollups have no agent dimension, so the per-agent figures are counted here from the
cases, with the KPI definitions of ``tousu.analytics.kpis`` (numerator ÷ denominator); a team's
department figures are read from the rollups through ``tousu.analytics.selectors``. A case is the
work of its agent (``AGENT_OF_CASE``); every figure counts what happened in the period (local days).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from tousu.accounts.models import User
from tousu.accounts.roles import Role
from tousu.analytics.kpis import kpi_value
from tousu.analytics.selectors import Filters, Period, rollup_sums
from tousu.complaints.models import Complaint, ComplaintEvent, Remedy, ReturnVisit
from tousu.quality.models import Inspection
from tousu.quality.selectors import AGENT_OF_CASE, local_start
from tousu.sla.models import ClockKind, SlaClock
from tousu.vocabulary.choices import RemedyStatus
from tousu.vocabulary.events import EventKind

# The roles whose work is appraised.
APPRAISED_ROLES = (Role.AGENT, Role.HANDLER)
# The department KPIs a team's row shows from the rollups.
TEAM_KPIS = ("fcr", "timely_reply", "handling_hours", "reopen_rate", "satisfaction")


@dataclass
class AgentFigures:
    """The counts behind one agent's figures for one period."""

    handled: int = 0  # cases closed in the period
    first_contact: int = 0  # … of which resolved at first contact
    reply_clocks: int = 0  # reply deadlines ended (met) or missed in the period
    reply_met: int = 0  # … met in time
    replied: int = 0  # cases replied to in the period
    handling_seconds: int = 0  # acceptance → reply, calendar time, of those
    reopened: int = 0  # cases reopened in the period
    visits_reached: int = 0  # return visits that reached the customer in the period
    visits_satisfied: int = 0  # … with satisfaction ≥ 4
    inspections: int = 0  # inspections scored in the period (calibration scores excluded)
    qa_sum: Decimal = field(default_factory=lambda: Decimal(0))
    remedies: int = 0  # remedies approved in the period
    remedies_yuan: Decimal = field(default_factory=lambda: Decimal(0))

    @staticmethod
    def _pct(num: int, den: int) -> float | None:
        return num / den * 100 if den else None

    @property
    def fcr(self) -> float | None:
        return self._pct(self.first_contact, self.handled)

    @property
    def timely(self) -> float | None:
        return self._pct(self.reply_met, self.reply_clocks)

    @property
    def handling_hours(self) -> float | None:
        return self.handling_seconds / self.replied / 3600 if self.replied else None

    @property
    def reopen_rate(self) -> float | None:
        return self._pct(self.reopened, self.handled)

    @property
    def satisfaction(self) -> float | None:
        return self._pct(self.visits_satisfied, self.visits_reached)

    @property
    def qa_score(self) -> Decimal | None:
        return (self.qa_sum / self.inspections).quantize(Decimal("0.1")) if self.inspections else None

    def add(self, other: AgentFigures) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def agent_figures(period: Period, agent_ids: list[int]) -> dict[int, AgentFigures]:
    """Each agent's counts for the period: a handful of grouped queries, whatever the number of agents."""
    start, end = local_start(period.start), local_start(period.end)
    figures: dict[int, AgentFigures] = defaultdict(AgentFigures)
    cases = Complaint.objects.annotate(agent=AGENT_OF_CASE).filter(agent__in=agent_ids)

    for row in (
        cases.filter(closed_at__gte=start, closed_at__lt=end)
        .values("agent")
        .annotate(n=Count("pk"), fcr=Count("pk", filter=Q(is_first_contact_resolution=True)))
    ):
        figures[row["agent"]].handled = row["n"]
        figures[row["agent"]].first_contact = row["fcr"]

    replied = cases.filter(replied_at__gte=start, replied_at__lt=end, accepted_at__isnull=False)
    for agent, replied_at, accepted_at in replied.values_list("agent", "replied_at", "accepted_at"):
        assert replied_at is not None
        assert accepted_at is not None
        figures[agent].replied += 1
        figures[agent].handling_seconds += int((replied_at - accepted_at).total_seconds())

    in_period = Q(met_at__gte=start, met_at__lt=end, breached_at__isnull=True) | Q(
        breached_at__gte=start, breached_at__lt=end
    )
    clocks = SlaClock.objects.filter(in_period, kind=ClockKind.REPLY).annotate(agent=_agent_of("complaint"))
    for row in (
        clocks.filter(agent__in=agent_ids)
        .values("agent")
        .annotate(n=Count("pk"), met=Count("pk", filter=Q(breached_at__isnull=True)))
    ):
        figures[row["agent"]].reply_clocks = row["n"]
        figures[row["agent"]].reply_met = row["met"]

    reopened = ComplaintEvent.objects.filter(
        complaint_id=OuterRef("pk"), kind=EventKind.REOPENED, created_at__gte=start, created_at__lt=end
    )
    for row in cases.filter(Exists(reopened)).values("agent").annotate(n=Count("pk")):
        figures[row["agent"]].reopened = row["n"]

    visits = ReturnVisit.objects.filter(visited_at__gte=start, visited_at__lt=end, reached=True).annotate(
        agent=_agent_of("complaint")
    )
    for row in (
        visits.filter(agent__in=agent_ids)
        .values("agent")
        .annotate(n=Count("pk"), ok=Count("pk", filter=Q(satisfaction__gte=4)))
    ):
        figures[row["agent"]].visits_reached = row["n"]
        figures[row["agent"]].visits_satisfied = row["ok"]

    for row in (
        Inspection.objects.filter(
            agent_id__in=agent_ids, is_calibration=False, submitted_at__gte=start, submitted_at__lt=end
        )
        .values("agent_id")
        .annotate(n=Count("pk"), total=Sum("final_score"))
    ):
        figures[row["agent_id"]].inspections = row["n"]
        figures[row["agent_id"]].qa_sum = Decimal(row["total"])

    remedies = Remedy.objects.filter(
        status=RemedyStatus.APPROVED, decided_at__gte=start, decided_at__lt=end
    ).annotate(agent=_agent_of("complaint"))
    for row in (
        remedies.filter(agent__in=agent_ids).values("agent").annotate(n=Count("pk"), total=Sum("amount"))
    ):
        figures[row["agent"]].remedies = row["n"]
        figures[row["agent"]].remedies_yuan = Decimal(row["total"])
    return {a: figures[a] for a in agent_ids}


def _agent_of(relation: str) -> Coalesce:
    """``AGENT_OF_CASE`` seen from a row that points to the case through ``relation``."""
    return Coalesce(
        F(f"{relation}__assignee_id"),
        F(f"{relation}__first_contact_owner_id"),
        F(f"{relation}__registered_by_id"),
    )


def appraised_agents(department_id: int | None) -> QuerySet[User]:
    """The agents and handlers of a department (all departments: None), by name."""
    users = User.objects.filter(is_active=True, role__in=APPRAISED_ROLES).select_related("department")
    if department_id is not None:
        users = users.filter(department_id=department_id)
    return users.order_by("username")


@dataclass(frozen=True)
class LeagueRow:
    agent: User
    figures: AgentFigures


def league_table(period: Period, department_id: int | None) -> tuple[list[LeagueRow], AgentFigures]:
    """The team's agents, best QA score first (unscored last), and the team's summed counts."""
    agents = list(appraised_agents(department_id))
    figures = agent_figures(period, [a.pk for a in agents])
    rows = [LeagueRow(a, figures[a.pk]) for a in agents]
    rows.sort(key=lambda r: (r.figures.qa_score is None, -(r.figures.qa_score or 0), r.agent.username))
    team = AgentFigures()
    for r in rows:
        team.add(r.figures)
    return rows, team


def department_kpis(period: Period, department_id: int | None) -> dict[str, float | None]:
    """The team's department figures from the analytics rollups (cases it led)."""
    sums = rollup_sums(period, Filters(department_id=department_id))
    return {code: kpi_value(code, sums) for code in TEAM_KPIS}


def agent_cases(period: Period, agent_id: int) -> QuerySet[Complaint]:
    """The drill-down: the agent's cases closed in the period, newest first."""
    return (
        Complaint.objects.annotate(agent=AGENT_OF_CASE)
        .filter(
            agent=agent_id, closed_at__gte=local_start(period.start), closed_at__lt=local_start(period.end)
        )
        .select_related("category", "category__parent")
        .order_by("-closed_at", "-id")
    )


def qa_trend(agent_id: int, today: date, weeks: int = 8) -> list[tuple[date, Decimal | None, int]]:
    """The agent's average QA score per week, the last ``weeks`` weeks, oldest first."""
    monday = today - timedelta(days=today.weekday())
    out = []
    for i in range(weeks - 1, -1, -1):
        start = monday - timedelta(days=7 * i)
        row = Inspection.objects.filter(
            agent_id=agent_id,
            is_calibration=False,
            submitted_at__gte=local_start(start),
            submitted_at__lt=local_start(start + timedelta(days=7)),
        ).aggregate(avg=Avg("final_score"), n=Count("pk"))
        avg = Decimal(row["avg"]).quantize(Decimal("0.1")) if row["avg"] is not None else None
        out.append((start, avg, row["n"]))
    return out
