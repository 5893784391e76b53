"""The small forms of the case page: one per action, each parsing what its service needs.

Field names are the names the services use in ``ValidationError.fields``, so a refusal from a
service lands next to the field it is about. Forms only parse input; the page calls the service.
Every form that changes the case carries the ``version`` it was rendered with: the service refuses
a stale form with a clear message instead of overwriting somebody else's change.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import Any, cast

from django import forms
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from tousu.accounts.models import Department, User
from tousu.accounts.roles import Role
from tousu.complaints.choices import Level, RejectionReason, RemedyKind, ReplyChannel, ResolutionKind
from tousu.complaints.models import Complaint
from tousu.complaints.states import MAX_ESCALATION_LEVEL, EscalationLevel, Status

TEXT_MAX = 10_000


def _text(label: Any, *, required: bool = True, rows: int = 2, help_text: Any = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=TEXT_MAX,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


def _person(user: User) -> str:
    return str(user)


class CaseOptions:
    """Choice lists some forms need, read once per page and only when a form asks for them."""

    def __init__(self, *, complaint: Complaint, actor: User, departments: list[Department]) -> None:
        self.complaint = complaint
        self.actor = actor
        self.all_departments = departments

    @cached_property
    def departments(self) -> list[tuple[int, str]]:
        return [(d.pk, d.label) for d in self.all_departments if d.is_active]

    def handlers_of(self, department_id: int | None) -> list[tuple[int, str]]:
        """Active handlers of one department: who may be assigned when it leads the case."""
        if department_id is None or department_id not in dict(self.departments):
            return []
        users = User.objects.filter(is_active=True, role=Role.HANDLER, department_id=department_id)
        return [(u.pk, _person(u)) for u in users.order_by("username")]

    @cached_property
    def responsible(self) -> list[tuple[int, str]]:
        """Who can be named responsible for a plan: the acting person and the lead department's staff."""
        scope = Q(pk=self.actor.pk)
        if self.complaint.lead_department_id is not None:
            scope |= Q(department_id=self.complaint.lead_department_id)
        users = User.objects.filter(scope, is_active=True).order_by("username")
        return [(u.pk, _person(u)) for u in users]


class CaseActionForm(forms.Form):
    """Base of the action forms: knows its case, its actor and the version it was shown with."""

    versioned = True
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(
        self,
        data: Any = None,
        files: Any = None,
        *,
        complaint: Complaint,
        actor: User,
        options: CaseOptions,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, files, **kwargs)
        self.complaint = complaint
        self.actor = actor
        self.options = options
        if self.versioned:
            self.fields["version"].initial = complaint.version
        else:
            del self.fields["version"]
        self.adapt()

    def adapt(self) -> None:
        """Adjust fields to this case (choices, what is required)."""

    def choice_field(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])


class AcceptForm(CaseActionForm):
    pass


class RejectForm(CaseActionForm):
    reason = forms.ChoiceField(label=_("Reason"), choices=RejectionReason.choices)
    explanation = _text(_("Explanation given to the customer"), rows=3)


class DispatchForm(CaseActionForm):
    lead_department = forms.TypedChoiceField(label=_("Lead department"), coerce=int)
    cooperating_departments = forms.TypedMultipleChoiceField(
        label=_("Cooperating departments"),
        coerce=int,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    assignee = forms.TypedChoiceField(
        label=_("Assignee"),
        coerce=int,
        required=False,
        empty_value=None,
        help_text=_("A handler of the lead department; leave empty to let the department pick it up."),
    )
    note = _text(_("Note"), required=False)

    def adapt(self) -> None:
        departments = self.options.departments
        self.choice_field("lead_department").choices = [("", "—"), *departments]
        self.fields["lead_department"].widget.attrs.update(
            {
                "hx-get": reverse("case-assignees", args=[self.complaint.pk]),
                "hx-target": f"#{str(self.auto_id) % self.add_prefix('assignee')}",
                "hx-swap": "innerHTML",
            }
        )
        self.choice_field("cooperating_departments").choices = departments
        if self.complaint.lead_department_id is not None:
            self.fields["lead_department"].initial = self.complaint.lead_department_id
        # The assignee list follows the chosen lead department (the page swaps it when the
        # department changes); the service refuses anyone outside that department all the same.
        self.choice_field("assignee").choices = [
            ("", "—"),
            *self.options.handlers_of(self.chosen_department()),
        ]

    def chosen_department(self) -> int | None:
        if self.is_bound:
            raw = self.data.get(self.add_prefix("lead_department"), "")
            return int(raw) if str(raw).isdigit() else None
        return self.complaint.lead_department_id


class InvestigateForm(CaseActionForm):
    note = _text(_("Note"), required=False)

    def adapt(self) -> None:
        if self.complaint.status == Status.AWAITING_CUSTOMER:
            self.fields["note"].required = True
            self.fields["note"].label = _("The customer's answer")


class NoteForm(CaseActionForm):
    versioned = False  # a note changes nothing on the case; it is welcome whatever happened meanwhile
    text = _text(_("Internal note"), rows=3, help_text=_("Never shown to the customer."))


class LinkCustomerForm(CaseActionForm):
    """The customer of a case filed without a contact: found (or created) by phone, e-mail or WeChat id."""

    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    customer_name = forms.CharField(label=_("Name"), max_length=100, required=False)
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False)
    wechat_id = forms.CharField(label=_("WeChat id"), max_length=64, required=False)


