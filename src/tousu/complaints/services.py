"""The one write path for cases. Pages, the API, bulk actions, commands and the worker call these.

Each public service is one transaction: it locks the case row, checks the actor (``access.py``),
the lifecycle table (``states.py``) and the guards of the step, saves with ``update_fields``,
writes an append-only ``ComplaintEvent`` and schedules side effects after commit. A refused call
raises a typed error (``tousu.common.errors``) and leaves the database as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tousu.accounts.models import Department, Region, User, approval_limit_for
from tousu.accounts.roles import Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.errors import ConflictError, InvalidTransition, NotFound, PermissionDenied, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints import attachments
from tousu.complaints.access import access_complaint
from tousu.complaints.choices import (
    MONEY_REMEDIES,
    BusinessType,
    Channel,
    Level,
    RejectionReason,
    RemedyKind,
    RemedyStatus,
    ReplyChannel,
    ResolutionKind,
)
from tousu.complaints.events import NOTIFYING, EventKind
from tousu.complaints.models import (
    Attachment,
    Category,
    Complaint,
    ComplaintEvent,
    Remedy,
    Reply,
    ResolutionPlan,
    ReturnVisit,
    TicketCounter,
)
from tousu.complaints.states import MAX_ESCALATION_LEVEL, OPEN, Status, can_transition
from tousu.customers.models import Customer
from tousu.customers.services import REVEALABLE_FIELDS, customer_find_or_create

MAX_TEXT = 10_000
FUTURE_SKEW = timedelta(minutes=5)
OUTBOX_CHANNEL = "tousu_outbox"


# --- building blocks ---------------------------------------------------------------------------


def _label(actor: User | None) -> str:
    return actor.username if actor is not None else "system"


def _text(value: str, field: str, *, required: bool = True, max_length: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(f"'{field}' is required.", fields={field: "required"})
    if len(text) > max_length:
        raise ValidationError(
            f"'{field}' is too long ({len(text)} characters, at most {max_length}).",
            fields={field: "too long"},
        )
    return text


def _choice(value: str, choices: Any, field: str) -> str:
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        raise ValidationError(
            f"'{value}' is not a valid {field}; use one of: {allowed}.", fields={field: "invalid choice"}
        )
    return str(value)


def _lock(complaint_id: int, expected_version: int | None = None) -> Complaint:
    """Lock the case row for the rest of the transaction (a no-op on SQLite, whose IMMEDIATE
    transactions already serialise writers) and check the caller's version."""
    complaint = Complaint.objects.select_for_update().filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFound("No such case.")
    if expected_version is not None and complaint.version != expected_version:
        raise ConflictError(
            f"Case {complaint} was changed by someone else since you opened it "
            f"(version {expected_version}, now {complaint.version}). Reload it and try again."
        )
    return complaint


def _require_transition(complaint: Complaint, dst: Status) -> Status:
    src = Status(complaint.status)
    if not can_transition(src, dst):
        raise InvalidTransition(
            src=src,
            dst=dst,
            message=f"Case {complaint} is '{src.label}' and cannot become '{dst.label}'.",
        )
    return src


def _event(
    complaint: Complaint,
    kind: EventKind,
    actor: User | None,
    now: datetime,
    *,
    src: str = "",
    dst: str = "",
    payload: dict[str, Any] | None = None,
) -> ComplaintEvent:
    event = ComplaintEvent.objects.create(
        complaint=complaint,
        created_at=now,
        kind=kind,
        actor=actor,
        actor_label=_label(actor),
        from_status=src,
        to_status=dst,
        payload=payload or {},
        pending_dispatch=kind in NOTIFYING,
    )
    if event.pending_dispatch:
        transaction.on_commit(_wake_outbox)
    return event


