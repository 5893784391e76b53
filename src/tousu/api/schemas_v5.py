"""Pydantic shapes of the TMF621 **v5** resources as Tousu serves them (its OpenAPI document).

What v5 shares with v4 (nested references kept as sent, the Tousu extension, errors) is reused
from ``tousu.api.schemas``; v5's own: ``@type`` required on what a client sends,
``relatedParty[].partyOrPartyRole``, ``externalIdentifier[]``, ``troubleTicketCharacteristic``,
``troubleTicketSpecification``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tousu.api.schemas import (
    _OPEN,
    _STRICT,
    AttachmentIn,
    AttachmentOut,
    DateTimeText,
    NoteIn,
    NoteOut,
    RefIn,
    TmfStatusName,
    TousuCreate,
    TousuExtension,
    TousuUpdate,
)
from tousu.api.schemas import EventSubscription as EventSubscription  # same shape in v5
from tousu.api.schemas import EventSubscriptionInput as _SubscriptionInputV4

_REF = ConfigDict(extra="allow", populate_by_name=True, str_max_length=2_000)


class Error(BaseModel):
    """TMF630 error (v5: ``@type`` Error)."""

    model_config = _OPEN
    code: str
    reason: str
    message: str | None = None
    status: str | None = None
    fields: dict[str, str] | None = None
    type_: str | None = Field(default="Error", alias="@type")


class PartyRefIn(BaseModel):
    """``partyOrPartyRole``: a reference, and (Tousu's extension) the customer's contact fields."""

    model_config = _REF
    id: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    wechatId: str | None = Field(default=None, max_length=64)


class RelatedPartyIn(BaseModel):
    model_config = _REF
    role: str | None = Field(default=None, max_length=50)
    partyOrPartyRole: PartyRefIn | None = None


class ExternalIdentifierIn(BaseModel):
    """The first one's ``id`` is the ticket's external id: a repeat returns the ticket created then."""

    model_config = _REF
    id: str = Field(min_length=1, max_length=100)
    owner: str | None = Field(default=None, max_length=100)
    externalIdentifierType: str | None = Field(default=None, max_length=100)


class TroubleTicket_FVO(BaseModel):
    """Every ``TroubleTicket_FVO`` field of TMF621 v5. Server-owned ones are accepted and ignored."""

    model_config = _STRICT
    type_: str = Field(alias="@type", min_length=1, max_length=50)
    description: str = Field(min_length=1, max_length=5_000)
    severity: str = Field(min_length=1, max_length=100)
    ticketType: str = Field(min_length=1, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    priority: str | None = Field(default=None, max_length=100)
    requestedResolutionDate: DateTimeText | None = None
    externalIdentifier: list[ExternalIdentifierIn] = Field(default_factory=list, max_length=10)
    relatedParty: list[RelatedPartyIn] = Field(default_factory=list, max_length=10)
    note: list[NoteIn] = Field(default_factory=list, max_length=20)
    attachment: list[AttachmentIn] = Field(default_factory=list, max_length=10)
    channel: RefIn | None = None
    relatedEntity: list[RefIn] = Field(default_factory=list, max_length=20)
    troubleTicketRelationship: list[RefIn] = Field(default_factory=list, max_length=20)
    troubleTicketCharacteristic: list[RefIn] = Field(default_factory=list, max_length=50)
    troubleTicketSpecification: RefIn | None = None
    # Owned by the server: accepted, ignored (TMF630).
    status: str | None = Field(default=None, max_length=50)
    statusChangeDate: str | None = Field(default=None, max_length=50)
    statusChangeReason: str | None = Field(default=None, max_length=2_000)
    expectedResolutionDate: str | None = Field(default=None, max_length=50)
    resolutionDate: str | None = Field(default=None, max_length=50)
    id: str | None = Field(default=None, max_length=100)
    href: str | None = Field(default=None, max_length=500)
    tousu: TousuCreate | None = None
    base_type: str | None = Field(default=None, alias="@baseType", max_length=50)
    schema_location: str | None = Field(default=None, alias="@schemaLocation", max_length=500)


class TroubleTicket_MVO(BaseModel):
    """JSON merge-patch with every ``TroubleTicket_MVO`` field of TMF621 v5 (as v4's update)."""

    model_config = _STRICT
    type_: str | None = Field(default=None, alias="@type", max_length=50)
    status: TmfStatusName | None = None
    statusChangeReason: str | None = Field(default=None, max_length=2_000)
    severity: str | None = Field(default=None, min_length=1, max_length=100)
    ticketType: str | None = Field(default=None, min_length=1, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, min_length=1, max_length=5_000)
    priority: str | None = Field(default=None, max_length=100)
    requestedResolutionDate: DateTimeText | None = None
    expectedResolutionDate: str | None = Field(default=None, max_length=50)
    resolutionDate: str | None = Field(default=None, max_length=50)
    externalIdentifier: list[ExternalIdentifierIn] | None = Field(default=None, max_length=10)
    note: list[NoteIn] | None = Field(default=None, max_length=20)
    attachment: list[AttachmentIn] | None = Field(default=None, max_length=10)
    channel: RefIn | None = None
    relatedEntity: list[RefIn] | None = Field(default=None, max_length=20)
    relatedParty: list[RelatedPartyIn] | None = Field(default=None, max_length=10)
    troubleTicketRelationship: list[RefIn] | None = Field(default=None, max_length=20)
    troubleTicketCharacteristic: list[RefIn] | None = Field(default=None, max_length=50)
    troubleTicketSpecification: RefIn | None = None
    statusChangeHistory: list[RefIn] | None = Field(default=None, max_length=50)
    tousu: TousuUpdate | None = None
    base_type: str | None = Field(default=None, alias="@baseType", max_length=50)
    schema_location: str | None = Field(default=None, alias="@schemaLocation", max_length=500)


class TroubleTicket(BaseModel):
    """A TMF621 v5 TroubleTicket (``@type`` TroubleTicket), Tousu's fields in ``tousu``."""

    model_config = _OPEN
    id: str
    href: str
    type_: str = Field(alias="@type")
    name: str | None = None
    description: str | None = None
    severity: str | None = None
    ticketType: str | None = None
    priority: str | None = None
    status: TmfStatusName | None = None
    statusChangeDate: datetime | None = None
    creationDate: datetime | None = None
    lastUpdate: datetime | None = None
    requestedResolutionDate: DateTimeText | None = None
    expectedResolutionDate: datetime | None = None
    resolutionDate: datetime | None = None
    externalIdentifier: list[dict[str, Any]] | None = None
    channel: dict[str, Any] | None = None
    relatedParty: list[dict[str, Any]] | None = None
    note: list[NoteOut] | None = None
    attachment: list[AttachmentOut | dict[str, Any]] | None = None
    relatedEntity: list[dict[str, Any]] | None = None
    troubleTicketRelationship: list[dict[str, Any]] | None = None
    troubleTicketCharacteristic: list[dict[str, Any]] | None = None
    tousu: TousuExtension | None = None


class EventSubscriptionInput(_SubscriptionInputV4):
    """``Hub_FVO``: v4's, with v5's ``@type``."""

    type_: str | None = Field(default=None, alias="@type", max_length=50)


class TroubleTicketSpecification(BaseModel):
    """``TroubleTicketSpecification`` (read-only): one per active leaf category of Tousu's tree,
    ``id`` its code (categories are edited in the admin)."""

    model_config = _OPEN
    id: str
    href: str
    name: str | None = None
    description: str | None = None
    lifecycleStatus: str | None = None
    type_: str = Field(default="TroubleTicketSpecification", alias="@type")
