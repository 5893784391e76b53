"""The forms of the role homes: the return-visit outcome and a remedy decision from the approvals.

They only parse input; the pages call the services (``return_visit_record``, ``remedy_decide``),
whose refusals land next to the field they name.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

TEXT_MAX = 10_000

_YES_NO = [("yes", _("Yes")), ("no", _("No"))]
SATISFACTION = [
    ("5", _("5 · very satisfied")),
    ("4", _("4 · satisfied")),
    ("3", _("3 · acceptable")),
    ("2", _("2 · dissatisfied")),
    ("1", _("1 · very dissatisfied")),
]


def _yes(value: str) -> bool:
    return value == "yes"


class ReturnVisitOutcomeForm(forms.Form):
    """The outcome of one return-visit call: reached or not; if reached, resolved or not and the
    customer's satisfaction (1–5: 3 or more with the problem resolved is satisfied)."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    reached = forms.TypedChoiceField(
        label=_("Customer reached"), choices=_YES_NO, coerce=_yes, widget=forms.RadioSelect
    )
    resolved = forms.TypedChoiceField(
        label=_("Problem resolved"),
        choices=_YES_NO,
        coerce=_yes,
        required=False,
        empty_value=None,
        widget=forms.RadioSelect,
    )
    satisfaction = forms.TypedChoiceField(
        label=_("Satisfaction"),
        choices=SATISFACTION,
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comments"), required=False, max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reached") is False:
            # Not reached: whatever was ticked below does not count (the service refuses an outcome).
            data["resolved"] = None
            data["satisfaction"] = None
        return data


class RemedyDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("refuse", _("Refuse"))])
    note = forms.CharField(label=_("Decision note"), required=False, max_length=TEXT_MAX)
