"""Pydantic shapes of the TMF621 v4 resources as Tousu serves them (the OpenAPI document).

Requests are validated against the ``*Create``/``*Update`` shapes (unknown fields refused);
responses are built by ``tousu.api.tmf`` and documented by ``TroubleTicket``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from tousu.complaints.choices import BusinessType, Channel, Level, RejectionReason, ReplyChannel
from tousu.complaints.states import TmfStatus

TmfStatusName = Literal[
    "acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "closed", "resolved"
]
assert set(TmfStatusName.__args__) == set(TmfStatus.values)  # type: ignore[attr-defined]

# Literal types so the OpenAPI document lists the allowed values.
SeverityName = Literal["dissatisfied", "very_dissatisfied", "major", "crisis"]
assert set(SeverityName.__args__) == set(Level.values)  # type: ignore[attr-defined]
BusinessTypeName = Literal["mobile", "fixed_line", "broadband", "data", "value_added", "iptv", "other"]
assert set(BusinessTypeName.__args__) == set(BusinessType.values)  # type: ignore[attr-defined]
ReplyChannelName = Literal["phone", "sms", "email", "letter", "in_person", "wechat", "app"]
assert set(ReplyChannelName.__args__) == set(ReplyChannel.values)  # type: ignore[attr-defined]
RejectionReasonName = Literal["outside_responsibility", "time_barred", "repeated"]
assert set(RejectionReasonName.__args__) == set(RejectionReason.values)  # type: ignore[attr-defined]
ChannelName = Literal[
    "hotline",
    "online_chat",
    "web",
    "app",
    "wechat",
    "social_media",
    "email",
    "letter",
    "store",
    "regulator",
]
assert set(ChannelName.__args__) == set(Channel.values)  # type: ignore[attr-defined]


def _iso_text(value: object) -> object:
    """Dates arrive as ISO 8601 text (a number is not a date-time here, whatever pydantic allows)."""
    if value is not None and not isinstance(value, str):
        raise ValueError("a date-time in ISO 8601 text, e.g. 2026-03-01T08:00:00Z")
    return value


DateTimeText = Annotated[datetime, BeforeValidator(_iso_text)]

_STRICT = ConfigDict(extra="forbid", populate_by_name=True, str_max_length=5_000)
_OPEN = ConfigDict(populate_by_name=True)


class Error(BaseModel):
    """TMF630 error: ``code`` and ``reason`` always, ``message`` and ``status`` here always too."""

    model_config = _OPEN
    code: str
    reason: str
    message: str | None = None
    status: str | None = None
    fields: dict[str, str] | None = Field(default=None, description="Field name → what is wrong with it.")


class Ref(BaseModel):
    model_config = _OPEN
    id: str | None = None
    href: str | None = None
    name: str | None = None
    role: str | None = None
    referred_type: str | None = Field(default=None, alias="@referredType")


class NoteOut(BaseModel):
    model_config = _OPEN
    id: str
    author: str | None = None
    date: datetime | None = None
    text: str
    type_: str | None = Field(default=None, alias="@type")


class Quantity(BaseModel):
    amount: float
    units: str


class AttachmentOut(BaseModel):
    model_config = _OPEN
    id: str | None = None
    name: str | None = None
    url: str | None = None
    mimeType: str | None = None
    size: Quantity | None = None
    attachmentType: str | None = None


class SlaClockOut(BaseModel):
    kind: str = Field(description="first_response, reply, regulator_accept, regulator_answer, …")
    cycle: int
    state: str = Field(description="running, paused, met, breached or cancelled")
    dueAt: datetime
    remainingSeconds: int | None = Field(
        default=None, description="Business time left (negative: overdue by that much); absent once ended."
    )


class TousuExtension(BaseModel):
    """Tousu's own fields of a case (``TousuComplaint`` extends ``TroubleTicket``)."""

    model_config = _OPEN
    ticketNumber: str | None = Field(default=None, description="Issued on acceptance, e.g. TS20260301000042.")
    customerToIdentify: bool = Field(
        default=False, description="Filed without a contact: an agent links the customer later."
    )
    status: str = Field(description="Tousu's own, finer status (the TMF status is derived from it).")
    category: str = Field(description="Category code (mapped from ticketType; 'to-classify' when not known).")
    categoryName: str
    businessType: BusinessTypeName
    level: SeverityName
    demand: str
    serviceNumber: str = Field(description="Masked.")
    preferredReplyChannel: ReplyChannelName
    leadDepartment: str | None = None
    cooperatingDepartments: list[str]
    escalationLevel: int
    reopenCount: int
    version: int
    slaClocks: list[SlaClockOut]


