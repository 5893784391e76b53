"""Reads of clocks, explained: state, due time, remaining business time and how it was computed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.sla.calendars import CalendarSpec, business_time_between, uses_fallback
from tousu.sla.models import ClockState, SlaClock
from tousu.sla.services import Case


@dataclass(frozen=True)
class ClockView:
    """One clock of a case as a page or the API shows it."""

    kind: str
    label: str
    cycle: int
    state: str
    policy: str
    calendar: str
    started_at: datetime
    due_at: datetime
    warn_at: datetime | None
    warned_at: datetime | None
    met_at: datetime | None
    breached_at: datetime | None
    paused_since: datetime | None
    paused: timedelta
    remaining: timedelta | None  # business time left; negative: overdue by that much; None once ended
    uses_fallback: bool
    explanation: str


def _fmt(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [_("%(n)sd") % {"n": days}] if days else []
    parts += [_("%(n)sh") % {"n": hours}] if hours else []
    parts.append(_("%(n)smin") % {"n": mins})
    return " ".join(parts)


def _rule(spec: CalendarSpec) -> str:
    """The calendar's counting rule in the reader's language."""
    if spec.always_open:
        return _("every hour of every day")
    windows = ", ".join(f"{a:%H:%M}–{'24:00' if b == time(0) else f'{b:%H:%M}'}" for a, b in spec.windows)
    if spec.use_chinese_holidays:
        return _("%(windows)s on working days, Chinese public holidays and make-up days, %(zone)s") % {
            "windows": windows,
            "zone": spec.time_zone,
        }
    return _("%(windows)s Monday to Friday, %(zone)s") % {"windows": windows, "zone": spec.time_zone}


def _remaining(clock: SlaClock, spec: CalendarSpec, now: datetime) -> timedelta | None:
    if clock.state == ClockState.PAUSED and clock.paused_at is not None:
        return business_time_between(spec, clock.paused_at, clock.due_at)
    if clock.state in (ClockState.RUNNING, ClockState.BREACHED) and clock.ended_at is None:
        if now <= clock.due_at:
            return business_time_between(spec, now, clock.due_at)
        return -business_time_between(spec, clock.due_at, now)
    return None


def clock_view(clock: SlaClock, now: datetime | None = None) -> ClockView:
    now = now or timezone.now()
    spec = clock.calendar.spec()
    paused = timedelta(seconds=clock.paused_seconds)
    if clock.state == ClockState.PAUSED and clock.paused_at is not None:
        paused += business_time_between(spec, clock.paused_at, now)
    limit = timedelta(minutes=clock.target_minutes)
    fallback = any(
        uses_fallback(spec, (clock.started_at + timedelta(days=d)).date())
        for d in range(0, max(1, (clock.due_at - clock.started_at).days + 2))
    )
    local = timezone.localtime
    text = _(
        "Started %(start)s; limit %(limit)s counted in “%(calendar)s” (%(rule)s); "
        "paused %(paused)s of business time; due %(due)s."
    ) % {
        "start": f"{local(clock.started_at):%Y-%m-%d %H:%M}",
        "limit": _fmt(limit),
        "calendar": spec.name,
        "rule": _rule(spec),
        "paused": _fmt(paused),
        "due": f"{local(clock.due_at):%Y-%m-%d %H:%M}",
    }
    if clock.state == ClockState.PAUSED:
        text += " " + _("Paused while the case waits; the due time moves when it resumes.")
    if clock.breached_at:
        text += " " + _("Missed; the breach was recorded.")
    if fallback:
        text += " " + _(
            "Holiday data is missing for part of this period: Monday to Friday were counted as working days."
        )
    return ClockView(
        kind=clock.kind,
        label=str(clock.get_kind_display()),
        cycle=clock.cycle,
        state=clock.state,
        policy=clock.policy.name,
        calendar=spec.name,
        started_at=clock.started_at,
        due_at=clock.due_at,
        warn_at=clock.warn_at,
        warned_at=clock.warned_at,
        met_at=clock.met_at,
        breached_at=clock.breached_at,
        paused_since=clock.paused_at,
        paused=paused,
        remaining=_remaining(clock, spec, now),
        uses_fallback=fallback,
        explanation=text,
    )


def sla_explain(*, complaint: Case, now: datetime | None = None) -> list[ClockView]:
    """Every clock of the case, oldest first, explained."""
    clocks = (
        SlaClock.objects.filter(complaint=complaint)
        .select_related("policy", "calendar")
        .prefetch_related("calendar__days")
    )
    return [clock_view(c, now) for c in clocks.order_by("started_at", "id")]