class RequestInfoForm(CaseActionForm):
    question = _text(
        _("Question to the customer"), help_text=_("The case's clocks pause until the customer answers.")
    )


class PlanForm(CaseActionForm):
    kind = forms.ChoiceField(label=_("Resolution kind"), choices=ResolutionKind.choices)
    measures = _text(_("Measures"), rows=3)
    responsible = forms.TypedChoiceField(label=_("Responsible person"), coerce=int)
    deadline = forms.DateTimeField(
        label=_("Deadline"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def adapt(self) -> None:
        self.choice_field("responsible").choices = self.options.responsible
        self.fields["responsible"].initial = self.actor.pk


class RemedyForm(CaseActionForm):
    kind = forms.ChoiceField(label=_("Remedy"), choices=RemedyKind.choices)
    amount = forms.DecimalField(
        label=_("Amount (元)"),
        min_value=Decimal(0),
        max_digits=12,
        decimal_places=2,
        initial=Decimal(0),
        help_text=_("Refunds, fee waivers and compensation only; above your limit it waits for approval."),
    )
    description = _text(_("Description"), required=False)


class DecideForm(CaseActionForm):
    """Approve or refuse one pending remedy (the button pressed says which)."""

    versioned = False  # the remedy's own state is the guard: a decided remedy refuses a second decision
    remedy = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("refuse", _("Refuse"))], widget=forms.HiddenInput
    )
    note = _text(_("Decision note"), required=False, help_text=_("Required to refuse."))


class ReplyForm(CaseActionForm):
    channel = forms.ChoiceField(label=_("Reply channel"), choices=ReplyChannel.choices)
    content = _text(
        _("Reply"), rows=4, help_text=_("Conclusion, basis, plan and its execution, as told to the customer.")
    )
    first_contact_resolution = forms.BooleanField(
        label=_("First-contact resolution (answered during the first contact)"), required=False
    )

    def adapt(self) -> None:
        self.fields["channel"].initial = self.complaint.preferred_reply_channel
        if self.complaint.status == Status.ACCEPTED:
            self.fields["first_contact_resolution"].initial = True
        else:
            del self.fields["first_contact_resolution"]


_YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def _yes(value: str) -> bool:
    return value == "yes"


class ReturnVisitForm(CaseActionForm):
    reached = forms.TypedChoiceField(
        label=_("Customer reached"), choices=_YES_NO, coerce=_yes, widget=forms.RadioSelect
    )
    resolved = forms.TypedChoiceField(
        label=_("Problem resolved"),
        choices=[("", "—"), *_YES_NO],
        coerce=_yes,
        required=False,
        empty_value=None,
    )
    satisfaction = forms.TypedChoiceField(
        label=_("Satisfaction (1–5)"),
        choices=[("", "—"), *[(str(n), str(n)) for n in range(1, 6)]],
        coerce=int,
        required=False,
        empty_value=None,
    )
    comment = _text(_("Comment"), required=False)


class ReopenForm(CaseActionForm):
    reason = _text(_("Reason"))


class EscalateForm(CaseActionForm):
    to_level = forms.TypedChoiceField(label=_("Escalate to"), coerce=int, required=False, empty_value=None)
    reason = _text(_("Reason"))

    def adapt(self) -> None:
        current = self.complaint.escalation_level
        self.choice_field("to_level").choices = [
            (level.value, level.label)
            for level in EscalationLevel
            if current < level.value <= MAX_ESCALATION_LEVEL
        ]


class ChangeLevelForm(CaseActionForm):
    level = forms.ChoiceField(label=_("Level"), choices=Level.choices)
    reason = _text(_("Reason"))

    def adapt(self) -> None:
        self.fields["level"].initial = self.complaint.level


class ReclassifyForm(CaseActionForm):
    """Category and level of the case: e-mail cases wait here to be classified by staff."""

    category = forms.TypedChoiceField(label=_("Category"), coerce=int)
    level = forms.ChoiceField(label=_("Level"), choices=Level.choices)
    reason = _text(_("Reason"))

    def adapt(self) -> None:
        from tousu.complaints.models import Category

        leaves = Category.objects.filter(is_active=True, children__isnull=True).select_related("parent")
        choices = sorted((str(c), c.pk) for c in leaves)
        self.choice_field("category").choices = [(pk, label) for label, pk in choices]
        self.fields["category"].initial = self.complaint.category_id
        self.fields["level"].initial = self.complaint.level


class FlagThreatForm(CaseActionForm):
    note = _text(_("What the customer said"))


class WithdrawForm(CaseActionForm):
    reason = _text(_("Reason"))


class CloseForm(CaseActionForm):
    note = _text(_("Note"), required=False)


class UploadForm(forms.Form):
    file = forms.FileField(label=_("Evidence file"))
