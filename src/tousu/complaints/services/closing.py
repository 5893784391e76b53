"""Reply, return visit, reopening, closing, withdrawal and escalation."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.common.errors import InvalidTransition, PermissionDenied, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints.access import access_complaint
from tousu.complaints.choices import (
    ReplyChannel,
)
from tousu.complaints.events import EventKind
from tousu.complaints.models import (
    Complaint,
    Reply,
    ReturnVisit,
)
from tousu.complaints.services._base import (
    _choice,
    _event,
    _lock,
    _move,
    _raise_level,
    _require_transition,
    _save,
    _text,
)
from tousu.complaints.states import MAX_ESCALATION_LEVEL, Status


@transaction.atomic
def complaint_reply(
    *,
    actor: User | None,
    complaint_id: int,
    channel: str,
    content: str,
    first_contact_resolution: bool = False,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Reply:
    """Give the customer the answer: conclusion, basis, plan and its execution.

    A case answered during the first contact (``first_contact_resolution``) may be replied to
    straight from 'accepted', by its first-contact owner."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_REPLY, origin=origin)
    src = _require_transition(complaint, Status.REPLIED)
    channel = _choice(channel, ReplyChannel, "channel")
    content = _text(content, "content")
    if src == Status.ACCEPTED:
        if not first_contact_resolution:
            raise InvalidTransition(
                src=src,
                dst=Status.REPLIED,
                message=_(
                    "Only a complaint resolved at first contact is answered before a plan is proposed."
                ),
            )
        if actor is None or actor.pk != complaint.first_contact_owner_id:
            raise PermissionDenied(_("Only the first-contact owner resolves a complaint at first contact."))
    elif first_contact_resolution:
        raise ValidationError(
            _("A case that was dispatched or investigated is not a first-contact resolution."),
            fields={"first_contact_resolution": "not the first contact"},
        )
    now = timezone.now()
    reply = Reply.objects.create(
        complaint=complaint, channel=channel, content=content, replied_by=actor, replied_at=now
    )
    complaint.replied_at = now
    complaint.is_first_contact_resolution = first_contact_resolution
    _move(
        complaint,
        Status.REPLIED,
        actor,
        now,
        EventKind.REPLIED,
        payload={
            "reply_id": reply.pk,
            "channel": channel,
            "content": content,
            "first_contact_resolution": first_contact_resolution,
        },
        fields=["replied_at", "is_first_contact_resolution"],
        origin=origin,
    )
    return reply


