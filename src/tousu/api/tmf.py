"""Tousu cases as TMF621 TroubleTickets, the part every version shares: the resource's common
attributes, its list filters and the hub's event envelopes. ``tmf_v4`` and ``tmf_v5`` add what
each version shapes differently (party references, external ids, ``@type``).

Mapping (see README, "TMF621 API"):

- ``id``: the ticket number once accepted, else the case's database id.
- ``severity``, ``ticketType``, ``name``, ``priority``, ``channel``, ``relatedEntity``…: as the
  client sent them (``TicketAttributes``); Tousu's level and category, mapped from them through
  the mapping tables, are in the ``tousu`` extension. Cases filed on the pages show their level
  and category code instead.
- ``status`` from ``states.TMF_STATUS``; ``expectedResolutionDate``: the due time of the reply
  clock (the regulator's answer clock for referrals); ``resolutionDate``: when the customer was
  answered.
- ``relatedParty``: the customer, masked (or, while still to be identified, the party the client
  sent); ``note``: the customer's notes and the replies given (never internal notes);
  ``attachment``: evidence metadata and the links the client sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from tousu.accounts.models import Department
from tousu.api.models import TicketAttributes
from tousu.common.errors import ValidationError
from tousu.common.masking import mask_name, mask_phone, mask_text
from tousu.complaints.events import EventKind
from tousu.complaints.models import Attachment, Complaint, ComplaintEvent, Reply
from tousu.complaints.states import TMF_STATUS, Status, TmfStatus
from tousu.sla.calendars import CalendarSpec, business_time_between
from tousu.sla.models import BusinessCalendar, ClockKind, SlaClock

ANSWER_CLOCKS = (ClockKind.REGULATOR_ANSWER, ClockKind.REPLY)

# TMF status → the Tousu statuses it stands for (for list filters).
TMF_TO_STATUSES: Mapping[str, list[str]] = {
    tmf.value: [s.value for s, t in TMF_STATUS.items() if t == tmf] for tmf in TmfStatus
}


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ticket_id(complaint: Complaint) -> str:
    return complaint.ticket_no or str(complaint.pk)


def ticket_queryset() -> QuerySet[Complaint]:
    """Cases with everything the resource shows, in a fixed number of queries."""
    return Complaint.objects.select_related(
        "customer", "category", "lead_department", "tmf"
    ).prefetch_related(
        "cooperating_departments",
        Prefetch(
            "events",
            queryset=ComplaintEvent.objects.filter(kind=EventKind.CUSTOMER_NOTE).order_by("created_at", "id"),
            to_attr="customer_notes",
        ),
        Prefetch(
            "events",
            queryset=ComplaintEvent.objects.exclude(to_status="")
            .exclude(to_status=F("from_status"))
            .only("complaint_id", "to_status", "created_at")
            .order_by("created_at", "id"),
            to_attr="status_events",
        ),
        Prefetch("replies", queryset=Reply.objects.order_by("replied_at", "id")),
        Prefetch("attachments", queryset=Attachment.objects.order_by("created_at", "id")),
        Prefetch("clocks", queryset=SlaClock.objects.order_by("started_at", "id")),
    )


_specs: tuple[float, dict[int, CalendarSpec]] = (-1e9, {})
SPEC_SECONDS = 10.0


def _calendar_spec(calendar_id: int) -> CalendarSpec:
    """Business calendars, cached per process for a few seconds (they change rarely)."""
    global _specs
    loaded, specs = _specs
    if time.monotonic() - loaded > SPEC_SECONDS or calendar_id not in specs:
        specs = {c.pk: c.spec() for c in BusinessCalendar.objects.prefetch_related("days")}
        _specs = (time.monotonic(), specs)
    return specs[calendar_id]


def _remaining(clock: SlaClock, now: datetime) -> timedelta | None:
    """Business time left on a running or paused clock (negative: overdue); None once ended."""
    if clock.ended_at is not None or clock.state not in ("running", "paused", "breached"):
        return None
    spec = _calendar_spec(clock.calendar_id)
    if clock.state == "paused" and clock.paused_at is not None:
        return business_time_between(spec, clock.paused_at, clock.due_at)
    if now <= clock.due_at:
        return business_time_between(spec, now, clock.due_at)
    return -business_time_between(spec, clock.due_at, now)


class Related(NamedTuple):
    """The rows a ticket shows besides the case row."""

    clocks: Sequence[SlaClock]
    replies: Sequence[Reply]
    attachments: Sequence[Attachment]
    cooperating: Sequence[Department]
    notes: Sequence[ComplaintEvent] = ()
    attrs: TicketAttributes | None = None
    status_events: Sequence[ComplaintEvent] = ()

    @classmethod
    def of(cls, complaint: Complaint) -> Related:
        """As prefetched by ``ticket_queryset``."""
        return cls(
            list(complaint.clocks.all()),
            list(complaint.replies.all()),
            list(complaint.attachments.all()),
            list(complaint.cooperating_departments.all()),
            list(getattr(complaint, "customer_notes", None) or []),
            _attrs(complaint),
            list(getattr(complaint, "status_events", None) or []),
        )

    @classmethod
    def new(
        cls,
        complaint: Complaint,
        *,
        attrs: TicketAttributes | None = None,
        notes: Sequence[ComplaintEvent] = (),
        attachments: Sequence[Attachment] = (),
    ) -> Related:
        """A case created a moment ago: no replies or cooperating departments yet, and its clocks
        as the service started them (read back only when it did not say)."""
        if complaint.started_clocks is not None:
            clocks = sorted(complaint.started_clocks, key=lambda c: c.started_at)
        else:
            clocks = list(SlaClock.objects.filter(complaint_id=complaint.pk).order_by("started_at", "id"))
        return cls(clocks, [], list(attachments), [], list(notes), attrs)


def _attrs(complaint: Complaint) -> TicketAttributes | None:
    try:
        return complaint.tmf
    except TicketAttributes.DoesNotExist:
        return None


def _clocks(clocks: Sequence[SlaClock], now: datetime) -> list[dict[str, Any]]:
    result = []
    for clock in clocks:
        item: dict[str, Any] = {
            "kind": clock.kind,
            "cycle": clock.cycle,
            "state": clock.state,
            "dueAt": _iso(clock.due_at),
        }
        remaining = _remaining(clock, now)
        if remaining is not None:
            item["remainingSeconds"] = int(remaining.total_seconds())
        result.append(item)
    return result


def _expected_resolution(clocks: Sequence[SlaClock]) -> datetime | None:
    """The answer clock's due time: the regulator's for a referral, else the reply clock's."""
    for kind in ANSWER_CLOCKS:
        answers = [c for c in clocks if c.kind == kind]
        if answers:
            return answers[-1].due_at
    return None


