"""Registration, acceptance and refusal of complaints."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import Region, User
from tousu.accounts.roles import Cap
from tousu.common.errors import PermissionDenied, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints.access import access_complaint
from tousu.complaints.choices import (
    BusinessType,
    Channel,
    Level,
    RejectionReason,
    ReplyChannel,
)
from tousu.complaints.events import EventKind
from tousu.complaints.models import (
    Category,
    Complaint,
)
from tousu.complaints.services._base import (
    FUTURE_SKEW,
    _choice,
    _event,
    _lock,
    _move,
    _next_ticket_no,
    _require_transition,
    _text,
)
from tousu.complaints.services.escalation import escalate_for_triggers
from tousu.complaints.states import Status
from tousu.customers.services import customer_find_or_create


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
        raise PermissionDenied(_("Your role may not register complaints."))
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
    category = (
        Category.objects.filter(pk=category_id, is_active=True)
        .annotate(has_children=Exists(Category.objects.filter(parent_id=OuterRef("pk"), is_active=True)))
        .first()
    )
    if category is None:
        raise ValidationError(_("No such active category."), fields={"category": "unknown category"})
    if category.has_children:
        raise ValidationError(
            _("Choose a sub-category of '%(category_name)s'.") % {"category_name": category.name},
            fields={"category": "choose a sub-category"},
        )
    region = None
    if region_id is not None:
        region = Region.objects.filter(pk=region_id).first()
        if region is None:
            raise ValidationError(_("No such region."), fields={"region": "unknown region"})
    now = timezone.now()
    received_at = received_at or now
    if timezone.is_naive(received_at):
        raise ValidationError(
            _("The time received needs a time zone."), fields={"received_at": "naive datetime"}
        )
    if received_at > now + FUTURE_SKEW:
        raise ValidationError(
            _("The time received is in the future."), fields={"received_at": "in the future"}
        )

    customer = customer_find_or_create(
        phone=phone,
        name=customer_name,
        email=email,
        wechat_id=wechat_id,
        service_number=service_number,
        region=region,
    )
    owner = actor
    # Only a message with an external id can collide with a concurrent retry; only then is the
    # savepoint worth its two statements.
    try:
        with transaction.atomic() if external_id else nullcontext():
            complaint = Complaint.objects.create(
                status=Status.REGISTERED,
                channel=channel,
                external_id=external_id,
                customer=customer,
                service_number=service_number,
                business_type=business_type,
                category=category,
                level=level,
                region_id=region.pk if region is not None else customer.region_id,
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
    escalate_for_triggers(complaint, actor, now)
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
