"""What each role's home page lists: a handler's own and department's cases, the return visits
due, the remedies waiting for the actor's decision. Reads only, each bounded and indexed; every
list is a subset of the cases the actor may see (``visible_complaints_q``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.common.errors import NotFound, PermissionDenied
from tousu.complaints.access import access_complaint, complaint_in_scope, visible_complaints_q
from tousu.complaints.choices import RemedyStatus
from tousu.complaints.models import Complaint, Remedy, Reply, ResolutionPlan, ReturnVisit
from tousu.complaints.queues import capped_counts, complaint_queue
from tousu.complaints.services.remedies import remedies_within_authority
from tousu.complaints.states import Status
from tousu.sla.models import ClockKind, ClockState, SlaClock

# A home list shows this many cases; its count is exact up to ``HOME_COUNT_CAP``.
HOME_LIST_SIZE: Final = 10
HOME_COUNT_CAP: Final = 99
# The return-visit queue counts up to this many cases ("more than 1000" above it).
RETURN_VISIT_COUNT_CAP: Final = 1_000
# The approvals list shows at most this many requests, oldest first.
APPROVALS_LIMIT: Final = 50


def _require(actor: User, cap: Cap) -> None:
    if not actor.can(cap):
        raise PermissionDenied(
            _("Your role (%(role)s) may not do this: %(action)s.")
            % {"role": actor.get_role_display(), "action": cap.label}
        )


# --- the handler: my cases and my department's ------------------------------------------------------


@dataclass(frozen=True)
class CaseList:
    """The first cases of a queue (nearest deadline first) and how many it holds, up to a cap."""

    name: str  # the queue (``tousu.complaints.queues.QUEUES``) the full list is on
    cases: list[Complaint]
    count: int  # above ``HOME_COUNT_CAP``: "more than that"


def handler_worklist(*, actor: User, now: datetime | None = None) -> list[CaseList]:
    """The cases assigned to the actor and those their department leads, open ones only, nearest
    deadline first: the first ``HOME_LIST_SIZE`` of each, and the counts (one query for both)."""
    _require(actor, Cap.CASE_VIEW)
    now = now or timezone.now()
    names = ["mine", "department"] if actor.department_id is not None else ["mine"]
    queues = {name: complaint_queue(actor=actor, name=name, now=now) for name in names}
    counts = capped_counts(queues, HOME_COUNT_CAP)
    return [
        CaseList(name=name, cases=list(queues[name][:HOME_LIST_SIZE]), count=counts[name]) for name in names
    ]


# --- the return-visit specialist: 待回访, by the return-visit deadline ---------------------------


@dataclass(frozen=True)
class CallSheet:
    """What the return-visit call is about: the case, what was answered and promised, the earlier
    attempts to reach the customer, and the return-visit deadline."""

    case: Complaint
    due_at: datetime | None
    reply: Reply | None  # the latest answer given to the customer
    plan: ResolutionPlan | None  # the latest plan
    remedies: list[Remedy]  # approved remedies: what was promised
    attempts: list[ReturnVisit]  # earlier return visits of this case


@dataclass(frozen=True)
class ReturnVisitRow:
    case: Complaint
    due_at: datetime
    overdue: bool


def _return_visit_clocks(actor: User) -> QuerySet[SlaClock]:
    """The running or missed return-visit clocks of replied cases the actor may see."""
    clocks = SlaClock.objects.filter(
        kind=ClockKind.RETURN_VISIT, ended_at__isnull=True, complaint__status=Status.REPLIED
    )
    scope = visible_complaints_q(actor)
    if scope:  # return-visit specialists and supervisors see every case: no condition at all
        clocks = clocks.filter(complaint_id__in=Complaint.objects.filter(scope).values("pk"))
    return clocks.select_related("complaint", "complaint__customer", "complaint__category__parent").order_by(
        "due_at", "id"
    )


def return_visit_queue(
    *, actor: User, offset: int = 0, limit: int = 25, now: datetime | None = None
) -> tuple[list[ReturnVisitRow], int]:
    """The replied cases waiting for their return visit (待回访), earliest return-visit deadline
    first: the missed ones (a few, through ``sla_clock_missed_idx``), then the running ones (walking
    ``sla_clock_due_idx`` in deadline order). Returns the page's rows and the count, exact up to
    ``RETURN_VISIT_COUNT_CAP`` (above it: more than that)."""
    _require(actor, Cap.CASE_RETURN_VISIT)
    now = now or timezone.now()
    clocks = _return_visit_clocks(actor)
    missed = clocks.filter(state=ClockState.BREACHED)
    running = clocks.filter(state=ClockState.RUNNING)
    counts = capped_counts({"missed": missed, "running": running}, RETURN_VISIT_COUNT_CAP)
    found: list[SlaClock] = []
    if offset < counts["missed"]:
        found += list(missed[offset : offset + limit])
    rest = limit - len(found)
    if rest > 0:
        start = max(0, offset - counts["missed"])
        found += list(running[start : start + rest])
    rows = [ReturnVisitRow(case=c.complaint, due_at=c.due_at, overdue=c.due_at <= now) for c in found]
    return rows, min(counts["missed"] + counts["running"], RETURN_VISIT_COUNT_CAP + 1)


def return_visit_sheet(*, actor: User, complaint_id: int) -> CallSheet:
    """A case for the return-visit call screen, checked as the return-visit service checks it
    (role, scope, and the case in its part of the process), with what the script quotes."""
    complaint = (
        Complaint.objects.select_related("customer", "category", "category__parent", "lead_department")
        .filter(pk=complaint_id)
        .first()
    )
    if complaint is None:
        raise NotFound(_("No such case."))
    access_complaint(actor, complaint, Cap.CASE_RETURN_VISIT)
    clock = (
        SlaClock.objects.filter(complaint_id=complaint.pk, kind=ClockKind.RETURN_VISIT, ended_at__isnull=True)
        .order_by("-cycle")
        .first()
    )
    return CallSheet(
        case=complaint,
        due_at=clock.due_at if clock is not None else None,
        reply=complaint.replies.order_by("-replied_at", "-id").first(),
        plan=complaint.plans.order_by("-created_at", "-id").first(),
        remedies=list(complaint.remedies.filter(status=RemedyStatus.APPROVED).order_by("requested_at", "id")),
        attempts=list(complaint.return_visits.select_related("visited_by").order_by("visited_at", "id")),
    )


# --- the approver: remedies waiting for their decision ---------------------------------------------


@dataclass(frozen=True)
class ApprovalRow:
    remedy: Remedy
    case: Complaint
    exposure: Decimal  # what approving commits to: the case's money remedies approved and pending
    within_limit: bool  # the approver's limit covers ``exposure`` (else a higher authority decides)


def approvals_for(*, actor: User, limit: int = APPROVALS_LIMIT) -> list[ApprovalRow]:
    """The remedies waiting for a decision the actor may take (in their scope, not their own
    request), oldest first, each labelled with whether the actor's limit covers it — computed by
    the remedies service's own rule (``remedies_within_authority``), the cumulative per-case (and
    per-customer) totals included. Waiting remedies belong to cases 'awaiting approval', which
    the status index finds."""
    _require(actor, Cap.REMEDY_DECIDE)
    remedies = (
        Remedy.objects.filter(status=RemedyStatus.REQUESTED, complaint__status=Status.AWAITING_APPROVAL)
        .exclude(requested_by_id=actor.pk)
        .select_related("complaint", "complaint__customer", "complaint__category__parent", "requested_by")
        .order_by("requested_at", "id")
    )
    scope = visible_complaints_q(actor)
    if scope:
        remedies = remedies.filter(complaint_id__in=Complaint.objects.filter(scope).values("pk"))
    # Seeing a case is not always deciding on it (a cooperating department reads only).
    waiting = [r for r in remedies[: limit * 2] if complaint_in_scope(actor, r.complaint, Cap.REMEDY_DECIDE)]
    waiting = waiting[:limit]
    authority = remedies_within_authority(actor, [r.complaint for r in waiting])
    return [
        ApprovalRow(
            remedy=r,
            case=r.complaint,
            exposure=authority[r.complaint_id][0],
            within_limit=authority[r.complaint_id][1],
        )
        for r in waiting
    ]
