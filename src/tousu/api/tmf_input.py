"""The request bodies of every TMF621 version read into the version-neutral input of
``tousu.api.services``: what v4 and v5 share (the attributes of the same name and meaning). Each
version's mapping module (``tmf_v4``, ``tmf_v5``) passes only what it draws differently: its
related parties, its related entities and, for create, its external identifiers."""

from __future__ import annotations

from typing import Any

from tousu.api import services


def dump_models(items: list[Any] | None) -> list[dict[str, Any]] | None:
    """Pydantic items as the JSON the client sent (None stays None: "not sent")."""
    if items is None:
        return None
    return [i.model_dump(by_alias=True, exclude_none=True, mode="json") for i in items]


def _channel(data: Any) -> dict[str, Any] | None:
    return data.channel.model_dump(by_alias=True, exclude_none=True) if data.channel else None


def ticket_input(
    data: Any,
    *,
    parties: list[services.PartyInput],
    related_entity: list[dict[str, Any]],
    external_id: str,
    **version_only: Any,
) -> services.TicketInput:
    """A create body (``TroubleTicket_Create`` v4, ``TroubleTicket_FVO`` v5)."""
    return services.TicketInput(
        description=data.description,
        severity=data.severity,
        ticket_type=data.ticketType,
        external_id=external_id,
        name=data.name or "",
        priority=data.priority or "",
        requested_resolution_date=data.requestedResolutionDate,
        parties=parties,
        notes=dump_models(data.note) or [],
        attachments=dump_models(data.attachment) or [],
        channel=_channel(data) or {},
        related_entity=related_entity,
        relationship=dump_models(data.troubleTicketRelationship) or [],
        tousu=data.tousu,
        **version_only,
    )


def ticket_changes(
    data: Any,
    *,
    parties: list[services.PartyInput] | None,
    related_entity: list[dict[str, Any]] | None,
    **version_only: Any,
) -> services.TicketChanges:
    """A merge-patch (``TroubleTicket_Update`` v4, ``TroubleTicket_MVO`` v5): only the attributes
    it names (``name`` and ``priority`` may be sent empty to clear them)."""
    sent = data.model_fields_set
    return services.TicketChanges(
        status=data.status,
        status_change_reason=data.statusChangeReason,
        severity=data.severity,
        ticket_type=data.ticketType,
        name=data.name if "name" in sent else None,
        description=data.description,
        priority=data.priority if "priority" in sent else None,
        requested_resolution_date=data.requestedResolutionDate,
        notes=dump_models(data.note) or [],
        attachments=dump_models(data.attachment) or [],
        channel=_channel(data),
        related_entity=related_entity,
        relationship=dump_models(data.troubleTicketRelationship),
        parties=parties,
        tousu=data.tousu,
        **version_only,
    )