def _wake_outbox() -> None:
    """After commit: wake the workers at once on PostgreSQL (they also poll, so this is an optimisation)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {OUTBOX_CHANNEL}")


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
    payload: dict[str, Any] | None = None,
    fields: Iterable[str] = (),
) -> ComplaintEvent:
    """Change status (already checked against the table), save and record the event."""
    src = Status(complaint.status)
    complaint.status = dst
    complaint.status_changed_at = now
    _save(complaint, now, ["status", "status_changed_at", *fields])
    return _event(complaint, kind, actor, now, src=src, dst=dst, payload=payload)


def _next_ticket_no(now: datetime) -> str:
    """``TS`` + the local date + a six-digit sequence of that day: unique and sortable by date."""
    day = timezone.localdate(now)
    table = TicketCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last = last + 1 WHERE day = %s RETURNING last", [day])
        row = cursor.fetchone()
    if row is None:
        try:
            with transaction.atomic():
                TicketCounter.objects.create(day=day, last=1)
            number = 1
        except IntegrityError:  # another transaction created the day's row first
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET last = last + 1 WHERE day = %s RETURNING last", [day])
                number = cursor.fetchone()[0]
    else:
        number = row[0]
    return f"TS{day:%Y%m%d}{number:06d}"


def _user(user_id: int | None, field: str) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ValidationError("No such active user.", fields={field: "unknown user"})
    return user


def _department(department_id: int, field: str) -> Department:
    department = Department.objects.filter(pk=department_id, is_active=True).first()
    if department is None:
        raise ValidationError("No such active department.", fields={field: "unknown department"})
    return department


# --- registration ------------------------------------------------------------------------------


@transaction.atomic
def complaint_register(
    *,
    actor: User | None,
    channel: str,
    phone: str = "",
    customer_name: str = "",
    email: str = "",
    wechat_id: str = "",
    service_number: str = "",
    business_type: str,
    category_id: int,
    level: str = Level.DISSATISFIED,
    description: str,
    demand: str = "",
    preferred_reply_channel: str = ReplyChannel.PHONE,
    region_id: int | None = None,
    received_at: datetime | None = None,
    threatens_external: bool = False,
    external_id: str = "",
    origin: Origin = SYSTEM,
) -> Complaint:
    """Register a complaint from any channel. The customer is found (or created) by phone,
    e-mail or WeChat id. With ``external_id``, a second call from the same channel returns the
    case already registered instead of a duplicate."""
    if actor is not None and not actor.can(Cap.CASE_REGISTER):
        raise PermissionDenied("Your role may not register complaints.")
    channel = _choice(channel, Channel, "channel")
    external_id = _text(external_id, "external_id", required=False, max_length=100)
    if external_id:
        existing = Complaint.objects.filter(channel=channel, external_id=external_id).first()
        if existing is not None:
            return existing
    business_type = _choice(business_type, BusinessType, "business_type")
    level = _choice(level, Level, "level")
    preferred_reply_channel = _choice(preferred_reply_channel, ReplyChannel, "preferred_reply_channel")
    description = _text(description, "description")
    demand = _text(demand, "demand", required=False)
    service_number = _text(service_number, "service_number", required=False, max_length=40)
    category = Category.objects.filter(pk=category_id, is_active=True).first()
    if category is None:
        raise ValidationError("No such active category.", fields={"category": "unknown category"})
    if category.children.filter(is_active=True).exists():
        raise ValidationError(
            f"Choose a sub-category of '{category.name}'.", fields={"category": "choose a sub-category"}
        )
    region = None
    if region_id is not None:
        region = Region.objects.filter(pk=region_id).first()
        if region is None:
            raise ValidationError("No such region.", fields={"region": "unknown region"})
    now = timezone.now()
    received_at = received_at or now
    if timezone.is_naive(received_at):
        raise ValidationError(
            "The time received needs a time zone.", fields={"received_at": "naive datetime"}
        )
    if received_at > now + FUTURE_SKEW:
        raise ValidationError("The time received is in the future.", fields={"received_at": "in the future"})

    customer = customer_find_or_create(
        phone=phone,
        name=customer_name,
        email=email,
        wechat_id=wechat_id,
        service_number=service_number,
        region=region,
    )
    owner = actor
    try:
        with transaction.atomic():
            complaint = Complaint.objects.create(
                status=Status.REGISTERED,
                channel=channel,
                external_id=external_id,
                customer=customer,
                service_number=service_number,
                business_type=business_type,
                category=category,
                level=level,
                region=region or customer.region,
                description=description,
                demand=demand,
                preferred_reply_channel=preferred_reply_channel,
                threatens_external=threatens_external,
                registered_by=owner,
                first_contact_owner=owner,
                received_at=received_at,
                registered_at=now,
                status_changed_at=now,
                updated_at=now,
            )
    except IntegrityError:
        # The same channel message was registered concurrently: return that case (idempotent retry).
        existing = Complaint.objects.filter(channel=channel, external_id=external_id).first()
        if external_id and existing is not None:
            return existing
        raise
    _event(
        complaint,
        EventKind.REGISTERED,
        actor,
        now,
        dst=Status.REGISTERED,
        payload={
            "channel": channel,
            "level": level,
            "category": category.code,
            "customer_blacklisted": customer.is_blacklisted,
            "threatens_external": threatens_external,
            "via": origin.via,
        },
    )
    return complaint


@transaction.atomic
def complaint_accept(
    *, actor: User | None, complaint_id: int, expected_version: int | None = None, origin: Origin = SYSTEM
) -> Complaint:
    """Accept a registered complaint: issue its ticket number and queue the acknowledgement."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_ACCEPT)
    _require_transition(complaint, Status.ACCEPTED)
    now = timezone.now()
    complaint.ticket_no = _next_ticket_no(now)
    complaint.accepted_at = now
    _move(
        complaint,
        Status.ACCEPTED,
        actor,
        now,
        EventKind.ACCEPTED,
        payload={"ticket_no": complaint.ticket_no},
        fields=["ticket_no", "accepted_at"],
    )
    return complaint


