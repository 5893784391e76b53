"""TMF621 **v5** shapes: the TroubleTicket as v5 draws it (``@type`` on every object,
``relatedParty[].partyOrPartyRole``, ``externalIdentifier[]``, ``troubleTicketCharacteristic``)
and the v5 request bodies read into the version-neutral input of ``tousu.api.services``.
Everything else is shared (``tmf``); related parties are kept in v4's flat form and drawn here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from tousu.api import services
from tousu.api.schemas_v5 import RelatedPartyIn, TroubleTicket_FVO, TroubleTicket_MVO
from tousu.api.tmf import (
    Related,
    customer_party,
    event_envelope,
    listener_url,
    sent_parties,
    status_history,
    ticket_core,
)
from tousu.api.tmf_input import dump_models, ticket_changes, ticket_input
from tousu.common.errors import NotFound, ValidationError
from tousu.complaints.models import Category, Complaint

VERSION = "v5"
BASE = "/tmf-api/troubleTicket/v5"
RESOURCE = f"{BASE}/troubleTicket"
SUBSCRIPTION_EXTRA: dict[str, Any] = {"@type": "Hub"}
SPECIFICATIONS = f"{BASE}/troubleTicketSpecification"


def _party_out(flat: dict[str, Any]) -> dict[str, Any]:
    """A related party kept in v4's flat form, drawn as v5's ``RelatedPartyRefOrPartyRoleRef``."""
    ref = {k: v for k, v in flat.items() if k != "role"}
    ref.setdefault("@type", "PartyRef")
    party: dict[str, Any] = {"@type": "RelatedPartyRefOrPartyRoleRef", "partyOrPartyRole": ref}
    if flat.get("role"):
        party["role"] = flat["role"]
    return party


def _entity_in(item: dict[str, Any]) -> dict[str, Any]:
    """v5's ``RelatedEntity {role, entity: {…}}`` kept in v4's flat form (one store, both views)."""
    entity = item.get("entity")
    if not isinstance(entity, dict):
        return item
    flat = {k: v for k, v in entity.items() if k != "@type"}
    if item.get("role"):
        flat["role"] = item["role"]
    return flat


def _entity_out(flat: dict[str, Any]) -> dict[str, Any]:
    if "entity" in flat:
        return flat
    entity = {k: v for k, v in flat.items() if k != "role"}
    entity.setdefault("@type", "EntityRef")
    item: dict[str, Any] = {"@type": "RelatedEntity", "entity": entity}
    if flat.get("role"):
        item["role"] = flat["role"]
    return item


def _typed(items: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [{"@type": type_, **item} for item in items]


def ticket_dict(
    complaint: Complaint, *, now: datetime | None = None, related: Related | None = None
) -> dict[str, Any]:
    """The v5 TroubleTicket for ``complaint`` (as ``tmf_v4.ticket_dict``)."""
    related = related or Related.of(complaint)
    attrs = related.attrs
    data = ticket_core(complaint, resource=RESOURCE, now=now, related=related)
    parties = []
    customer = customer_party(complaint)
    if customer is not None:
        parties.append(_party_out({**customer, "@referredType": "Individual"}))
    parties += [_party_out(p) for p in sent_parties(attrs, with_customer=customer is None)]
    if parties:
        data["relatedParty"] = parties
    identifiers = list(attrs.external_identifier) if attrs is not None else []
    if not identifiers and complaint.external_id:
        identifiers = [{"id": complaint.external_id}]
    if identifiers:
        data["externalIdentifier"] = _typed(identifiers, "ExternalIdentifier")
    if "relatedEntity" in data:
        data["relatedEntity"] = [_entity_out(e) for e in data["relatedEntity"]]
    if attrs is not None and attrs.characteristic:
        data["troubleTicketCharacteristic"] = attrs.characteristic
    data["statusChangeHistory"] = _typed(status_history(complaint, related), "StatusChange")
    data["channel"] = {"@type": "ChannelRef", **data["channel"]}
    data["attachment"] = [
        a if "@type" in a else {"@type": "AttachmentRef" if a.get("url") else "Attachment", **a}
        for a in data["attachment"]
    ]
    data["@type"] = "TroubleTicket"
    return data


def event_message(*, event_id: str, event_type: str, at: datetime, ticket: dict[str, Any]) -> dict[str, Any]:
    """A hub event as v5 defines it: the shared envelope, an ``Event`` sub-classed by its type
    (``@type`` is required on every v5 object)."""
    return {
        "@type": event_type,
        "@baseType": "Event",
        **event_envelope(event_id=event_id, event_type=event_type, at=at, ticket=ticket),
    }


def event_callback(callback: str, event_type: str) -> str:
    """v5 posts each event to the client's listener for it: ``{callback}/listener/{eventName}``
    (the spec's ``/listener/troubleTicketCreateEvent``…, as TM Forum's reference
    implementations call them)."""
    return listener_url(callback, event_type)


def _party(p: RelatedPartyIn) -> services.PartyInput:
    ref = p.partyOrPartyRole
    sent: dict[str, Any] = {}
    if ref is not None:
        sent = ref.model_dump(by_alias=True, exclude_none=True, exclude={"phone", "email", "wechatId"})
    if p.role:
        sent["role"] = p.role
    return services.PartyInput(
        role=p.role or "",
        sent=sent,
        phone=(ref.phone if ref else None) or "",
        email=(ref.email if ref else None) or "",
        wechat_id=(ref.wechatId if ref else None) or "",
    )


def create_input(data: TroubleTicket_FVO) -> services.TicketInput:
    """A v5 create body as the version-neutral input."""
    identifiers = dump_models(data.externalIdentifier) or []
    return ticket_input(
        data,
        parties=[_party(p) for p in data.relatedParty],
        related_entity=[_entity_in(e) for e in dump_models(data.relatedEntity) or []],
        external_id=identifiers[0]["id"].strip() if identifiers else "",
        characteristic=dump_models(data.troubleTicketCharacteristic) or [],
        external_identifier=identifiers,
    )


def update_input(data: TroubleTicket_MVO) -> services.TicketChanges:
    """A v5 merge-patch as the version-neutral changes (only the attributes it names)."""
    entities = dump_models(data.relatedEntity)
    return ticket_changes(
        data,
        parties=[_party(p) for p in data.relatedParty] if data.relatedParty is not None else None,
        related_entity=None if entities is None else [_entity_in(e) for e in entities],
        characteristic=dump_models(data.troubleTicketCharacteristic),
    )


# --- TroubleTicketSpecification: Tousu's category tree, read-only ------------------------------

SPEC_ACTIVE = "active"  # the spec's own spelling (inDesign, active, rejected, retired)
SPEC_FILTERS = ("id", "name", "lifecycleStatus")


def specification_queryset() -> QuerySet[Category]:
    """One specification per active leaf category: active, under an active parent (if any), with
    no active sub-category."""
    return (
        Category.objects.filter(is_active=True)
        .filter(Q(parent__isnull=True) | Q(parent__is_active=True))
        .exclude(children__is_active=True)
        .select_related("parent")
        .order_by("sort_order", "code", "id")
    )


def specification_dict(category: Category) -> dict[str, Any]:
    """A leaf category as a v5 ``TroubleTicketSpecification``."""
    return {
        "id": category.code,
        "href": f"{SPECIFICATIONS}/{category.code}",
        "name": category.name,
        "description": str(category),
        "lifecycleStatus": SPEC_ACTIVE,
        "@type": "TroubleTicketSpecification",
    }


def specification_filter(params: Iterable[tuple[str, str]], reserved: Iterable[str]) -> Q | None:
    """Equality filters ``id``, ``name``, ``lifecycleStatus`` (comma: one of). None: a value no
    specification has (an empty list, as for tickets); another attribute is refused."""
    q = Q()
    skip = set(reserved)
    for param, raw in params:
        if param in skip:
            continue
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if param not in SPEC_FILTERS:
            raise ValidationError(
                _("'%(param)s' is not a filter; filter on: %(allowed)s.")
                % {"param": param, "allowed": ", ".join(SPEC_FILTERS)},
                fields={param: "invalid filter"},
            )
        if not values:
            continue
        if param == "lifecycleStatus":
            if SPEC_ACTIVE not in values:
                return None
        elif param == "id":
            q &= Q(code__in=values)
        else:
            q &= Q(name__in=values)
    return q


def specification_get(spec_id: str) -> Category:
    category = specification_queryset().filter(code=spec_id[:60]).first()
    if category is None:
        raise NotFound(_("No trouble ticket specification '%(id)s'.") % {"id": spec_id[:60]})
    return category
