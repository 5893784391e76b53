"""The one way to write an audit event."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from tousu.accounts.models import User
from tousu.audit.models import AuditEvent, AuditKind
from tousu.common.origin import SYSTEM, Origin


def audit_record(
    *,
    actor: User | None,
    kind: AuditKind,
    object_type: str,
    object_id: int | str,
    origin: Origin = SYSTEM,
    complaint_id: int | None = None,
    field: str = "",
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        created_at=timezone.now(),
        actor=actor,
        actor_label=actor.username if actor is not None else origin.via,
        kind=kind,
        object_type=object_type,
        object_id=str(object_id),
        complaint_id=complaint_id,
        field=field,
        via=origin.via,
        ip=origin.ip,
        user_agent=origin.user_agent,
        payload=payload or {},
    )