@transaction.atomic
def complaint_reject(
    *,
    actor: User | None,
    complaint_id: int,
    reason: str,
    explanation: str,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Refuse a complaint (不予受理) with a reason from the fixed list and the explanation given to
    the customer. It still gets a ticket number, so the customer can refer to the decision."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_ACCEPT)
    _require_transition(complaint, Status.REJECTED)
    reason = _choice(reason, RejectionReason, "reason")
    explanation = _text(explanation, "explanation")
    now = timezone.now()
    complaint.ticket_no = _next_ticket_no(now)
    complaint.rejection_reason = reason
    complaint.rejection_explanation = explanation
    complaint.closed_at = now
    _move(
        complaint,
        Status.REJECTED,
        actor,
        now,
        EventKind.REJECTED,
        payload={"ticket_no": complaint.ticket_no, "reason": reason, "explanation": explanation},
        fields=["ticket_no", "rejection_reason", "rejection_explanation", "closed_at"],
    )
    return complaint


# --- routing -----------------------------------------------------------------------------------


@transaction.atomic
def complaint_dispatch(
    *,
    actor: User | None,
    complaint_id: int,
    lead_department_id: int,
    cooperating_department_ids: Iterable[int] = (),
    assignee_id: int | None = None,
    note: str = "",
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Route a case to its lead department (and cooperating ones), optionally to a person there.
    Dispatching a dispatched or investigated case again transfers it."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_DISPATCH)
    _require_transition(complaint, Status.DISPATCHED)
    lead = _department(lead_department_id, "lead_department")
    cooperating = [
        _department(pk, "cooperating_departments") for pk in dict.fromkeys(cooperating_department_ids)
    ]
    if any(d.pk == lead.pk for d in cooperating):
        raise ValidationError(
            "The lead department cannot also be a cooperating department.",
            fields={"cooperating_departments": "contains the lead department"},
        )
    assignee = _user(assignee_id, "assignee")
    if assignee is not None and assignee.department_id != lead.pk:
        raise ValidationError(
            f"{assignee} is not a member of {lead}.", fields={"assignee": "not in the lead department"}
        )
    note = _text(note, "note", required=False)
    now = timezone.now()
    previous = complaint.lead_department_id
    complaint.lead_department = lead
    complaint.assignee = assignee
    complaint.cooperating_departments.set(cooperating)
    _move(
        complaint,
        Status.DISPATCHED,
        actor,
        now,
        EventKind.DISPATCHED,
        payload={
            "lead_department": lead.code,
            "previous_lead_department_id": previous,
            "cooperating_departments": [d.code for d in cooperating],
            "assignee": assignee.username if assignee else None,
            "note": note,
        },
        fields=["lead_department", "assignee"],
    )
    return complaint


@transaction.atomic
def complaint_assign(
    *,
    actor: User | None,
    complaint_id: int,
    assignee_id: int | None,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Give an open case to a person of its lead department (or take it away: ``None``)."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_DISPATCH)
    if complaint.status not in OPEN:
        raise InvalidTransition(
            src=complaint.status, dst=complaint.status, message=f"Case {complaint} is no longer open."
        )
    assignee = _user(assignee_id, "assignee")
    if (
        assignee is not None
        and complaint.lead_department_id is not None
        and assignee.department_id != complaint.lead_department_id
    ):
        raise ValidationError(
            f"{assignee} is not a member of the lead department.",
            fields={"assignee": "not in the lead department"},
        )
    if assignee is not None and assignee.pk == complaint.assignee_id:
        return complaint
    now = timezone.now()
    previous = complaint.assignee.username if complaint.assignee_id and complaint.assignee else None
    complaint.assignee = assignee
    _save(complaint, now, ["assignee"])
    _event(
        complaint,
        EventKind.ASSIGNED,
        actor,
        now,
        payload={"assignee": assignee.username if assignee else None, "previous": previous},
    )
    return complaint


# --- handling ----------------------------------------------------------------------------------


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
    access_complaint(actor, complaint, Cap.CASE_HANDLE)
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
    access_complaint(actor, complaint, Cap.CASE_HANDLE)
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
    )
    return complaint


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
    access_complaint(actor, complaint, Cap.CASE_HANDLE)
    _require_transition(complaint, Status.PLAN_PROPOSED)
    kind = _choice(kind, ResolutionKind, "kind")
    measures = _text(measures, "measures")
    responsible = _user(responsible_id, "responsible")
    now = timezone.now()
    if deadline is None or timezone.is_naive(deadline) or deadline <= now:
        raise ValidationError(
            "The plan's deadline must be a time in the future.", fields={"deadline": "not in the future"}
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
    )
    return complaint


@transaction.atomic
def complaint_note(
    *, actor: User | None, complaint_id: int, text: str, origin: Origin = SYSTEM
) -> ComplaintEvent:
    """An internal note on the timeline. Never shown to the customer; allowed in every state."""
    complaint = Complaint.objects.filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFound("No such case.")
    access_complaint(actor, complaint, Cap.CASE_NOTE)
    text = _text(text, "text")
    return _event(complaint, EventKind.NOTE_ADDED, actor, timezone.now(), payload={"text": text})


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
        raise NotFound("No such case.")
    access_complaint(actor, complaint, Cap.CASE_NOTE)
    clean_name = PurePath((name or "").replace("\\", "/")).name.strip()
    if not clean_name or "." not in clean_name:
        raise ValidationError("The file needs a name with an extension.", fields={"file": "no extension"})
    extension = clean_name.rsplit(".", 1)[1].lower()
    limit = settings.TOUSU_ATTACHMENT_MAX_BYTES
    data = content.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(
            f"The file is too large (more than {limit // (1024 * 1024)} MB).", fields={"file": "too large"}
        )
    if not data:
        raise ValidationError("The file is empty.", fields={"file": "empty"})
    content_type = attachments.sniff(extension, data[:512])
    if content_type is None:
        allowed = ", ".join(sorted(attachments.ALLOWED))
        raise ValidationError(
            f"Files of this type are not accepted as evidence (allowed: {allowed}), or the content does not match '.{extension}'.",
            fields={"file": "type not allowed"},
        )
    if complaint.attachments.count() >= settings.TOUSU_ATTACHMENTS_PER_CASE:
        raise ValidationError("This case has as many attachments as allowed.", fields={"file": "too many"})
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
    attachment.file.save(clean_name, ContentFile(data), save=False)
    try:
        with transaction.atomic():
            attachment.save()
            _event(
                complaint,
                EventKind.ATTACHMENT_ADDED,
                actor,
                now,
                payload={"attachment_id": attachment.pk, "name": attachment.original_name, "size": len(data)},
            )
    except Exception:
        attachment.file.delete(save=False)
        raise
    return attachment


# --- remedies ----------------------------------------------------------------------------------


def _amount(value: Decimal | int | str, kind: str) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise ValidationError(f"'{value}' is not an amount.", fields={"amount": "not a number"}) from None
    if kind in MONEY_REMEDIES:
        if amount <= 0:
            raise ValidationError(
                "A money remedy needs an amount above zero.", fields={"amount": "must be positive"}
            )
        if amount > Decimal("1000000"):
            raise ValidationError("The amount is implausibly large.", fields={"amount": "too large"})
    elif amount != 0:
        raise ValidationError(
            "Only refunds, fee waivers and compensation carry an amount.", fields={"amount": "must be 0"}
        )
    return amount


def _limit_covers(user: User | None, amount: Decimal) -> bool:
    if user is None:
        return False  # the system never approves money
    if not user.can(Cap.REMEDY_DECIDE):
        return False
    limit = approval_limit_for(user.role)
    return limit is None or amount <= limit


@transaction.atomic
def remedy_request(
    *,
    actor: User | None,
    complaint_id: int,
    kind: str,
    amount: Decimal | int | str = 0,
    description: str = "",
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Remedy:
    """Offer a remedy. Within the requester's own approval limit (and for non-money remedies) it is
    approved at once; above it the case waits for an approver whose limit covers the amount."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.REMEDY_REQUEST)
    kind = _choice(kind, RemedyKind, "kind")
    value = _amount(amount, kind)
    description = _text(description, "description", required=False)
    status = Status(complaint.status)
    if status not in (Status.ACCEPTED, Status.INVESTIGATING, Status.PLAN_PROPOSED):
        raise InvalidTransition(
            src=status,
            dst=status,
            message=f"Remedies are offered while a case is handled, not when it is '{status.label}'.",
        )
    needs_approval = kind in MONEY_REMEDIES and not _limit_covers(actor, value)
    if needs_approval:
        _require_transition(complaint, Status.AWAITING_APPROVAL)  # only from 'plan proposed'
    now = timezone.now()
    remedy = Remedy.objects.create(
        complaint=complaint,
        kind=kind,
        amount=value,
        description=description,
        status=RemedyStatus.REQUESTED if needs_approval else RemedyStatus.APPROVED,
        requested_by=actor,
        requested_at=now,
        decided_by=None if needs_approval else actor,
        decided_at=None if needs_approval else now,
        decision_note="" if needs_approval else "within the requester's own limit",
    )
    payload = {"remedy_id": remedy.pk, "kind": kind, "amount": str(value), "description": description}
    if needs_approval:
        _move(complaint, Status.AWAITING_APPROVAL, actor, now, EventKind.REMEDY_REQUESTED, payload=payload)
    else:
        _save(complaint, now, [])
        _event(complaint, EventKind.REMEDY_APPROVED, actor, now, payload={**payload, "self_approved": True})
    return remedy


@transaction.atomic
def remedy_decide(
    *,
    actor: User,
    remedy_id: int,
    approve: bool,
    note: str = "",
    origin: Origin = SYSTEM,
) -> Remedy:
    """Approve or refuse a remedy waiting for approval. The approver's limit must cover the amount,
    and nobody approves their own request. When no request is left, the case returns to its plan."""
    remedy = Remedy.objects.filter(pk=remedy_id).first()
    if remedy is None:
        raise NotFound("No such remedy.")
    complaint = _lock(remedy.complaint_id)
    remedy = Remedy.objects.select_for_update().get(pk=remedy_id)
    access_complaint(actor, complaint, Cap.REMEDY_DECIDE)
    if remedy.status != RemedyStatus.REQUESTED:
        raise ConflictError(f"This remedy was already decided ({remedy.get_status_display()}).")
    if remedy.requested_by_id == actor.pk:
        raise PermissionDenied("You cannot decide on a remedy you requested.")
    if approve and not _limit_covers(actor, remedy.amount):
        limit = approval_limit_for(actor.role)
        raise PermissionDenied(
            f"{remedy.amount} 元 is above your approval limit ({limit} 元); a higher authority must approve it."
        )
    note = _text(note, "note", required=not approve)
    now = timezone.now()
    remedy.status = RemedyStatus.APPROVED if approve else RemedyStatus.REFUSED
    remedy.decided_by = actor
    remedy.decided_at = now
    remedy.decision_note = note
    remedy.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    kind = EventKind.REMEDY_APPROVED if approve else EventKind.REMEDY_REFUSED
    payload = {"remedy_id": remedy.pk, "kind": remedy.kind, "amount": str(remedy.amount), "note": note}
    still_waiting = complaint.remedies.filter(status=RemedyStatus.REQUESTED).exists()
    if complaint.status == Status.AWAITING_APPROVAL and not still_waiting:
        _require_transition(complaint, Status.PLAN_PROPOSED)
        _move(complaint, Status.PLAN_PROPOSED, actor, now, kind, payload=payload)
    else:
        _save(complaint, now, [])
        _event(complaint, kind, actor, now, payload=payload)
    return remedy


# --- reply, return visit, closing -------------------------------------------------------------


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
    access_complaint(actor, complaint, Cap.CASE_REPLY)
    src = _require_transition(complaint, Status.REPLIED)
    channel = _choice(channel, ReplyChannel, "channel")
    content = _text(content, "content")
    if src == Status.ACCEPTED:
        if not first_contact_resolution:
            raise InvalidTransition(
                src=src,
                dst=Status.REPLIED,
                message="Only a complaint resolved at first contact is answered before a plan is proposed.",
            )
        if actor is not None and actor.pk != complaint.first_contact_owner_id:
            raise PermissionDenied("Only the first-contact owner resolves a complaint at first contact.")
    elif first_contact_resolution:
        raise ValidationError(
            "A case that was dispatched or investigated is not a first-contact resolution.",
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
    access_complaint(actor, complaint, Cap.CASE_RETURN_VISIT)
    if complaint.status != Status.REPLIED:
        raise InvalidTransition(
            src=complaint.status,
            dst=Status.RETURN_VISIT,
            message=f"A return visit follows the reply; case {complaint} is '{Status(complaint.status).label}'.",
        )
    comment = _text(comment, "comment", required=False)
    if reached:
        if resolved is None:
            raise ValidationError("Say whether the problem is resolved.", fields={"resolved": "required"})
        if satisfaction is None or not 1 <= int(satisfaction) <= 5:
            raise ValidationError("Satisfaction is a score from 1 to 5.", fields={"satisfaction": "1 to 5"})
    elif resolved is not None or satisfaction is not None:
        raise ValidationError(
            "An unreached customer gives no outcome.",
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
        _event(complaint, EventKind.RETURN_VISIT, actor, now, payload=payload)
        return visit
    _move(
        complaint,
        Status.RETURN_VISIT,
        actor,
        now,
        EventKind.RETURN_VISIT,
        payload={**payload, "satisfied": visit.satisfied},
    )
    if not visit.satisfied:
        _reopen(
            complaint,
            actor,
            now,
            reason=comment or "dissatisfied at the return visit",
            trigger="dissatisfied_return_visit",
        )
    return visit


def _raise_level(
    complaint: Complaint, actor: User | None, now: datetime, *, to_level: int, reason: str, trigger: str
) -> None:
    previous = complaint.escalation_level
    complaint.escalation_level = to_level
    _save(complaint, now, ["escalation_level"])
    _event(
        complaint,
        EventKind.ESCALATED,
        actor,
        now,
        payload={"from_level": previous, "to_level": to_level, "reason": reason, "trigger": trigger},
    )


def _reopen(complaint: Complaint, actor: User | None, now: datetime, *, reason: str, trigger: str) -> None:
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
    )
    if complaint.escalation_level < MAX_ESCALATION_LEVEL:
        _raise_level(
            complaint, actor, now, to_level=complaint.escalation_level + 1, reason=reason, trigger=trigger
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
    access_complaint(actor, complaint, Cap.CASE_REOPEN)
    _require_transition(complaint, Status.REOPENED)
    if complaint.status == Status.CLOSED and actor is not None and not actor.can(Cap.CASE_SUPERVISE):
        raise PermissionDenied("Only supervisors and managers reopen a closed case.")
    reason = _text(reason, "reason")
    _reopen(complaint, actor, timezone.now(), reason=reason, trigger="manual")
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
    access_complaint(actor, complaint, Cap.CASE_CLOSE)
    src = _require_transition(complaint, Status.CLOSED)
    note = _text(note, "note", required=False)
    if src == Status.REPLIED and not complaint.is_first_contact_resolution:
        unreached = complaint.return_visits.filter(reached=False).exists()
        if not unreached:
            raise InvalidTransition(
                src=src, dst=Status.CLOSED, message="A replied case is closed after its return visit."
            )
        if actor is not None and not actor.can(Cap.CASE_SUPERVISE):
            raise PermissionDenied("Closing without reaching the customer needs a supervisor or manager.")
        if not note:
            raise ValidationError(
                "Say why the case is closed without reaching the customer.", fields={"note": "required"}
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
    access_complaint(actor, complaint, Cap.CASE_WITHDRAW)
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
    )
    return complaint


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
    access_complaint(actor, complaint, Cap.CASE_ESCALATE)
    if complaint.status not in OPEN:
        raise InvalidTransition(
            src=complaint.status,
            dst=complaint.status,
            message=f"Case {complaint} is no longer open and cannot be escalated.",
        )
    target = complaint.escalation_level + 1 if to_level is None else int(to_level)
    if target <= complaint.escalation_level:
        raise ValidationError(
            f"Case {complaint} is already at escalation level {complaint.escalation_level}.",
            fields={"to_level": "not higher"},
        )
    if target > MAX_ESCALATION_LEVEL:
        raise ValidationError(
            f"The highest escalation level is {MAX_ESCALATION_LEVEL}.",
            fields={"to_level": "above the top level"},
        )
    reason = _text(reason, "reason")
    _raise_level(complaint, actor, timezone.now(), to_level=target, reason=reason, trigger=trigger)
    return complaint


# --- the generic entry (API PATCH, bulk actions) -----------------------------------------------


@dataclass(frozen=True)
class _Step:
    service: Callable[..., Any]
    what: str


def complaint_transition(*, actor: User | None, complaint_id: int, to: str, **fields: Any) -> Complaint:
    """Move a case to status ``to`` through the service that owns that step, with its fields.

    For callers that speak in statuses (the TMF621 API, bulk actions). The table is checked
    first, so an impossible move is refused with the same message whatever fields came along.
    """
    try:
        dst = Status(to)
    except ValueError:
        raise ValidationError(f"'{to}' is not a status.", fields={"status": "unknown status"}) from None
    current = Complaint.objects.filter(pk=complaint_id).values_list("status", flat=True).first()
    if current is None:
        raise NotFound("No such case.")
    if not can_transition(Status(current), dst):
        raise InvalidTransition(
            src=current, dst=dst, message=f"A '{Status(current).label}' case cannot become '{dst.label}'."
        )
    steps: dict[Status, _Step] = {
        Status.ACCEPTED: _Step(complaint_accept, "accept"),
        Status.REJECTED: _Step(complaint_reject, "reject"),
        Status.DISPATCHED: _Step(complaint_dispatch, "dispatch"),
        Status.INVESTIGATING: _Step(complaint_investigate, "investigate"),
        Status.AWAITING_CUSTOMER: _Step(complaint_request_info, "request information"),
        Status.PLAN_PROPOSED: _Step(complaint_propose_plan, "propose a plan"),
        Status.REPLIED: _Step(complaint_reply, "reply"),
        Status.REOPENED: _Step(complaint_reopen, "reopen"),
        Status.CLOSED: _Step(complaint_close, "close"),
        Status.WITHDRAWN: _Step(complaint_withdraw, "withdraw"),
    }
    step = steps.get(dst)
    if step is None:
        raise ValidationError(
            f"'{dst.label}' is reached by requesting a remedy or recording a return visit, not by setting the status.",
            fields={"status": "not settable"},
        )
    try:
        step.service(actor=actor, complaint_id=complaint_id, **fields)
    except TypeError as exc:
        raise ValidationError(
            f"To {step.what}, send the fields it needs ({exc}).", fields={"status": "missing fields"}
        ) from None
    return Complaint.objects.get(pk=complaint_id)


# --- personal data ------------------------------------------------------------------------------


def complaint_reveal(*, actor: User, complaint_id: int, field: str, origin: Origin = SYSTEM) -> str:
    """Show one of the case's personal-data fields in clear, for somebody working on the case.
    Every reveal is an audit event (who, when, which case and customer, from where)."""
    complaint = Complaint.objects.select_related("customer").filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFound("No such case.")
    access_complaint(actor, complaint, Cap.CUSTOMER_REVEAL)
    if field == "service_number":
        value = complaint.service_number
    elif field in REVEALABLE_FIELDS:
        value = str(getattr(complaint.customer, field))
    else:
        raise ValidationError(f"'{field}' cannot be revealed.", fields={"field": "unknown field"})
    with transaction.atomic():
        audit_record(
            actor=actor,
            kind=AuditKind.PERSONAL_DATA_REVEALED,
            object_type="customer",
            object_id=complaint.customer_id,
            complaint_id=complaint.pk,
            field=field,
            origin=origin,
        )
    return value


@transaction.atomic
def customer_merge(*, actor: User, source_id: int, target_id: int, origin: Origin = SYSTEM) -> Customer:
    """Merge the customer ``source`` into ``target``: identities and cases move to the target; the
    source row stays, marked as merged, so history remains explainable. Audited, and each moved
    case gets a timeline event."""
    if not actor.can(Cap.CUSTOMER_MERGE):
        raise PermissionDenied("Only supervisors and managers merge customer records.")
    if source_id == target_id:
        raise ValidationError("A customer cannot be merged into itself.", fields={"target": "same as source"})
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=sorted([source_id, target_id]))
        .order_by("pk")
    }
    source, target = locked.get(source_id), locked.get(target_id)
    if source is None or target is None:
        raise NotFound("No such customer.")
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise ValidationError(
            "One of these customers was already merged into another.", fields={"target": "already merged"}
        )
    now = timezone.now()
    identities = list(source.identities.values_list("kind", "value"))
    source.identities.update(customer=target)
    changed = []
    for field in ("name", "phone", "email", "wechat_id", "id_number", "region_id"):
        if getattr(source, field) and not getattr(target, field):
            setattr(target, field, getattr(source, field))
            changed.append(field.removesuffix("_id"))
    if source.is_blacklisted and not target.is_blacklisted:
        target.is_blacklisted = True
        target.blacklist_reason = source.blacklist_reason
        changed += ["is_blacklisted", "blacklist_reason"]
    if changed:
        target.save(update_fields=[*changed, "updated_at"])
    source.merged_into = target
    source.save(update_fields=["merged_into", "updated_at"])
    case_ids = list(Complaint.objects.filter(customer=source).values_list("pk", flat=True))
    Complaint.objects.filter(pk__in=case_ids).update(customer=target, updated_at=now)
    ComplaintEvent.objects.bulk_create(
        ComplaintEvent(
            complaint_id=pk,
            created_at=now,
            kind=EventKind.CUSTOMER_MERGED,
            actor=actor,
            actor_label=actor.username,
            payload={"from_customer": source.pk, "to_customer": target.pk},
        )
        for pk in case_ids
    )
    audit_record(
        actor=actor,
        kind=AuditKind.CUSTOMER_MERGED,
        object_type="customer",
        object_id=target.pk,
        origin=origin,
        payload={
            "source": source.pk,
            "target": target.pk,
            "complaints": case_ids,
            "identities": [list(i) for i in identities],
        },
    )
    return target
