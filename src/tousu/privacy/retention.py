"""Retention (PIPL: kept no longer than needed): what has passed its time, per data kind
(``TOUSU_RETENTION_*``), is anonymised in batches. Each batch commits on its own and picks only
rows not done yet, so a run stopped half-way (or two workers) simply carries on. Each batch writes
one ``personal_data.purged`` audit row with its counts. Statistics and rollups stay unchanged:
rows are anonymised, never deleted (attachments and tracking codes of old cases excepted).

- closed cases, ``TOUSU_RETENTION_CASE_DAYS`` after closing: contact fields cleared, identifiers in
  every free text masked (case, events, plans, remedies, replies, visits), evidence files deleted;
- notification bodies, ``TOUSU_RETENTION_NOTIFICATION_DAYS`` after creation: address and text gone;
- inbound e-mails, ``TOUSU_RETENTION_INBOUND_EMAIL_DAYS`` after handling: sender hashed, subject and
  reason cleared.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.channels.models import InboundEmail
from tousu.common.masking import identity_digest, mask_text
from tousu.common.origin import Origin
from tousu.complaints.append_only import redaction_close, redaction_open
from tousu.complaints.models import (
    Attachment,
    Complaint,
    ComplaintEvent,
    Remedy,
    Reply,
    ResolutionPlan,
    ReturnVisit,
)
from tousu.notifications.models import DeliveryStatus, Notification
from tousu.privacy.models import RetentionMark
from tousu.vocabulary.states import Status

PURGED = "[purged]"
WORKER = Origin(via="worker")


@dataclass(frozen=True)
class Expired:
    kind: str
    count: int


def _cutoff(days: int) -> timedelta:
    return timedelta(days=days)


def _expired_notifications() -> QuerySet[Notification]:
    before = timezone.now() - _cutoff(settings.TOUSU_RETENTION_NOTIFICATION_DAYS)
    return (
        Notification.objects.filter(created_at__lt=before)
        .exclude(status=DeliveryStatus.PENDING)
        .exclude(body=PURGED)
    )


def _expired_emails() -> QuerySet[InboundEmail]:
    before = timezone.now() - _cutoff(settings.TOUSU_RETENTION_INBOUND_EMAIL_DAYS)
    done = Q(subject="", reason="") & (Q(from_address="") | Q(from_address__startswith="hmac-sha256:"))
    return InboundEmail.objects.filter(handled_at__lt=before).exclude(done)


def _expired_cases() -> QuerySet[Complaint]:
    before = timezone.now() - _cutoff(settings.TOUSU_RETENTION_CASE_DAYS)
    marked = RetentionMark.objects.filter(kind="case").values("object_id")
    return Complaint.objects.filter(status=Status.CLOSED, closed_at__lt=before).exclude(pk__in=marked)


def retention_expired() -> list[Expired]:
    """How many rows of each kind wait to be purged (``--dry-run``)."""
    return [
        Expired("case", _expired_cases().count()),
        Expired("notification", _expired_notifications().count()),
        Expired("inbound_email", _expired_emails().count()),
    ]


def _mask_json(value: object) -> object:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask_json(v) for k, v in value.items()}
    return value


@transaction.atomic
def _purge_cases(batch: int) -> int:
    ids = list(_expired_cases().order_by("pk").values_list("pk", flat=True)[:batch])
    if not ids:
        return 0
    for c in Complaint.objects.filter(pk__in=ids).only(
        "pk", "description", "demand", "rejection_explanation"
    ):
        Complaint.objects.filter(pk=c.pk).update(
            description=mask_text(c.description),
            demand=mask_text(c.demand),
            rejection_explanation=mask_text(c.rejection_explanation),
            contact_email="",
            service_number="",
        )
    redaction_open(connection)
    try:
        for e in ComplaintEvent.objects.filter(complaint__in=ids).only("pk", "payload"):
            masked = _mask_json(e.payload)
            if masked != e.payload:
                ComplaintEvent.objects.filter(pk=e.pk).update(payload=masked)
    finally:
        redaction_close(connection)
    for model, names in (
        (ResolutionPlan, ["measures"]),
        (Remedy, ["description", "decision_note"]),
        (Reply, ["content"]),
        (ReturnVisit, ["comment"]),
    ):
        for row in model.objects.filter(complaint__in=ids).only("pk", *names):
            model.objects.filter(pk=row.pk).update(**{n: mask_text(getattr(row, n)) for n in names})
    for attachment in Attachment.objects.filter(complaint__in=ids):
        if attachment.file.name:
            attachment.file.storage.delete(attachment.file.name)
    Attachment.objects.filter(complaint__in=ids).delete()
    RetentionMark.objects.bulk_create([RetentionMark(kind="case", object_id=pk) for pk in ids])
    _audit("case", len(ids))
    return len(ids)


@transaction.atomic
def _purge_notifications(batch: int) -> int:
    ids = list(_expired_notifications().order_by("pk").values_list("pk", flat=True)[:batch])
    if not ids:
        return 0
    Notification.objects.filter(pk__in=ids).update(address="", subject="", body=PURGED, last_error="")
    _audit("notification", len(ids))
    return len(ids)


@transaction.atomic
def _purge_emails(batch: int) -> int:
    rows = list(_expired_emails().order_by("pk")[:batch])
    for mail in rows:
        sender = mail.from_address
        InboundEmail.objects.filter(pk=mail.pk).update(
            from_address=sender
            if not sender or sender.startswith("hmac-sha256:")
            else identity_digest(sender.lower()),
            subject="",
            reason="",
        )
    if rows:
        _audit("inbound_email", len(rows))
    return len(rows)


def _audit(kind: str, count: int) -> None:
    audit_record(
        actor=None,
        kind=AuditKind.PERSONAL_DATA_PURGED,
        object_type=kind,
        object_id=kind,
        origin=WORKER,
        payload={"kind": kind, "rows": count},
    )


def retention_purge(*, batch: int | None = None, max_batches: int | None = None) -> dict[str, int]:
    """Purge everything expired, batch by batch (each commits on its own). Returns rows per kind."""
    size = batch or settings.TOUSU_RETENTION_BATCH
    done = {"case": 0, "notification": 0, "inbound_email": 0}
    for kind, step in (
        ("case", _purge_cases),
        ("notification", _purge_notifications),
        ("inbound_email", _purge_emails),
    ):
        batches = 0
        while max_batches is None or batches < max_batches:
            n = step(size)
            done[kind] += n
            batches += 1
            if n < size:
                break
    return done


_last_run = 0.0


def retention_job() -> int:
    """The worker's job: one batch of each kind, at most once an hour unless a batch came back full."""
    global _last_run
    now = time.monotonic()
    if _last_run and now - _last_run < 3600:
        return 0
    done = retention_purge(max_batches=1)
    total = sum(done.values())
    _last_run = 0.0 if total >= settings.TOUSU_RETENTION_BATCH else now
    return total
