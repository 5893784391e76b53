"""The complaint lifecycle as a table. Pure: no ORM, no I/O.

Every status change in Tousu is checked against ``TRANSITIONS`` by the case services; the database
holds a check constraint on the same values. Each status maps to one TMF621 status for the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Not accepted")
    DISPATCHED = "dispatched", _("Dispatched")
    INVESTIGATING = "investigating", _("Investigating")
    AWAITING_CUSTOMER = "awaiting_customer", _("Awaiting customer")
    PLAN_PROPOSED = "plan_proposed", _("Plan proposed")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting remedy approval")
    REPLIED = "replied", _("Replied")
    RETURN_VISIT = "return_visit", _("Return visit done")
    REOPENED = "reopened", _("Reopened")
    CLOSED = "closed", _("Closed")
    WITHDRAWN = "withdrawn", _("Withdrawn")


S = Status

TERMINAL: Final = frozenset({S.REJECTED, S.CLOSED, S.WITHDRAWN})
OPEN: Final = frozenset(set(S) - TERMINAL)

# Where a customer's withdrawal is possible: any open state.
_WITHDRAW: Final = frozenset({S.WITHDRAWN})

TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = {
    S.REGISTERED: frozenset({S.ACCEPTED, S.REJECTED}) | _WITHDRAW,
    # Accepted cases are dispatched, handled by their first-contact owner, or answered at once (FCR).
    S.ACCEPTED: frozenset({S.DISPATCHED, S.INVESTIGATING, S.REPLIED}) | _WITHDRAW,
    S.DISPATCHED: frozenset({S.INVESTIGATING, S.DISPATCHED}) | _WITHDRAW,
    S.INVESTIGATING: frozenset({S.AWAITING_CUSTOMER, S.PLAN_PROPOSED, S.DISPATCHED}) | _WITHDRAW,
    S.AWAITING_CUSTOMER: frozenset({S.INVESTIGATING}) | _WITHDRAW,
    # A plan is replied to, sent for remedy approval, or reworked.
    S.PLAN_PROPOSED: frozenset({S.AWAITING_APPROVAL, S.REPLIED, S.INVESTIGATING}) | _WITHDRAW,
    S.AWAITING_APPROVAL: frozenset({S.PLAN_PROPOSED}) | _WITHDRAW,
    # After the reply: the return visit; or closing at once for a first-contact resolution.
    S.REPLIED: frozenset({S.RETURN_VISIT, S.CLOSED}) | _WITHDRAW,
    S.RETURN_VISIT: frozenset({S.CLOSED, S.REOPENED}) | _WITHDRAW,
    S.REOPENED: frozenset({S.INVESTIGATING, S.DISPATCHED}) | _WITHDRAW,
    # A closed case may be reopened by a supervisor (new facts, a regulator's referral).
    S.CLOSED: frozenset({S.REOPENED}),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
}


class TmfStatus(models.TextChoices):
    """TMF621 v4 TroubleTicketStatusType."""

    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    PENDING = "pending"
    HELD = "held"
    IN_PROGRESS = "inProgress"
    CANCELLED = "cancelled"
    CLOSED = "closed"
    RESOLVED = "resolved"


TMF_STATUS: Final[Mapping[Status, TmfStatus]] = {
    S.REGISTERED: TmfStatus.ACKNOWLEDGED,
    S.ACCEPTED: TmfStatus.ACKNOWLEDGED,
    S.REJECTED: TmfStatus.REJECTED,
    S.DISPATCHED: TmfStatus.IN_PROGRESS,
    S.INVESTIGATING: TmfStatus.IN_PROGRESS,
    S.AWAITING_CUSTOMER: TmfStatus.PENDING,
    S.PLAN_PROPOSED: TmfStatus.IN_PROGRESS,
    S.AWAITING_APPROVAL: TmfStatus.HELD,
    S.REPLIED: TmfStatus.RESOLVED,
    S.RETURN_VISIT: TmfStatus.RESOLVED,
    S.REOPENED: TmfStatus.IN_PROGRESS,
    S.CLOSED: TmfStatus.CLOSED,
    S.WITHDRAWN: TmfStatus.CANCELLED,
}

# Escalation is orthogonal to status: allowed from every open state, up to the top level.
MAX_ESCALATION_LEVEL: Final = 3


class EscalationLevel(models.IntegerChoices):
    NONE = 0, _("Not escalated")
    SUPERVISOR = 1, _("Supervisor")
    MANAGER = 2, _("Manager")
    SENIOR = 3, _("Senior management")


def can_transition(src: Status, dst: Status) -> bool:
    return dst in TRANSITIONS[src]


def can_escalate(status: Status, level: int) -> bool:
    return status in OPEN and level < MAX_ESCALATION_LEVEL
