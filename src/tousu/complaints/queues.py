"""Work queues: named, scoped selections of cases, ordered by the nearest deadline.

Used by the queue pages and, later, by the API. Every queue is a subset of the cases the actor may
see (``visible_complaints_q``); a queue never widens anybody's scope.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Final

import phonenumbers
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, Q, QuerySet
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
from tousu.complaints.search import (
    MIN_TICKET_DIGITS,
    case_id,
    customer_name_q,
    description_q,
    digits_only,
    phone_tail,
    phone_tail_q,
)
from tousu.complaints.selectors import complaints_visible_to
from tousu.complaints.states import OPEN, Status
from tousu.customers.models import CustomerIdentity, IdentityKind

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
    "customer_to_identify": gettext_lazy("Customer to identify"),
    "all": gettext_lazy("All cases"),
}

DUE_SOON: Final = timedelta(hours=1)
# The tab counts are exact up to this many cases; above it a tab says "99+" (``capped_counts``).
TAB_COUNT_CAP: Final = 99
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
    sort: str = ""  # a key of ``SORTS`` ("": the deadline order)


# The orders a queue can be read in, by the key the address carries (``?sort=``); a leading "-"
# reverses the whole order, so each one walks its index backwards. The default, "deadline", is the
# deadline column's order: ``next_due_at`` is the earliest due time still owed, so the most overdue
# case comes first, then the nearest deadline, then the cases without one (oldest first).
SORTS: Final[Mapping[str, tuple[str, ...]]] = {
    "deadline": ("next_due_at", "registered_at", "id"),
    "registered": ("registered_at", "id"),
    "ticket": ("ticket_no", "id"),  # a registered case has no ticket number yet: last
}
DEFAULT_SORT: Final = "deadline"


def sort_keys() -> list[str]:
    """Every value ``?sort=`` accepts."""
    return [key for name in SORTS for key in (name, f"-{name}")]


def _order(sort: str) -> list[Any]:
    descending = sort.startswith("-")
    fields = SORTS.get(sort.removeprefix("-")) or SORTS[DEFAULT_SORT]
    if descending:  # NULLs first: exactly the reverse of the ascending order
        return [F(field).desc(nulls_first=True) for field in fields]
    return [F(field).asc(nulls_last=True) for field in fields]


def _open() -> Q:
    # In the order of complaint_open_due_idx's condition: PostgreSQL then sees the index answers it.
    return Q(status__in=sorted(OPEN))


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
        # The deadline column within the hour (an overdue case is in "overdue" instead).
        return _open() & Q(next_due_at__gt=now, next_due_at__lte=now + DUE_SOON)
    if name == "overdue":
        # ``next_due_at`` is the earliest due time still owed (a running clock, or a missed one not
        # met yet): past it, the case is overdue, swept or not. Read on the case, in queue order.
        return _open() & Q(next_due_at__lte=now)
    if name == "escalated":
        return _open() & Q(escalation_level__gt=0)
    if name == "awaiting_customer":
        return Q(status=Status.AWAITING_CUSTOMER)
    if name == "approvals":
        return _approvals_q(actor)
    if name == "customer_to_identify":  # filed without a contact (TMF621): link the customer
        return _open() & Q(customer__isnull=True)
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


def is_word_search(text: str) -> bool:
    """``text`` is searched as words of the description (and as a customer's name): not a case id,
    a ticket number, a phone number, or digits that may end one."""
    text = text.strip()
    return (
        bool(text)
        and case_id(text) is None
        and not (TICKET_RE.match(text) and len(text) > 2)
        and digits_only(text) is None
        and _phone_candidates(text) is None
    )


def search_q(text: str, *, use_index: bool = True) -> Q:
    """What an agent types into the search box, in this order:

    * ``#123``: the case with id 123;
    * a ticket number or its start, with ``TS`` (``TS20261123``) or without it when it has at least
      its date's 8 digits (``20261123000001``);
    * a phone number: the customer's phone identity or the service number;
    * 4 to 11 digits (``5678``): the end of the customer's phone or of the service number (the
      caller narrows to the actor's scope and audits the search: ``phone_tail_search_audit``);
    * anything else: a service number typed whole, the customer's exact name, or every word in the
      description (Chinese words are substrings, see ``tousu.complaints.search``).
    """
    text = text.strip()
    if not text:
        return Q()
    pk = case_id(text)
    if pk is not None:
        return Q(pk=pk)
    if TICKET_RE.match(text) and len(text) > 2:
        return Q(ticket_no__startswith=text.upper())
    phone = _phone_candidates(text)
    if phone is not None:
        e164, spellings = phone
        # The customer first, on its own (one row at most): given as a subquery, PostgreSQL guessed
        # it matched half the cases and scanned them all rather than use the two indexes.
        customers = list(
            CustomerIdentity.objects.filter(kind=IdentityKind.PHONE, value=e164).values_list(
                "customer_id", flat=True
            )
        )
        return Q(customer_id__in=customers) | Q(service_number__in=sorted(spellings))
    digits = digits_only(text)
    if digits is not None:
        q = Q(service_number=digits)
        if len(digits) >= MIN_TICKET_DIGITS:
            q |= Q(ticket_no__startswith="TS" + digits)
        if phone_tail(digits) is not None:
            q |= phone_tail_q(digits)
        return q
    return Q(service_number=text) | customer_name_q(text) | description_q(text, use_index=use_index)


def filters_q(filters: QueueFilters, *, search_index: bool = True) -> Q:
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
        q &= search_q(filters.q, use_index=search_index)
    return q


def complaint_queue(
    *,
    actor: User,
    name: str,
    filters: QueueFilters | None = None,
    now: datetime | None = None,
    search_index: bool = True,
) -> QuerySet[Complaint]:
    """The cases of queue ``name`` the actor may see, narrowed by ``filters``, in the order
    ``filters.sort`` names (``SORTS``). By default the deadline order: ``next_due_at``, kept by the
    SLA services, is the earliest due time the case still owes (a running clock, or a missed one
    not met yet), so the most overdue case comes first, then the nearest deadline, then the cases
    without one, oldest registration first. Rows carry what a list shows."""
    _require_viewer(actor)
    now = now or timezone.now()
    filters = filters or QueueFilters()
    condition = queue_q(actor=actor, name=name, now=now)
    return (
        complaints_visible_to(actor=actor)
        .filter(condition)
        .filter(filters_q(filters, search_index=search_index))
        .annotate(next_due=F("next_due_at"))
        .order_by(*_order(filters.sort))
    )


@dataclass(frozen=True)
class QueuePage:
    """The cases to page through, and how many there are when that is already known (``None``:
    count them; above the cap means "more than the cap")."""

    cases: QuerySet[Complaint]
    known_count: int | None


def complaint_queue_page(
    *, actor: User, name: str, filters: QueueFilters, now: datetime, cap: int
) -> QueuePage:
    """``complaint_queue`` for a page that shows at most ``cap`` cases' count.

    A search by words is planned from what it finds, not from PostgreSQL's estimate of it (the
    estimate multiplies the frequencies of a word's bigrams as if they were independent, and was
    off by a hundred times either way). The matches are fetched first, up to ``cap + 1`` ids,
    through the bigram index (one query, which also gives the count):

    * at most ``cap`` matches: the page is read from those ids, sorted (a few hundred rows);
    * more: the words are frequent, one case in ``total / cap`` at least, so walking the queue in
      deadline order with the exact test alone finds a page within ``25 * total / cap`` rows.
    """
    cases = complaint_queue(actor=actor, name=name, filters=filters, now=now)
    if not is_word_search(filters.q):
        return QueuePage(cases=cases, known_count=None)
    ids = list(cases.order_by().values_list("pk", flat=True)[: cap + 1])
    if len(ids) <= cap:
        unsearched = replace(filters, q="")
        found = complaint_queue(actor=actor, name=name, filters=unsearched, now=now).filter(pk__in=ids)
        return QueuePage(cases=found, known_count=len(ids))
    walked = complaint_queue(actor=actor, name=name, filters=filters, now=now, search_index=False)
    return QueuePage(cases=walked, known_count=len(ids))


def capped_counts(querysets: Mapping[str, QuerySet[Any]], cap: int) -> dict[str, int]:
    """How many rows each queryset has, counted up to ``cap + 1`` (a value above ``cap`` means "more
    than ``cap``"), all in one query. Each count stops after ``cap + 1`` rows, so it costs the same
    on a million cases as on a thousand; a queryset that cannot match anything costs no SQL."""
    parts: list[str] = []
    params: list[Any] = []
    counts: dict[str, int] = {}
    names: list[str] = []
    for name, qs in querysets.items():
        limited = qs.order_by().values("pk")[: cap + 1]
        try:
            sql, sub_params = limited.query.get_compiler(using=limited.db).as_sql()
        except EmptyResultSet:
            counts[name] = 0
            continue
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped_{len(parts)})")
        params.extend(sub_params)
        names.append(name)
    if parts:
        db = next(iter(querysets.values())).db
        with connections[db].cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts), params)
            row = cursor.fetchone()
        counts.update({name: int(value) for name, value in zip(names, row, strict=True)})
    return {name: counts[name] for name in querysets}


def complaint_queue_counts(
    *, actor: User, now: datetime | None = None, cap: int = TAB_COUNT_CAP
) -> dict[str, int | None]:
    """How many cases each queue holds for the actor (filters aside), exact up to ``cap``: a number
    above ``cap`` means "more than ``cap``" (see ``capped_counts``; one query). "all" is not counted
    (``None``): every case ever registered in the actor's scope; its own page shows its count."""
    _require_viewer(actor)
    now = now or timezone.now()
    scope = Complaint.objects.filter(visible_complaints_q(actor))
    querysets = {
        name: scope.filter(queue_q(actor=actor, name=name, now=now)) for name in QUEUES if name != "all"
    }
    result: dict[str, int | None] = dict(capped_counts(querysets, cap))
    result["all"] = None
    return {name: result[name] for name in QUEUES}
