"""Phone numbers as identity: everything is stored in E.164 (+8613812348000)."""

from __future__ import annotations

import phonenumbers
from django.utils.translation import gettext as _

from tousu.common.errors import ValidationError

DEFAULT_REGION = "CN"


def normalize_phone(raw: str, *, field: str = "phone", region: str = DEFAULT_REGION) -> str:
    """Parse a number as a person types it (``138 1234 8000``, ``+86-138…``) into E.164.

    Raises ``ValidationError`` naming ``field`` when it is not a valid number.
    """
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("A phone number is required."), fields={field: "required"})
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("'%(text)s' is not a phone number.") % {"text": text}, fields={field: "not a phone number"}
        ) from None
    if parsed.extension:
        # A case is tied to the number itself; an extension would be dropped without a word.
        raise ValidationError(
            _("'%(text)s' has an extension; give the phone number without it.") % {"text": text},
            fields={field: "has an extension"},
        )
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            _("'%(text)s' is not a valid phone number.") % {"text": text},
            fields={field: "not a valid phone number"},
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