CUSTOMER_ROLE = "customer"


def customer_party(complaint: Complaint) -> dict[str, Any] | None:
    """The case's customer as a related party (masked), or None while still to be identified."""
    customer = complaint.customer
    if customer is None:
        return None
    party: dict[str, Any] = {"id": str(customer.pk), "role": CUSTOMER_ROLE}
    if customer.name:
        party["name"] = mask_name(customer.name)
    if customer.phone:
        party["phone"] = mask_phone(customer.phone)
    return party


def sent_parties(attrs: TicketAttributes | None, *, with_customer: bool) -> list[dict[str, Any]]:
    """The related parties the channel sent, as sent (contact fields were never kept); the
    customer's own entry only while the case's customer is not identified."""
    parties = list(attrs.related_party) if attrs is not None else []
    if with_customer:
        return parties
    return [p for p in parties if str(p.get("role") or "").lower() != CUSTOMER_ROLE]


def ticket_core(
    complaint: Complaint, *, resource: str, now: datetime | None = None, related: Related | None = None
) -> dict[str, Any]:
    """The attributes both versions show the same way (each version's module adds its own):
    the client's ``severity``, ``ticketType``, ``name``… as sent, Tousu's own in ``tousu``."""
    now = now or timezone.now()
    related = related or Related.of(complaint)
    attrs = related.attrs
    tid = ticket_id(complaint)
    category = complaint.category
    notes = [
        {
            "id": str(event.payload.get("id") or f"note-{event.pk}"),
            "author": str(event.payload.get("author") or "customer"),
            "date": event.payload.get("date") or _iso(event.created_at),
            "text": mask_text(str(event.payload.get("text", ""))),
            "@type": "Note",
        }
        for event in related.notes
    ]
    notes += [
        {
            "id": f"reply-{reply.pk}",
            "author": "operator",
            "date": _iso(reply.replied_at),
            "text": mask_text(reply.content),
            "@type": "Note",
        }
        for reply in related.replies
    ]
    attachments: list[dict[str, Any]] = [
        {
            "id": str(a.pk),
            "name": a.original_name,
            "mimeType": a.content_type,
            "size": {"amount": a.size, "units": "bytes"},
            "attachmentType": "evidence",
            "@type": "Attachment",
        }
        for a in related.attachments
    ]
    if attrs is not None:
        attachments += attrs.attachment_refs
    data: dict[str, Any] = {
        "id": tid,
        "href": f"{resource}/{tid}",
        "name": (attrs.name if attrs is not None else "") or None,
        "description": mask_text(complaint.description),
        "severity": (attrs.severity if attrs is not None else "") or complaint.level,
        "ticketType": (attrs.ticket_type if attrs is not None else "") or category.code,
        "priority": (attrs.priority if attrs is not None else "") or None,
        "status": TMF_STATUS[Status(complaint.status)].value,
        "statusChangeDate": _iso(complaint.status_changed_at),
        "creationDate": _iso(complaint.registered_at),
        "lastUpdate": _iso(complaint.updated_at),
        "requestedResolutionDate": _iso(attrs.requested_resolution_date) if attrs is not None else None,
        "expectedResolutionDate": _iso(_expected_resolution(related.clocks)),
        "resolutionDate": _iso(complaint.replied_at),
        "channel": (attrs.channel if attrs is not None else None)
        or {"id": complaint.channel, "name": complaint.channel},
        "note": notes,
        "attachment": attachments,
        "relatedEntity": (attrs.related_entity if attrs is not None else None) or None,
        "troubleTicketRelationship": (attrs.relationship if attrs is not None else None) or None,
        "tousu": {
            "ticketNumber": complaint.ticket_no,
            "customerToIdentify": complaint.customer_id is None,
            "status": complaint.status,
            "category": category.code,
            "categoryName": category.name,
            "businessType": complaint.business_type,
            "level": complaint.level,
            "demand": complaint.demand,
            "serviceNumber": complaint.masked_service_number,
            "preferredReplyChannel": complaint.preferred_reply_channel,
            "leadDepartment": complaint.lead_department.code if complaint.lead_department else None,
            "cooperatingDepartments": sorted(d.code for d in related.cooperating),
            "escalationLevel": complaint.escalation_level,
            "reopenCount": complaint.reopen_count,
            "version": complaint.version,
            "slaClocks": _clocks(related.clocks, now),
        },
    }
    tousu = data["tousu"]
    if tousu["ticketNumber"] is None:
        del tousu["ticketNumber"]
    if tousu["leadDepartment"] is None:
        del tousu["leadDepartment"]
    return {k: v for k, v in data.items() if v is not None}


