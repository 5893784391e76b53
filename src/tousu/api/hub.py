"""The TMF621 event hub's fan-out: case events become signed webhook deliveries in the outbox,
drawn in the version each subscription was made through (v4 to the callback, v5 to
``{callback}/listener/{eventName}``).

``tmf_fanout`` is passed to ``outbox_dispatch(fanouts=[...])`` by the worker. It runs inside the
outbox transaction: the deliveries are written with the event's flag cleared, exactly once.
"""

from __future__ import annotations

import json
from datetime import datetime
from types import ModuleType
from typing import Any

from django.conf import settings

from tousu.api import tmf_v4, tmf_v5
from tousu.api.models import ApiVersion, HubSubscription
from tousu.api.tmf import event_type_for, hub_query_matches, hub_query_parse, ticket_queryset
from tousu.complaints.models import ComplaintEvent
from tousu.notifications.models import Notification, Transport

# Each subscription's events are drawn by the mapping module of the version it was made through.
MAPPINGS: dict[str, ModuleType] = {ApiVersion.V4: tmf_v4, ApiVersion.V5: tmf_v5}


def tmf_fanout(event: ComplaintEvent, now: datetime) -> list[Notification]:
    """The webhook deliveries one case event asks for (not saved)."""
    event_type = event_type_for(event.kind, event.from_status, event.to_status)
    if event_type is None:
        return []
    complaint = event.complaint
    subscriptions = [
        s
        for s in HubSubscription.objects.filter(
            deactivated_at__isnull=True, endpoint__is_active=True, api_key__is_active=True
        )
        .select_related("endpoint", "api_key")
        .order_by("id")
        if s.api_key.all_channels or s.api_key.channel == complaint.channel
    ]
    if not subscriptions:
        return []
    loaded = ticket_queryset().get(pk=complaint.pk)
    # Per version present: the ticket as that version draws it, and the event's body.
    drawn: dict[str, tuple[dict[str, Any], str]] = {}
    result = []
    for sub in subscriptions:
        mapping = MAPPINGS[sub.version]
        if sub.version not in drawn:
            ticket = mapping.ticket_dict(loaded, now=now)
            message = mapping.event_message(
                event_id=f"{event.pk}-{event_type}", event_type=event_type, at=event.created_at, ticket=ticket
            )
            drawn[sub.version] = (ticket, json.dumps(message, ensure_ascii=False, separators=(",", ":")))
        ticket, body = drawn[sub.version]
        if not hub_query_matches(hub_query_parse(sub.query), event_type, ticket):
            continue
        result.append(
            Notification(
                key=f"{event.pk}:tmf:{sub.pk}",
                event=event,
                complaint=complaint,
                webhook=sub.endpoint,
                template=event_type,
                transport=Transport.WEBHOOK,
                address=mapping.event_callback(sub.endpoint.url, event_type),
                language=settings.LANGUAGE_CODE,
                body=body,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return result
