"""The hotline registration form: parses what the agent typed; the services decide the rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from tousu.common.errors import TousuError, ValidationError
from tousu.common.phone import normalize_phone
from tousu.complaints.choices import BusinessType, Channel, Level, ReplyChannel


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files. They are only collected here: ``attachment_add`` accepts or refuses
    each one after the case is registered."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data]
        return [f for f in files if f]


class RegisterForm(forms.Form):
    """One complaint taken on the phone. Field names follow ``complaint_register`` so the errors
    it raises land next to the right field."""

    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.HOTLINE)
    phone = forms.CharField(
        label=_("Caller's number"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"type": "tel", "autocomplete": "off", "autofocus": True, "inputmode": "tel"}
        ),
    )
    customer_name = forms.CharField(label=_("Customer name"), max_length=100, required=False)
    service_number = forms.CharField(label=_("Service number"), max_length=40, required=False)
    # The id of the chosen category: a hidden input filled by the type-to-find picker, or (without
    # JavaScript) the plain <select> named ``category_choice``.
    category = forms.IntegerField(label=_("Category"), required=False, widget=forms.HiddenInput)
    category_choice = forms.IntegerField(required=False)
    level = forms.ChoiceField(label=_("Level"), choices=Level.choices, initial=Level.DISSATISFIED)
    business_type = forms.ChoiceField(
        label=_("Business type"), choices=BusinessType.choices, initial=BusinessType.MOBILE
    )
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}))
    demand = forms.CharField(
        label=_("Customer's demand"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    preferred_reply_channel = forms.ChoiceField(
        label=_("Preferred reply channel"), choices=ReplyChannel.choices, initial=ReplyChannel.PHONE
    )
    threatens_external = forms.BooleanField(
        label=_("Threatens to go to the regulator, the media or a court"), required=False
    )
    attachments = MultipleFileField(label=_("Evidence files"))
    first_contact_resolution = forms.BooleanField(label=_("Resolved at first contact"), required=False)
    fcr_reply = forms.CharField(
        label=_("Answer given to the caller"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    # Where an error named by a service belongs on this form, per service step.
    SERVICE_FIELDS: Mapping[str, Mapping[str, str]] = {
        "register": {"email": "phone", "wechat_id": "phone", "region": "phone"},
        "reply": {"content": "fcr_reply", "channel": "fcr_reply", "first_contact_resolution": "fcr_reply"},
        "close": {"note": "fcr_reply"},
    }

    def clean_phone(self) -> str:
        raw: str = self.cleaned_data["phone"]
        try:
            normalize_phone(raw)
        except ValidationError as exc:
            raise forms.ValidationError(exc.message, code="phone") from None
        return raw.strip()

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        chosen = data.get("category_choice") or data.get("category")
        if chosen is None and "category" not in self.errors:
            self.add_error("category", _("Choose a category."))
        data["category"] = chosen
        if data.get("first_contact_resolution") and not (data.get("fcr_reply") or "").strip():
            self.add_error("fcr_reply", _("Write the answer given to the caller."))
        return data

    def add_service_error(self, error: TousuError, *, step: str = "register") -> None:
        """Put a refusal from a service next to the field it names (else at the top of the form)."""
        aliases = self.SERVICE_FIELDS.get(step, {})
        names = getattr(error, "fields", {}) or {}
        placed = False
        for name in names:
            field = aliases.get(name, name)
            if field in self.fields and field != "category_choice":
                self.add_error(field, error.message)
                placed = True
                break
        if not placed:
            self.add_error(None, error.message)
