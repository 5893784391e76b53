"""Who may see and act on which case. Every service and page goes through these helpers.

Two questions, always in this order: may this *role* do this kind of thing (capability), and may
this *person* touch this case (scope)? ``actor=None`` is the system (worker, channel intake).
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import ALL_CASES_ROLES, Cap, Role
from tousu.common.errors import NotFound, PermissionDenied
from tousu.complaints.models import Complaint

# Capabilities a cooperating department may use on a case it does not lead.
_COOPERATING_CAPS = frozenset({Cap.CASE_VIEW, Cap.CASE_NOTE, Cap.CASE_ESCALATE, Cap.CUSTOMER_REVEAL})


def complaint_in_scope(user: User, complaint: Complaint, cap: Cap = Cap.CASE_VIEW) -> bool:
    """True when ``user`` may use ``cap`` on this particular case (the capability itself aside)."""
    role = user.role
    if role in (Role.SUPERVISOR, Role.MANAGER):
        return True
    if role in ALL_CASES_ROLES:  # return-visit specialists and inspectors see every case
        return True
    uid = user.pk
    if complaint.assignee_id == uid:
        return True
    if role == Role.AGENT:
        return uid in (complaint.registered_by_id, complaint.first_contact_owner_id)
    if role == Role.HANDLER and user.department_id is not None:
        if complaint.lead_department_id == user.department_id:
            return True
        if cap in _COOPERATING_CAPS:
            return complaint.cooperating_departments.filter(pk=user.department_id).exists()
    return False


def access_complaint(actor: User | None, complaint: Complaint, cap: Cap) -> None:
    """Raise ``PermissionDenied`` unless ``actor`` may use ``cap`` on ``complaint``."""
    if actor is None:
        return
    if not actor.is_active:
        raise PermissionDenied(_("Your account is disabled."))
    if not actor.can(cap):
        raise PermissionDenied(
            _("Your role (%(role)s) may not do this: %(action)s.")
            % {"role": actor.get_role_display(), "action": cap.label}
        )
    if not complaint_in_scope(actor, complaint, cap):
        raise PermissionDenied(
            _("This case is outside your scope: it belongs to another department or agent.")
        )


def access_complaint_by_id(actor: User | None, complaint_id: int, cap: Cap = Cap.CASE_VIEW) -> Complaint:
    """Fetch a case for reading, checked. Unknown ids and out-of-scope cases both refuse clearly."""
    complaint = (
        Complaint.objects.select_related("customer", "category", "category__parent")
        .filter(pk=complaint_id)
        .first()
    )
    if complaint is None:
        raise NotFound(_("No such case."))
    access_complaint(actor, complaint, cap)
    return complaint


def visible_complaints_q(user: User) -> Q:
    """A filter selecting the cases ``user`` may see, for lists and queues."""
    if not user.is_active or not user.can(Cap.CASE_VIEW):
        return Q(pk__in=[])
    if user.role in ALL_CASES_ROLES:
        return Q()
    mine = Q(assignee_id=user.pk)
    if user.role == Role.AGENT:
        return mine | Q(registered_by_id=user.pk) | Q(first_contact_owner_id=user.pk)
    if user.role == Role.HANDLER and user.department_id is not None:
        cooperating = Complaint.cooperating_departments.through.objects.filter(
            department_id=user.department_id
        )
        return mine | Q(lead_department_id=user.department_id) | Q(pk__in=cooperating.values("complaint_id"))
    return mine
