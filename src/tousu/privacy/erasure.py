"""Erasure of one customer's personal data (PIPL's right to deletion), everywhere the inventory
(``privacy.registry``) says it can be.

The cases stay (they count in the reports and the regulator's statistics): the customer row is
kept with its identity fields cleared, identities are deleted, the customer's identifiers are cut
out of every free text of their cases, messages, e-mails and logs, and evidence files are deleted.
A legal hold (a case still under the regulator's review) refuses the whole erasure, with the reason.

``privacy_erase`` is the one write path; ``storage_wipe`` then makes sure the database files keep
no old copy (SQLite: secure_delete + VACUUM + WAL checkpoint; PostgreSQL: VACUUM of the tables).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.channels.models import InboundEmail
from tousu.common.errors import NotFound, PermissionDenied, ValidationError
from tousu.common.masking import erase_values, identity_digest, mask_text
from tousu.common.origin import SYSTEM, Origin
from tousu.common.phone import normalize_phone
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
from tousu.customers.models import Customer, CustomerIdentity, IdentityKind
from tousu.knowledge.models import CustomerMessage
from tousu.notifications.models import CustomerLanguage, DeliveryAttempt, Notification
from tousu.privacy.models import ErasureRecord
from tousu.triage.models import Classification
from tousu.vocabulary.choices import Channel
from tousu.vocabulary.states import Status

ERASED = "[erased]"

# A case the regulator still reviews must be kept as it is (a legal hold on the whole erasure).
_SETTLED = (Status.CLOSED, Status.WITHDRAWN, Status.REJECTED)

# Every model the inventory names is handled below (tests/test_privacy_registry.py checks it).
HANDLED_MODELS = frozenset(
    {
        "customers.Customer",
        "customers.CustomerIdentity",
        "notifications.CustomerLanguage",
        "complaints.Complaint",
        "complaints.ComplaintEvent",
        "complaints.ResolutionPlan",
        "complaints.Remedy",
        "complaints.Reply",
        "knowledge.CustomerMessage",
        "complaints.ReturnVisit",
        "complaints.Attachment",
        "triage.Classification",
        "notifications.Notification",
        "notifications.DeliveryAttempt",
        "channels.InboundEmail",
        "audit.AuditEvent",  # written without identifiers in clear (keyed hashes), kept
        "accounts.User",  # staff: not a customer's data
        "api.TicketAttributes",  # api/privacy.py, through ERASURE_HANDLERS
        "portal.TrackingCode",  # portal/privacy.py, through ERASURE_HANDLERS
    }
)


# Apps above this layer (the API, the portal) hand in how to erase what they keep, from their
# ``AppConfig.ready``: model label → function(subject) → rows changed. Their tables are vacuumed too.
ERASURE_HANDLERS: dict[str, Callable[[Subject], int]] = {}
WIPE_TABLES: set[str] = set()


def erasure_handler(model: Any) -> Callable[[Callable[[Subject], int]], Callable[[Subject], int]]:
    """Register the erasure of ``model``'s personal data (used by apps in a higher layer)."""

    def register(func: Callable[[Subject], int]) -> Callable[[Subject], int]:
        ERASURE_HANDLERS[model._meta.label] = func
        WIPE_TABLES.add(model._meta.db_table)
        return func

    return register


class LegalHold(ValidationError):
    """The data must be kept (a case under the regulator's review): nothing was erased."""

    code = "legal_hold"


def phone_spellings(e164: str) -> set[str]:
    """The ways a number appears in text: +8613812348000, 8613812348000, 13812348000,
    138 1234 8000, 138-1234-8000."""
    spellings = {e164, e164.lstrip("+")}
    if e164.startswith("+86"):
        n = e164[3:]
        spellings |= {n, f"{n[:3]} {n[3:7]} {n[7:]}", f"{n[:3]}-{n[3:7]}-{n[7:]}"}
    return spellings


@dataclass
class Subject:
    """Everything found for one erasure: the customers (merged records included), their cases and
    every identifier to cut out of free text."""

    customers: list[Customer]
    case_ids: list[int]
    values: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)

    def scrub(self, text: str) -> str:
        """Free text without this subject's identifiers (and every other identifier masked)."""
        return mask_text(erase_values(text, self.values, ERASED)) if text else text

    def scrub_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.scrub_json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.scrub_json(v) for k, v in value.items()}
        return value


