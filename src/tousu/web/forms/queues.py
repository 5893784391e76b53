"""Forms of the queue pages: the filters (GET) and the bulk actions (POST)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tousu.accounts.models import Department, Region, User
from tousu.common.names import in_active_language
from tousu.complaints.choices import Channel, Level
from tousu.complaints.models import Category
from tousu.complaints.queues import QueueFilters, sort_keys
from tousu.complaints.states import Status
from tousu.web.forms.widgets import FastSelect

ANY = [("", _("Any"))]
PAGE_SIZE = 25
MIN_PAGE_SIZE, MAX_PAGE_SIZE = 10, 100
MAX_BULK = 100


def _int(value: Any) -> int:
    return int(value)


def category_choices() -> list[tuple[int, str]]:
    """Top-level categories, each followed by its sub-categories (one query)."""
    rows = [
        (pk, parent_id, in_active_language(name, name_en))
        for pk, parent_id, name, name_en in Category.objects.order_by("sort_order", "code").values_list(
            "pk", "parent_id", "name", "name_en"
        )
    ]
    children: dict[int, list[tuple[int, str]]] = {}
    for pk, parent_id, name in rows:
        if parent_id is not None:
            children.setdefault(parent_id, []).append((pk, name))
    choices: list[tuple[int, str]] = []
    for pk, parent_id, name in rows:
        if parent_id is None:
            choices.append((pk, name))
            choices += [(child, f"{name} › {child_name}") for child, child_name in children.get(pk, [])]
    return choices


def department_choices() -> list[tuple[int, str]]:
    rows = Department.objects.filter(is_active=True).order_by("code").values_list("pk", "name", "name_en")
    return [(pk, in_active_language(name, name_en)) for pk, name, name_en in rows]


class QueueFilterForm(forms.Form):
    """Narrowing of a queue. Every field is optional; an invalid one is ignored, not fatal."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Ticket, phone or words"), "size": 22}
        ),
    )
    status = forms.ChoiceField(
        widget=FastSelect, label=_("Status"), required=False, choices=ANY + list(Status.choices)
    )
    level = forms.ChoiceField(
        widget=FastSelect, label=_("Level"), required=False, choices=ANY + list(Level.choices)
    )
    category = forms.TypedChoiceField(
        widget=FastSelect, label=_("Category"), required=False, coerce=_int, empty_value=None
    )
    channel = forms.ChoiceField(
        widget=FastSelect, label=_("Channel"), required=False, choices=ANY + list(Channel.choices)
    )
    department = forms.TypedChoiceField(
        widget=FastSelect, label=_("Lead department"), required=False, coerce=_int, empty_value=None
    )
    region = forms.TypedChoiceField(
        widget=FastSelect, label=_("Region"), required=False, coerce=_int, empty_value=None
    )
    registered_from = forms.DateField(
        label=_("Registered from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    registered_to = forms.DateField(
        label=_("Registered until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sort = forms.ChoiceField(required=False, widget=forms.HiddenInput, label=_("Order"))
    size = forms.IntegerField(
        label=_("Per page"),
        required=False,
        min_value=MIN_PAGE_SIZE,
        max_value=MAX_PAGE_SIZE,
        widget=forms.NumberInput(attrs={"class": "narrow-number"}),
    )

    def __init__(self, *args: Any, departments: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = ANY + category_choices()  # type: ignore[attr-defined]
        self.fields["department"].choices = ANY + departments  # type: ignore[attr-defined]
        regions = list(Region.objects.order_by("code").values_list("pk", "name"))
        self.fields["region"].choices = ANY + regions  # type: ignore[attr-defined]
        self.fields["sort"].choices = ANY + [(key, key) for key in sort_keys()]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("registered_from"), data.get("registered_to")
        if start and end and start > end:
            self.add_error("registered_to", _("The end date is before the start date."))
        return data

    def filters(self) -> QueueFilters:
        """The valid part of the input (call after ``is_valid()``; invalid fields are left out)."""
        data = getattr(self, "cleaned_data", {})
        return QueueFilters(
            status=data.get("status") or "",
            level=data.get("level") or "",
            category_id=data.get("category"),
            channel=data.get("channel") or "",
            department_id=data.get("department"),
            registered_from=data.get("registered_from"),
            registered_to=data.get("registered_to"),
            region_id=data.get("region"),
            q=(data.get("q") or "").strip(),
            sort=data.get("sort") or "",
        )

    def page_size(self) -> int:
        return getattr(self, "cleaned_data", {}).get("size") or PAGE_SIZE

    def ignored(self) -> list[tuple[str, str]]:
        """``(label, problem)`` for each field whose value was ignored."""
        return [
            (str(self.fields[name].label if name in self.fields else name), " ".join(str(e) for e in errors))
            for name, errors in self.errors.items()
        ]


class SavedViewForm(forms.Form):
    """Save the filters and order shown now as a named view (the address carries them)."""

    name = forms.CharField(label=_("View name"), max_length=60, widget=forms.TextInput(attrs={"size": 18}))
    shared = forms.BooleanField(label=_("Share with my team"), required=False)


class CaseIdsField(forms.Field):
    """The ids of the cases ticked in the table."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "invalid": _("The selection is not a list of cases."),
        "required": _("Select at least one case."),
    }

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            ids = [int(v) for v in value]
        except (TypeError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if len(ids) > MAX_BULK:
            raise forms.ValidationError(
                _("Select at most %(max)s cases at a time."), code="too_many", params={"max": MAX_BULK}
            )
        return list(dict.fromkeys(ids))


class BulkActionForm(forms.Form):
    """Assign the selected cases to a person, or dispatch them to a department (one case at a time)."""

    ASSIGN, DISPATCH = "assign", "dispatch"

    action = forms.ChoiceField(
        widget=FastSelect,
        label=_("Action"),
        choices=[(ASSIGN, _("Assign to")), (DISPATCH, _("Dispatch to"))],
    )
    department = forms.TypedChoiceField(
        widget=FastSelect, label=_("Department"), required=False, coerce=_int, empty_value=None
    )
    assignee = forms.TypedChoiceField(
        widget=FastSelect, label=_("Person"), required=False, coerce=_int, empty_value=None
    )
    cases = CaseIdsField(label=_("Cases"))

    def __init__(self, *args: Any, departments: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", "—"), *departments]  # type: ignore[attr-defined]
        groups: dict[str, list[tuple[int, str]]] = {}
        people = (
            User.objects.filter(is_active=True, department__isnull=False)
            .select_related("department")
            .order_by("department__code", "username")
        )
        for user in people:
            if user.department is not None and user.department.is_active:
                groups.setdefault(user.department.label, []).append((user.pk, str(user)))
        self.fields["assignee"].choices = [("", "—"), *groups.items()]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        action = data.get("action")
        if action == self.ASSIGN and data.get("assignee") is None and "assignee" not in self.errors:
            self.add_error("assignee", _("Choose the person to assign the cases to."))
        if action == self.DISPATCH and data.get("department") is None and "department" not in self.errors:
            self.add_error("department", _("Choose the department to dispatch the cases to."))
        return data

    def selected(self) -> set[int]:
        """The ticked ids as submitted (to keep the ticks when the form is shown again)."""
        ids = set()
        for value in self.data.getlist("cases") if hasattr(self.data, "getlist") else []:
            if str(value).isdigit():
                ids.add(int(value))
        return ids