def status_history(complaint: Complaint, related: Related) -> list[dict[str, Any]]:
    """The TMF statuses the case has had, oldest first, each with the time it last moved into a
    Tousu status standing for it (so the last entry's date is ``statusChangeDate``). Reasons are
    not shown: a transition's note may be internal. A case with no status events yet (one just
    created) has its current status."""
    history: list[dict[str, Any]] = []
    for event in related.status_events:
        status = TMF_STATUS[Status(event.to_status)].value
        if history and history[-1]["status"] == status:
            history[-1]["statusChangeDate"] = _iso(event.created_at)
        else:
            history.append({"status": status, "statusChangeDate": _iso(event.created_at)})
    if not history:
        history = [
            {
                "status": TMF_STATUS[Status(complaint.status)].value,
                "statusChangeDate": _iso(complaint.status_changed_at),
            }
        ]
    return history


def select_fields(ticket: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """TMF630 attribute selection: ``fields=status,severity`` returns exactly those first-level
    attributes (``fields=none``: nothing but ``id`` and ``href``)."""
    if not fields:
        return ticket
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    if wanted == {"none"}:
        wanted = {"id", "href"}
    return {k: v for k, v in ticket.items() if k in wanted}


# --- list filters (TMF630) ---------------------------------------------------------------------

_DATE_FIELDS = {
    "creationDate": "registered_at",
    "lastUpdate": "updated_at",
    "statusChangeDate": "status_changed_at",
    "resolutionDate": "replied_at",
}
_TEXT_FIELDS = {
    "severity": "tmf__severity",
    "ticketType": "tmf__ticket_type",
    "name": "tmf__name",
    "priority": "tmf__priority",
    "externalId": "external_id",
    "channel.id": "channel",
    "id": "ticket_no",
}
_OPS = {"eq": "", "gt": "__gt", "gte": "__gte", "lt": "__lt", "lte": "__lte"}
SORTABLE = {
    "creationDate": "registered_at",
    "lastUpdate": "updated_at",
    "statusChangeDate": "status_changed_at",
    "resolutionDate": "replied_at",
    "severity": "level",
    "status": "status",
    "id": "id",
}
RESERVED = frozenset({"fields", "offset", "limit", "sort"})
FILTERABLE = (*_DATE_FIELDS, *_TEXT_FIELDS, "status")
DATE_FILTERS = tuple(_DATE_FIELDS)


def _one_or_more(values: Iterable[str]) -> str:
    alternatives = "|".join(values)
    return f"^({alternatives})(,({alternatives}))*$"


# Cases created before their channel's attributes were kept (or on the pages) show Tousu's own
# level and category code as severity and ticketType, and are filtered by them.
_FALLBACK = {"severity": "level", "ticketType": "category__code"}

# What each filter accepts, for the OpenAPI document.
FILTER_SCHEMAS: Mapping[str, dict[str, str]] = {
    **{name: {"type": "string", "format": "date-time"} for name in _DATE_FIELDS},
    "severity": {"type": "string"},
    "status": {"type": "string", "description": "One or more of: " + ", ".join(TmfStatus.values)},
    "ticketType": {"type": "string"},
    "name": {"type": "string"},
    "priority": {"type": "string"},
    "externalId": {"type": "string"},
    "channel.id": {"type": "string"},
    "id": {"type": "string"},
}
SORT_PATTERN = "^[-+]?(" + "|".join(SORTABLE) + ")(,[-+]?(" + "|".join(SORTABLE) + "))*$"


def _bad(param: str, message: str) -> ValidationError:
    return ValidationError(message, fields={param: "invalid filter"})


def _date(param: str, raw: str) -> datetime:
    try:
        value = parse_datetime(raw.strip().upper())
        if value is not None and not timezone.is_naive(value):
            value = value.astimezone(UTC)  # PostgreSQL takes offsets up to ±15:59 only
    except (ValueError, OverflowError):
        value = None
    if value is None or timezone.is_naive(value):
        raise _bad(
            param,
            _("'%(param)s' needs a date-time with a time zone, e.g. 2026-03-01T08:00:00Z.")
            % {"param": param},
        )
    return value


def list_filter(params: Iterable[tuple[str, str]]) -> Q:
    """The filter for query parameters ``attr=value[,value…]`` (one of several values) and
    ``attr.op=value`` with op gt, gte, lt, lte, eq (dates). Unknown attributes are refused; a
    value nothing has (an unknown status, severity…) simply matches nothing."""
    q = Q()
    for param, raw in params:
        if param in RESERVED:
            continue
        if param == "channel.id" or param.startswith("channel.id."):
            attr, op = "channel.id", param[len("channel.id.") :]
        else:
            attr, _dot, op = param.partition(".")
        op = op or "eq"
        if op not in _OPS:
            raise _bad(
                param,
                _("Unknown operator '%(op)s' in '%(param)s'; use gt, gte, lt, lte or eq.")
                % {"op": op, "param": param},
            )
        if attr in _DATE_FIELDS:
            q &= Q(**{f"{_DATE_FIELDS[attr]}{_OPS[op]}": _date(param, raw)})
        elif attr in _TEXT_FIELDS or attr == "status":
            if op != "eq":
                raise _bad(param, _("'%(attr)s' is compared for equality only.") % {"attr": attr})
            values = [v.strip() for v in raw.split(",") if v.strip()]
            if not values:
                continue  # an empty value filters nothing
            if attr == "status":
                q &= Q(status__in=[s for v in values for s in TMF_TO_STATUSES.get(v, [])])
            elif attr == "id":
                numeric = [int(v) for v in values if v.isascii() and v.isdigit() and len(v) < 12]
                q &= Q(ticket_no__in=values) | Q(pk__in=numeric, ticket_no__isnull=True)
            elif attr in _FALLBACK:
                sent = Q(**{f"{_TEXT_FIELDS[attr]}__in": values})
                own = Q(**{f"{_FALLBACK[attr]}__in": values}) & (
                    Q(tmf__isnull=True) | Q(**{_TEXT_FIELDS[attr]: ""})
                )
                q &= sent | own
            else:
                q &= Q(**{f"{_TEXT_FIELDS[attr]}__in": values})
        else:
            raise _bad(
                param,
                _("'%(param)s' is not a filter; filter on: %(allowed)s.")
                % {"param": param, "allowed": ", ".join(FILTERABLE)},
            )
    return q


def list_order(sort: str | None) -> list[str]:
    """``sort=-creationDate,severity``: a leading ``-`` sorts descending. Default: newest first."""
    if not sort:
        return ["-registered_at", "-id"]
    order = []
    for part in (p.strip() for p in sort.split(",")):
        if not part:
            continue
        desc = part.startswith("-")
        name = part.lstrip("-+")
        if name not in SORTABLE:
            raise _bad(
                "sort",
                _("Cannot sort by '%(name)s'; sort by: %(allowed)s.")
                % {"name": name, "allowed": ", ".join(SORTABLE)},
            )
        order.append(("-" if desc else "") + SORTABLE[name])
    order.append("-id" if order and order[0].startswith("-") else "id")
    return order


# --- hub events --------------------------------------------------------------------------------

CREATE = "TroubleTicketCreateEvent"
STATUS_CHANGE = "TroubleTicketStatusChangeEvent"
ATTRIBUTE_CHANGE = "TroubleTicketAttributeValueChangeEvent"
RESOLVED = "TroubleTicketResolvedEvent"
INFORMATION_REQUIRED = "TroubleTicketInformationRequiredEvent"
EVENT_TYPES = (CREATE, STATUS_CHANGE, ATTRIBUTE_CHANGE, RESOLVED, INFORMATION_REQUIRED)

# Case events that change attributes other than the status.
_ATTRIBUTE_KINDS = frozenset(
    {"level_changed", "escalated", "assigned", "description_amended", "customer_linked", "ticket_updated"}
)


def event_type_for(kind: str, from_status: str, to_status: str) -> str | None:
    """The TMF621 event a case event is, if any."""
    if kind == "accepted":
        return CREATE
    if kind == "replied":
        return RESOLVED
    if kind == "info_requested":
        return INFORMATION_REQUIRED
    if kind in _ATTRIBUTE_KINDS:
        return ATTRIBUTE_CHANGE
    if from_status and to_status:
        if TMF_STATUS[Status(from_status)] != TMF_STATUS[Status(to_status)]:
            return STATUS_CHANGE
        if kind == "dispatched":  # a transfer: the lead department changed
            return ATTRIBUTE_CHANGE
    return None


def event_envelope(*, event_id: str, event_type: str, at: datetime, ticket: dict[str, Any]) -> dict[str, Any]:
    """The envelope both versions share; each version's ``event_message`` adds its own."""
    return {
        "eventId": event_id,
        "eventTime": _iso(at),
        "eventType": event_type,
        "event": {"troubleTicket": ticket},
    }


def listener_path(event_type: str) -> str:
    """v5's client listener path for an event: ``/listener/troubleTicketCreateEvent``."""
    return "/listener/" + event_type[:1].lower() + event_type[1:]


# What the longest listener path adds to a callback URL (the delivery's address holds 500).
LISTENER_ROOM = max(len(listener_path(t)) for t in EVENT_TYPES)


def listener_url(callback: str, event_type: str) -> str:
    """The callback with the event's listener path appended to its path (query kept)."""
    parts = urlsplit(callback)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + listener_path(event_type)))