class TroubleTicket(BaseModel):
    """A TMF621 TroubleTicket (``@type`` TousuComplaint, ``@baseType`` TroubleTicket)."""

    model_config = _OPEN
    id: str
    href: str
    externalId: str | None = None
    description: str | None = None
    severity: str | None = None
    ticketType: str | None = None
    priority: str | None = None
    requestedResolutionDate: datetime | None = None
    status: TmfStatusName | None = None
    statusChangeDate: datetime | None = None
    creationDate: datetime | None = None
    lastUpdate: datetime | None = None
    expectedResolutionDate: datetime | None = None
    resolutionDate: datetime | None = None
    name: str | None = None
    channel: Ref | None = None
    relatedParty: list[Ref] | None = None
    note: list[NoteOut] | None = None
    attachment: list[AttachmentOut] | None = None
    relatedEntity: list[dict[str, Any]] | None = None
    troubleTicketRelationship: list[dict[str, Any]] | None = None
    tousu: TousuExtension | None = None
    type_: str = Field(alias="@type")
    base_type: str | None = Field(default=None, alias="@baseType")
    schema_location: str | None = Field(default=None, alias="@schemaLocation")


_REF = ConfigDict(extra="allow", populate_by_name=True, str_max_length=2_000)


class RelatedPartyIn(BaseModel):
    """A related party. The customer's contact fields (Tousu's extension of ``RelatedParty``)
    find or create the customer (phone first, then e-mail, then WeChat id); without them the
    case's customer is still to be identified. Other fields are kept as sent."""

    model_config = _REF
    id: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=100)
    role: str | None = Field(default=None, max_length=50)
    referred_type: str | None = Field(default=None, alias="@referredType", max_length=50)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    wechatId: str | None = Field(default=None, max_length=64)


class NoteIn(BaseModel):
    """A note from the customer's side: on the case's timeline as the customer's note."""

    model_config = _REF
    id: str | None = Field(default=None, max_length=100)
    author: str | None = Field(default=None, max_length=200)
    date: DateTimeText | None = None
    text: str = Field(min_length=1, max_length=5_000)


