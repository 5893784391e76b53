"""Clocks follow the case. The case services call ``sla_on_event`` for every event they write
(explicitly, in the same transaction): it starts, pauses, resumes, meets and cancels the case's
clocks, and tells the case its next deadline. Policy edits go through ``sla_policy_update``
(audited).

``sla`` sits below the case services (ADR 0014): it never imports ``complaints``. It speaks of
statuses and event kinds through ``tousu.vocabulary``, takes the case and its events as the
objects the case services hand it, and reads the category tree through its policies' own foreign
key. What joins cases and clocks in the other direction (the sweeper's events and escalations,
``next_due_at`` in bulk, replaying history) is ``tousu.complaints.services.deadlines``."""

from __future__ import annotations

import threading
import time as _time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, TypeAlias, cast

from django.db import transaction
from django.db.models import Manager, Max, Model, Q
from django.utils.translation import gettext as _

from tousu.accounts.models import Region, User
from tousu.accounts.roles import Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.errors import NotFound, PermissionDenied, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.sla.calendars import CalendarSpec, add_business_time, business_time_between
from tousu.sla.models import Area, ClockState, LevelRule, SlaClock, SlaPolicy
from tousu.vocabulary.states import TERMINAL, Status

# The case and its events as the case services hand them over (``tousu.complaints.models``'
# ``Complaint`` and ``ComplaintEvent``, not imported: ``sla`` is below the case services). A case
# brings ``pk``, ``status``, ``level``, ``channel``, ``category_id``, ``region_id`` and
# ``next_due_at``; an event ``kind``, ``to_status`` and ``created_at``.
Case: TypeAlias = Any
CaseEvent: TypeAlias = Any

OPEN_CLOCK_STATES = (ClockState.RUNNING, ClockState.PAUSED)
CACHE_SECONDS = 10.0


# --- configuration, cached per process ---------------------------------------------------------


@dataclass(frozen=True)
class _Policy:
    row: SlaPolicy
    spec: CalendarSpec
    category_ids: frozenset[int]  # empty: any


@dataclass
class _Config:
    loaded_at: float
    by_start: dict[str, list[_Policy]]
    kinds: frozenset[str]  # every event kind some policy starts or stops on
    specs: dict[int, CalendarSpec]
    levels: dict[str, LevelRule]
    rural: dict[int, bool | None]  # region id → rural


_cache: _Config | None = None
_lock = threading.Lock()


def sla_config_changed() -> None:
    """Forget the cached policies (called after every edit; other processes refresh within seconds)."""
    global _cache
    with _lock:
        _cache = None


def _config() -> _Config:
    global _cache
    cached = _cache
    if cached is not None and _time.monotonic() - cached.loaded_at < CACHE_SECONDS:
        return cached
    from tousu.sla.models import BusinessCalendar

    specs = {c.pk: c.spec() for c in BusinessCalendar.objects.prefetch_related("days")}
    children: dict[int, set[int]] = {}
    for pk, parent_id in categories().values_list("pk", "parent_id"):
        if parent_id is not None:
            children.setdefault(parent_id, set()).add(pk)
    by_start: dict[str, list[_Policy]] = {}
    for row in SlaPolicy.objects.filter(is_active=True).order_by("clock", "order", "id"):
        cats: frozenset[int] = frozenset()
        if row.match_category_id is not None:
            cats = frozenset({row.match_category_id, *children.get(row.match_category_id, set())})
        by_start.setdefault(row.start_on, []).append(
            _Policy(row=row, spec=specs[row.calendar_id], category_ids=cats)
        )
    kinds = set(by_start)
    for policies in by_start.values():
        for p in policies:
            kinds.update(p.row.stop_on)
    config = _Config(
        loaded_at=_time.monotonic(),
        by_start=by_start,
        kinds=frozenset(kinds),
        specs=specs,
        levels={r.level: r for r in LevelRule.objects.all()},
        rural=dict(Region.objects.values_list("pk", "is_rural")),
    )
    with _lock:
        _cache = config
    return config


