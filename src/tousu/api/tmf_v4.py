"""TMF621 **v4** shapes: the TroubleTicket as v4 draws it (flat party references, ``externalId``,
``@type`` TousuComplaint extending TroubleTicket) and the v4 request bodies read into the
version-neutral input of ``tousu.api.services``. Everything else is shared (``tmf``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tousu.api import services
from tousu.api.schemas import RelatedPartyIn, TroubleTicketCreate, TroubleTicketUpdate
from tousu.api.tmf import Related, customer_party, event_envelope, sent_parties, ticket_core
from tousu.api.tmf_input import dump_models, ticket_changes, ticket_input
from tousu.complaints.models import Complaint

VERSION = "v4"
BASE = "/tmf-api/troubleTicket/v4"
RESOURCE = f"{BASE}/troubleTicket"
SCHEMA_LOCATION = f"{BASE}/openapi.json#/components/schemas/TroubleTicket"
SUBSCRIPTION_EXTRA: dict[str, Any] = {}


def ticket_dict(
    complaint: Complaint, *, now: datetime | None = None, related: Related | None = None
) -> dict[str, Any]:
    """The v4 TroubleTicket for ``complaint`` (loaded through ``ticket_queryset``, or with its
    ``related`` rows given). Absent values are left out rather than sent as null."""
    related = related or Related.of(complaint)
    data = ticket_core(complaint, resource=RESOURCE, now=now, related=related)
    parties = []
    customer = customer_party(complaint)
    if customer is not None:
        parties.append({**customer, "@referredType": "Individual"})
    parties += sent_parties(related.attrs, with_customer=customer is None)
    if parties:
        data["relatedParty"] = parties
    if complaint.external_id:
        data["externalId"] = complaint.external_id
    data["channel"] = {"@referredType": "Channel", **data["channel"]}
    data["@type"] = "TousuComplaint"
    data["@baseType"] = "TroubleTicket"
    data["@schemaLocation"] = SCHEMA_LOCATION
    return data


def event_message(*, event_id: str, event_type: str, at: datetime, ticket: dict[str, Any]) -> dict[str, Any]:
    """A hub event as v4 defines it (``TroubleTicketCreateEvent``…): the shared envelope."""
    return event_envelope(event_id=event_id, event_type=event_type, at=at, ticket=ticket)


def event_callback(callback: str, event_type: str) -> str:
    """v4 posts every event to the callback itself."""
    return callback


def _party(p: RelatedPartyIn) -> services.PartyInput:
    sent = p.model_dump(by_alias=True, exclude_none=True, exclude={"phone", "email", "wechatId"})
    return services.PartyInput(
        role=p.role or "", sent=sent, phone=p.phone or "", email=p.email or "", wechat_id=p.wechatId or ""
    )


def create_input(data: TroubleTicketCreate) -> services.TicketInput:
    """A v4 create body as the version-neutral input."""
    return ticket_input(
        data,
        parties=[_party(p) for p in data.relatedParty],
        related_entity=dump_models(data.relatedEntity) or [],
        external_id=(data.externalId or "").strip(),
        received_at=data.creationDate,
    )


def update_input(data: TroubleTicketUpdate) -> services.TicketChanges:
    """A v4 merge-patch as the version-neutral changes (only the attributes it names)."""
    return ticket_changes(
        data,
        parties=[_party(p) for p in data.relatedParty] if data.relatedParty is not None else None,
        related_entity=dump_models(data.relatedEntity),
    )
