"""What the TMF621 endpoints do, in terms of the case services. Handlers parse and render; this
module decides which service does what for a key. Every write is made by the system
(``actor=None``) with ``via = "api:<key name>"`` recorded in the case's events."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.api.models import ApiKey, HubSubscription
from tousu.api.schemas import (
    CALLBACK_PATTERN,
    EventSubscriptionInput,
    TroubleTicketCreate,
    TroubleTicketUpdate,
)
from tousu.api.tmf import hub_query_parse
from tousu.common.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from tousu.common.origin import Origin
from tousu.complaints import services as svc
from tousu.complaints.models import Category, Complaint
from tousu.complaints.selectors import complaint_available_actions
from tousu.complaints.states import TMF_STATUS, Status, TmfStatus, can_transition
from tousu.notifications.models import DeliveryStatus, Notification, WebhookEndpoint


def origin_for(key: ApiKey) -> Origin:
    return Origin(via=f"api:{key.name}")


def key_cases_q(key: ApiKey) -> Q:
    """The cases a key may see: those of its channel, or every case with ``all_channels``."""
    return Q() if key.all_channels else Q(channel=key.channel)


def require_write(key: ApiKey) -> None:
    if not key.can_write:
        raise PermissionDenied(_("This API key may only read."))


def case_lookup(key: ApiKey, ticket_id: str) -> Complaint:
    """The case a TMF id names (ticket number, or database id before acceptance), in the key's
    reach. A case outside it is reported as not found, as for a stranger it does not exist."""
    ident = (ticket_id or "").strip()
    if ident.isascii() and ident.isdigit() and len(ident) < 12:
        q = Q(pk=int(ident), ticket_no__isnull=True) | Q(ticket_no=ident)
    else:
        q = Q(ticket_no=ident)
    complaint = Complaint.objects.filter(q).filter(key_cases_q(key)).first()
    if complaint is None:
        raise NotFound(_("No trouble ticket '%(id)s'.") % {"id": ident[:40]})
    return complaint


def _utc(value: datetime | None) -> datetime | None:
    """An aware time in UTC (PostgreSQL refuses offsets beyond ±15:59); naive stays naive for the
    service to refuse."""
    if value is None or value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError(
            _("The time received is out of range."), fields={"creationDate": "out of range"}
        ) from None


_CATEGORY_SECONDS = 10.0
_category_ids: tuple[float, dict[str, int]] = (-1e9, {})


def _category_id(code: str) -> int | None:
    """The active category with this code, from a map kept per process for ten seconds (every
    create names one; ``complaint_register`` still checks the category it is given is active)."""
    global _category_ids
    loaded_at, ids = _category_ids
    if time.monotonic() - loaded_at > _CATEGORY_SECONDS or code not in ids:
        ids = dict(Category.objects.filter(is_active=True).values_list("code", "pk"))
        _category_ids = (time.monotonic(), ids)
    return ids.get(code)


def category_codes_forget() -> None:
    """Read the category codes again on the next create (tests; a category renamed this moment)."""
    global _category_ids
    _category_ids = (-1e9, {})


def ticket_create(*, key: ApiKey, data: TroubleTicketCreate) -> tuple[Complaint, bool]:
    """Register and accept a case on the key's channel in one transaction (so it has its ticket
    number). Returns the case and whether it is new: an ``externalId`` the channel sent before
    gives back the case registered then."""
    require_write(key)
    external_id = (data.externalId or "").strip()  # a repeat is found by complaint_register
    category_id = _category_id(data.ticketType)
    if category_id is None:
        raise ValidationError(
            _("'%(code)s' is not an active category code.") % {"code": data.ticketType[:60]},
            fields={"ticketType": "unknown category"},
        )
    party = next((p for p in data.relatedParty if (p.role or "customer").lower() == "customer"), None)
    if party is None and data.relatedParty:
        party = data.relatedParty[0]
    if party is None or not (party.phone or party.email or party.wechatId):
        raise ValidationError(
            _("Say who complains: a relatedParty with role 'customer' and a phone, email or wechatId."),
            fields={"relatedParty": "required"},
        )
    extra = data.tousu
    fields: dict[str, Any] = {
        "actor": None,
        "channel": key.channel,
        "phone": party.phone or "",
        "customer_name": party.name or "",
        "email": party.email or "",
        "wechat_id": party.wechatId or "",
        "business_type": extra.businessType if extra else "other",
        "category_id": category_id,
        "level": data.severity,
        "description": data.description,
        "demand": extra.demand if extra else "",
        "service_number": extra.serviceNumber if extra else "",
        "threatens_external": extra.threatensExternal if extra else False,
        "received_at": _utc(data.creationDate),
        "external_id": external_id,
        "origin": origin_for(key),
    }
    if extra and extra.preferredReplyChannel:
        fields["preferred_reply_channel"] = extra.preferredReplyChannel
    complaint = svc.complaint_register(**fields, accept=True)
    created = not complaint.registered_before
    return complaint, created


# TMF status → (Tousu status, the step's text field).
_STATUS_STEPS: dict[str, tuple[Status, str | None]] = {
    TmfStatus.ACKNOWLEDGED: (Status.ACCEPTED, None),
    TmfStatus.REJECTED: (Status.REJECTED, "explanation"),
    TmfStatus.IN_PROGRESS: (Status.INVESTIGATING, "note"),
    TmfStatus.PENDING: (Status.AWAITING_CUSTOMER, "question"),
    TmfStatus.HELD: (Status.AWAITING_APPROVAL, None),
    TmfStatus.RESOLVED: (Status.REPLIED, "content"),
    TmfStatus.CLOSED: (Status.CLOSED, "note"),
    TmfStatus.CANCELLED: (Status.WITHDRAWN, "reason"),
}


def ticket_update(*, key: ApiKey, complaint: Complaint, data: TroubleTicketUpdate) -> Complaint:
    """Apply a merge-patch: the severity through ``complaint_change_level``, the status through
    ``complaint_transition`` (the lifecycle table decides). All or nothing."""
    require_write(key)
    origin = origin_for(key)
    reason = (data.statusChangeReason or "").strip()
    with transaction.atomic():
        if data.severity is not None and data.severity != complaint.level:
            svc.complaint_change_level(
                actor=None,
                complaint_id=complaint.pk,
                level=data.severity,
                reason=reason or _("Changed through the API (%(key)s).") % {"key": key.name},
                origin=origin,
            )
        if data.status is not None and data.status != TMF_STATUS[Status(complaint.status)]:
            dst, text_field = _STATUS_STEPS[data.status]
            _require_available(complaint, dst, origin)
            fields: dict[str, Any] = {"origin": origin}
            if text_field:
                fields[text_field] = reason
            if dst == Status.REJECTED:
                fields["reason"] = data.tousu.rejectionReason if data.tousu else ""
            if dst == Status.REPLIED:
                fields["channel"] = (data.tousu.replyChannel if data.tousu else None) or "app"
            svc.complaint_transition(actor=None, complaint_id=complaint.pk, to=dst, **fields)
    return Complaint.objects.get(pk=complaint.pk)


# The action (``complaint_available_actions``) that reaches each status a PATCH may set.
_STATUS_ACTIONS: dict[Status, str] = {
    Status.ACCEPTED: "accept",
    Status.REJECTED: "reject",
    Status.INVESTIGATING: "investigate",
    Status.AWAITING_CUSTOMER: "request-info",
    Status.REPLIED: "reply",
    Status.CLOSED: "close",
    Status.WITHDRAWN: "withdraw",
}


def _require_available(complaint: Complaint, dst: Status, origin: Origin) -> None:
    """Refuse a status the lifecycle allows but this key may not set now, saying which it may."""
    current = Complaint.objects.get(pk=complaint.pk)  # after a severity change in this PATCH
    src = Status(current.status)
    if not can_transition(src, dst):
        return  # complaint_transition says so, in its own words
    actions = complaint_available_actions(None, current, origin=origin)
    if _STATUS_ACTIONS.get(dst) in actions:
        return
    possible = sorted({TMF_STATUS[s].value for s, a in _STATUS_ACTIONS.items() if a in actions})
    raise InvalidTransition(
        src=src,
        dst=dst,
        message=_(
            "This API key cannot set status '%(status)s' on this ticket now; possible now: %(possible)s."
        )
        % {"status": TMF_STATUS[dst].value, "possible": ", ".join(possible) or _("none")},
    )


# Statuses a case can be deleted (withdrawn) from: nothing has been done on it yet.
DELETABLE = frozenset({Status.REGISTERED, Status.ACCEPTED})


def ticket_delete(*, key: ApiKey, complaint: Complaint) -> None:
    """DELETE is a soft delete (docs/adr/0005): a case nobody has worked on yet is withdrawn, with the
    key recorded; its row and its events stay. Any later case refuses."""
    if not key.can_delete:
        raise PermissionDenied(_("Only an API key with the 'admin' scope may delete trouble tickets."))
    if complaint.status == Status.WITHDRAWN:
        return
    if complaint.status not in DELETABLE:
        raise InvalidTransition(
            src=complaint.status,
            dst=Status.WITHDRAWN,
            message=_(
                "Trouble ticket %(id)s is being handled ('%(status)s') and cannot be deleted; "
                "set its status to 'cancelled' with a reason instead."
            )
            % {"id": complaint, "status": Status(complaint.status).label},
        )
    svc.complaint_withdraw(
        actor=None,
        complaint_id=complaint.pk,
        reason=_("Deleted through the API (%(key)s).") % {"key": key.name},
        origin=origin_for(key),
    )


def hub_subscribe(*, key: ApiKey, data: EventSubscriptionInput) -> tuple[HubSubscription, str]:
    """Register a callback. Returns the subscription and its signing secret (shown once)."""
    require_write(key)
    url = data.callback.strip()
    if not re.fullmatch(CALLBACK_PATTERN, url):
        raise ValidationError(
            _("The callback must be an http:// or https:// URL."), fields={"callback": "not a URL"}
        )
    query = (data.query or "").strip()
    hub_query_parse(query)
    secret = secrets.token_hex(32)
    now = timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url, secret=secret, label=f"TMF621 hub ({key.name})"[:200], created_at=now
        )
        sub = HubSubscription.objects.create(api_key=key, endpoint=endpoint, query=query, created_at=now)
    return sub, secret


UNSUBSCRIBED = "not sent: the subscription was cancelled (DELETE /hub)"


def hub_unsubscribe(*, key: ApiKey, subscription_id: str) -> None:
    require_write(key)
    sub = None
    if subscription_id.isascii() and subscription_id.isdigit() and len(subscription_id) < 12:
        sub = HubSubscription.objects.filter(
            pk=int(subscription_id), api_key=key, deactivated_at__isnull=True
        ).first()
    if sub is None:
        raise NotFound(_("No subscription '%(id)s'.") % {"id": subscription_id[:40]})
    # Kept, not deleted: every delivery and attempt stays on record. Nothing new is sent to it, and
    # what was still waiting is closed with the reason.
    now = timezone.now()
    with transaction.atomic():
        HubSubscription.objects.filter(pk=sub.pk).update(deactivated_at=now)
        WebhookEndpoint.objects.filter(pk=sub.endpoint_id).update(is_active=False)
        Notification.objects.filter(webhook_id=sub.endpoint_id, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, last_error=UNSUBSCRIBED, next_attempt_at=now
        )


def rate_limit_for(key: ApiKey) -> int:
    return key.rate_limit or settings.TOUSU_API_RATE_LIMIT