def level_rule(level: str) -> LevelRule | None:
    return _config().levels.get(level)


def categories() -> Manager[Model]:
    """The case categories, reached through the policies' own foreign key to them
    (``SlaPolicy.match_category``): a table ``sla`` reads without importing ``complaints``."""
    model = cast(type[Model], SlaPolicy._meta.get_field("match_category").related_model)
    return model._default_manager


def _matches(policy: _Policy, complaint: Case, rural: bool | None) -> bool:
    row = policy.row
    if row.match_levels and complaint.level not in row.match_levels:
        return False
    if row.match_channels and complaint.channel not in row.match_channels:
        return False
    if policy.category_ids and complaint.category_id not in policy.category_ids:
        return False
    if row.match_area == Area.URBAN and rural is not False:
        return False
    return not (row.match_area == Area.RURAL and rural is not True)


def _is_rural(complaint: Case, config: _Config) -> bool | None:
    if complaint.region_id is None:
        return None
    if complaint.region_id not in config.rural:  # a region added since the cache was loaded
        config.rural[complaint.region_id] = (
            Region.objects.filter(pk=complaint.region_id).values_list("is_rural", flat=True).first()
        )
    return config.rural[complaint.region_id]


# --- clock arithmetic --------------------------------------------------------------------------


def _warn_at(policy: SlaPolicy, spec: CalendarSpec, started: datetime, paused: timedelta) -> datetime | None:
    target = timedelta(minutes=policy.target_minutes)
    if policy.warn_percent:
        lead = target * (100 - policy.warn_percent) / 100
    elif policy.warn_lead_minutes:
        lead = timedelta(minutes=min(policy.warn_lead_minutes, policy.target_minutes))
    else:
        return None
    return add_business_time(spec, started, target - lead + paused)


def _schedule(clock: SlaClock, policy: SlaPolicy, spec: CalendarSpec) -> None:
    """Due and warning times from the start, the target and the business time spent paused."""
    paused = timedelta(seconds=clock.paused_seconds)
    clock.due_at = add_business_time(spec, clock.started_at, timedelta(minutes=clock.target_minutes) + paused)
    clock.warn_at = (
        _warn_at(policy, spec, clock.started_at, paused) if clock.warned_at is None else clock.warn_at
    )


# --- the hook the case services call ------------------------------------------------------------


def sla_on_event(*, complaint: Case, event: CaseEvent) -> list[SlaClock]:
    """Apply one case event to the case's clocks. Runs in the caller's transaction, with the case
    row already locked. Returns the clocks it started, and sets ``complaint.next_due_at`` (the
    earliest owed due time, what queues sort on) for the caller to save when it changed."""
    config = _config()
    kind = event.kind
    if not event.to_status and kind not in config.kinds:
        return []  # neither a status change nor an event any policy starts or stops on
    now = event.created_at
    status = Status(complaint.status)
    open_clocks: list[SlaClock] = []
    if kind != "registered":  # a new case has no clocks yet
        open_clocks = list(
            SlaClock.objects.filter(complaint=complaint, ended_at__isnull=True).select_related("policy")
        )
    for clock in open_clocks:
        _apply(clock, kind, status, now, config.specs.get(clock.calendar_id) or clock.calendar.spec())
    started = _start(
        complaint, kind, status, now, config, {c.kind for c in open_clocks if c.ended_at is None}
    )
    complaint.next_due_at = next_due([*open_clocks, *started])
    return started


def next_due(clocks: list[SlaClock]) -> datetime | None:
    """The earliest due time among these clocks still owed: running, or missed (breached) and not
    met yet. A missed clock keeps the case's deadline at its due time, so the queues, which sort on
    ``next_due_at``, put the most overdue case first and show the deadline they sort by. None: no
    deadline is owed (every clock met, cancelled or paused)."""
    owed = [c.due_at for c in clocks if c.state == ClockState.RUNNING or owed_breach(c)]
    return min(owed) if owed else None


