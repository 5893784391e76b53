"""Remedies and their approval by authority level."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User, approval_limit_for
from tousu.accounts.roles import Cap
from tousu.common.errors import ConflictError, InvalidTransition, NotFound, PermissionDenied, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints.access import access_complaint
from tousu.complaints.choices import (
    MONEY_REMEDIES,
    RemedyKind,
    RemedyStatus,
)
from tousu.complaints.events import EventKind
from tousu.complaints.models import (
    Complaint,
    Remedy,
)
from tousu.complaints.services._base import (
    _choice,
    _event,
    _lock,
    _move,
    _require_transition,
    _save,
    _text,
)
from tousu.complaints.states import OPEN, Status
from tousu.customers.models import Customer


def _amount(value: Decimal | int | str, kind: str) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise ValidationError(
            _("'%(value)s' is not an amount.") % {"value": value}, fields={"amount": "not a number"}
        ) from None
    if kind in MONEY_REMEDIES:
        if amount <= 0:
            raise ValidationError(
                _("A money remedy needs an amount above zero."), fields={"amount": "must be positive"}
            )
        if amount > Decimal("1000000"):
            raise ValidationError(_("The amount is implausibly large."), fields={"amount": "too large"})
    elif amount != 0:
        raise ValidationError(
            _("Only refunds, fee waivers and compensation carry an amount."), fields={"amount": "must be 0"}
        )
    return amount


def _limit_covers(user: User | None, amount: Decimal) -> bool:
    if user is None:
        return False  # the system never approves money
    return _covered(user, amount, approval_limit_for(user.role))


def _covered(user: User, amount: Decimal, limit: Decimal | None) -> bool:
    """Whether ``user``, whose approval limit is ``limit`` (``None``: unlimited), may approve ``amount``."""
    if not user.can(Cap.REMEDY_DECIDE):
        return False
    return limit is None or amount <= limit


_COUNTED = (RemedyStatus.REQUESTED, RemedyStatus.APPROVED)
_CENT = Decimal("0.01")


def _money_totals(remedies: Q, by: str) -> dict[int, Decimal]:
    """The money remedies approved and pending matching ``remedies``, summed per ``by``."""
    rows = (
        Remedy.objects.filter(remedies)
        .filter(kind__in=MONEY_REMEDIES, status__in=_COUNTED)
        .order_by()
        .values_list(by)
        .annotate(total=Sum("amount"))
    )
    return {key: Decimal(total or 0).quantize(_CENT) for key, total in rows}


def remedy_exposures(complaints: Sequence[Complaint]) -> dict[int, Decimal]:
    """``remedy_exposure`` (with nothing added) of many cases at once, in two queries at most: for
    a list of approvals. Keyed by case id."""
    case_ids = [c.pk for c in complaints]
    per_case = _money_totals(Q(complaint_id__in=case_ids), "complaint_id")
    exposures = {pk: per_case.get(pk, Decimal(0).quantize(_CENT)) for pk in case_ids}
    days = settings.TOUSU_REMEDY_CUSTOMER_WINDOW_DAYS
    customer_ids = {c.customer_id for c in complaints if c.customer_id is not None}
    if days and customer_ids:
        since = timezone.now() - timedelta(days=days)
        per_customer = _money_totals(
            Q(complaint__customer_id__in=customer_ids, requested_at__gte=since), "complaint__customer_id"
        )
        for c in complaints:
            if c.customer_id is not None:
                exposures[c.pk] = max(exposures[c.pk], per_customer.get(c.customer_id, Decimal(0)))
    return exposures


def remedy_exposure(complaint: Complaint, *, adding: Decimal = Decimal(0)) -> Decimal:
    """The money an approval of ``adding`` (on top of the case's remedies) commits to: the case's
    money remedies approved and pending, ``adding`` included; and, with
    ``TOUSU_REMEDY_CUSTOMER_WINDOW_DAYS`` set, the customer's over that many days across their
    cases if that is more. Splitting a remedy into small ones therefore dodges no limit."""
    return remedy_exposures([complaint])[complaint.pk] + adding


def remedy_within_authority(user: User | None, complaint: Complaint, *, adding: Decimal = Decimal(0)) -> bool:
    """Whether ``user``'s approval limit covers ``remedy_exposure`` (for pages and the services)."""
    return _limit_covers(user, remedy_exposure(complaint, adding=adding))


def remedies_within_authority(user: User, complaints: Sequence[Complaint]) -> dict[int, tuple[Decimal, bool]]:
    """``remedy_within_authority`` of many cases at once (a list of approvals): per case id, the
    exposure an approval commits to and whether ``user``'s limit covers it. Three queries at most."""
    limit = approval_limit_for(user.role)
    return {
        pk: (exposure, _covered(user, exposure, limit))
        for pk, exposure in remedy_exposures(complaints).items()
    }


def _lock_customer(complaint: Complaint) -> None:
    """With a per-customer window, lock the customer row (after the case row, always in this
    order), so two remedies on two of their cases cannot both pass the limit at once."""
    if settings.TOUSU_REMEDY_CUSTOMER_WINDOW_DAYS and complaint.customer_id is not None:
        Customer.objects.select_for_update().filter(pk=complaint.customer_id).values_list("pk").first()


@transaction.atomic
def remedy_request(
    *,
    actor: User | None,
    complaint_id: int,
    kind: str,
    amount: Decimal | int | str = 0,
    description: str = "",
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Remedy:
    """Offer a remedy. Within the requester's own approval limit (and for non-money remedies) it is
    approved at once; above it the case waits for an approver whose limit covers the amount."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.REMEDY_REQUEST, origin=origin)
    kind = _choice(kind, RemedyKind, "kind")
    value = _amount(amount, kind)
    description = _text(description, "description", required=False)
    status = Status(complaint.status)
    if status not in (Status.ACCEPTED, Status.INVESTIGATING, Status.PLAN_PROPOSED):
        raise InvalidTransition(
            src=status,
            dst=status,
            message=_("Remedies are offered while a case is handled, not when it is '%(status)s'.")
            % {"status": status.label},
        )
    _lock_customer(complaint)
    needs_approval = kind in MONEY_REMEDIES and not remedy_within_authority(actor, complaint, adding=value)
    if needs_approval:
        _require_transition(complaint, Status.AWAITING_APPROVAL)  # only from 'plan proposed'
    now = timezone.now()
    remedy = Remedy.objects.create(
        complaint=complaint,
        kind=kind,
        amount=value,
        description=description,
        status=RemedyStatus.REQUESTED if needs_approval else RemedyStatus.APPROVED,
        requested_by=actor,
        requested_at=now,
        decided_by=None if needs_approval else actor,
        decided_at=None if needs_approval else now,
        decision_note="" if needs_approval else "within the requester's own limit",
    )
    payload = {"remedy_id": remedy.pk, "kind": kind, "amount": str(value), "description": description}
    if needs_approval:
        _move(
            complaint,
            Status.AWAITING_APPROVAL,
            actor,
            now,
            EventKind.REMEDY_REQUESTED,
            payload=payload,
            origin=origin,
        )
    else:
        _save(complaint, now, [])
        _event(
            complaint,
            EventKind.REMEDY_APPROVED,
            actor,
            now,
            payload={**payload, "self_approved": True},
            origin=origin,
        )
    return remedy


@transaction.atomic
def remedy_decide(
    *,
    actor: User,
    remedy_id: int,
    approve: bool,
    note: str = "",
    origin: Origin = SYSTEM,
) -> Remedy:
    """Approve or refuse a remedy waiting for approval. The approver's limit must cover the amount,
    and nobody approves their own request. When no request is left, the case returns to its plan."""
    remedy = Remedy.objects.filter(pk=remedy_id).first()
    if remedy is None:
        raise NotFound(_("No such remedy."))
    complaint = _lock(remedy.complaint_id)
    remedy = Remedy.objects.select_for_update().get(pk=remedy_id)
    access_complaint(actor, complaint, Cap.REMEDY_DECIDE, origin=origin)
    if complaint.status not in OPEN:
        raise InvalidTransition(
            src=complaint.status,
            dst=complaint.status,
            message=_("Case %(case)s is no longer open: its remedies are not decided any more.")
            % {"case": complaint},
        )
    if remedy.status != RemedyStatus.REQUESTED:
        raise ConflictError(
            _("This remedy was already decided (%(decision)s).") % {"decision": remedy.get_status_display()}
        )
    if remedy.requested_by_id == actor.pk:
        raise PermissionDenied(_("You cannot decide on a remedy you requested."))
    if approve:
        _lock_customer(complaint)
        exposure = remedy_exposure(complaint)  # the pending remedy is counted already
        if not _limit_covers(actor, exposure):
            limit = approval_limit_for(actor.role)
            raise PermissionDenied(
                _(
                    "%(amount)s 元 is above your approval limit (%(limit)s 元): with this one, the money "
                    "remedies approved and pending come to %(exposure)s 元; a higher authority must approve it."
                )
                % {"amount": remedy.amount, "limit": limit, "exposure": exposure}
            )
    note = _text(note, "note", required=not approve)
    now = timezone.now()
    remedy.status = RemedyStatus.APPROVED if approve else RemedyStatus.REFUSED
    remedy.decided_by = actor
    remedy.decided_at = now
    remedy.decision_note = note
    remedy.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    kind = EventKind.REMEDY_APPROVED if approve else EventKind.REMEDY_REFUSED
    payload = {"remedy_id": remedy.pk, "kind": remedy.kind, "amount": str(remedy.amount), "note": note}
    still_waiting = complaint.remedies.filter(status=RemedyStatus.REQUESTED).exists()
    if complaint.status == Status.AWAITING_APPROVAL and not still_waiting:
        _require_transition(complaint, Status.PLAN_PROPOSED)
        _move(complaint, Status.PLAN_PROPOSED, actor, now, kind, payload=payload, origin=origin)
    else:
        _save(complaint, now, [])
        _event(complaint, kind, actor, now, payload=payload, origin=origin)
    return remedy
