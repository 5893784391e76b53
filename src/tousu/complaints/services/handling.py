"""Investigation: starting, asking the customer, the resolution plan, notes and evidence."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.common.errors import InvalidTransition, NotFound, PermissionDenied, TousuError, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints import attachments
from tousu.complaints.access import CUSTOMER_KINDS, access_complaint
from tousu.complaints.choices import (
    ResolutionKind,
)
from tousu.complaints.events import EventKind
from tousu.complaints.models import (
    Attachment,
    Complaint,
    ComplaintEvent,
    ResolutionPlan,
)
from tousu.complaints.services._base import (
    _choice,
    _event,
    _lock,
    _move,
    _require_transition,
    _text,
    _user,
)
from tousu.complaints.states import OPEN, Status


@transaction.atomic
def complaint_investigate(
    *,
    actor: User | None,
    complaint_id: int,
    note: str = "",
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Start (or resume) investigating. From 'awaiting customer' the note records the customer's
    answer. A handler who starts an unassigned case takes it."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_HANDLE, origin=origin)
    src = _require_transition(complaint, Status.INVESTIGATING)
    note = _text(note, "note", required=src == Status.AWAITING_CUSTOMER)
    now = timezone.now()
    fields: list[str] = []
    if (
        complaint.assignee_id is None
        and actor is not None
        and actor.department_id == complaint.lead_department_id
    ):
        complaint.assignee = actor
        fields.append("assignee")
    kind = EventKind.INFO_RECEIVED if src == Status.AWAITING_CUSTOMER else EventKind.STATUS_CHANGED
    _move(
        complaint,
        Status.INVESTIGATING,
        actor,
        now,
        kind,
        payload={"note": note} if note else {},
        fields=fields,
        origin=origin,
    )
    return complaint


@transaction.atomic
def complaint_customer_answer(
    *,
    actor: User | None,
    complaint_id: int,
    text: str,
    origin: Origin,
    expected_version: int | None = None,
) -> Complaint:
    """The customer's answer to a request for information, from the portal or by e-mail: recorded
    as the customer's message, and the case is investigated again. Only a case that waits for the
    customer takes an answer. (Staff who take an answer down by phone use ``complaint_investigate``
    with a note.)"""
    complaint = _lock(complaint_id, expected_version)
    if actor is not None or origin.kind not in CUSTOMER_KINDS:
        raise PermissionDenied(
            _(
                "Only the customer answers a request for information (not %(who)s); staff who took the "
                "answer down resume the investigation with it."
            )
            % {"who": actor.username if actor is not None else origin.label}
        )
    src = Status(complaint.status)
    if src != Status.AWAITING_CUSTOMER:
        raise InvalidTransition(
            src=src,
            dst=Status.INVESTIGATING,
            message=_("Case %(case)s is not waiting for an answer from the customer (it is '%(status)s').")
            % {"case": complaint, "status": src.label},
        )
    _require_transition(complaint, Status.INVESTIGATING)
    text = _text(text, "answer")
    _move(
        complaint,
        Status.INVESTIGATING,
        actor,
        timezone.now(),
        EventKind.INFO_RECEIVED,
        payload={"message": text, "from": "customer"},
        origin=origin,
    )
    return complaint


@transaction.atomic
def complaint_request_info(
    *,
    actor: User | None,
    complaint_id: int,
    question: str,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Ask the customer for something (a line test, a document). The case waits for them."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_HANDLE, origin=origin)
    _require_transition(complaint, Status.AWAITING_CUSTOMER)
    question = _text(question, "question")
    now = timezone.now()
    _move(
        complaint,
        Status.AWAITING_CUSTOMER,
        actor,
        now,
        EventKind.INFO_REQUESTED,
        payload={"question": question},
        origin=origin,
    )
    return complaint


# A plan is a promise to the customer: a deadline years ahead is a typing error, not a plan.
PLAN_HORIZON = timedelta(days=366)


@transaction.atomic
def complaint_propose_plan(
    *,
    actor: User | None,
    complaint_id: int,
    kind: str,
    measures: str,
    responsible_id: int,
    deadline: datetime,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Record the resolution plan: measures, the responsible person and a deadline."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_HANDLE, origin=origin)
    src = _require_transition(complaint, Status.PLAN_PROPOSED)
    if src == Status.AWAITING_APPROVAL:
        raise InvalidTransition(
            src=src,
            dst=Status.PLAN_PROPOSED,
            message=_("Case %(case)s waits for a remedy decision; approve or refuse the remedy first.")
            % {"case": complaint},
        )
    kind = _choice(kind, ResolutionKind, "kind")
    measures = _text(measures, "measures")
    responsible = _user(responsible_id, "responsible")
    now = timezone.now()
    if deadline is None or timezone.is_naive(deadline) or deadline <= now:
        raise ValidationError(
            _("The plan's deadline must be a time in the future."), fields={"deadline": "not in the future"}
        )
    if deadline > now + PLAN_HORIZON:
        raise ValidationError(
            _("The plan's deadline must be within %(days)s days from now.") % {"days": PLAN_HORIZON.days},
            fields={"deadline": "too far ahead"},
        )
    assert responsible is not None
    plan = ResolutionPlan.objects.create(
        complaint=complaint,
        kind=kind,
        measures=measures,
        responsible=responsible,
        deadline=deadline,
        proposed_by=actor,
        created_at=now,
    )
    _move(
        complaint,
        Status.PLAN_PROPOSED,
        actor,
        now,
        EventKind.PLAN_PROPOSED,
        payload={
            "plan_id": plan.pk,
            "kind": kind,
            "measures": measures,
            "responsible": responsible.username,
            "deadline": deadline.isoformat(),
        },
        origin=origin,
    )
    return complaint


@transaction.atomic
def complaint_note(
    *, actor: User | None, complaint_id: int, text: str, origin: Origin = SYSTEM
) -> ComplaintEvent:
    """An internal note on the timeline. Never shown to the customer; allowed in every state."""
    complaint = Complaint.objects.filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFound(_("No such case."))
    access_complaint(actor, complaint, Cap.CASE_NOTE, origin=origin)
    text = _text(text, "text")
    return _event(
        complaint, EventKind.NOTE_ADDED, actor, timezone.now(), payload={"text": text}, origin=origin
    )


def attachments_add_with_case(
    *, actor: User | None, complaint_id: int, uploads: list[Any], origin: Origin = SYSTEM
) -> list[tuple[str, str]]:
    """Attach the evidence filed with a new case, in the caller's transaction (the case and its
    files commit together). A file refused for what it is (type, size, name) is skipped and
    reported as ``(name, reason)``; storage that cannot take it (``StorageUnavailable``, a full disk)
    is raised, so the caller's transaction registers nothing and a retry makes one case."""
    refused: list[tuple[str, str]] = []
    for upload in uploads:
        try:
            attachment_add(
                actor=actor, complaint_id=complaint_id, name=upload.name or "", content=upload, origin=origin
            )
        except attachments.StorageUnavailable:
            raise
        except TousuError as exc:
            refused.append((str(upload.name or ""), exc.message))
    return refused