class AttachmentIn(BaseModel):
    """``AttachmentRefOrValue``: by reference (``url``/``href``, kept as a link) or by value
    (``content``, base64; the same size and type checks as evidence uploaded on the pages)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, str_max_length=10_000_000)
    id: str | None = Field(default=None, max_length=100)
    href: str | None = Field(default=None, max_length=2_000)
    url: str | None = Field(default=None, max_length=2_000)
    name: str | None = Field(default=None, max_length=200)
    mimeType: str | None = Field(default=None, max_length=100)
    content: str | None = None


class RefIn(BaseModel):
    """A reference kept as sent (``ChannelRef``, ``RelatedEntity``, ``TroubleTicketRelationship``…)."""

    model_config = _REF


class TousuCreate(BaseModel):
    model_config = _STRICT
    businessType: BusinessTypeName = "other"
    demand: str = Field(default="", max_length=2_000)
    serviceNumber: str = Field(default="", max_length=40)
    preferredReplyChannel: ReplyChannelName | None = None
    threatensExternal: StrictBool = False


class TroubleTicketCreate(BaseModel):
    """Every ``TroubleTicket_Create`` field of TMF621 v4. ``severity`` and ``ticketType`` are kept
    as sent and mapped to Tousu's level and category (mapping tables, see README). Fields the
    server owns (``status``, dates other than ``creationDate`` and ``requestedResolutionDate``,
    ``statusChange``…) are accepted and ignored."""

    model_config = _STRICT
    description: str = Field(min_length=1, max_length=5_000)
    severity: str = Field(min_length=1, max_length=100)
    ticketType: str = Field(min_length=1, max_length=100)
    externalId: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    priority: str | None = Field(default=None, max_length=100)
    creationDate: DateTimeText | None = Field(
        default=None, description="When the customer complained, if earlier than now."
    )
    requestedResolutionDate: DateTimeText | None = None
    relatedParty: list[RelatedPartyIn] = Field(default_factory=list, max_length=10)
    note: list[NoteIn] = Field(default_factory=list, max_length=20)
    attachment: list[AttachmentIn] = Field(default_factory=list, max_length=10)
    channel: RefIn | None = None
    relatedEntity: list[RefIn] = Field(default_factory=list, max_length=20)
    troubleTicketRelationship: list[RefIn] = Field(default_factory=list, max_length=20)
    # Owned by the server: accepted, ignored (TMF630).
    status: str | None = Field(default=None, max_length=50)
    statusChangeReason: str | None = Field(default=None, max_length=2_000)
    statusChangeDate: str | None = Field(default=None, max_length=50)
    statusChange: list[RefIn] | None = Field(default=None, max_length=50)
    expectedResolutionDate: str | None = Field(default=None, max_length=50)
    resolutionDate: str | None = Field(default=None, max_length=50)
    lastUpdate: str | None = Field(default=None, max_length=50)
    id: str | None = Field(default=None, max_length=100)
    href: str | None = Field(default=None, max_length=500)
    tousu: TousuCreate | None = None
    type_: str | None = Field(default=None, alias="@type", max_length=50)
    base_type: str | None = Field(default=None, alias="@baseType", max_length=50)
    schema_location: str | None = Field(default=None, alias="@schemaLocation", max_length=500)


class TousuUpdate(BaseModel):
    model_config = _STRICT
    rejectionReason: RejectionReasonName | None = Field(default=None, description="With status 'rejected'.")
    replyChannel: ReplyChannelName | None = Field(
        default=None, description="With status 'resolved': how the answer was given (default: app)."
    )


class TroubleTicketUpdate(BaseModel):
    """JSON merge-patch with every ``TroubleTicket_Update`` field of TMF621 v4. A status change
    goes through the case's lifecycle; ``statusChangeReason`` carries the step's text (the reason,
    the question to the customer, the reply or the closing note). ``description`` is amended (the
    original stays in the history), ``note`` entries are appended, ``attachment`` entries added.
    Server-owned dates are ignored; a patch that changes nothing answers 200."""

    model_config = _STRICT
    status: TmfStatusName | None = None
    statusChangeReason: str | None = Field(default=None, max_length=2_000)
    severity: str | None = Field(default=None, min_length=1, max_length=100)
    ticketType: str | None = Field(default=None, min_length=1, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, min_length=1, max_length=5_000)
    priority: str | None = Field(default=None, max_length=100)
    externalId: str | None = Field(default=None, max_length=100)
    requestedResolutionDate: DateTimeText | None = None
    expectedResolutionDate: str | None = Field(default=None, max_length=50)
    resolutionDate: str | None = Field(default=None, max_length=50)
    note: list[NoteIn] | None = Field(default=None, max_length=20)
    attachment: list[AttachmentIn] | None = Field(default=None, max_length=10)
    channel: RefIn | None = None
    relatedEntity: list[RefIn] | None = Field(default=None, max_length=20)
    relatedParty: list[RelatedPartyIn] | None = Field(default=None, max_length=10)
    troubleTicketRelationship: list[RefIn] | None = Field(default=None, max_length=20)
    tousu: TousuUpdate | None = None
    type_: str | None = Field(default=None, alias="@type", max_length=50)
    base_type: str | None = Field(default=None, alias="@baseType", max_length=50)
    schema_location: str | None = Field(default=None, alias="@schemaLocation", max_length=500)


_EVENT = "TroubleTicket(Create|StatusChange|AttributeValueChange|Resolved|InformationRequired)Event"
_TERM = rf"(eventType={_EVENT}(,{_EVENT})*|event\.troubleTicket\.[A-Za-z]+=[^&]*)"
QUERY_PATTERN = rf"^({_TERM}(&{_TERM})*)?$"
# A URL in plain ASCII URL characters (RFC 3986), with a host.
CALLBACK_PATTERN = r"^https?://[A-Za-z0-9._~:@!$&'()*+,;=%\[\]-]+(/[A-Za-z0-9._~:@!$&'()*+,;=%/?#\[\]-]*)?$"


class EventSubscriptionInput(BaseModel):
    model_config = _STRICT
    callback: str = Field(min_length=8, max_length=500, pattern=CALLBACK_PATTERN)
    query: str | None = Field(
        default=None,
        max_length=500,
        pattern=QUERY_PATTERN,
        description="eventType=A,B and/or event.troubleTicket.<attribute>=v1,v2, joined by &.",
    )


class EventSubscription(BaseModel):
    id: str
    callback: str
    query: str | None = None
    secret: str | None = Field(
        default=None,
        description="Tousu: the HMAC-SHA256 signing secret of the deliveries, shown only in the 201 answer.",
    )