# The clocks ``next_due`` reads, as a query condition.
OWED_CLOCK: Final = Q(state=ClockState.RUNNING) | Q(state=ClockState.BREACHED, ended_at__isnull=True)


def owed_breach(clock: SlaClock) -> bool:
    """A missed deadline that is still owed: breached, and not met or ended since."""
    return clock.state == ClockState.BREACHED and clock.ended_at is None


def _apply(
    clock: SlaClock, kind: str, status: Status, now: datetime, spec: CalendarSpec, *, save: bool = True
) -> None:
    """Meet, cancel, pause or resume one open clock for one event (in memory only with ``save=False``)."""
    policy = clock.policy
    fields: list[str] = []
    if clock.state == ClockState.PAUSED and (
        kind in policy.stop_on or status not in policy.pause_in or status in TERMINAL
    ):
        clock.paused_seconds += int(business_time_between(spec, clock.paused_at or now, now).total_seconds())
        clock.paused_at = None
        clock.state = ClockState.RUNNING
        fields += ["state", "paused_at", "paused_seconds"]
    if kind in policy.stop_on:
        if clock.state != ClockState.BREACHED:
            clock.state = ClockState.MET
        clock.met_at = clock.ended_at = (
            now  # a breached clock keeps its state and records when it was met late
        )
        fields += ["state", "met_at", "ended_at"]
    elif status in TERMINAL:
        if clock.state != ClockState.BREACHED:
            clock.state = ClockState.CANCELLED
        clock.ended_at = now
        fields += ["state", "ended_at"]
    elif clock.state == ClockState.RUNNING and status in policy.pause_in:
        clock.state = ClockState.PAUSED
        clock.paused_at = now
        fields += ["state", "paused_at"]
    elif "paused_seconds" in fields:  # resumed: the due time moves by the business time spent paused
        _schedule(clock, policy, spec)
        fields += ["due_at", "warn_at"]
    if fields and save:
        clock.save(update_fields=list(dict.fromkeys(fields)))


def _start(
    complaint: Case,
    kind: str,
    status: Status,
    now: datetime,
    config: _Config,
    open_kinds: set[str],
    *,
    cycles: dict[str, int] | None = None,
) -> list[SlaClock]:
    """Start the clocks whose first matching policy starts on this event. With ``cycles`` (the last
    cycle of each clock kind, known to the caller) nothing is read or written: the caller inserts."""
    candidates = config.by_start.get(kind, [])
    if not candidates or status in TERMINAL:
        return []
    rural = _is_rural(complaint, config)
    chosen: dict[str, _Policy] = {}
    for policy in candidates:
        clock_kind = policy.row.clock
        if clock_kind in chosen or clock_kind in open_kinds:
            continue
        if _matches(policy, complaint, rural):
            chosen[clock_kind] = policy
    if not chosen:
        return []
    insert = cycles is None
    if cycles is None:
        cycles = {}
    if insert and kind != "registered":
        cycles = dict(
            SlaClock.objects.filter(complaint=complaint, kind__in=list(chosen))
            .values("kind")
            .annotate(last=Max("cycle"))
            .values_list("kind", "last")
        )
    started: list[SlaClock] = []
    for clock_kind, policy in chosen.items():
        clock = SlaClock(
            complaint=complaint,
            policy=policy.row,
            kind=clock_kind,
            cycle=cycles.get(clock_kind, 0) + 1,
            calendar_id=policy.row.calendar_id,
            target_minutes=policy.row.target_minutes,
            started_at=now,
        )
        _schedule(clock, policy.row, policy.spec)
        if status in policy.row.pause_in:
            clock.state = ClockState.PAUSED
            clock.paused_at = now
        started.append(clock)
    if insert:
        SlaClock.objects.bulk_create(started)
    return started