def subject_find(*, phone: str) -> Subject:
    """The customers known by this phone number (and those merged with them) and their cases."""
    e164 = normalize_phone(phone)
    found = set(
        CustomerIdentity.objects.filter(kind=IdentityKind.PHONE, value=e164).values_list(
            "customer_id", flat=True
        )
    ) | set(Customer.objects.filter(phone=e164).values_list("pk", flat=True))
    if not found:
        raise NotFound(_("No customer is known by this phone number."))
    # Merged records hold copies too: follow merges both ways until nothing new appears.
    while True:
        more = set(
            Customer.objects.filter(Q(merged_into__in=found) | Q(merged_from__in=found)).values_list(
                "pk", flat=True
            )
        )
        if more <= found:
            break
        found |= more
    customers = list(Customer.objects.filter(pk__in=found).order_by("pk"))
    case_ids = list(Complaint.objects.filter(customer__in=found).order_by("pk").values_list("pk", flat=True))
    subject = Subject(customers=customers, case_ids=case_ids)
    subject.phones |= phone_spellings(e164)
    for c in customers:
        if c.phone:
            subject.phones |= phone_spellings(c.phone)
        if c.email:
            subject.emails.add(c.email.lower())
        subject.values |= {v for v in (c.name, c.wechat_id, c.id_number) if len(v) >= 2}
    for kind, value in CustomerIdentity.objects.filter(customer__in=found).values_list("kind", "value"):
        if kind == IdentityKind.PHONE:
            subject.phones |= phone_spellings(value)
        elif kind == IdentityKind.EMAIL:
            subject.emails.add(value.lower())
        else:
            subject.values.add(value)
    for number, email in Complaint.objects.filter(pk__in=case_ids).values_list(
        "service_number", "contact_email"
    ):
        if number:
            subject.values.add(number)
        if email:
            subject.emails.add(email.lower())
    subject.values |= subject.phones | subject.emails
    return subject


def legal_holds(subject: Subject) -> list[str]:
    """Why this subject's data must be kept, one reason per held case (empty: nothing holds it)."""
    held = (
        Complaint.objects.filter(pk__in=subject.case_ids, channel=Channel.REGULATOR)
        .exclude(status__in=_SETTLED)
        .order_by("pk")
        .values_list("ticket_no", flat=True)
    )
    return [
        _("Case %(ticket)s is under the regulator's review until it is closed.") % {"ticket": t} for t in held
    ]


def scrub_rows(model: Any, rows: Iterable[Any], fields: list[str], subject: Subject) -> int:
    """Rewrite the text fields of these rows without the subject's identifiers; returns rows changed."""
    changed = 0
    for row in rows:
        updates = {}
        for name in fields:
            old = getattr(row, name)
            new = subject.scrub_json(old)
            if new != old:
                updates[name] = new
        if updates:
            model.objects.filter(pk=row.pk).update(**updates)
            changed += 1
    return changed


