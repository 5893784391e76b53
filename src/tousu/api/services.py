"""What the TMF621 endpoints do, in terms of the case services. Handlers parse and render; this
module decides which service does what for a key. Every write is made by the system
(``actor=None``) with ``via = "api:<key name>"`` recorded in the case's events."""

from __future__ import annotations

import base64
import binascii
import io
import re
import secrets
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.api.models import (
    ApiKey,
    ApiVersion,
    HubSubscription,
    SeverityMapping,
    TicketAttributes,
    TicketTypeMapping,
)
from tousu.api.schemas import CALLBACK_PATTERN, EventSubscriptionInput, TousuCreate, TousuUpdate
from tousu.api.tmf import LISTENER_ROOM, Related, hub_query_parse
from tousu.audit.services import audit_reads_record
from tousu.common.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from tousu.common.origin import Origin
from tousu.complaints import services as svc
from tousu.complaints.attachments import ALLOWED
from tousu.complaints.choices import Level
from tousu.complaints.models import Attachment, Category, Complaint, ComplaintEvent
from tousu.complaints.selectors import complaint_available_actions
from tousu.complaints.states import TMF_STATUS, Status, TmfStatus, can_transition
from tousu.notifications.models import WebhookEndpoint
from tousu.notifications.services import webhook_endpoint_retire


def origin_for(key: ApiKey) -> Origin:
    return Origin(via=f"api:{key.name}")


def tickets_read_record(*, key: ApiKey, complaints: list[Complaint], request: Any = None) -> int:
    """Audit an API read of these cases like a page read: one ``personal_data.read`` row per case
    with a known customer (whose case it is, masked or not, is personal data), naming the key and,
    with ``request``, the client's address."""
    origin = origin_for(key)
    if request is not None:
        origin = Origin.from_request(request, via=origin.via)
    reads = [(c.customer_id, c.pk) for c in complaints if c.customer_id is not None]
    return audit_reads_record(actor=None, reads=reads, origin=origin) if reads else 0


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


def _utc(value: datetime | None, name: str = "creationDate") -> datetime | None:
    """An aware time in UTC (PostgreSQL refuses offsets beyond ±15:59); naive stays naive for the
    service to refuse (``name``: the attribute, for the error)."""
    if value is None:
        return value
    if value.tzinfo is None:
        if name == "creationDate":
            return value
        raise ValidationError(
            _("'%(name)s' needs a time zone, e.g. 2026-03-01T08:00:00Z.") % {"name": name},
            fields={name: "naive datetime"},
        )
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError(_("The time is out of range."), fields={name: "out of range"}) from None


# --- version-neutral input (each version's module reads its bodies into these) ---------------


@dataclass
class PartyInput:
    """A related party: its role, the reference as sent (kept), and the customer's contact
    fields (Tousu's extension; used to find or create the customer, never kept here)."""

    role: str
    sent: dict[str, Any]
    phone: str = ""
    email: str = ""
    wechat_id: str = ""

    @property
    def has_contact(self) -> bool:
        return bool(self.phone.strip() or self.email.strip() or self.wechat_id.strip())


@dataclass
class TicketInput:
    description: str
    severity: str
    ticket_type: str
    external_id: str = ""
    name: str = ""
    priority: str = ""
    received_at: datetime | None = None
    requested_resolution_date: datetime | None = None
    parties: list[PartyInput] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    channel: dict[str, Any] = field(default_factory=dict)
    related_entity: list[dict[str, Any]] = field(default_factory=list)
    relationship: list[dict[str, Any]] = field(default_factory=list)
    characteristic: list[dict[str, Any]] = field(default_factory=list)
    external_identifier: list[dict[str, Any]] = field(default_factory=list)
    tousu: TousuCreate | None = None


@dataclass
class TicketChanges:
    """A merge-patch: None means "not sent"; lists to append (notes, attachments) are empty then."""

    status: str | None = None
    status_change_reason: str | None = None
    severity: str | None = None
    ticket_type: str | None = None
    name: str | None = None
    description: str | None = None
    priority: str | None = None
    requested_resolution_date: datetime | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    channel: dict[str, Any] | None = None
    related_entity: list[dict[str, Any]] | None = None
    relationship: list[dict[str, Any]] | None = None
    characteristic: list[dict[str, Any]] | None = None
    parties: list[PartyInput] | None = None
    tousu: TousuUpdate | None = None


# --- the mapping tables (README, "TMF621 API") ---------------------------------------------------

