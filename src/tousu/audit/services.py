"""The one way to write an audit event."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

from django.db import transaction
from django.utils import timezone

from tousu.accounts.models import User
from tousu.audit.models import AuditChainHead, AuditEvent, AuditKind
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


# --- the hash chain ---------------------------------------------------------------------------------

GENESIS = "0" * 64


def audit_row_hash(previous: str, event: AuditEvent) -> str:
    """sha256 of the previous row's hash and this row's content (every column but the chain's)."""
    content = {
        "id": event.pk,
        "created_at": event.created_at.astimezone(UTC).isoformat(),
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "kind": event.kind,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "complaint_id": event.complaint_id,
        "field": event.field,
        "via": event.via,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "payload": event.payload,
        "seq": event.chain_seq,
    }
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((previous + text).encode()).hexdigest()


def audit_seal(*, batch: int = 1000) -> int:
    """Chain the committed rows not sealed yet, oldest id first (a row that commits late is sealed
    in a later round, after the rows sealed before it). One sealer at a time: the head row is
    locked. Returns the rows sealed."""
    with transaction.atomic():
        head, _ = AuditChainHead.objects.get_or_create(pk=1)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
        rows = list(AuditEvent.objects.filter(chain_seq__isnull=True).order_by("id")[:batch])
        seq, previous = head.seq, head.row_hash or GENESIS
        for event in rows:
            seq += 1
            event.chain_seq = seq
            previous = audit_row_hash(previous, event)
            AuditEvent.objects.filter(pk=event.pk, chain_seq__isnull=True).update(
                chain_seq=seq, row_hash=previous
            )
        if rows:
            head.seq, head.row_hash = seq, previous
            head.save(update_fields=["seq", "row_hash"])
    return len(rows)


def audit_verify() -> list[str]:
    """Walk the chain from its start: every problem found (an edited, deleted or re-ordered row, a
    changed head), or an empty list when the log is intact."""
    problems: list[str] = []
    head = AuditChainHead.objects.filter(pk=1).first()
    previous, expected = GENESIS, 1
    for event in AuditEvent.objects.filter(chain_seq__isnull=False).order_by("chain_seq").iterator():
        seq = event.chain_seq or 0  # the filter above leaves only sealed rows
        if seq != expected:
            problems.append(f"rows {expected}–{seq - 1} of the chain are missing (deleted)")
            expected = seq or expected
        if audit_row_hash(previous, event) != event.row_hash:
            problems.append(f"audit event {event.pk} (place {event.chain_seq}) was changed")
        previous = event.row_hash
        expected += 1
    last = expected - 1
    if head is not None and (head.seq != last or (last and head.row_hash != previous)):
        problems.append(f"the chain ends at place {last}, its head says {head.seq} (newest rows deleted)")
    return problems
