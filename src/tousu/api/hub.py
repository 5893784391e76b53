"""The TMF621 event hub's fan-out: case events become signed webhook deliveries in the outbox.

``tmf_fanout`` is passed to ``outbox_dispatch(fanouts=[...])`` by the worker. It runs inside the
outbox transaction: the deliveries are written with the event's flag cleared, exactly once.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.conf import settings

from tousu.api.models import HubSubscription
from tousu.api.tmf import (
    event_envelope,
    event_type_for,
    hub_query_matches,
    hub_query_parse,
    ticket_queryset,
)
from tousu.api.tmf_v4 import ticket_dict
from tousu.complaints.models import ComplaintEvent
from tousu.notifications.models import Notification, Transport


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
    ticket = ticket_dict(ticket_queryset().get(pk=complaint.pk), now=now)
    body = json.dumps(
        event_envelope(
            event_id=f"{event.pk}-{event_type}", event_type=event_type, at=event.created_at, ticket=ticket
        ),
        ensure_ascii=False,
        separators=(",", ":"),
    )
    result = []
    for sub in subscriptions:
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
                address=sub.endpoint.url,
                language=settings.LANGUAGE_CODE,
                body=body,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return result