_MAPPING_SECONDS = 10.0


@dataclass
class _Mappings:
    loaded_at: float = -1e9
    levels: dict[str, str] = field(default_factory=dict)  # lower-case severity → level
    types: dict[str, int | None] = field(default_factory=dict)  # lower-case ticketType → category
    codes: dict[str, int] = field(default_factory=dict)  # lower-case category code → id
    names: dict[str, int] = field(default_factory=dict)  # category name (and English name) → id
    to_classify: int | None = None


_mappings = _Mappings()


def _load_mappings() -> _Mappings:
    """The mapping tables and the active leaf categories, kept per process for ten seconds."""
    global _mappings
    if time.monotonic() - _mappings.loaded_at <= _MAPPING_SECONDS:
        return _mappings
    m = _Mappings(loaded_at=time.monotonic())
    m.levels = {v.lower(): v for v in Level.values}
    m.levels.update(
        {value.lower(): level for value, level in SeverityMapping.objects.values_list("value", "level")}
    )
    leaves = Category.objects.filter(is_active=True, children__isnull=True).values_list(
        "pk", "code", "name", "name_en"
    )
    for pk, code, name, name_en in leaves:
        m.codes[code.lower()] = pk
        m.names.setdefault(name.lower(), pk)
        if name_en:
            m.names.setdefault(name_en.lower(), pk)
    m.types = dict(
        TicketTypeMapping.objects.filter(Q(category__isnull=True) | Q(category__is_active=True)).values_list(
            Lower("value"), "category_id"
        )
    )
    m.to_classify = m.codes.get(svc.TO_CLASSIFY)
    _mappings = m
    return m


def mappings_forget() -> None:
    """Read the mapping tables and categories again on the next request (tests; an edit this moment)."""
    global _mappings
    _mappings = _Mappings()


category_codes_forget = mappings_forget  # the older name


def level_for(severity: str) -> str | None:
    """The Tousu level a TMF severity maps to (case-insensitive), or None when no mapping names it."""
    return _load_mappings().levels.get(severity.strip().lower())


def category_for(ticket_type: str) -> int | None:
    """The category a TMF ticketType maps to: the mapping table, then a category code, then a
    category name (case-insensitive); None: to be classified."""
    m = _load_mappings()
    value = ticket_type.strip().lower()
    if value in m.types:
        return m.types[value]
    return m.codes.get(value) or m.names.get(value)


# --- attachments ---------------------------------------------------------------------------------

_EXTENSIONS = {content_type: ext for ext, (content_type, _magic) in reversed(ALLOWED.items())}


def _attachment_values(items: list[dict[str, Any]]) -> tuple[list[tuple[str, bytes]], list[dict[str, Any]]]:
    """Split ``attachment[]`` into files sent by value (name, decoded content) and references
    (kept as sent). Refuses what is neither, and content that is not base64."""
    files: list[tuple[str, bytes]] = []
    refs: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        content = item.get("content")
        if content:
            try:
                data = base64.b64decode(str(content), validate=True)
            except (binascii.Error, ValueError):
                raise ValidationError(
                    _("Attachment %(n)s: 'content' must be base64.") % {"n": i + 1},
                    fields={f"attachment.{i}.content": "not base64"},
                ) from None
            name = str(item.get("name") or "attachment").strip()
            extension = _EXTENSIONS.get(str(item.get("mimeType") or "").lower())
            if "." not in name and extension:
                name = f"{name}.{extension}"
            files.append((name, data))
        elif item.get("url") or item.get("href"):
            refs.append({k: v for k, v in item.items() if k != "content"})
        else:
            raise ValidationError(
                _("Attachment %(n)s needs a 'url' (by reference) or a base64 'content' (by value).")
                % {"n": i + 1},
                fields={f"attachment.{i}": "neither url nor content"},
            )
    return files, refs


def _attach(key: ApiKey, complaint_id: int, files: list[tuple[str, bytes]]) -> list[Attachment]:
    return [
        svc.attachment_add(
            actor=None, complaint_id=complaint_id, name=name, content=io.BytesIO(data), origin=origin_for(key)
        )
        for name, data in files
    ]


# --- create ----------------------------------------------------------------------------------------


def _customer_party(parties: list[PartyInput]) -> PartyInput | None:
    """The party that is the customer: the one with role 'customer', else the first with a contact."""
    for party in parties:
        if party.role.lower() == "customer":
            return party
    return next((p for p in parties if p.has_contact), None)