@transaction.atomic
def return_visit_record(
    *,
    actor: User | None,
    complaint_id: int,
    reached: bool,
    resolved: bool | None = None,
    satisfaction: int | None = None,
    comment: str = "",
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> ReturnVisit:
    """Record a return visit. Not reached: the attempt is kept and the case still waits.
    Reached and satisfied: ready to close. Reached and dissatisfied: the case is reopened one
    escalation level higher, "until the customer is satisfied"."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_RETURN_VISIT, origin=origin)
    if complaint.status != Status.REPLIED:
        raise InvalidTransition(
            src=complaint.status,
            dst=Status.RETURN_VISIT,
            message=_("A return visit follows the reply; case %(case)s is '%(status)s'.")
            % {"case": complaint, "status": Status(complaint.status).label},
        )
    comment = _text(comment, "comment", required=False)
    if reached:
        if resolved is None:
            raise ValidationError(_("Say whether the problem is resolved."), fields={"resolved": "required"})
        if satisfaction is None or not 1 <= int(satisfaction) <= 5:
            raise ValidationError(
                _("Satisfaction is a score from 1 to 5."), fields={"satisfaction": "1 to 5"}
            )
    elif resolved is not None or satisfaction is not None:
        raise ValidationError(
            _("An unreached customer gives no outcome."),
            fields={"reached": "outcome given for an unreached customer"},
        )
    now = timezone.now()
    visit = ReturnVisit.objects.create(
        complaint=complaint,
        reached=reached,
        resolved=resolved,
        satisfaction=satisfaction,
        comment=comment,
        visited_by=actor,
        visited_at=now,
    )
    payload = {
        "return_visit_id": visit.pk,
        "reached": reached,
        "resolved": resolved,
        "satisfaction": satisfaction,
        "comment": comment,
    }
    if not reached:
        _save(complaint, now, [])
        _event(complaint, EventKind.RETURN_VISIT_UNREACHED, actor, now, payload=payload, origin=origin)
        return visit
    _move(
        complaint,
        Status.RETURN_VISIT,
        actor,
        now,
        EventKind.RETURN_VISIT,
        payload={**payload, "satisfied": visit.satisfied},
        origin=origin,
    )
    if not visit.satisfied:
        _reopen(
            complaint,
            actor,
            now,
            reason=comment or "dissatisfied at the return visit",
            trigger="dissatisfied_return_visit",
            origin=origin,
        )
    return visit


def _reopen(
    complaint: Complaint, actor: User | None, now: datetime, *, reason: str, trigger: str, origin: Origin
) -> None:
    _require_transition(complaint, Status.REOPENED)
    complaint.reopen_count += 1
    complaint.closed_at = None
    _move(
        complaint,
        Status.REOPENED,
        actor,
        now,
        EventKind.REOPENED,
        payload={"reason": reason, "trigger": trigger, "reopen_count": complaint.reopen_count},
        fields=["reopen_count", "closed_at"],
        origin=origin,
    )
    if complaint.escalation_level < MAX_ESCALATION_LEVEL:
        _raise_level(
            complaint,
            actor,
            now,
            to_level=complaint.escalation_level + 1,
            reason=reason,
            trigger=trigger,
            origin=origin,
        )


@transaction.atomic
def complaint_reopen(
    *,
    actor: User | None,
    complaint_id: int,
    reason: str,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Reopen a case after its return visit, or a closed one (supervisors and managers: new facts,
    a regulator's referral). The escalation level goes up by one."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_REOPEN, origin=origin)
    _require_transition(complaint, Status.REOPENED)
    if complaint.status == Status.CLOSED and (actor is None or not actor.can(Cap.CASE_SUPERVISE)):
        raise PermissionDenied(_("Only supervisors and managers reopen a closed case."))
    reason = _text(reason, "reason")
    _reopen(complaint, actor, timezone.now(), reason=reason, trigger="manual", origin=origin)
    return complaint


@transaction.atomic
def complaint_close(
    *,
    actor: User | None,
    complaint_id: int,
    note: str = "",
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Close a case: after a satisfied return visit; at once after a first-contact resolution;
    or, for a supervisor, after the customer could not be reached (with a note)."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_CLOSE, origin=origin)
    src = _require_transition(complaint, Status.CLOSED)
    note = _text(note, "note", required=False)
    if src == Status.REPLIED and not complaint.is_first_contact_resolution:
        unreached = complaint.return_visits.filter(reached=False).exists()
        if not unreached:
            raise InvalidTransition(
                src=src, dst=Status.CLOSED, message=_("A replied case is closed after its return visit.")
            )
        if actor is None or not actor.can(Cap.CASE_SUPERVISE):
            raise PermissionDenied(_("Closing without reaching the customer needs a supervisor or manager."))
        if not note:
            raise ValidationError(
                _("Say why the case is closed without reaching the customer."), fields={"note": "required"}
            )
    now = timezone.now()
    complaint.closed_at = now
    _move(
        complaint,
        Status.CLOSED,
        actor,
        now,
        EventKind.CLOSED,
        payload={"note": note} if note else {},
        fields=["closed_at"],
        origin=origin,
    )
    return complaint


@transaction.atomic
def complaint_withdraw(
    *,
    actor: User | None,
    complaint_id: int,
    reason: str,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Record that the customer withdrew the complaint."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_WITHDRAW, origin=origin)
    _require_transition(complaint, Status.WITHDRAWN)
    reason = _text(reason, "reason")
    now = timezone.now()
    complaint.closed_at = now
    _move(
        complaint,
        Status.WITHDRAWN,
        actor,
        now,
        EventKind.WITHDRAWN,
        payload={"reason": reason, "via": origin.via},
        fields=["closed_at"],
        origin=origin,
    )
    return complaint