def attachment_add(
    *,
    actor: User | None,
    complaint_id: int,
    name: str,
    content: BinaryIO,
    origin: Origin = SYSTEM,
) -> Attachment:
    """Attach an evidence file. Its size and type are checked (the content must match the
    extension). The file is written only after every check passed, and removed if the database
    write fails."""
    complaint = Complaint.objects.filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFound(_("No such case."))
    access_complaint(actor, complaint, Cap.CASE_NOTE, origin=origin)
    if complaint.status not in OPEN:
        raise InvalidTransition(
            src=complaint.status,
            dst=complaint.status,
            message=_("Case %(case)s is finished: no more evidence can be attached.") % {"case": complaint},
        )
    clean_name = PurePath((name or "").replace("\\", "/")).name.strip()
    if not clean_name or "." not in clean_name:
        raise ValidationError(_("The file needs a name with an extension."), fields={"file": "no extension"})
    extension = clean_name.rsplit(".", 1)[1].lower()
    limit = settings.TOUSU_ATTACHMENT_MAX_BYTES
    data = content.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(
            _("The file is too large (more than %(limit_1024_1024)s MB).")
            % {"limit_1024_1024": limit // (1024 * 1024)},
            fields={"file": "too large"},
        )
    if not data:
        raise ValidationError(_("The file is empty."), fields={"file": "empty"})
    content_type = attachments.sniff(extension, data[:512])
    if content_type is None:
        allowed = ", ".join(sorted(attachments.ALLOWED))
        raise ValidationError(
            _(
                "Files of this type are not accepted as evidence (allowed: %(allowed)s), or the content does not match '.%(extension)s'."
            )
            % {"allowed": allowed, "extension": extension},
            fields={"file": "type not allowed"},
        )
    if complaint.attachments.count() >= settings.TOUSU_ATTACHMENTS_PER_CASE:
        raise ValidationError(_("This case has as many attachments as allowed."), fields={"file": "too many"})
    digest = hashlib.sha256(data).hexdigest()
    now = timezone.now()
    attachment = Attachment(
        complaint=complaint,
        original_name=clean_name[-200:],
        content_type=content_type,
        size=len(data),
        sha256=digest,
        uploaded_by=actor,
        created_at=now,
    )
    attachments.store(attachment.file, clean_name, data)  # complete, or nothing and StorageUnavailable
    try:
        with transaction.atomic():
            attachment.save()
            _event(
                complaint,
                EventKind.ATTACHMENT_ADDED,
                actor,
                now,
                payload={"attachment_id": attachment.pk, "name": attachment.original_name, "size": len(data)},
                origin=origin,
            )
    except Exception:
        attachment.file.delete(save=False)
        raise
    return attachment