def ticket_create(*, key: ApiKey, data: TicketInput) -> tuple[Complaint, bool, Related | None]:
    """Register and accept a case on the key's channel in one transaction (so it has its ticket
    number), with the channel's attributes kept as sent, the customer's notes on the timeline and
    the attachments. Returns the case, whether it is new, and (new) the rows to show it: an
    ``externalId`` the channel sent before gives back the case registered then. Without a contact
    the case's customer is still to be identified."""
    require_write(key)
    category_id = category_for(data.ticket_type)
    if category_id is None:
        category_id = _load_mappings().to_classify  # None until created (below) and seen committed
    level = level_for(data.severity) or Level.DISSATISFIED
    party = _customer_party(data.parties)
    files, refs = _attachment_values(data.attachments)
    extra = data.tousu
    fields: dict[str, Any] = {
        "actor": None,
        "channel": key.channel,
        "phone": party.phone if party else "",
        "customer_name": str(party.sent.get("name") or "") if party and party.has_contact else "",
        "email": party.email if party else "",
        "wechat_id": party.wechat_id if party else "",
        "customer_optional": True,
        "business_type": extra.businessType if extra else "other",
        "category_id": category_id,
        "level": level,
        "description": data.description,
        "demand": extra.demand if extra else "",
        "service_number": extra.serviceNumber if extra else "",
        "threatens_external": extra.threatensExternal if extra else False,
        "received_at": _utc(data.received_at),
        "external_id": data.external_id,
        "origin": origin_for(key),
    }
    if extra and extra.preferredReplyChannel:
        fields["preferred_reply_channel"] = extra.preferredReplyChannel
    attrs = TicketAttributes(
        severity=data.severity,
        ticket_type=data.ticket_type,
        name=data.name,
        priority=data.priority,
        requested_resolution_date=_utc(data.requested_resolution_date, "requestedResolutionDate"),
        channel=data.channel,
        related_party=[p.sent for p in data.parties],
        related_entity=data.related_entity,
        relationship=data.relationship,
        attachment_refs=refs,
        characteristic=data.characteristic,
        external_identifier=data.external_identifier,
    )
    fields["new_case_rows"] = [attrs]  # written with the case, in its transaction
    notes: list[ComplaintEvent] = []
    attachments: list[Attachment] = []
    # One transaction: the case (with its attributes) and, when sent, the notes and files. Without
    # those, the registration's own transaction is the only one (no savepoint: the hot path).
    with transaction.atomic() if (data.notes or files or category_id is None) else nullcontext():
        if category_id is None:
            fields["category_id"] = svc.category_to_classify().pk
        complaint = svc.complaint_register(**fields, accept=True)
        if complaint.registered_before:
            return complaint, False, None
        if data.notes:
            notes = svc.complaint_customer_notes(
                actor=None, complaint_id=complaint.pk, notes=data.notes, origin=origin_for(key)
            )
        attachments = _attach(key, complaint.pk, files)
    if notes or attachments:
        complaint.version, complaint.updated_at = Complaint.objects.values_list("version", "updated_at").get(
            pk=complaint.pk
        )
    return complaint, True, Related.new(complaint, attrs=attrs, notes=notes, attachments=attachments)


