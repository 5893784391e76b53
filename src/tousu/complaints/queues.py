"""Work queues: named, scoped selections of cases, ordered by the nearest deadline.

Used by the queue pages and, later, by the API. Every queue is a subset of the cases the actor may
see (``visible_complaints_q``); a queue never widens anybody's scope.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final

import phonenumbers
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tousu.accounts.models import User, approval_limit_for
from tousu.accounts.roles import Cap, Role
from tousu.common.errors import NotFound, PermissionDenied, ValidationError
from tousu.common.phone import normalize_phone
from tousu.complaints.access import visible_complaints_q
from tousu.complaints.choices import RemedyStatus
from tousu.complaints.models import Complaint, Remedy
from tousu.complaints.selectors import complaints_visible_to
from tousu.complaints.states import OPEN, Status
from tousu.customers.models import CustomerIdentity, IdentityKind
from tousu.sla.models import ClockState, SlaClock

# The queues in tab order, with their labels.
QUEUES: Final[Mapping[str, Promise]] = {
    "mine": gettext_lazy("My cases"),
    "department": gettext_lazy("My department"),
    "unassigned": gettext_lazy("Unassigned"),
    "due_soon": gettext_lazy("Due within the hour"),
    "overdue": gettext_lazy("Overdue"),
    "escalated": gettext_lazy("Escalated"),
    "awaiting_customer": gettext_lazy("Awaiting customer"),
    "approvals": gettext_lazy("Approvals for me"),
    "all": gettext_lazy("All cases"),
}

DUE_SOON: Final = timedelta(hours=1)
TICKET_RE: Final = re.compile(r"^TS\d{0,14}$", re.IGNORECASE)


@dataclass(frozen=True)
class QueueFilters:
    """The narrowing a user asks for on top of a queue; empty values mean "any"."""

    status: str = ""
    level: str = ""
    category_id: int | None = None  # a top-level category includes its sub-categories
    channel: str = ""
    department_id: int | None = None  # the lead department
    registered_from: date | None = None  # local dates, both ends included
    registered_to: date | None = None
    region_id: int | None = None
    q: str = ""  # a ticket number (or its start), a phone number, or words of the description


def _open() -> Q:
    return Q(status__in=list(OPEN))


def _cases_with_clocks(condition: Q) -> Q:
    """Cases having a clock that meets ``condition``. An uncorrelated ``IN (SELECT …)``: the
    database reads the (partially indexed) clocks once instead of once per case."""
    return Q(pk__in=SlaClock.objects.filter(condition).values("complaint_id"))


def _approvals_q(actor: User) -> Q:
    """Cases waiting for a remedy decision the actor may take: the amount within their limit,
    and not a request of their own."""
    if not actor.can(Cap.REMEDY_DECIDE):
        return Q(pk__in=[])
    remedies = Remedy.objects.filter(status=RemedyStatus.REQUESTED).exclude(requested_by_id=actor.pk)
    limit = approval_limit_for(actor.role)
    if limit is not None:
        remedies = remedies.filter(amount__lte=limit)
    return Q(status=Status.AWAITING_APPROVAL, pk__in=remedies.values("complaint_id"))


def queue_q(*, actor: User, name: str, now: datetime) -> Q:
    """The condition of one queue (scope aside: combine it with ``visible_complaints_q``)."""
    if name == "mine":
        mine = Q(assignee_id=actor.pk)
        if actor.role == Role.AGENT:
            owned = Q(registered_by_id=actor.pk) | Q(first_contact_owner_id=actor.pk)
            mine |= owned & Q(assignee__isnull=True, lead_department__isnull=True)
        return _open() & mine
    if name == "department":
        if actor.department_id is None:
            return Q(pk__in=[])
        return _open() & Q(lead_department_id=actor.department_id)
    if name == "unassigned":
        return _open() & Q(assignee__isnull=True)
    if name == "due_soon":
        soon = Q(state=ClockState.RUNNING, due_at__gt=now, due_at__lte=now + DUE_SOON)
        return _open() & _cases_with_clocks(soon)
    if name == "overdue":
        late = Q(state=ClockState.RUNNING, due_at__lte=now) | Q(
            state=ClockState.BREACHED, ended_at__isnull=True
        )
        return _open() & _cases_with_clocks(late)
    if name == "escalated":
        return _open() & Q(escalation_level__gt=0)
    if name == "awaiting_customer":
        return Q(status=Status.AWAITING_CUSTOMER)
    if name == "approvals":
        return _approvals_q(actor)
    if name == "all":
        return Q()
    raise NotFound(_("No such queue: %(name)s.") % {"name": name})


def _require_viewer(actor: User) -> None:
    if not actor.can(Cap.CASE_VIEW):
        raise PermissionDenied(
            _("Your role (%(role)s) may not do this: %(action)s.")
            % {"role": actor.get_role_display(), "action": Cap.CASE_VIEW.label}
        )


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _phone_candidates(text: str) -> tuple[str, set[str]] | None:
    """``(e164, spellings of the service number)`` when ``text`` is a valid phone number."""
    try:
        e164 = normalize_phone(text)
    except ValidationError:
        return None
    national = str(phonenumbers.parse(e164).national_number)
    compact = re.sub(r"[\s\-()]", "", text)
    return e164, {text, compact, e164, national, "0" + national}


def search_q(text: str) -> Q:
    """A ticket number (exact or its start), else a phone number (the customer's phone identity or
    the service number), else every word in the description."""
    text = text.strip()
    if not text:
        return Q()
    if TICKET_RE.match(text) and len(text) > 2:
        return Q(ticket_no__startswith=text.upper())
    phone = _phone_candidates(text)
    if phone is not None:
        e164, spellings = phone
        customers = CustomerIdentity.objects.filter(kind=IdentityKind.PHONE, value=e164)
        return Q(customer_id__in=customers.values("customer_id")) | Q(service_number__in=sorted(spellings))
    words = Q()
    for word in text.split():
        words &= Q(description__icontains=word)
    return words


def filters_q(filters: QueueFilters) -> Q:
    q = Q()
    if filters.status:
        q &= Q(status=filters.status)
    if filters.level:
        q &= Q(level=filters.level)
    if filters.category_id is not None:
        q &= Q(category_id=filters.category_id) | Q(category__parent_id=filters.category_id)
    if filters.channel:
        q &= Q(channel=filters.channel)
    if filters.department_id is not None:
        q &= Q(lead_department_id=filters.department_id)
    if filters.registered_from is not None:
        q &= Q(registered_at__gte=_local_midnight(filters.registered_from))
    if filters.registered_to is not None:
        q &= Q(registered_at__lt=_local_midnight(filters.registered_to + timedelta(days=1)))
    if filters.region_id is not None:
        q &= Q(region_id=filters.region_id)
    if filters.q:
        q &= search_q(filters.q)
    return q


def complaint_queue(
    *, actor: User, name: str, filters: QueueFilters | None = None, now: datetime | None = None
) -> QuerySet[Complaint]:
    """The cases of queue ``name`` the actor may see, narrowed by ``filters``, nearest deadline
    first (``next_due_at``, kept by the SLA services: the earliest due time of the case's running
    clocks; cases without one last), then oldest registration first. Rows carry what a list shows."""
    _require_viewer(actor)
    now = now or timezone.now()
    condition = queue_q(actor=actor, name=name, now=now)
    overdue_since = (
        SlaClock.objects.filter(complaint_id=OuterRef("pk"), state=ClockState.BREACHED, ended_at__isnull=True)
        .order_by("due_at")
        .values("due_at")[:1]
    )
    return (
        complaints_visible_to(actor=actor)
        .filter(condition)
        .filter(filters_q(filters or QueueFilters()))
        .annotate(next_due=F("next_due_at"), overdue_since=Subquery(overdue_since))
        .order_by(F("next_due_at").asc(nulls_last=True), "registered_at", "id")
    )


def complaint_queue_counts(*, actor: User, now: datetime | None = None) -> dict[str, int | None]:
    """How many cases each queue holds for the actor, in one query over the OPEN cases in scope
    (filters aside). "all" is not counted (``None``): it would count every case ever registered
    in the actor's scope on every page view; its own page shows its count."""
    _require_viewer(actor)
    now = now or timezone.now()
    aggregates = {
        name: Count("pk", filter=queue_q(actor=actor, name=name, now=now)) for name in QUEUES if name != "all"
    }
    counts = Complaint.objects.filter(visible_complaints_q(actor)).filter(_open()).aggregate(**aggregates)
    result: dict[str, int | None] = {name: int(counts[name] or 0) for name in aggregates}
    result["all"] = None
    return {name: result[name] for name in QUEUES}
