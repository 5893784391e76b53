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


def audit_reads_record(
    *,
    actor: User | None,
    reads: list[tuple[int, int]],
    origin: Origin = SYSTEM,
    payload: dict[str, Any] | None = None,
) -> int:
    """Record that ``actor`` (or the principal ``origin`` names) read these customers' personal
    data: one ``personal_data.read`` row per ``(customer id, case id)``, in one write (a list of
    cases read through the API). Returns the rows written."""
    now = timezone.now()
    label = actor.username if actor is not None else origin.via
    rows = [
        AuditEvent(
            created_at=now,
            actor=actor,
            actor_label=label,
            kind=AuditKind.PERSONAL_DATA_READ,
            object_type="customer",
            object_id=str(customer_id),
            complaint_id=complaint_id,
            via=origin.via,
            ip=origin.ip,
            user_agent=origin.user_agent,
            payload=payload or {},
        )
        for customer_id, complaint_id in reads
    ]
    AuditEvent.objects.bulk_create(rows)
    return len(rows)
