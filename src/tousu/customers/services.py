"""Writes to customer records: find-or-create by any identity, blacklist, reveal."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils.translation import gettext as _

from tousu.accounts.models import Region, User
from tousu.accounts.roles import ALL_CASES_ROLES, Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.errors import NotFound, PermissionDenied, ValidationError
from tousu.common.fastsql import insert_rows
from tousu.common.masking import mask_text
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
    verified: bool = True,
) -> Customer:
    """The customer this contact belongs to, created if nobody matches.

    Phone first, then e-mail, then WeChat id. New identities are attached to the customer found,
    unless they already belong to somebody else (never stolen silently). Must run inside the
    caller's transaction.

    ``verified=False`` (the public portal: anybody may type anybody's number): the details are
    only used to find the customer. An existing customer is left exactly as it was, and a new one
    gets only the identity it was found by; the case keeps the other details for itself
    (``Complaint.contact_email``) until the customer proves who they are.
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
    existing = _identities(wanted)
    customer: Customer | None = None
    for key in wanted[:3]:  # a service number alone does not identify a person
        if key in existing:
            customer = existing[key]
            break
    if not verified:
        if customer is not None:
            return customer  # an unverified contact never changes an existing customer
        kind, value = wanted[0]  # the identity it is found by next time (phone first)
        customer = Customer(
            name=name.strip(),
            phone=value if kind == IdentityKind.PHONE else "",
            email=value if kind == IdentityKind.EMAIL else "",
            wechat_id=value if kind == IdentityKind.WECHAT else "",
            region=region,
        )
        insert_rows([customer])
        insert_rows([CustomerIdentity(customer=customer, kind=kind, value=value)], skip_conflicts=True)
        return customer
    if customer is None:
        customer = Customer(
            name=name.strip(), phone=phone_e164, email=email, wechat_id=wechat_id, region=region
        )
        insert_rows([customer])
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
    insert_rows(missing, skip_conflicts=True)
    return customer


_IDENTITY_SQL: dict[tuple[str, int], str] = {}


def _identities(wanted: list[tuple[str, str]]) -> dict[tuple[str, str], Customer]:
    """The customers these identities belong to, in one statement built once (hot path)."""
    key = (connection.vendor, len(wanted))
    sql = _IDENTITY_SQL.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        columns = ", ".join(f"c.{quote(f.column)}" for f in _CUSTOMER_FIELDS)
        pairs = " OR ".join(["(i.kind = %s AND i.value = %s)"] * len(wanted))
        sql = _IDENTITY_SQL[key] = (
            f"SELECT i.kind, i.value, {columns} FROM {quote(CustomerIdentity._meta.db_table)} i "
            f"JOIN {quote(Customer._meta.db_table)} c ON c.{quote('id')} = i.customer_id WHERE {pairs}"
        )
    params = [x for pair in wanted for x in pair]
    found: dict[tuple[str, str], Customer] = {}
    by_id: dict[int, Customer] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, value, *values in cursor.fetchall():
            customer = by_id.get(values[0]) or Customer.from_db(connection.alias, _CUSTOMER_NAMES, values)
            by_id[customer.pk] = customer
            found[(kind, value)] = customer
    return found


# The times are left deferred (loaded if asked for): raw rows would bring them back naive on SQLite.
_CUSTOMER_FIELDS = [
    f for f in Customer._meta.concrete_fields if f.get_internal_type() not in ("DateTimeField", "DateField")
]
assert _CUSTOMER_FIELDS[0].primary_key
_CUSTOMER_NAMES = [f.attname for f in _CUSTOMER_FIELDS]


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
        payload={"blacklisted": blacklisted, "reason": mask_text(customer.blacklist_reason)},
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
