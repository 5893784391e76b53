"""The ``{name}`` fields a reply template may use, and how each is read from the case. A template
that names a field the case lacks is refused with the list of what is missing: a message is never
sent with a hole in it."""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tousu.accounts.models import User
from tousu.common.errors import ValidationError
from tousu.common.masking import mask_phone
from tousu.complaints.models import Complaint, Remedy, ResolutionPlan
from tousu.vocabulary.choices import MONEY_REMEDIES, RemedyStatus

REPLY_DAYS = 15  # the operator answers within 15 days (电信用户申诉处理办法)

Getter = Callable[[Complaint, User | None], str]


def _date(value) -> str:  # type: ignore[no-untyped-def,unused-ignore]
    return timezone.localtime(value).strftime("%Y-%m-%d") if value else ""


def _amount(complaint: Complaint, actor: User | None) -> str:
    remedy = (
        Remedy.objects.filter(
            complaint=complaint, status=RemedyStatus.APPROVED, kind__in=list(MONEY_REMEDIES)
        )
        .order_by("-id")
        .first()
    )
    return f"{remedy.amount:.2f}" if remedy is not None else ""


def _due_date(complaint: Complaint, actor: User | None) -> str:
    plan = ResolutionPlan.objects.filter(complaint=complaint).order_by("-created_at", "-id").first()
    return _date(plan.deadline) if plan is not None else ""


VARIABLES: dict[str, tuple[object, Getter]] = {
    "ticket_no": (gettext_lazy("the ticket number"), lambda c, a: c.ticket_no or ""),
    "customer_title": (
        gettext_lazy("the customer's name"),
        lambda c, a: (c.customer.name if c.customer is not None else "") or "",
    ),
    "service_number": (
        gettext_lazy("the service number (masked)"),
        lambda c, a: mask_phone(c.service_number),
    ),
    "category": (gettext_lazy("the category"), lambda c, a: c.category.name if c.category_id else ""),
    "business_type": (gettext_lazy("the business type"), lambda c, a: c.get_business_type_display()),
    "department": (
        gettext_lazy("the lead department"),
        lambda c, a: c.lead_department.name if c.lead_department is not None else "",
    ),
    "amount": (gettext_lazy("the approved refund or compensation amount"), _amount),
    "due_date": (gettext_lazy("the resolution plan's deadline"), _due_date),
    "reply_deadline": (
        gettext_lazy("the date the reply is due (15 days after registration)"),
        lambda c, a: _date(c.registered_at + timedelta(days=REPLY_DAYS)),
    ),
    "agent_name": (gettext_lazy("your name"), lambda c, a: str(a) if a is not None else ""),
    "today": (gettext_lazy("today's date"), lambda c, a: _date(timezone.now())),
}


def template_fields(body: str) -> list[str]:
    """The ``{name}`` fields ``body`` uses, in order, each once. Raises ``ValidationError`` for a
    field that is not one of ``VARIABLES`` or for unbalanced braces."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as exc:
        raise ValidationError(
            _("The template's braces do not match: %(problem)s.") % {"problem": exc},
            fields={"body": "bad braces"},
        ) from exc
    for _literal, name, _spec, _conv in parsed:
        if name is None:
            continue
        if name not in VARIABLES:
            raise ValidationError(
                _("The template uses {%(name)s}, which is not a known field; use one of: %(known)s.")
                % {"name": name, "known": ", ".join(f"{{{k}}}" for k in VARIABLES)},
                fields={"body": "unknown field"},
            )
        if name not in names:
            names.append(name)
    return names


def case_values(complaint: Complaint, actor: User | None, names: list[str]) -> dict[str, str]:
    return {name: VARIABLES[name][1](complaint, actor) for name in names}


def fill(body: str, complaint: Complaint, actor: User | None) -> str:
    """``body`` with its fields filled from the case. Refused (``ValidationError``) when the case
    lacks one of them, naming each missing field."""
    names = template_fields(body)
    values = case_values(complaint, actor, names)
    missing = [name for name in names if not values[name]]
    if missing:
        raise ValidationError(
            _("This template cannot be used on case %(case)s yet; the case lacks: %(missing)s.")
            % {
                "case": complaint,
                "missing": "; ".join(f"{VARIABLES[n][0]} ({{{n}}})" for n in missing),
            },
            fields={"template": "missing " + ",".join(missing)},
        )
    return body.format_map(values)