@transaction.atomic
def privacy_erase(*, phone: str, reason: str, actor: User | None, origin: Origin = SYSTEM) -> ErasureRecord:
    """Erase the personal data of the customer known by ``phone``. Refuses, changing nothing, when
    a legal hold applies (``LegalHold``, with the reason). ``actor`` is None for an administrator's
    command; a user needs the privacy officer's capability."""
    if actor is not None and not actor.can(Cap.PRIVACY_ERASE):
        raise PermissionDenied(_("Only the privacy officer may erase personal data."))
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Say why the data is erased."), fields={"reason": "required"})
    subject = subject_find(phone=phone)
    Customer.objects.select_for_update().filter(pk__in=[c.pk for c in subject.customers]).order_by(
        "pk"
    ).exists()
    holds = legal_holds(subject)
    if holds:
        raise LegalHold(" ".join(holds))
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")  # freed bytes are overwritten with zeros
    counts: dict[str, int] = {}
    customer_ids = [c.pk for c in subject.customers]
    cases = subject.case_ids

    counts["customers"] = Customer.objects.filter(pk__in=customer_ids).update(
        name="", phone="", email="", wechat_id="", id_number="", updated_at=timezone.now()
    )
    scrub_rows(
        Customer, Customer.objects.filter(pk__in=customer_ids).exclude(blacklist_reason=""),
        ["blacklist_reason"], subject,
    )  # fmt: skip
    counts["identities"] = CustomerIdentity.objects.filter(customer__in=customer_ids).delete()[0]
    CustomerLanguage.objects.filter(customer__in=customer_ids).delete()

    complaints = Complaint.objects.filter(pk__in=cases)
    counts["cases"] = scrub_rows(
        Complaint, complaints.only("pk", "description", "demand", "rejection_explanation"),
        ["description", "demand", "rejection_explanation"], subject,
    )  # fmt: skip
    complaints.update(service_number="", contact_email="")
    redaction_open(connection)
    try:
        counts["case_events"] = scrub_rows(
            ComplaintEvent, ComplaintEvent.objects.filter(complaint__in=cases).only("pk", "payload"),
            ["payload"], subject,
        )  # fmt: skip
    finally:
        redaction_close(connection)
    for model, names in (
        (ResolutionPlan, ["measures"]),
        (Remedy, ["description", "decision_note"]),
        (Reply, ["content"]),
        (ReturnVisit, ["comment"]),
        (Classification, ["explanation"]),
        (CustomerMessage, ["text"]),
    ):
        rows = model.objects.filter(complaint__in=cases).only("pk", *names)
        counts[model._meta.label] = scrub_rows(model, rows, names, subject)

    files = 0
    for attachment in Attachment.objects.filter(complaint__in=cases):
        if attachment.file.name:
            attachment.file.storage.delete(attachment.file.name)
            files += 1
    counts["attachments"] = Attachment.objects.filter(complaint__in=cases).delete()[0]
    counts["attachment_files"] = files
    for label, handler in sorted(ERASURE_HANDLERS.items()):
        counts[label] = handler(subject)

    address_q = Q(address__in=subject.phones) | Q(address__in=subject.emails)
    for email in subject.emails:
        address_q |= Q(address__iexact=email)
    notifications = Notification.objects.filter(Q(complaint__in=cases) | address_q)
    note_ids = list(notifications.values_list("pk", flat=True))
    counts["notifications"] = scrub_rows(
        Notification, Notification.objects.filter(pk__in=note_ids).only("pk", "subject", "body", "last_error"),
        ["subject", "body", "last_error"], subject,
    )  # fmt: skip
    for pk, key, address in Notification.objects.filter(pk__in=note_ids).values_list("pk", "key", "address"):
        new_key = key
        for value in sorted(subject.values, key=len, reverse=True):
            new_key = new_key.replace(value, identity_digest(value))
        Notification.objects.filter(pk=pk).update(key=new_key[:300], address="" if address else address)
    scrub_rows(
        DeliveryAttempt, DeliveryAttempt.objects.filter(notification__in=note_ids).only("pk", "error", "response"),
        ["error", "response"], subject,
    )  # fmt: skip
    counts["outbox_lines"] = _outbox_scrub(subject)

    email_q = Q(complaint__in=cases)
    for email in subject.emails:
        email_q |= Q(from_address__iexact=email)
    inbound = list(InboundEmail.objects.filter(email_q))
    for mail in inbound:
        InboundEmail.objects.filter(pk=mail.pk).update(
            from_address=identity_digest(mail.from_address.lower()) if mail.from_address else "",
            subject=subject.scrub(mail.subject)[:300],
            reason=subject.scrub(mail.reason),
        )
    counts["inbound_emails"] = len(inbound)

    now = timezone.now()
    record = ErasureRecord.objects.create(
        created_at=now,
        actor=actor,
        subject_digest=identity_digest(normalize_phone(phone)),
        customer_ids=customer_ids,
        reason=mask_text(erase_values(reason, subject.values, ERASED)),
        counts=counts,
    )
    audit_record(
        actor=actor,
        kind=AuditKind.PERSONAL_DATA_ERASED,
        object_type="customer",
        object_id=customer_ids[0],
        origin=origin,
        payload={"erasure": record.pk, "customers": customer_ids, "cases": cases, "counts": counts},
    )
    return record


def _outbox_scrub(subject: Subject) -> int:
    """Rewrite the development outbox log without the subject's identifiers (a new file replaces
    the old one, so no old line is left in it). Returns the lines changed."""
    path = Path(settings.TOUSU_NOTIFY_FILE)
    if not path.exists():
        return 0
    changed = 0
    lines = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            new = subject.scrub(line.rstrip("\n"))
            try:
                # JSON lines: keep each line valid JSON after scrubbing.
                json.loads(new)
            except ValueError:
                new = json.dumps({"erased": True})
            if new != line.rstrip("\n"):
                changed += 1
            lines.append(new + "\n")
    if changed:
        tmp = path.with_suffix(".erasing")
        tmp.write_text("".join(lines), encoding="utf-8")
        os.replace(tmp, path)
    return changed


# Tables whose dead row versions may still hold erased values (PostgreSQL VACUUM runs over them).
_TOUCHED_MODELS = (
    Customer,
    CustomerIdentity,
    CustomerLanguage,
    Complaint,
    ComplaintEvent,
    ResolutionPlan,
    Remedy,
    Reply,
    ReturnVisit,
    Classification,
    Attachment,
    Notification,
    DeliveryAttempt,
    InboundEmail,
)


def storage_wipe() -> None:
    """After an erasure has committed: make the database files keep no old copy of what it removed.

    SQLite: VACUUM rebuilds the file (no free page keeps old bytes) and a TRUNCATE checkpoint
    empties the write-ahead log. PostgreSQL: VACUUM of the touched tables removes the dead row
    versions (and their index entries); the WAL segments and backups follow the server's own
    retention (README). Must run outside a transaction."""
    if connection.in_atomic_block:
        raise RuntimeError("storage_wipe must run outside a transaction")
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        elif connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            tables = {m._meta.db_table for m in _TOUCHED_MODELS} | WIPE_TABLES
            for table in sorted(tables):
                cursor.execute(f"VACUUM {quote(table)}")