def sla_plan_new_case(complaint: Case, steps: list[tuple[str, str, Status, datetime]]) -> list[SlaClock]:
    """The clocks a case that is not in the database yet has after these events, computed in
    memory: exactly what ``sla_on_event`` would leave after each event in turn, for the caller to
    insert in one statement once the case has its id. Each step is (event kind, the event's
    ``to_status``, the case status after the event, the event time). Sets ``complaint.next_due_at``
    (the earliest owed due time), so the case row is written once, already right."""
    config = _config()
    clocks: list[SlaClock] = []
    for kind, to_status, status, now in steps:
        if not to_status and kind not in config.kinds:
            continue  # as in sla_on_event
        open_clocks = [c for c in clocks if c.ended_at is None]
        for clock in open_clocks:
            _apply(clock, kind, status, now, config.specs[clock.calendar_id], save=False)
        cycles: dict[str, int] = {}
        for clock in clocks:
            cycles[clock.kind] = max(cycles.get(clock.kind, 0), clock.cycle)
        clocks += _start(
            complaint,
            kind,
            status,
            now,
            config,
            {c.kind for c in open_clocks if c.ended_at is None},
            cycles=cycles,
        )
    complaint.next_due_at = next_due(clocks)
    return clocks


# --- configuration edits (audited) --------------------------------------------------------------

EDITABLE = {
    "name",
    "order",
    "is_active",
    "match_levels",
    "match_channels",
    "match_category_id",
    "match_area",
    "start_on",
    "stop_on",
    "pause_in",
    "target_minutes",
    "calendar_id",
    "warn_percent",
    "warn_lead_minutes",
    "escalate_on_breach",
    "reassign_department_id",
    "penalty",
}


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _require_sla_editor(actor: User) -> None:
    if not (actor.can(Cap.SLA_EDIT) or actor.is_superuser):
        raise PermissionDenied(_("Only supervisors, managers and administrators edit time limits."))


@transaction.atomic
def sla_policy_update(
    *, actor: User, policy_id: int, changes: dict[str, Any], origin: Origin = SYSTEM
) -> SlaPolicy:
    """Change a policy. Audited with the values before and after. Applies to clocks started from
    now on; run ``sla_recompute`` to move the clocks already running."""
    _require_sla_editor(actor)
    policy = SlaPolicy.objects.select_for_update().filter(pk=policy_id).first()
    if policy is None:
        raise NotFound(_("No such policy."))
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationError(
            _("These fields cannot be changed: %(fields)s.") % {"fields": ", ".join(sorted(unknown))},
            fields={f: "not editable" for f in unknown},
        )
    before = {f: _plain(getattr(policy, f)) for f in changes}
    for field, value in changes.items():
        setattr(policy, field, value)
    sla_policy_validate(policy)
    policy.save(
        update_fields=[*(f.removesuffix("_id") if f.endswith("_id") else f for f in changes), "updated_at"]
    )
    audit_record(
        actor=actor,
        kind=AuditKind.CONFIG_CHANGED,
        object_type="sla_policy",
        object_id=policy.pk,
        origin=origin,
        payload={"before": before, "after": {f: _plain(getattr(policy, f)) for f in changes}},
    )
    sla_config_changed()  # now for this process (it sees its own transaction), and again after commit
    transaction.on_commit(sla_config_changed)
    return policy