# --- update ----------------------------------------------------------------------------------------


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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_update(*, key: ApiKey, complaint: Complaint, data: TicketChanges) -> Complaint:
    """Apply a merge-patch, all or nothing, comparing with the case as it is under its row lock
    (so a patch that repeats the current values changes nothing and answers 200, however many
    arrive at once): the severity (mapped to a level through ``complaint_change_level``), the
    description (``complaint_amend_description``), notes, attachments, the customer (when still
    to be identified), the channel's own attributes, and the status through
    ``complaint_transition`` (the lifecycle table decides)."""
    require_write(key)
    origin = origin_for(key)
    reason = (data.status_change_reason or "").strip()
    with transaction.atomic():
        current = Complaint.objects.select_for_update().get(pk=complaint.pk)
        attrs = TicketAttributes.objects.filter(pk=current.pk).first()
        if attrs is None:
            attrs = TicketAttributes(complaint=current, severity=current.level, ticket_type="")
        changes: dict[str, list[Any]] = {}

        def keep(name: str, attr: str, value: Any, shown: Any = None) -> None:
            before = getattr(attrs, attr)
            if value is not None and value != before:
                changes[name] = [shown(before) if shown else before, shown(value) if shown else value]
                setattr(attrs, attr, value)

        if data.severity is not None and data.severity != attrs.severity:
            keep("severity", "severity", data.severity)
            level = level_for(data.severity)
            if level is not None and level != current.level:
                svc.complaint_change_level(
                    actor=None,
                    complaint_id=current.pk,
                    level=level,
                    reason=reason or _("Changed through the API (%(key)s).") % {"key": key.name},
                    origin=origin,
                )
        keep("ticketType", "ticket_type", data.ticket_type)
        keep("name", "name", data.name)
        keep("priority", "priority", data.priority)
        requested = _utc(data.requested_resolution_date, "requestedResolutionDate")
        keep("requestedResolutionDate", "requested_resolution_date", requested, _iso)
        keep("channel", "channel", data.channel)
        keep("relatedEntity", "related_entity", data.related_entity)
        keep("troubleTicketRelationship", "relationship", data.relationship)
        keep("troubleTicketCharacteristic", "characteristic", data.characteristic)
        files: list[tuple[str, bytes]] = []
        if data.attachments:
            files, refs = _attachment_values(data.attachments)
            keep("attachment", "attachment_refs", attrs.attachment_refs + refs if refs else None)
        if data.parties is not None:
            keep("relatedParty", "related_party", [p.sent for p in data.parties])
            party = _customer_party(data.parties)
            if current.customer_id is None and party is not None and party.has_contact:
                svc.complaint_link_customer(
                    actor=None,
                    complaint_id=current.pk,
                    phone=party.phone,
                    customer_name=str(party.sent.get("name") or ""),
                    email=party.email,
                    wechat_id=party.wechat_id,
                    origin=origin,
                )
        if changes:
            attrs.save()
            svc.complaint_record_channel_update(
                actor=None, complaint_id=current.pk, changes=changes, origin=origin
            )
        if data.description is not None:
            svc.complaint_amend_description(
                actor=None, complaint_id=current.pk, description=data.description, origin=origin
            )
        if data.notes:
            svc.complaint_customer_notes(actor=None, complaint_id=current.pk, notes=data.notes, origin=origin)
        _attach(key, current.pk, files)
        if data.status is not None and data.status != TMF_STATUS[Status(current.status)]:
            dst, text_field = _STATUS_STEPS[data.status]
            _require_available(current, dst, origin)
            fields: dict[str, Any] = {"origin": origin}
            if text_field:
                fields[text_field] = reason
            if dst == Status.REJECTED:
                fields["reason"] = data.tousu.rejectionReason if data.tousu else ""
            if dst == Status.REPLIED:
                fields["channel"] = (data.tousu.replyChannel if data.tousu else None) or "app"
            svc.complaint_transition(actor=None, complaint_id=current.pk, to=dst, **fields)
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


CALLBACK_MAX = 500  # what a webhook endpoint's URL and a delivery's address hold


def hub_subscribe(
    *, key: ApiKey, data: EventSubscriptionInput, version: str = ApiVersion.V4
) -> tuple[HubSubscription, str]:
    """Register a callback for the events of API ``version`` (their shapes, and for v5 the
    listener paths). Returns the subscription and its signing secret (shown once)."""
    require_write(key)
    url = data.callback.strip()
    if not re.fullmatch(CALLBACK_PATTERN, url):
        raise ValidationError(
            _("The callback must be an http:// or https:// URL."), fields={"callback": "not a URL"}
        )
    room = CALLBACK_MAX - (LISTENER_ROOM if version == ApiVersion.V5 else 0)
    if len(url) > room:
        raise ValidationError(
            _("The callback may have at most %(n)d characters.") % {"n": room},
            fields={"callback": "too long"},
        )
    query = (data.query or "").strip()
    hub_query_parse(query)
    secret = secrets.token_hex(32)
    now = timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url, secret=secret, label=f"TMF621 hub ({key.name})"[:200], created_at=now
        )
        sub = HubSubscription.objects.create(
            api_key=key, endpoint=endpoint, query=query, version=version, created_at=now
        )
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
    with transaction.atomic():
        HubSubscription.objects.filter(pk=sub.pk).update(deactivated_at=timezone.now())
        webhook_endpoint_retire(endpoint_id=sub.endpoint_id, reason=UNSUBSCRIBED)


def rate_limit_for(key: ApiKey) -> int:
    return key.rate_limit or settings.TOUSU_API_RATE_LIMIT
