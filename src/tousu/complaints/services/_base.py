"""Building blocks shared by the case services: validation, locking, events, ticket numbers."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import Department, User
from tousu.common.errors import ConflictError, InvalidTransition, NotFound, ValidationError
from tousu.common.logs import current_request_id
from tousu.common.origin import WORKER, Origin
from tousu.complaints.events import NOTIFYING, EventKind
from tousu.complaints.models import (
    Complaint,
    ComplaintEvent,
    TicketCounter,
)
from tousu.complaints.services._tickets import (
    ticket_block_size,
    ticket_cached,
    ticket_format,
    ticket_reserved,
)
from tousu.complaints.states import Status, can_transition
from tousu.sla.models import SlaClock
from tousu.sla.services import sla_on_event

MAX_TEXT = 10_000
FUTURE_SKEW = timedelta(minutes=5)
OUTBOX_CHANNEL = "tousu_outbox"


def _label(actor: User | None, origin: Origin) -> str:
    """Who acted, for the timeline: the staff user, else the principal the origin names (the API
    key's name, "customer", "worker", …)."""
    return actor.username if actor is not None else origin.label


def _text(value: str, field: str, *, required: bool = True, max_length: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(_("'%(field)s' is required.") % {"field": field}, fields={field: "required"})
    if len(text) > max_length:
        raise ValidationError(
            _("'%(field)s' is too long (%(length)s characters, at most %(max_length)s).")
            % {"field": field, "length": len(text), "max_length": max_length},
            fields={field: "too long"},
        )
    return text


_CHOICE_VALUES: dict[Any, frozenset[str]] = {}


def _choice(value: str, choices: Any, field: str) -> str:
    allowed_values = _CHOICE_VALUES.get(choices)
    if allowed_values is None:
        allowed_values = _CHOICE_VALUES[choices] = frozenset(choices.values)
    if value not in allowed_values:
        allowed = ", ".join(choices.values)
        raise ValidationError(
            _("'%(value)s' is not a valid %(field)s; use one of: %(allowed)s.")
            % {"value": value, "field": field, "allowed": allowed},
            fields={field: "invalid choice"},
        )
    return str(value)


def _lock(complaint_id: int, expected_version: int | None = None) -> Complaint:
    """Lock the case row for the rest of the transaction (a no-op on SQLite, whose IMMEDIATE
    transactions already serialise writers) and check the caller's version."""
    complaint = Complaint.objects.select_for_update().filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFound(_("No such case."))
    if expected_version is not None and complaint.version != expected_version:
        raise ConflictError(
            _(
                "Case %(case)s was changed by someone else since you opened it (version %(expected_version)s, now %(current_version)s). Reload it and try again."
            )
            % {"case": complaint, "expected_version": expected_version, "current_version": complaint.version}
        )
    return complaint


def _require_transition(complaint: Complaint, dst: Status) -> Status:
    src = Status(complaint.status)
    if not can_transition(src, dst):
        raise InvalidTransition(
            src=src,
            dst=dst,
            message=_("Case %(case)s is '%(src)s' and cannot become '%(dst)s'.")
            % {"case": complaint, "src": src.label, "dst": dst.label},
        )
    return src


def _event(
    complaint: Complaint,
    kind: EventKind,
    actor: User | None,
    now: datetime,
    *,
    origin: Origin,
    src: str = "",
    dst: str = "",
    payload: dict[str, Any] | None = None,
) -> ComplaintEvent:
    event = ComplaintEvent.objects.create(
        complaint=complaint,
        created_at=now,
        kind=kind,
        actor=actor,
        actor_label=_label(actor, origin),
        via=origin.via,
        from_status=src,
        to_status=dst,
        payload=payload or {},
        pending_dispatch=kind in NOTIFYING,
        request_id=current_request_id() or None,
    )
    _clocks_follow(complaint, event)  # explicit, same transaction: clocks follow the case
    if event.pending_dispatch:
        outbox_wake_after_commit()
    return event


def _clocks_follow(complaint: Complaint, event: ComplaintEvent) -> list[SlaClock]:
    """Apply the event to the case's clocks (``sla_on_event``) and save the case's next deadline
    when it moved. Returns the clocks started."""
    before = complaint.next_due_at
    started = sla_on_event(complaint=complaint, event=event)
    if complaint.next_due_at != before:
        Complaint.objects.filter(pk=complaint.pk).update(next_due_at=complaint.next_due_at)
    return started


def _events(
    rows: list[tuple[Complaint, EventKind, dict[str, Any]]],
    actor: User | None,
    now: datetime,
    *,
    origin: Origin,
) -> list[ComplaintEvent]:
    """Several events at once (one INSERT): the same record as ``_event`` writes, for batches."""
    events = [
        ComplaintEvent(
            complaint=complaint,
            created_at=now,
            kind=kind,
            actor=actor,
            actor_label=_label(actor, origin),
            via=origin.via,
            payload=payload,
            pending_dispatch=kind in NOTIFYING,
            request_id=current_request_id() or None,
        )
        for complaint, kind, payload in rows
    ]
    ComplaintEvent.objects.bulk_create(events)
    for event in events:
        _clocks_follow(event.complaint, event)  # returns at once for kinds no policy uses
    if any(e.pending_dispatch for e in events):
        outbox_wake_after_commit()
    return events


def complaint_events_record(
    *,
    rows: list[tuple[Complaint, EventKind, dict[str, Any]]],
    actor: User | None = None,
    origin: Origin = WORKER,
) -> list[ComplaintEvent]:
    """Record events that change nothing on the cases themselves (SLA warnings and breaches), for
    callers outside the case services, in one write. The caller holds the case rows locked."""
    return _events(rows, actor, timezone.now(), origin=origin)


# At most one wake-up per process in this many seconds. A NOTIFY makes PostgreSQL take one
# database-wide lock through the end of the commit, including its WAL flush, so a NOTIFY in every
# case's transaction would make concurrent registrations commit one at a time (measured: 4 clients
# 420–600/s with it, 518–580/s without). The workers poll anyway (TOUSU_WORKER_INTERVAL_MS), and
# one busy with a burst keeps claiming without waiting, so fewer wake-ups delay nothing for long.
WAKE_EVERY_SECONDS = 0.2
_last_wake = -1e9


def _wake_after_commit() -> None:
    """Wake the workers (LISTEN tousu_outbox) unless this process did so a moment ago."""
    global _last_wake
    now = time.monotonic()
    if now - _last_wake < WAKE_EVERY_SECONDS:
        return
    _last_wake = now
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {OUTBOX_CHANNEL}")
    except DatabaseError:  # the case is committed; the workers' polling finds its events
        pass


def outbox_wake_after_commit() -> None:
    """Wake the workers on PostgreSQL after this transaction commits, once per transaction
    however many events it writes, and at most every ``WAKE_EVERY_SECONDS`` per process (they
    also poll, so this is an optimisation). Nothing is sent when the transaction rolls back."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    # One callback per call (public API only): the second and later ones in a transaction find
    # the wake-up just done and return at once (``WAKE_EVERY_SECONDS``).
    transaction.on_commit(_wake_after_commit)


def _save(complaint: Complaint, now: datetime, fields: Iterable[str]) -> None:
    complaint.version += 1
    complaint.updated_at = now
    complaint.save(update_fields=[*fields, "version", "updated_at"])


def _move(
    complaint: Complaint,
    dst: Status,
    actor: User | None,
    now: datetime,
    kind: EventKind,
    *,
    origin: Origin,
    payload: dict[str, Any] | None = None,
    fields: Iterable[str] = (),
) -> ComplaintEvent:
    """Change status (already checked against the table), save and record the event."""
    src = Status(complaint.status)
    complaint.status = dst
    complaint.status_changed_at = now
    _save(complaint, now, ["status", "status_changed_at", *fields])
    return _event(complaint, kind, actor, now, origin=origin, src=src, dst=dst, payload=payload)


def _next_ticket_no(now: datetime) -> str:
    """``TS`` + the local date + a six-digit sequence of that day: unique and sortable by date.
    Taken from this process's reserved numbers when it has some, otherwise from a new block
    reserved on the day's counter (see ``_tickets``)."""
    day = timezone.localdate(now)
    number = ticket_cached(day)
    if number is not None:
        return ticket_format(day, number)
    size = ticket_block_size()
    table = TicketCounter._meta.db_table
    sql = f"UPDATE {table} SET last = last + %s WHERE day = %s RETURNING last"
    with connection.cursor() as cursor:
        cursor.execute(sql, [size, day])
        row = cursor.fetchone()
    if row is None:
        try:
            with transaction.atomic():
                TicketCounter.objects.create(day=day, last=size)
            last = size
        except IntegrityError:  # another transaction created the day's row first
            with connection.cursor() as cursor:
                cursor.execute(sql, [size, day])
                last = cursor.fetchone()[0]
    else:
        last = row[0]
    return ticket_format(day, ticket_reserved(day, last, size))


def _user(user_id: int | None, field: str) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ValidationError(_("No such active user."), fields={field: "unknown user"})
    return user


def _department(department_id: int, field: str) -> Department:
    department = Department.objects.filter(pk=department_id, is_active=True).first()
    if department is None:
        raise ValidationError(_("No such active department."), fields={field: "unknown department"})
    return department


def _raise_level(
    complaint: Complaint,
    actor: User | None,
    now: datetime,
    *,
    origin: Origin,
    to_level: int,
    reason: str,
    trigger: str,
) -> None:
    previous = complaint.escalation_level
    complaint.escalation_level = to_level
    _save(complaint, now, ["escalation_level"])
    _event(
        complaint,
        EventKind.ESCALATED,
        actor,
        now,
        origin=origin,
        payload={"from_level": previous, "to_level": to_level, "reason": reason, "trigger": trigger},
    )
