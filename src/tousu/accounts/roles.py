"""Roles and what each may do. Pure data: no ORM, no domain imports.

A capability says *what kind* of action a role may take; *which objects* a user may touch (scope)
is decided by each domain's ``access_*`` helpers, which call ``require_capability`` first.
"""

from __future__ import annotations

from typing import Final

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    AGENT = "agent", _("Frontline agent")
    HANDLER = "handler", _("Department handler")
    RETURN_VISIT = "return_visit", _("Return-visit specialist")
    SUPERVISOR = "supervisor", _("Supervisor")
    MANAGER = "manager", _("Manager")
    INSPECTOR = "inspector", _("Quality inspector")
    AUDITOR = "auditor", _("Auditor")
    ADMIN = "admin", _("Administrator")
    PRIVACY_OFFICER = "privacy_officer", _("Privacy officer")


class Cap(models.TextChoices):
    """Capabilities checked by the services."""

    CASE_VIEW = "case.view", _("View cases in scope")
    CASE_REGISTER = "case.register", _("Register complaints")
    CASE_ACCEPT = "case.accept", _("Accept or reject complaints")
    CASE_DISPATCH = "case.dispatch", _("Dispatch cases to departments")
    CASE_HANDLE = "case.handle", _("Investigate, request information, propose plans")
    CASE_NOTE = "case.note", _("Add internal notes and evidence")
    CASE_REPLY = "case.reply", _("Reply to the customer")
    CASE_RETURN_VISIT = "case.return_visit", _("Record return visits")
    CASE_CLOSE = "case.close", _("Close cases")
    CASE_REOPEN = "case.reopen", _("Reopen cases")
    CASE_ESCALATE = "case.escalate", _("Escalate cases")
    CASE_WITHDRAW = "case.withdraw", _("Record a customer's withdrawal")
    CASE_SUPERVISE = "case.supervise", _("Act on every case (override first-contact and department scope)")
    REMEDY_REQUEST = "remedy.request", _("Request remedies")
    REMEDY_DECIDE = "remedy.decide", _("Approve or refuse remedies within one's limit")
    CUSTOMER_REVEAL = "customer.reveal", _("Reveal masked personal data")
    CUSTOMER_MERGE = "customer.merge", _("Merge customer records")
    CUSTOMER_BLACKLIST = "customer.blacklist", _("Blacklist abusive callers")
    AUDIT_READ = "audit.read", _("Read audit and access logs")
    CONFIG_EDIT = "config.edit", _("Edit configuration")
    SLA_EDIT = "sla.edit", _("Edit time limits and calendars")
    PRIVACY_ERASE = "privacy.erase", _("Erase a customer's personal data")
    PRIVACY_EXPORT = "privacy.export", _("Export everything held about a customer")
    PRIVACY_REQUEST_DECIDE = "privacy.request_decide", _("Approve or refuse data-subject requests")


_WORKING = {
    Cap.CASE_VIEW,
    Cap.CASE_NOTE,
    Cap.CASE_ESCALATE,
    Cap.CASE_REPLY,
    Cap.CUSTOMER_REVEAL,
}

CAPABILITIES: Final[dict[Role, frozenset[Cap]]] = {
    Role.AGENT: frozenset(
        _WORKING
        | {
            Cap.CASE_REGISTER,
            Cap.CASE_ACCEPT,
            Cap.CASE_DISPATCH,
            Cap.CASE_HANDLE,
            Cap.CASE_CLOSE,
            Cap.CASE_WITHDRAW,
            Cap.REMEDY_REQUEST,
            Cap.REMEDY_DECIDE,
        }
    ),
    Role.HANDLER: frozenset(
        _WORKING
        | {
            Cap.CASE_REGISTER,
            Cap.CASE_DISPATCH,
            Cap.CASE_HANDLE,
            Cap.CASE_WITHDRAW,
            Cap.REMEDY_REQUEST,
            Cap.REMEDY_DECIDE,
        }
    ),
    Role.RETURN_VISIT: frozenset(_WORKING | {Cap.CASE_RETURN_VISIT, Cap.CASE_CLOSE, Cap.CASE_REOPEN}),
    Role.SUPERVISOR: frozenset(
        _WORKING
        | {
            Cap.CASE_REGISTER,
            Cap.CASE_ACCEPT,
            Cap.CASE_DISPATCH,
            Cap.CASE_HANDLE,
            Cap.CASE_RETURN_VISIT,
            Cap.CASE_CLOSE,
            Cap.CASE_REOPEN,
            Cap.CASE_WITHDRAW,
            Cap.CASE_SUPERVISE,
            Cap.REMEDY_REQUEST,
            Cap.REMEDY_DECIDE,
            Cap.CUSTOMER_MERGE,
            Cap.CUSTOMER_BLACKLIST,
            Cap.SLA_EDIT,
        }
    ),
    Role.INSPECTOR: frozenset({Cap.CASE_VIEW}),
    Role.AUDITOR: frozenset({Cap.AUDIT_READ}),
    Role.ADMIN: frozenset({Cap.CONFIG_EDIT, Cap.SLA_EDIT, Cap.AUDIT_READ}),
    Role.PRIVACY_OFFICER: frozenset(
        {Cap.AUDIT_READ, Cap.PRIVACY_ERASE, Cap.PRIVACY_EXPORT, Cap.PRIVACY_REQUEST_DECIDE}
    ),
}
CAPABILITIES[Role.MANAGER] = CAPABILITIES[Role.SUPERVISOR]

# Roles whose case scope is every case (reading); others are limited by department or ownership.
ALL_CASES_ROLES: Final = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.RETURN_VISIT, Role.INSPECTOR})

# Default money limits (元) for approving remedies; the ApprovalLimit table overrides them.
DEFAULT_APPROVAL_LIMITS: Final[dict[Role, int | None]] = {
    Role.AGENT: 50,
    Role.HANDLER: 50,
    Role.SUPERVISOR: 500,
    Role.MANAGER: None,  # no upper limit
}


def role_has(role: str, cap: Cap) -> bool:
    try:
        return cap in CAPABILITIES[Role(role)]
    except ValueError:
        return False
