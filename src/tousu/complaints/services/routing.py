"""Dispatching cases to departments and assigning them to people."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.common.errors import InvalidTransition, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints.access import access_complaint
from tousu.complaints.events import EventKind
from tousu.complaints.models import (
    Complaint,
)
from tousu.complaints.services._base import (
    _department,
    _event,
    _lock,
    _move,
    _require_transition,
    _save,
    _text,
    _user,
)
from tousu.complaints.states import OPEN, Status


@transaction.atomic
def complaint_dispatch(
    *,
    actor: User | None,
    complaint_id: int,
    lead_department_id: int,
    cooperating_department_ids: Iterable[int] = (),
    assignee_id: int | None = None,
    note: str = "",
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Route a case to its lead department (and cooperating ones), optionally to a person there.
    Dispatching a dispatched or investigated case again transfers it."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_DISPATCH, origin=origin)
    _require_transition(complaint, Status.DISPATCHED)
    lead = _department(lead_department_id, "lead_department")
    cooperating = [
        _department(pk, "cooperating_departments") for pk in dict.fromkeys(cooperating_department_ids)
    ]
    if any(d.pk == lead.pk for d in cooperating):
        raise ValidationError(
            _("The lead department cannot also be a cooperating department."),
            fields={"cooperating_departments": "contains the lead department"},
        )
    assignee = _user(assignee_id, "assignee")
    if assignee is not None and assignee.department_id != lead.pk:
        raise ValidationError(
            _("%(assignee)s is not a member of %(lead)s.") % {"assignee": assignee, "lead": lead},
            fields={"assignee": "not in the lead department"},
        )
    note = _text(note, "note", required=False)
    now = timezone.now()
    previous = complaint.lead_department_id
    complaint.lead_department = lead
    complaint.assignee = assignee
    complaint.cooperating_departments.set(cooperating)
    _move(
        complaint,
        Status.DISPATCHED,
        actor,
        now,
        EventKind.DISPATCHED,
        payload={
            "lead_department": lead.code,
            "previous_lead_department_id": previous,
            "cooperating_departments": [d.code for d in cooperating],
            "assignee": assignee.username if assignee else None,
            "note": note,
        },
        fields=["lead_department", "assignee"],
        origin=origin,
    )
    return complaint


@transaction.atomic
def complaint_assign(
    *,
    actor: User | None,
    complaint_id: int,
    assignee_id: int | None,
    expected_version: int | None = None,
    origin: Origin = SYSTEM,
) -> Complaint:
    """Give an open case to a person of its lead department (or take it away: ``None``)."""
    complaint = _lock(complaint_id, expected_version)
    access_complaint(actor, complaint, Cap.CASE_DISPATCH, origin=origin)
    if complaint.status not in OPEN:
        raise InvalidTransition(
            src=complaint.status,
            dst=complaint.status,
            message=_("Case %(case)s is no longer open.") % {"case": complaint},
        )
    assignee = _user(assignee_id, "assignee")
    if (
        assignee is not None
        and complaint.lead_department_id is not None
        and assignee.department_id != complaint.lead_department_id
    ):
        raise ValidationError(
            _("%(assignee)s is not a member of the lead department.") % {"assignee": assignee},
            fields={"assignee": "not in the lead department"},
        )
    if assignee is not None and assignee.pk == complaint.assignee_id:
        return complaint
    now = timezone.now()
    previous = complaint.assignee.username if complaint.assignee_id and complaint.assignee else None
    complaint.assignee = assignee
    _save(complaint, now, ["assignee"])
    _event(
        complaint,
        EventKind.ASSIGNED,
        actor,
        now,
        payload={"assignee": assignee.username if assignee else None, "previous": previous},
        origin=origin,
    )
    return complaint
