"""Writes to customer records: find-or-create by any identity, blacklist, reveal."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from tousu.accounts.models import Region, User
from tousu.accounts.roles import ALL_CASES_ROLES, Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.errors import NotFound, PermissionDenied, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.common.phone import normalize_phone
from tousu.customers.models import Customer, CustomerIdentity, IdentityKind

REVEALABLE_FIELDS = ("name", "phone", "email", "id_number", "wechat_id")


def _clean_email(raw: str) -> str:
    email = raw.strip().lower()
    if email and ("@" not in email or " " in email or len(email) > 254):
        raise ValidationError(
            _("'%(raw)s' is not an e-mail address.") % {"raw": raw}, fields={"email": "not an e-mail address"}
        )
    return email


def customer_find_or_create(
    *,
    phone: str = "",
    name: str = "",
    email: str = "",
    wechat_id: str = "",
    service_number: str = "",
    region: Region | None = None,
) -> Customer:
    """The customer this contact belongs to, created if nobody matches.

    Phone first, then e-mail, then WeChat id. New identities are attached to the customer found,
    unless they already belong to somebody else (never stolen silently). Must run inside the
    caller's transaction.
    """
    phone_e164 = normalize_phone(phone) if phone.strip() else ""
    email = _clean_email(email)
    wechat_id = wechat_id.strip()
    service_number = service_number.strip()
    if not (phone_e164 or email or wechat_id):
        raise ValidationError(
            _("A phone number, e-mail address or WeChat id is needed to identify the customer."),
            fields={"phone": "required"},
        )
    wanted: list[tuple[str, str]] = [
        (kind, value)
        for kind, value in (
            (IdentityKind.PHONE, phone_e164),
            (IdentityKind.EMAIL, email),
            (IdentityKind.WECHAT, wechat_id),
            (IdentityKind.SERVICE_NUMBER, service_number),
        )
        if value
    ]
    existing = {
        (i.kind, i.value): i.customer
        for i in CustomerIdentity.objects.select_related("customer").filter(
            kind__in=[k for k, _v in wanted], value__in=[v for _k, v in wanted]
        )
    }
    customer: Customer | None = None
    for key in wanted[:3]:  # a service number alone does not identify a person
        if key in existing:
            customer = existing[key]
            break
    if customer is None:
        customer = Customer.objects.create(
            name=name.strip(), phone=phone_e164, email=email, wechat_id=wechat_id, region=region
        )
    else:
        changed: list[str] = []
        for field, value in (
            ("name", name.strip()),
            ("phone", phone_e164),
            ("email", email),
            ("wechat_id", wechat_id),
        ):
            if value and not getattr(customer, field):
                setattr(customer, field, value)
                changed.append(field)
        if region is not None and customer.region_id is None:
            customer.region = region
            changed.append("region")
        if changed:
            customer.save(update_fields=[*changed, "updated_at"])
    missing = [
        CustomerIdentity(customer=customer, kind=k, value=v) for k, v in wanted if (k, v) not in existing
    ]
    if missing:
        CustomerIdentity.objects.bulk_create(missing, ignore_conflicts=True)
    return customer


@transaction.atomic
def customer_blacklist(
    *, actor: User, customer_id: int, blacklisted: bool, reason: str = "", origin: Origin = SYSTEM
) -> Customer:
    """Flag (or unflag) an abusive caller. A reason is required to flag."""
    if not actor.can(Cap.CUSTOMER_BLACKLIST):
        raise PermissionDenied(_("Only supervisors and managers may change the blacklist."))
    reason = reason.strip()
    if blacklisted and not reason:
        raise ValidationError(_("Say why this caller is blacklisted."), fields={"reason": "required"})
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("No such customer."))
    customer.is_blacklisted = blacklisted
    customer.blacklist_reason = reason if blacklisted else ""
    customer.save(update_fields=["is_blacklisted", "blacklist_reason", "updated_at"])
    audit_record(
        actor=actor,
        kind=AuditKind.CUSTOMER_BLACKLISTED,
        object_type="customer",
        object_id=customer.pk,
        origin=origin,
        payload={"blacklisted": blacklisted, "reason": customer.blacklist_reason},
    )
    return customer


def customer_reveal(*, actor: User, customer_id: int, field: str, origin: Origin = SYSTEM) -> str:
    """Show one personal-data field in clear outside any case (supervisors and managers only).

    Inside a case, use ``complaint_reveal`` instead: it checks the case scope.
    """
    if not (actor.can(Cap.CUSTOMER_REVEAL) and actor.role in ALL_CASES_ROLES):
        raise PermissionDenied(_("You may reveal personal data only from a case you work on."))
    if field not in REVEALABLE_FIELDS:
        raise ValidationError(
            _("'%(field)s' cannot be revealed.") % {"field": field}, fields={"field": "unknown field"}
        )
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("No such customer."))
    with transaction.atomic():
        audit_record(
            actor=actor,
            kind=AuditKind.PERSONAL_DATA_REVEALED,
            object_type="customer",
            object_id=customer.pk,
            field=field,
            origin=origin,
        )
    return str(getattr(customer, field))
