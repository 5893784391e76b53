"""Registration, acceptance and refusal of complaints."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Field, Model
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import Region, User
from tousu.accounts.roles import Cap
from tousu.common.errors import PermissionDenied, ValidationError
from tousu.common.fastsql import insert_tree
from tousu.common.logs import current_request_id
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints.access import access_complaint, principal_may
from tousu.complaints.choices import (
    BusinessType,
    Channel,
    Level,
    RejectionReason,
    ReplyChannel,
)
from tousu.complaints.events import NOTIFYING, EventKind
from tousu.complaints.models import (
    Category,
    Complaint,
    ComplaintEvent,
)
from tousu.complaints.services._base import (
    FUTURE_SKEW,
    _choice,
    _lock,
    _move,
    _next_ticket_no,
    _require_transition,
    _text,
    outbox_wake_after_commit,
)
from tousu.complaints.services.escalation import triggered_escalation
from tousu.complaints.states import Status
from tousu.customers.models import Customer
from tousu.customers.services import customer_find_or_create
from tousu.sla.services import sla_plan_new_case


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
    accept: bool = False,
    origin: Origin = SYSTEM,
    contact_verified: bool = True,
    customer_optional: bool = False,
    new_case_rows: Sequence[Model] = (),
) -> Complaint:
    """Register a complaint from any channel. The customer is found (or created) by phone,
    e-mail or WeChat id; with ``customer_optional`` and none of them given, the case is registered
    without a customer, who is still to be identified (``complaint_link_customer``).
    ``contact_verified=False`` (the portal): the details given change no existing customer; the
    e-mail stays on the case (``contact_email``). ``new_case_rows`` (rows of other apps with a
    ``complaint`` foreign key, e.g. the TMF621 attributes) are written with a new case, in its
    transaction; not for a repeated message. With ``external_id``, a second call from the same
    channel returns the case already registered instead of a duplicate.

    With ``accept=True`` the case is also accepted in the same transaction (the actor needs the
    right to accept it): the record is exactly what ``complaint_register`` then
    ``complaint_accept`` write (the "registered" event, an "escalated" one when the level or a
    threat calls for it, the "accepted" event with the ticket number; the same SLA clocks and
    deadlines), written with one INSERT per table. A repeated ``external_id`` returns the case
    already registered, accepting it first if it is still only registered.

    This is the hot path of every channel, so it reads the category, region and a previous
    registration in one statement, computes the SLA clocks in memory and writes the case row
    once, already in its final state, with SQL built once per process from the models' metadata
    (``insert_tree``: on PostgreSQL the case, its events and its clocks are one statement)."""
    if actor is not None and not actor.can(Cap.CASE_REGISTER):
        raise PermissionDenied(_("Your role may not register complaints."))
    if actor is None and not principal_may(origin, Cap.CASE_REGISTER):
        raise PermissionDenied(_("%(who)s may not register complaints.") % {"who": origin.label})
    channel = _choice(channel, Channel, "channel")
    external_id = _text(external_id, "external_id", required=False, max_length=100)
    try:
        category_pk = int(category_id)
    except (TypeError, ValueError):
        raise ValidationError(
            _("No such active category."), fields={"category": "unknown category"}
        ) from None
    if region_id is not None:
        try:
            region_id = int(region_id)
        except (TypeError, ValueError):
            raise ValidationError(_("No such region."), fields={"region": "unknown region"}) from None
    category, has_children, region, existing_id = _references(category_pk, region_id, channel, external_id)
    if existing_id is not None:
        return _registered_before(actor, existing_id, accept, origin)
    business_type = _choice(business_type, BusinessType, "business_type")
    level = _choice(level, Level, "level")
    preferred_reply_channel = _choice(preferred_reply_channel, ReplyChannel, "preferred_reply_channel")
    description = _text(description, "description")
    demand = _text(demand, "demand", required=False)
    service_number = _text(service_number, "service_number", required=False, max_length=40)
    if category is None:
        raise ValidationError(_("No such active category."), fields={"category": "unknown category"})
    if has_children:
        raise ValidationError(
            _("Choose a sub-category of '%(category_name)s'.") % {"category_name": category.name},
            fields={"category": "choose a sub-category"},
        )
    if region_id is not None and region is None:
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
    owner = actor
    complaint = Complaint(
        status=Status.REGISTERED,
        channel=channel,
        external_id=external_id,
        service_number=service_number,
        business_type=business_type,
        category=category,
        level=level,
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
    # Refuse before writing anything (the scope check needs no saved row). A channel accepts what
    # it registers itself (checked above).
    if accept and actor is not None:
        access_complaint(actor, complaint, Cap.CASE_ACCEPT, origin=origin)

    customer: Customer | None = None
    if not customer_optional or phone.strip() or email.strip() or wechat_id.strip():
        customer = customer_find_or_create(
            phone=phone,
            name=customer_name,
            email=email,
            wechat_id=wechat_id,
            service_number=service_number,
            region=region,
            verified=contact_verified,
        )
    complaint.contact_email = email.strip().lower()  # checked by customer_find_or_create
    complaint.customer = customer
    complaint.region_id = (
        region.pk if region is not None else (customer.region_id if customer is not None else None)
    )

    # The events, in the order the two services write them, and the SLA steps they make.
    label = actor.username if actor is not None else origin.label
    events = [
        ComplaintEvent(
            created_at=now,
            kind=EventKind.REGISTERED,
            actor=actor,
            actor_label=label,
            via=origin.via,
            to_status=Status.REGISTERED,
            payload={
                "channel": channel,
                "level": level,
                "category": category.code,
                "customer_blacklisted": customer is not None and customer.is_blacklisted,
                "threatens_external": threatens_external,
                "via": origin.via,
            },
        )
    ]
    steps = [(EventKind.REGISTERED.value, Status.REGISTERED.value, Status.REGISTERED, now)]
    escalation = triggered_escalation(complaint)
    if escalation is not None:
        target, reason, trigger = escalation
        payload = {
            "from_level": complaint.escalation_level,
            "to_level": target,
            "reason": reason,
            "trigger": trigger,
        }
        complaint.escalation_level = target
        complaint.version += 1
        events.append(
            ComplaintEvent(
                created_at=now,
                kind=EventKind.ESCALATED,
                actor=actor,
                actor_label=label,
                via=origin.via,
                payload=payload,
            )
        )
        steps.append((EventKind.ESCALATED.value, "", Status.REGISTERED, now))
    if accept:
        complaint.accepted_at = now
        complaint.status = Status.ACCEPTED
        complaint.version += 1
        accepted = ComplaintEvent(
            created_at=now,
            kind=EventKind.ACCEPTED,
            actor=actor,
            actor_label=label,
            via=origin.via,
            from_status=Status.REGISTERED,
            to_status=Status.ACCEPTED,
        )
        events.append(accepted)
        steps.append((EventKind.ACCEPTED.value, Status.ACCEPTED.value, Status.ACCEPTED, now))
    request_id = current_request_id() or None
    for event in events:
        event.pending_dispatch = event.kind in NOTIFYING
        event.request_id = request_id
    clocks = sla_plan_new_case(complaint, steps)  # sets next_due_at before the row is written
    if any(event.pending_dispatch for event in events):
        outbox_wake_after_commit()  # after the commit, and not for every case (see _base)

    if accept:  # the counter row, when a block is reserved, is locked from here to the commit
        complaint.ticket_no = _next_ticket_no(now)
        accepted.payload = {"ticket_no": complaint.ticket_no}
    # One fast path for both databases, built from the models' metadata (ADR 0013): the case,
    # its events and its clocks, one statement on PostgreSQL. Only a message with an external id
    # can collide with a concurrent retry: its INSERT skips the duplicate instead of failing, and
    # the case registered by the other call is returned.
    written = insert_tree(complaint, [*events, *clocks], skip_conflicts=bool(external_id))
    if not written:
        existing_id = (
            Complaint.objects.filter(channel=channel, external_id=external_id)
            .values_list("pk", flat=True)
            .first()
        )
        if existing_id is None:
            raise IntegrityError(f"complaint {channel}/{external_id} was neither written nor found")
        return _registered_before(actor, existing_id, accept, origin)
    complaint.started_clocks = clocks
    if new_case_rows:  # --- rows of other apps that belong to the new case ---
        for row in new_case_rows:
            row.complaint = complaint  # type: ignore[attr-defined]
            type(row)._default_manager.bulk_create([row])
    return complaint


def _registered_before(actor: User | None, complaint_id: int, accept: bool, origin: Origin) -> Complaint:
    """The case a previous call registered for the same channel message (idempotent retry)."""
    existing = Complaint.objects.get(pk=complaint_id)
    if accept and existing.status == Status.REGISTERED:
        existing = complaint_accept(actor=actor, complaint_id=existing.pk, origin=origin)
    existing.registered_before = True
    return existing


_REFERENCE_SQL: dict[str, str] = {}


def _references(
    category_id: int, region_id: int | None, channel: str, external_id: str
) -> tuple[Category | None, bool, Region | None, int | None]:
    """The active category, whether it has active sub-categories, the region and the case
    already registered for this channel message, in one statement built once."""
    sql = _REFERENCE_SQL.get(connection.vendor)
    if sql is None:
        q = connection.ops.quote_name
        cat, reg, case = (q(m._meta.db_table) for m in (Category, Region, Complaint))
        sql = _REFERENCE_SQL[connection.vendor] = (
            f"SELECT {', '.join(f'c.{q(f.column)}' for f in _CATEGORY_FIELDS)}, "
            f"EXISTS (SELECT 1 FROM {cat} k WHERE k.parent_id = c.id AND k.is_active), "
            f"{', '.join(f'r.{q(f.column)}' for f in _REGION_FIELDS)}, "
            f"(SELECT x.id FROM {case} x WHERE x.channel = %s AND x.external_id = %s AND NOT (x.external_id = '')) "
            f"FROM (SELECT 1 AS one) o "
            f"LEFT JOIN {cat} c ON c.id = %s AND c.is_active "
            f"LEFT JOIN {reg} r ON r.id = %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [channel, external_id, category_id, region_id])
        row = cursor.fetchone()
    n_cat = len(_CATEGORY_FIELDS)
    category = region = None
    if row[0] is not None:
        category = Category.from_db(connection.alias, _CATEGORY_NAMES, row[:n_cat])
    if row[n_cat + 1] is not None:
        region = Region.from_db(
            connection.alias, _REGION_NAMES, row[n_cat + 1 : n_cat + 1 + len(_REGION_FIELDS)]
        )
    return category, bool(row[n_cat]), region, row[-1]


def _plain_fields(model: type[Model]) -> list[Field[Any, Any]]:
    """Columns a raw row brings back as the ORM would (times stay deferred: naive on SQLite)."""
    fields = [
        f for f in model._meta.concrete_fields if f.get_internal_type() not in ("DateTimeField", "DateField")
    ]
    assert fields[0].primary_key
    return fields


_CATEGORY_FIELDS = _plain_fields(Category)
_CATEGORY_NAMES = [f.attname for f in _CATEGORY_FIELDS]
_REGION_FIELDS = _plain_fields(Region)
_REGION_NAMES = [f.attname for f in _REGION_FIELDS]


@transaction.atomic
def complaint_accept(
    *, actor: User | None, complaint_id: int, expected_version: int | None = None, origin: Origin = SYSTEM
) -> Complaint:
    """Accept a registered complaint: issue its ticket number and queue the acknowledgement."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_ACCEPT, origin=origin)
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
        origin=origin,
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
    access_complaint(actor, complaint, Cap.CASE_ACCEPT, origin=origin)
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
        origin=origin,
    )
    return complaint