def sla_policy_validate(policy: SlaPolicy) -> None:
    """Refuse a policy that could never work: raise ``ValidationError`` naming the field."""
    from tousu.vocabulary.choices import Channel, Level
    from tousu.vocabulary.events import EventKind

    problems: dict[str, str] = {}
    if not policy.target_minutes or policy.target_minutes <= 0:
        problems["target_minutes"] = "must be positive"
    if policy.warn_percent is not None and not 0 < policy.warn_percent < 100:
        problems["warn_percent"] = "between 1 and 99"
    if policy.start_on not in EventKind.values:
        problems["start_on"] = "unknown event"
    if not policy.stop_on or any(k not in EventKind.values for k in policy.stop_on):
        problems["stop_on"] = "unknown event"
    if any(s not in Status.values for s in policy.pause_in or []):
        problems["pause_in"] = "unknown status"
    if any(v not in Level.values for v in policy.match_levels or []):
        problems["match_levels"] = "unknown level"
    if any(v not in Channel.values for v in policy.match_channels or []):
        problems["match_channels"] = "unknown channel"
    if problems:
        raise ValidationError(
            _("The policy is not valid: %(problems)s.")
            % {"problems": ", ".join(f"{k} {v}" for k, v in problems.items())},
            fields=problems,
        )


@transaction.atomic
def sla_clocks_recompute(*, actor: User, origin: Origin = SYSTEM) -> int:
    """Apply the current policies to every running or paused clock: new target, calendar and
    warning, counted from each clock's own start. Audited. Returns how many clocks moved. The
    cases' ``next_due_at`` is then refreshed by ``complaints.services.deadlines.sla_recompute``,
    which is what callers use."""
    _require_sla_editor(actor)
    sla_config_changed()
    config = _config()
    moved = 0
    clocks = (
        SlaClock.objects.filter(state__in=OPEN_CLOCK_STATES)
        .select_related("policy")
        .select_for_update(of=("self",))
    )
    for clock in clocks.iterator(chunk_size=2000):
        policy = clock.policy
        spec = config.specs[policy.calendar_id]
        before = (clock.due_at, clock.warn_at)
        clock.target_minutes = policy.target_minutes
        clock.calendar_id = policy.calendar_id
        _schedule(clock, policy, spec)
        if (clock.due_at, clock.warn_at) != before:
            clock.save(update_fields=["target_minutes", "calendar", "due_at", "warn_at"])
            moved += 1
    audit_record(
        actor=actor,
        kind=AuditKind.CONFIG_CHANGED,
        object_type="sla_clocks",
        object_id="open",
        origin=origin,
        payload={"recomputed": moved},
    )
    return moved


def sla_reclassified(*, complaint: Case) -> list[dict[str, Any]]:
    """Re-evaluate the case's open clocks after its category or level changed (the case services
    call it, in their transaction, with the case row locked): each open clock takes the first
    policy of its kind that matches the case now, among those that start on the same event as its
    own, with that policy's target and calendar, counted from the clock's own start and pauses.
    Sets ``complaint.next_due_at`` for the caller to save when it changed. Returns what changed,
    for the event: clock kind, old and new target minutes and due times."""
    config = _config()
    rural = _is_rural(complaint, config)
    clocks = list(
        SlaClock.objects.filter(complaint=complaint, ended_at__isnull=True).select_related("policy")
    )
    changes: list[dict[str, Any]] = []
    for clock in clocks:
        candidates = config.by_start.get(clock.policy.start_on, [])
        match = next(
            (p for p in candidates if p.row.clock == clock.kind and _matches(p, complaint, rural)), None
        )
        if match is None or match.row.pk == clock.policy_id:
            continue
        before = (clock.target_minutes, clock.due_at)
        clock.policy = match.row
        clock.target_minutes = match.row.target_minutes
        clock.calendar_id = match.row.calendar_id
        _schedule(clock, match.row, match.spec)
        clock.save(update_fields=["policy", "target_minutes", "calendar", "due_at", "warn_at"])
        changes.append(
            {
                "clock": clock.kind,
                "from_minutes": before[0],
                "to_minutes": clock.target_minutes,
                "from_due_at": before[1].isoformat(),
                "to_due_at": clock.due_at.isoformat(),
            }
        )
    if changes:
        complaint.next_due_at = next_due(clocks)
    return changes
