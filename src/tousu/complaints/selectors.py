"""Reads of cases, shaped for their callers, with the access checks and read logging built in."""

from __future__ import annotations

from django.db.models import QuerySet

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints.access import access_complaint_by_id, visible_complaints_q
from tousu.complaints.models import Complaint, ComplaintEvent
from tousu.complaints.states import OPEN


def complaint_for_display(*, actor: User, complaint_id: int, origin: Origin = SYSTEM) -> Complaint:
    """A case with its customer, for a page or API response. Checks the actor's scope and logs the
    read of the customer's personal data (masked or not, seeing whose case it is counts)."""
    complaint = access_complaint_by_id(actor, complaint_id, Cap.CASE_VIEW)
    if complaint.customer_id is None:  # a customer still to be identified: no personal data read
        return complaint
    audit_record(
        actor=actor,
        kind=AuditKind.PERSONAL_DATA_READ,
        object_type="customer",
        object_id=complaint.customer_id,
        complaint_id=complaint.pk,
        origin=origin,
    )
    return complaint


def complaint_timeline(*, complaint: Complaint) -> QuerySet[ComplaintEvent]:
    """The case's events, oldest first, with their actors."""
    return complaint.events.select_related("actor").order_by("created_at", "id")


def complaints_visible_to(*, actor: User) -> QuerySet[Complaint]:
    """Every case the actor may see, with what a list row shows."""
    return (
        Complaint.objects.filter(visible_complaints_q(actor))
        .select_related("customer", "category", "category__parent", "lead_department", "assignee")
        .order_by("-registered_at", "-id")
    )


def complaints_open_for_customer(*, actor: User, customer_id: int) -> QuerySet[Complaint]:
    return complaints_visible_to(actor=actor).filter(customer_id=customer_id, status__in=list(OPEN))
