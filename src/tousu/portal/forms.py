"""The portal's forms: they parse what a customer typed; the case services decide the rest."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from tousu.common.errors import TousuError, ValidationError
from tousu.common.phone import normalize_phone
from tousu.complaints import attachments
from tousu.complaints.choices import BusinessType, ReplyChannel
from tousu.complaints.models import Category

REPLY_CHANNELS = [
    (ReplyChannel.SMS.value, ReplyChannel.SMS.label),
    (ReplyChannel.EMAIL.value, ReplyChannel.EMAIL.label),
]
SATISFACTION = [(str(n), str(n)) for n in range(5, 0, -1)]


def _phone(raw: str) -> str:
    try:
        normalize_phone(raw)
    except ValidationError as exc:
        raise forms.ValidationError(exc.message, code="phone") from None
    return raw.strip()


def leaf_categories() -> QuerySet[Category]:
    """Categories a complaint may be filed under: active, without active sub-categories."""
    return (
        Category.objects.filter(is_active=True)
        .exclude(children__is_active=True)
        .select_related("parent")
        .order_by("parent__sort_order", "parent__code", "sort_order", "code")
    )


def category_label(category: Category) -> str:
    return category.label or category.code


def category_choices() -> list[tuple[Any, Any]]:
    """Leaf categories grouped under their parent, for a <select> with <optgroup>s."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for category in leaf_categories():
        parent = category_label(category.parent) if category.parent else ""
        groups.setdefault(parent, []).append((category.pk, category_label(category)))
    choices: list[tuple[Any, Any]] = [("", _("Choose…"))]
    for parent, leaves in groups.items():
        if parent:
            choices.append((parent, leaves))
        else:
            choices.extend(leaves)
    return choices


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class EvidenceField(forms.FileField):
    """Up to ``TOUSU_PORTAL_MAX_FILES`` evidence files, checked here as ``attachment_add`` will
    check them again (size, and the content must match the extension), so a refused file is
    reported on the form before anything is written."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        limit = settings.TOUSU_PORTAL_MAX_FILES
        if len(files) > limit:
            raise forms.ValidationError(_("Attach at most %(limit)s files.") % {"limit": limit})
        errors = []
        for upload in files:
            name = upload.name or ""
            extension = name.rsplit(".", 1)[1].lower() if "." in name else ""
            if upload.size is not None and upload.size > settings.TOUSU_ATTACHMENT_MAX_BYTES:
                errors.append(
                    _("'%(name)s' is too large (more than %(mb)s MB).")
                    % {"name": name, "mb": settings.TOUSU_ATTACHMENT_MAX_BYTES // (1024 * 1024)}
                )
                continue
            head = upload.read(512)
            upload.seek(0)
            if not head or attachments.sniff(extension, head) is None:
                errors.append(
                    _("'%(name)s' is not accepted: use a picture, PDF, document, audio or text file.")
                    % {"name": name}
                )
        if errors:
            raise forms.ValidationError(errors)
        return files


class FileForm(forms.Form):
    """A complaint filed by the customer. Field names follow ``complaint_register``."""

    customer_name = forms.CharField(label=_("Your name"), max_length=100)
    phone = forms.CharField(
        label=_("Mobile phone number"),
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )
    service_number = forms.CharField(
        label=_("Service number concerned"),
        max_length=40,
        required=False,
        help_text=_("The phone, broadband or account number the complaint is about, if different."),
    )
    business_type = forms.ChoiceField(
        label=_("Service"), choices=BusinessType.choices, initial=BusinessType.MOBILE
    )
    category = forms.TypedChoiceField(label=_("What is it about?"), coerce=int, choices=())
    description = forms.CharField(
        label=_("What happened?"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5})
    )
    demand = forms.CharField(
        label=_("What would you like us to do?"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    preferred_reply_channel = forms.ChoiceField(
        label=_("How should we answer you?"),
        choices=REPLY_CHANNELS,
        initial=ReplyChannel.SMS,
        widget=forms.RadioSelect,
    )
    email = forms.EmailField(
        label=_("E-mail address"),
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text=_("Needed if you want our answer by e-mail."),
    )
    attachments = EvidenceField(label=_("Evidence (pictures, bills, recordings)"))
    # A field people never see: a bot that fills every input gives itself away.
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices()  # type: ignore[attr-defined]
        self.fields["website"].widget.attrs.update({"autocomplete": "off", "tabindex": "-1"})

    def clean_phone(self) -> str:
        return _phone(self.cleaned_data["phone"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("preferred_reply_channel") == ReplyChannel.EMAIL and not data.get("email"):
            self.add_error("email", _("Give your e-mail address to get our answer by e-mail."))
        return data

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))

    def add_service_error(self, error: TousuError) -> None:
        """Put a refusal from a service next to the field it names (else at the top)."""
        for name in getattr(error, "fields", {}) or {}:
            if name in self.fields:
                self.add_error(name, error.message)
                return
        self.add_error(None, error.message)


class TrackForm(forms.Form):
    ticket_no = forms.CharField(
        label=_("Ticket number"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
    )
    phone = forms.CharField(
        label=_("Mobile phone number you gave"),
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )

    def clean_ticket_no(self) -> str:
        return "".join(self.cleaned_data["ticket_no"].split()).upper()

    def clean_phone(self) -> str:
        return _phone(self.cleaned_data["phone"])


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the SMS"),
        max_length=10,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*"}
        ),
    )


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=_("Your answer"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )


class EvidenceForm(forms.Form):
    """More evidence for a case already filed (checked as when filing)."""

    attachments = EvidenceField(label=_("Add evidence (pictures, bills, recordings)"), required=True)


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you withdraw it? (optional)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class SurveyForm(forms.Form):
    resolved = forms.TypedChoiceField(
        label=_("Is your problem resolved?"),
        choices=[("yes", _("Yes")), ("no", _("No"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    satisfaction = forms.TypedChoiceField(
        label=_("How satisfied are you with how we handled it? (5 = very satisfied, 1 = very dissatisfied)"),
        choices=SATISFACTION,
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything else you want to tell us? (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
