"""Escalation: by hand, and at once when a case is major or a crisis or the customer threatens to
go to the regulator, the media or a court (the levels are configuration: ``sla.LevelRule`` and
``TOUSU_THREAT_ESCALATION_LEVEL``)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.common.errors import InvalidTransition, PermissionDenied, ValidationError
from tousu.common.origin import SYSTEM, WORKER, Origin
from tousu.complaints.access import access_complaint, may_reclassify_without_user
from tousu.complaints.choices import Level
from tousu.complaints.events import EventKind
from tousu.complaints.models import Category, Complaint
from tousu.complaints.reasons import THREAT, automatic_reason, level_trigger
from tousu.complaints.services._base import _choice, _event, _events, _lock, _raise_level, _save, _text
from tousu.complaints.states import MAX_ESCALATION_LEVEL, OPEN
from tousu.sla.services import level_rule, sla_reclassified


def _require_open(complaint: Complaint, what: str) -> None:
    if complaint.status not in OPEN:
        raise InvalidTransition(
            src=complaint.status,
            dst=complaint.status,
            message=_("Case %(case)s is no longer open and cannot be %(what)s.")
            % {"case": complaint, "what": what},
        )


def triggered_escalation(complaint: Complaint) -> tuple[int, str, str] | None:
    """(level, reason, trigger) the case's level and threat flag call for, when higher than its
    escalation level now; None otherwise. Reads nothing (the level rules are cached)."""
    rule = level_rule(complaint.level)
    wanted = [(rule.escalate_to_level if rule else 0, level_trigger(complaint.level))]
    if complaint.threatens_external:
        wanted.append((settings.TOUSU_THREAT_ESCALATION_LEVEL, THREAT))
    target, trigger = max(wanted)
    target = min(target, MAX_ESCALATION_LEVEL)
    if target <= complaint.escalation_level:
        return None
    reason = automatic_reason(trigger)  # also kept as text; pages render it from the trigger
    assert reason is not None
    return target, reason, trigger


def escalate_for_triggers(complaint: Complaint, actor: User | None, now: datetime, *, origin: Origin) -> None:
    """Raise the case at once to what its level and threat flag call for, if that is higher.
    Part of the calling service's transaction (level change, threat flag; registration writes the
    same event itself, see ``triggered_escalation``)."""
    wanted = triggered_escalation(complaint)
    if wanted is not None:
        target, reason, trigger = wanted
        _raise_level(complaint, actor, now, to_level=target, reason=reason, trigger=trigger, origin=origin)


@transaction.atomic
def complaint_escalate(
    *,
    actor: User | None,
    complaint_id: int,
    reason: str,
    to_level: int | None = None,
    trigger: str = "manual",
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Raise an open case's escalation level (by one unless ``to_level`` says more)."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_ESCALATE, origin=origin)
    _require_open(complaint, _("escalated"))
    if complaint.escalation_level >= MAX_ESCALATION_LEVEL:
        raise ValidationError(
            _("Case %(case)s is already at the top escalation level (%(top)s).")
            % {"case": complaint, "top": MAX_ESCALATION_LEVEL},
            fields={"to_level": "already at the top"},
        )
    target = complaint.escalation_level + 1 if to_level is None else int(to_level)
    if target <= complaint.escalation_level:
        raise ValidationError(
            _("Case %(case)s is already at escalation level %(level)s.")
            % {"case": complaint, "level": complaint.escalation_level},
            fields={"to_level": "not higher"},
        )
    if target > MAX_ESCALATION_LEVEL:
        raise ValidationError(
            _("The highest escalation level is %(top)s.") % {"top": MAX_ESCALATION_LEVEL},
            fields={"to_level": "above the top level"},
        )
    reason = _text(reason, "reason")
    _raise_level(
        complaint, actor, timezone.now(), to_level=target, reason=reason, trigger=trigger, origin=origin
    )
    return complaint


@transaction.atomic
def complaint_change_level(
    *,
    actor: User | None,
    complaint_id: int,
    level: str,
    reason: str,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Reclassify a case's level (e.g. to major). Raising it to major or crisis escalates at once."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_HANDLE, origin=origin)
    _require_open(complaint, _("reclassified"))
    level = _choice(level, Level, "level")
    reason = _text(reason, "reason")
    if level == complaint.level:
        return complaint
    now = timezone.now()
    previous = complaint.level
    complaint.level = level
    _save(complaint, now, ["level"])
    _event(
        complaint,
        EventKind.LEVEL_CHANGED,
        actor,
        now,
        payload={"from": previous, "to": level, "reason": reason},
        origin=origin,
    )
    escalate_for_triggers(complaint, actor, now, origin=origin)
    return complaint


@transaction.atomic
def complaint_flag_threat(
    *,
    actor: User | None,
    complaint_id: int,
    note: str,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Record that the customer threatens to go to the regulator, the media or a court; the case
    is escalated at once to the configured level."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_ESCALATE, origin=origin)
    _require_open(complaint, _("flagged"))
    note = _text(note, "note")
    if complaint.threatens_external:
        return complaint
    now = timezone.now()
    complaint.threatens_external = True
    _save(complaint, now, ["threatens_external"])
    _event(complaint, EventKind.THREAT_FLAGGED, actor, now, payload={"note": note}, origin=origin)
    escalate_for_triggers(complaint, actor, now, origin=origin)
    return complaint


def complaints_escalate_locked(
    *,
    complaints: list[Complaint],
    causes: dict[int, tuple[str, str]],
    actor: User | None = None,
    origin: Origin = WORKER,
) -> list[Complaint]:
    """Raise each open case one level, in one batch, for the SLA sweep; ``causes`` maps a case id to
    its (reason, trigger). The caller holds the case rows locked in its transaction (so no lock is taken here) and has checked nothing else.
    Cases that are closed or at the top level are left as they are. Returns the escalated ones."""
    now = timezone.now()
    raised = [c for c in complaints if c.status in OPEN and c.escalation_level < MAX_ESCALATION_LEVEL]
    rows = []
    for complaint in raised:
        previous = complaint.escalation_level
        complaint.escalation_level = previous + 1
        complaint.version += 1
        complaint.updated_at = now
        reason, trigger = causes[complaint.pk]
        payload = {"from_level": previous, "to_level": previous + 1, "reason": reason, "trigger": trigger}
        rows.append((complaint, EventKind.ESCALATED, payload))
    if raised:
        Complaint.objects.filter(pk__in=[c.pk for c in raised]).update(
            escalation_level=F("escalation_level") + 1, version=F("version") + 1, updated_at=now
        )
        _events(rows, actor, now, origin=origin)
    return raised


@transaction.atomic
def complaint_reclassify(
    *,
    actor: User | None,
    complaint_id: int,
    reason: str,
    category_id: int | None = None,
    level: str | None = None,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Change an open case's category and/or level (e-mail cases "to be classified by staff", a
    complaint that turned out to be about something else). Audited with before and after; the SLA
    clocks follow the new classification (``sla_reclassified``), a level that calls for escalation
    escalates at once, and the event names the new category's default department for routing.
    Staff, or a principal allowed to handle cases (the classifier, ``triage``)."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_HANDLE, origin=origin)
    if actor is None and not may_reclassify_without_user(origin):
        raise PermissionDenied(_("Cases are reclassified by staff or the classifier."))
    _require_open(complaint, _("reclassified"))
    reason = _text(reason, "reason")
    category = complaint.category
    if category_id is not None:
        found = Category.objects.filter(pk=category_id, is_active=True).first()
        if found is None:
            raise ValidationError(_("No such active category."), fields={"category": "unknown category"})
        if found.children.filter(is_active=True).exists():
            raise ValidationError(
                _("Choose a sub-category of '%(category_name)s'.") % {"category_name": found.name},
                fields={"category": "choose a sub-category"},
            )
        category = found
    new_level = _choice(level, Level, "level") if level else complaint.level
    if category.pk == complaint.category_id and new_level == complaint.level:
        raise ValidationError(
            _("Choose another category or level: this is the case's classification now."),
            fields={"category": "unchanged"},
        )
    before = {"category": complaint.category.code, "level": complaint.level}
    complaint.category = category
    complaint.level = new_level
    now = timezone.now()
    due_before = complaint.next_due_at
    clocks = sla_reclassified(complaint=complaint)
    fields = ["category", "level"] + (["next_due_at"] if complaint.next_due_at != due_before else [])
    _save(complaint, now, fields)
    default = category.default_department
    _event(
        complaint,
        EventKind.RECLASSIFIED,
        actor,
        now,
        origin=origin,
        payload={
            "before": before,
            "after": {"category": category.code, "level": new_level},
            "reason": reason,
            "clocks": clocks,
            "default_department": default.code if default is not None else None,
        },
    )
    escalate_for_triggers(complaint, actor, now, origin=origin)
    return complaint
