"""Who may see and act on which case. Every service and page goes through these helpers.

Two questions, always in this order: may this *role* do this kind of thing (capability), and may
this *person* touch this case (scope)? ``actor=None`` is no staff user: then the ``Origin`` says
which principal acts (an API key, the portal customer, the e-mail channel, the worker, a
command), and each may use only the capabilities listed for it in ``PRINCIPAL_CAPS``.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.accounts.roles import ALL_CASES_ROLES, Cap, Role
from tousu.common.errors import NotFound, PermissionDenied
from tousu.common.origin import SYSTEM, Origin
from tousu.complaints.models import Complaint
from tousu.complaints.states import Status

# Capabilities a cooperating department may use on a case it does not lead.
_COOPERATING_CAPS = frozenset({Cap.CASE_VIEW, Cap.CASE_NOTE, Cap.CASE_ESCALATE, Cap.CUSTOMER_REVEAL})

# What an all-cases scope covers by itself: reading. Acting needs the case in one's part of the process.
READ_CAPS = frozenset({Cap.CASE_VIEW})

# The part of the process each all-cases role (other than supervisors and managers) acts in.
ROLE_ACTING_STATES: dict[str, frozenset[Status]] = {
    # After the reply: the return visit, closing after it, reopening a dissatisfied customer's case.
    Role.RETURN_VISIT: frozenset({Status.REPLIED, Status.RETURN_VISIT}),
    Role.INSPECTOR: frozenset(),  # inspectors read
}
# … and, for some capabilities, a closed case too: a follow-up note, asking to reopen it (which
# the reopening service then reserves to supervisors, with a message saying so).
_ROLE_CLOSED_CAPS: dict[str, frozenset[Cap]] = {
    Role.RETURN_VISIT: frozenset({Cap.CASE_NOTE, Cap.CASE_REOPEN})
}


def role_acts_in(role: str, cap: Cap, status: str) -> bool:
    """Whether an all-cases ``role`` may use the acting ``cap`` on a case in ``status``."""
    if status in ROLE_ACTING_STATES.get(role, frozenset()):
        return True
    return status == Status.CLOSED and cap in _ROLE_CLOSED_CAPS.get(role, frozenset())


# What a principal that is no staff user may do, by ``Origin.kind``. The API key's own scope
# (read/write/admin) and channel are checked by ``tousu.api.services`` before any service runs.
# (A channel accepts what it registers itself: ``complaint_register(accept=True)``.)
_CUSTOMER = frozenset({Cap.CASE_VIEW, Cap.CASE_REGISTER, Cap.CASE_NOTE, Cap.CASE_WITHDRAW})
# The portal's satisfaction survey is the customer's own return visit.
_PORTAL = _CUSTOMER | {Cap.CASE_RETURN_VISIT}
PRINCIPAL_CAPS: dict[str, frozenset[Cap]] = {
    # The TMF621 API: the steps a PATCH of status or severity maps to (``api.services``).
    "api": frozenset(
        {
            Cap.CASE_VIEW,
            Cap.CASE_REGISTER,
            Cap.CASE_ACCEPT,
            Cap.CASE_HANDLE,
            Cap.CASE_NOTE,
            Cap.CASE_REPLY,
            Cap.CASE_CLOSE,
            Cap.CASE_WITHDRAW,
        }
    ),
    # The customer on the portal (their own case, proven by a one-time code) and by e-mail.
    "portal": _PORTAL,
    "email": _CUSTOMER - {Cap.CASE_WITHDRAW},
    # Intake of regulator referrals: registration and the escalation a referral calls for.
    "regulator": frozenset({Cap.CASE_VIEW, Cap.CASE_REGISTER, Cap.CASE_ESCALATE}),
    # The worker's SLA sweep: escalation and the reassignment a policy asks for.
    "worker": frozenset({Cap.CASE_VIEW, Cap.CASE_ESCALATE, Cap.CASE_DISPATCH}),
    # The classifier in the worker (``tousu.triage``): the level it predicts, the lead department its
    # routing rules name, the escalation a high risk calls for, links noted on the timeline.
    "triage": frozenset(
        {Cap.CASE_VIEW, Cap.CASE_HANDLE, Cap.CASE_DISPATCH, Cap.CASE_ESCALATE, Cap.CASE_NOTE}
    ),
    "system": frozenset({Cap.CASE_VIEW, Cap.CASE_ESCALATE}),
    "command": frozenset({Cap.CASE_VIEW}),
    "web": frozenset(),  # a web page always has a signed-in user
}

# The moves only the customer makes (their answer to a request for information).
CUSTOMER_KINDS = frozenset({"portal", "email"})


# Who changes a case's classification without a staff user: only the classifier. (An API key may
# handle a case, but its ticketType is kept as the client's and mapped, never a reclassification.)
RECLASSIFYING_KINDS = frozenset({"triage"})


def may_reclassify_without_user(origin: Origin) -> bool:
    """Whether a principal (no staff user) may reclassify a case: the classifier only."""
    return origin.kind in RECLASSIFYING_KINDS and principal_may(origin, Cap.CASE_HANDLE)


def principal_may(origin: Origin, cap: Cap) -> bool:
    """Whether the principal ``origin`` names (no staff user) may use ``cap``."""
    return cap in PRINCIPAL_CAPS.get(origin.kind, frozenset())


def complaint_in_scope(user: User, complaint: Complaint, cap: Cap = Cap.CASE_VIEW) -> bool:
    """True when ``user`` may use ``cap`` on this particular case (the capability itself aside)."""
    role = user.role
    if role in (Role.SUPERVISOR, Role.MANAGER):
        return True
    if role in ALL_CASES_ROLES:  # return-visit specialists and inspectors read every case …
        if cap in READ_CAPS:
            return True
        # … and act only in their part of the process.
        return role_acts_in(role, cap, complaint.status)
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


def access_complaint(actor: User | None, complaint: Complaint, cap: Cap, origin: Origin = SYSTEM) -> None:
    """Raise ``PermissionDenied`` unless ``actor`` may use ``cap`` on ``complaint``. Without a
    staff user, the principal ``origin`` names must be allowed ``cap`` (``PRINCIPAL_CAPS``)."""
    if actor is None:
        if not principal_may(origin, cap):
            raise PermissionDenied(
                _("%(who)s may not do this: %(action)s.") % {"who": origin.label, "action": cap.label}
            )
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