def hub_query_parse(query: str) -> dict[str, list[str]]:
    """A subscription's ``query``: ``eventType=A,B`` and ``event.troubleTicket.<attr>=v1,v2``
    joined by ``&``; a delivery must match every term. Refuses anything else."""
    from urllib.parse import parse_qsl

    terms: dict[str, list[str]] = {}
    try:
        pairs = parse_qsl(query.strip(), keep_blank_values=True, strict_parsing=bool(query.strip()))
    except ValueError:
        raise ValidationError(
            _("The query reads 'eventType=…&event.troubleTicket.<attribute>=…'."),
            fields={"query": "malformed"},
        ) from None
    for key, raw in pairs:
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if key == "eventType":
            unknown = [v for v in values if v not in EVENT_TYPES]
            if unknown:
                raise ValidationError(
                    _("'%(value)s' is not an event type; use: %(allowed)s.")
                    % {"value": unknown[0], "allowed": ", ".join(EVENT_TYPES)},
                    fields={"query": "unknown event type"},
                )
        elif not key.startswith("event.troubleTicket.") or key.count(".") != 2:
            raise ValidationError(
                _("'%(key)s' cannot be used in a query; use eventType or event.troubleTicket.<attribute>.")
                % {"key": key},
                fields={"query": "unknown term"},
            )
        terms.setdefault(key, []).extend(values)
    return terms


def hub_query_matches(terms: Mapping[str, list[str]], event_type: str, ticket: Mapping[str, Any]) -> bool:
    for key, values in terms.items():
        if key == "eventType":
            actual: Any = event_type
        else:
            actual = ticket.get(key.rsplit(".", 1)[1])
            if isinstance(actual, dict):
                actual = actual.get("id")
        if str(actual) not in values:
            return False
    return True
