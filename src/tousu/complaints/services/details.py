"""Changes to a case's details that are not steps of its lifecycle: the customer identified after
registration, the description amended, notes from the customer, and the channel's own ticket
attributes changed. Each locks the case, checks access, writes and records one event; the
description's original stays in the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.common.errors import InvalidTransition, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints.access import access_complaint
from tousu.complaints.events import EventKind
from tousu.complaints.models import Category, Complaint, ComplaintEvent
from tousu.complaints.services._base import _event, _lock, _text
from tousu.customers.services import customer_find_or_create

TO_CLASSIFY = "to-classify"


def category_to_classify() -> Category:
    """The category of cases whose channel did not say which problem it is (a TMF621 ticketType
    no mapping names): created on first use, then kept like any other category."""
    category, _created = Category.objects.get_or_create(
        code=TO_CLASSIFY,
        defaults={"name": "待分类", "name_en": "To be classified", "sort_order": 9999},
    )
    return category


def _touch(complaint: Complaint, now: datetime, fields: list[str]) -> None:
    complaint.version += 1
    complaint.updated_at = now
    complaint.save(update_fields=[*fields, "version", "updated_at"])


@transaction.atomic
def complaint_link_customer(
    *,
    actor: User | None,
    complaint_id: int,
    phone: str = "",
    customer_name: str = "",
    email: str = "",
    wechat_id: str = "",
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Identify the customer of a case registered without one: found (or created) by phone,
    e-mail or WeChat id, as at registration. A case whose customer is known is refused (merging
    customer records is ``customer_merge``)."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_HANDLE, origin=origin)
    if complaint.customer_id is not None:
        raise InvalidTransition(
            src=complaint.status,
            dst=complaint.status,
            message=_("The customer of case %(case)s is already identified.") % {"case": complaint},
        )
    customer = customer_find_or_create(
        phone=phone,
        name=customer_name,
        email=email,
        wechat_id=wechat_id,
        service_number=complaint.service_number,
    )
    now = timezone.now()
    complaint.customer = customer
    fields = ["customer"]
    if complaint.region_id is None and customer.region_id is not None:
        complaint.region_id = customer.region_id
        fields.append("region")
    _touch(complaint, now, fields)
    _event(
        complaint,
        EventKind.CUSTOMER_LINKED,
        actor,
        now,
        origin=origin,
        payload={"customer_id": customer.pk, "via": origin.via},
    )
    return complaint


@transaction.atomic
def complaint_amend_description(
    *,
    actor: User | None,
    complaint_id: int,
    description: str,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Replace the description (the customer corrected or completed it). The previous text stays in
    the event's payload, so the history shows what was said first. The same text changes nothing."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_NOTE, origin=origin)
    description = _text(description, "description")
    if description == complaint.description:
        return complaint
    now = timezone.now()
    previous = complaint.description
    complaint.description = description
    _touch(complaint, now, ["description"])
    _event(
        complaint,
        EventKind.DESCRIPTION_AMENDED,
        actor,
        now,
        origin=origin,
        payload={"from": previous, "to": description, "via": origin.via},
    )
    return complaint


@transaction.atomic
def complaint_customer_notes(
    *,
    actor: User | None,
    complaint_id: int,
    notes: list[dict[str, Any]],
    origin: Origin = SYSTEM,
) -> list[ComplaintEvent]:
    """Notes the customer (or their channel) sent with the case: one timeline event each, with
    the text and, when given, the author and the date they wrote it."""
    complaint = _lock(complaint_id)
    access_complaint(actor, complaint, Cap.CASE_NOTE, origin=origin)
    now = timezone.now()
    rows = []
    for note in notes:
        text = _text(str(note.get("text") or ""), "note")
        payload: dict[str, Any] = {"text": text, "via": origin.via}
        for key in ("author", "date", "id"):
            if note.get(key):
                payload[key] = str(note[key])[:200]
        rows.append(payload)
    return [_event(complaint, EventKind.CUSTOMER_NOTE, actor, now, origin=origin, payload=p) for p in rows]


@transaction.atomic
def complaint_record_channel_update(
    *,
    actor: User | None,
    complaint_id: int,
    changes: dict[str, list[Any]],
    origin: Origin = SYSTEM,
) -> ComplaintEvent | None:
    """Record that the channel changed its own attributes of the ticket (name, priority, dates,
    related entities …; kept by the channel's integration, not by the case): ``changes`` maps each
    attribute to ``[before, after]``. Nothing is recorded when nothing changed."""
    if not changes:
        return None
    complaint = _lock(complaint_id)
    access_complaint(actor, complaint, Cap.CASE_NOTE, origin=origin)
    for name in changes:
        if not isinstance(name, str) or len(name) > 60:
            raise ValidationError(_("Unknown attribute."), fields={"changes": "unknown attribute"})
    now = timezone.now()
    complaint.updated_at = now
    complaint.save(update_fields=["updated_at"])
    return _event(
        complaint,
        EventKind.TICKET_UPDATED,
        actor,
        now,
        origin=origin,
        payload={"changes": changes, "via": origin.via},
    )
