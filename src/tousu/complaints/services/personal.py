"""Personal data inside a case: audited reveals, and merging customer records."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.errors import NotFound, PermissionDenied, ValidationError
from tousu.common.logs import current_request_id
from tousu.common.masking import identity_digest
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints.access import access_complaint
from tousu.complaints.events import EventKind
from tousu.complaints.models import (
    Complaint,
    ComplaintEvent,
)
from tousu.customers.models import Customer
from tousu.customers.services import REVEALABLE_FIELDS

# The case's free texts, which may hold identifiers that displays, exports and the API mask.
REVEALABLE_TEXTS = ("description", "demand", "rejection_explanation")


def complaint_reveal(*, actor: User, complaint_id: int, field: str, origin: Origin = SYSTEM) -> str:
    """Show one of the case's personal-data fields in clear, for somebody working on the case.
    Every reveal is an audit event (who, when, which case and customer, from where)."""
    complaint = Complaint.objects.select_related("customer").filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFound(_("No such case."))
    access_complaint(actor, complaint, Cap.CUSTOMER_REVEAL, origin=origin)
    if field == "service_number":
        value = complaint.service_number
    elif field in REVEALABLE_TEXTS:
        value = str(getattr(complaint, field))  # shown masked (common.masking.mask_text) until revealed
    elif field in REVEALABLE_FIELDS and complaint.customer is not None:
        value = str(getattr(complaint.customer, field))
    else:
        raise ValidationError(
            _("'%(field)s' cannot be revealed.") % {"field": field}, fields={"field": "unknown field"}
        )
    with transaction.atomic():
        audit_record(
            actor=actor,
            kind=AuditKind.PERSONAL_DATA_REVEALED,
            object_type="customer" if complaint.customer_id is not None else "complaint",
            object_id=complaint.customer_id if complaint.customer_id is not None else complaint.pk,
            complaint_id=complaint.pk,
            field=field,
            origin=origin,
        )
    return value


@transaction.atomic
def customer_merge(*, actor: User, source_id: int, target_id: int, origin: Origin = SYSTEM) -> Customer:
    """Merge the customer ``source`` into ``target``: identities and cases move to the target; the
    source row stays, marked as merged, so history remains explainable. Audited, and each moved
    case gets a timeline event."""
    if not actor.can(Cap.CUSTOMER_MERGE):
        raise PermissionDenied(_("Only supervisors and managers merge customer records."))
    if source_id == target_id:
        raise ValidationError(
            _("A customer cannot be merged into itself."), fields={"target": "same as source"}
        )
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=sorted([source_id, target_id]))
        .order_by("pk")
    }
    source, target = locked.get(source_id), locked.get(target_id)
    if source is None or target is None:
        raise NotFound(_("No such customer."))
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise ValidationError(
            _("One of these customers was already merged into another."), fields={"target": "already merged"}
        )
    now = timezone.now()
    identities = list(source.identities.values_list("kind", "value"))
    source.identities.update(customer=target)
    changed = []
    for field in ("name", "phone", "email", "wechat_id", "id_number", "region_id"):
        if getattr(source, field) and not getattr(target, field):
            setattr(target, field, getattr(source, field))
            changed.append(field.removesuffix("_id"))
    if source.is_blacklisted and not target.is_blacklisted:
        target.is_blacklisted = True
        target.blacklist_reason = source.blacklist_reason
        changed += ["is_blacklisted", "blacklist_reason"]
    if changed:
        target.save(update_fields=[*changed, "updated_at"])
    source.merged_into = target
    source.save(update_fields=["merged_into", "updated_at"])
    case_ids = list(Complaint.objects.filter(customer=source).values_list("pk", flat=True))
    Complaint.objects.filter(pk__in=case_ids).update(customer=target, updated_at=now)
    ComplaintEvent.objects.bulk_create(
        ComplaintEvent(
            complaint_id=pk,
            created_at=now,
            kind=EventKind.CUSTOMER_MERGED,
            actor=actor,
            actor_label=actor.username,
            via=origin.via,
            payload={"from_customer": source.pk, "to_customer": target.pk},
            request_id=current_request_id() or None,
        )
        for pk in case_ids
    )
    audit_record(
        actor=actor,
        kind=AuditKind.CUSTOMER_MERGED,
        object_type="customer",
        object_id=target.pk,
        origin=origin,
        payload={
            "source": source.pk,
            "target": target.pk,
            "complaints": case_ids,
            # Never the values in clear: the access log outlives an erasure (docs/adr/0021).
            "identities": [[kind, identity_digest(value)] for kind, value in identities],
        },
    )
    return target
