"""Reads of cases, shaped for their callers, with the access checks and read logging built in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Avg,
    Count,
    DecimalField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints.access import (
    CUSTOMER_KINDS,
    access_complaint_by_id,
    complaint_in_scope,
    may_reclassify_without_user,
    principal_may,
    visible_complaints_q,
)
from tousu.complaints.choices import MONEY_REMEDIES, RemedyStatus
from tousu.complaints.models import Complaint, ComplaintEvent, Remedy, ReturnVisit
from tousu.complaints.states import OPEN, TRANSITIONS, Status, can_escalate


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


@dataclass(frozen=True)
class CustomerHistory:
    """A customer's cases as one user may see them: the newest ``rows`` (each annotated with
    ``granted``: money remedies approved, and ``satisfaction``: the last reached return visit's
    score), and figures over all of them."""

    rows: Sequence[Complaint]
    cases: int
    open_cases: int
    granted: Decimal
    satisfaction: float | None  # the average of the last score of each case visited
    visits: int


def customer_history(*, actor: User, customer_id: int, limit: int = 50) -> CustomerHistory:
    """Every case of the customer that ``actor`` may see (no personal data). One query when the
    customer has fewer than ``limit`` cases (the figures are summed from the rows), two otherwise."""
    cases = Complaint.objects.filter(visible_complaints_q(actor), customer_id=customer_id)
    granted = (
        Remedy.objects.filter(
            complaint_id=OuterRef("pk"), status=RemedyStatus.APPROVED, kind__in=list(MONEY_REMEDIES)
        )
        .order_by()
        .values("complaint_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    last_score = (
        ReturnVisit.objects.filter(complaint_id=OuterRef("pk"), reached=True, satisfaction__isnull=False)
        .order_by("-visited_at", "-id")
        .values("satisfaction")[:1]
    )
    shaped = cases.annotate(
        granted=Coalesce(Subquery(granted), Value(Decimal("0")), output_field=DecimalField()),
        satisfaction=Subquery(last_score),
    )
    rows = list(
        shaped.select_related("category", "category__parent").order_by("-registered_at", "-id")[: limit + 1]
    )
    if len(rows) <= limit:  # all of them: the figures come from the rows
        scores = [c.satisfaction for c in rows if c.satisfaction is not None]
        return CustomerHistory(
            rows=rows,
            cases=len(rows),
            open_cases=sum(1 for c in rows if c.status in OPEN),
            granted=sum((Decimal(c.granted) for c in rows), Decimal("0")),
            satisfaction=sum(scores) / len(scores) if scores else None,
            visits=len(scores),
        )
    totals = shaped.aggregate(
        cases=Count("pk"),
        open_cases=Count("pk", filter=Q(status__in=list(OPEN))),
        granted_total=Sum("granted"),
        average=Avg("satisfaction"),
        visits=Count("satisfaction"),
    )
    return CustomerHistory(
        rows=rows[:limit],
        cases=totals["cases"],
        open_cases=totals["open_cases"],
        granted=Decimal(totals["granted_total"] or 0),
        satisfaction=float(totals["average"]) if totals["average"] is not None else None,
        visits=totals["visits"],
    )


def complaints_open_for_customer(*, actor: User, customer_id: int) -> QuerySet[Complaint]:
    return complaints_visible_to(actor=actor).filter(customer_id=customer_id, status__in=list(OPEN))


# --- what an actor may do on a case now ------------------------------------------------------------

# Where the remedy service accepts a request (it refuses the others with a clear message).
REMEDY_STATUSES = frozenset({Status.ACCEPTED, Status.INVESTIGATING, Status.PLAN_PROPOSED})

# Every action a case may offer, in the order pages show them. Each is one service:
# accept/reject → complaint_accept/_reject, dispatch, investigate, request-info, plan
# (complaint_propose_plan), remedy (remedy_request), reply, return-visit (return_visit_record),
# close, reopen, note, escalate, change-level, reclassify, flag-threat, withdraw, decide
# (remedy_decide), reveal (complaint_reveal) and answer (complaint_customer_answer).
ACTION_SLUGS = (
    "accept",
    "reject",
    "dispatch",
    "investigate",
    "request-info",
    "plan",
    "remedy",
    "reply",
    "return-visit",
    "close",
    "reopen",
    "note",
    "link-customer",
    "escalate",
    "change-level",
    "reclassify",
    "flag-threat",
    "withdraw",
    "decide",
    "reveal",
    "answer",
)


def complaint_available_actions(
    actor: User | None, complaint: Complaint, *, origin: Origin = SYSTEM
) -> list[str]:
    """The actions (``ACTION_SLUGS``) this actor may take on this case now: the transition table,
    the capability, the scope and the guards of each step, as the services check them. Pages, the
    API and the portal offer exactly these, so a form shown and a service refusing cannot disagree
    (``tests/test_trust.py`` calls every service for every role in every status to prove it).
    ``actor=None`` is the principal ``origin`` names (the portal customer, an API key, the worker)."""
    from tousu.complaints.services.remedies import remedy_within_authority

    status = Status(complaint.status)
    nxt = TRANSITIONS[status]
    is_open = status in OPEN
    known: dict[Cap, bool] = {}

    def may(cap: Cap) -> bool:
        if cap not in known:
            if actor is None:
                known[cap] = principal_may(origin, cap)
            else:
                known[cap] = actor.is_active and actor.can(cap) and complaint_in_scope(actor, complaint, cap)
        return known[cap]

    def supervises() -> bool:
        return actor is not None and actor.can(Cap.CASE_SUPERVISE)

    def close_allowed() -> bool:
        if status == Status.REPLIED and not complaint.is_first_contact_resolution:
            # Without a satisfied return visit only a supervisor closes, after an unreached one.
            return supervises() and complaint.return_visits.filter(reached=False).exists()
        return True

    def decide_allowed() -> bool:
        if actor is None or not is_open or not may(Cap.REMEDY_DECIDE):
            return False
        pending = complaint.remedies.filter(status=RemedyStatus.REQUESTED).exclude(requested_by_id=actor.pk)
        return pending.exists() and remedy_within_authority(actor, complaint)

    rules: dict[str, Callable[[], bool]] = {
        "accept": lambda: Status.ACCEPTED in nxt and may(Cap.CASE_ACCEPT),
        "reject": lambda: Status.REJECTED in nxt and may(Cap.CASE_ACCEPT),
        "dispatch": lambda: Status.DISPATCHED in nxt and may(Cap.CASE_DISPATCH),
        "investigate": lambda: Status.INVESTIGATING in nxt and may(Cap.CASE_HANDLE),
        "request-info": lambda: Status.AWAITING_CUSTOMER in nxt and may(Cap.CASE_HANDLE),
        "plan": lambda: (
            Status.PLAN_PROPOSED in nxt and status != Status.AWAITING_APPROVAL and may(Cap.CASE_HANDLE)
        ),
        "remedy": lambda: status in REMEDY_STATUSES and may(Cap.REMEDY_REQUEST),
        "reply": lambda: (
            Status.REPLIED in nxt
            and may(Cap.CASE_REPLY)
            and (
                status != Status.ACCEPTED
                or (actor is not None and complaint.first_contact_owner_id == actor.pk)
            )
        ),
        "return-visit": lambda: status == Status.REPLIED and may(Cap.CASE_RETURN_VISIT),
        "close": lambda: Status.CLOSED in nxt and may(Cap.CASE_CLOSE) and close_allowed(),
        "reopen": lambda: (
            Status.REOPENED in nxt and may(Cap.CASE_REOPEN) and (status != Status.CLOSED or supervises())
        ),
        "note": lambda: may(Cap.CASE_NOTE),
        "link-customer": lambda: complaint.customer_id is None and may(Cap.CASE_HANDLE),
        "escalate": lambda: can_escalate(status, complaint.escalation_level) and may(Cap.CASE_ESCALATE),
        "change-level": lambda: is_open and may(Cap.CASE_HANDLE),
        "reclassify": lambda: (
            is_open and may(Cap.CASE_HANDLE) and (actor is not None or may_reclassify_without_user(origin))
        ),
        "flag-threat": lambda: is_open and not complaint.threatens_external and may(Cap.CASE_ESCALATE),
        "withdraw": lambda: Status.WITHDRAWN in nxt and may(Cap.CASE_WITHDRAW),
        "decide": decide_allowed,
        "reveal": lambda: actor is not None and may(Cap.CUSTOMER_REVEAL),
        "answer": lambda: (
            status == Status.AWAITING_CUSTOMER and actor is None and origin.kind in CUSTOMER_KINDS
        ),
    }
    return [slug for slug in ACTION_SLUGS if rules[slug]()]
