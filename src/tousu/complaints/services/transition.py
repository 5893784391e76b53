"""The generic entry for callers that speak in statuses (TMF621 PATCH, bulk actions)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.common.errors import InvalidTransition, NotFound, ValidationError
from tousu.complaints.models import (
    Complaint,
)
from tousu.complaints.services.closing import (
    complaint_close,
    complaint_reopen,
    complaint_reply,
    complaint_withdraw,
)
from tousu.complaints.services.handling import (
    complaint_investigate,
    complaint_propose_plan,
    complaint_request_info,
)
from tousu.complaints.services.intake import complaint_accept, complaint_reject
from tousu.complaints.services.routing import complaint_dispatch
from tousu.complaints.states import Status, can_transition


@dataclass(frozen=True)
class _Step:
    service: Callable[..., Any]
    what: str


def complaint_transition(*, actor: User | None, complaint_id: int, to: str, **fields: Any) -> Complaint:
    """Move a case to status ``to`` through the service that owns that step, with its fields.

    For callers that speak in statuses (the TMF621 API, bulk actions). The table is checked
    first, so an impossible move is refused with the same message whatever fields came along.
    """
    try:
        dst = Status(to)
    except ValueError:
        raise ValidationError(
            _("'%(to)s' is not a status.") % {"to": to}, fields={"status": "unknown status"}
        ) from None
    current = Complaint.objects.filter(pk=complaint_id).values_list("status", flat=True).first()
    if current is None:
        raise NotFound(_("No such case."))
    if not can_transition(Status(current), dst):
        raise InvalidTransition(
            src=current,
            dst=dst,
            message=_("A '%(current)s' case cannot become '%(dst)s'.")
            % {"current": Status(current).label, "dst": dst.label},
        )
    steps: dict[Status, _Step] = {
        Status.ACCEPTED: _Step(complaint_accept, "accept"),
        Status.REJECTED: _Step(complaint_reject, "reject"),
        Status.DISPATCHED: _Step(complaint_dispatch, "dispatch"),
        Status.INVESTIGATING: _Step(complaint_investigate, "investigate"),
        Status.AWAITING_CUSTOMER: _Step(complaint_request_info, "request information"),
        Status.PLAN_PROPOSED: _Step(complaint_propose_plan, "propose a plan"),
        Status.REPLIED: _Step(complaint_reply, "reply"),
        Status.REOPENED: _Step(complaint_reopen, "reopen"),
        Status.CLOSED: _Step(complaint_close, "close"),
        Status.WITHDRAWN: _Step(complaint_withdraw, "withdraw"),
    }
    step = steps.get(dst)
    if step is None:
        raise ValidationError(
            _(
                "'%(dst)s' is reached by requesting a remedy or recording a return visit, not by setting the status."
            )
            % {"dst": dst.label},
            fields={"status": "not settable"},
        )
    try:  # check the fields against the step's signature, so a bug inside a service is never mistaken for bad input
        inspect.signature(step.service).bind(actor=actor, complaint_id=complaint_id, **fields)
    except TypeError as exc:
        raise ValidationError(
            _("To %(step_what)s, send the fields it needs (%(exc)s).") % {"step_what": step.what, "exc": exc},
            fields={"status": "missing fields"},
        ) from None
    step.service(actor=actor, complaint_id=complaint_id, **fields)
    return Complaint.objects.get(pk=complaint_id)
