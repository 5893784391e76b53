"""Masking of personal data for display and export (138****8000).

Every screen and export shows the masked form; the clear value is only returned by the reveal
services, which write an audit event.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable


def _mask_middle(text: str, keep_start: int, keep_end: int) -> str:
    if not text:
        return ""
    if len(text) <= keep_start + keep_end:
        # Too short to keep both ends: show only the last third.
        visible = max(1, len(text) // 3)
        return "*" * (len(text) - visible) + text[-visible:]
    end = text[len(text) - keep_end :] if keep_end else ""
    return text[:keep_start] + "*" * (len(text) - keep_start - keep_end) + end


def mask_phone(value: str) -> str:
    """``+8613812348000`` or ``13812348000`` → ``138****8000``; other numbers keep 3 + 4 digits."""
    if not value:
        return ""
    digits = value
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("+"):
        digits = digits[1:]
    return _mask_middle(digits, 3, 4)


def mask_id_number(value: str) -> str:
    """A Chinese resident ID (18 characters) → ``110***********123X``."""
    return _mask_middle(value, 3, 4)


def mask_email(value: str) -> str:
    """``zhangsan@example.com`` → ``z***@example.com``."""
    if "@" not in value:
        return _mask_middle(value, 1, 0)
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_name(value: str) -> str:
    """``张三丰`` → ``张**``; ``Li Wei`` → ``L*****``."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1)


def mask_account(value: str) -> str:
    """Service numbers and account ids: a phone-like number is masked as a phone."""
    if value.lstrip("+").isdigit():
        return mask_phone(value)
    return _mask_middle(value, 2, 3)


# --- personal data inside free text ----------------------------------------------------------------
#
# Descriptions, demands, notes and replies are typed by people, who put phone numbers, ID-card
# numbers, bank cards and e-mail addresses in them. ``mask_text`` finds each of these and masks it
# as the fields are masked; every output (pages, exports, the API, webhooks) shows its result unless
# the text was revealed (audited). A digit run is only taken for an ID or a card when its checksum
# holds, so order numbers and amounts stay readable.

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# A run of digits, possibly grouped by single spaces or dashes (6222 0212 3456 7890), optionally
# after +86 / 86; an ID card may end in X. Letters or digits right before or after make it part of
# another token (a ticket number), which is left alone.
_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[ \-]?)?\d(?:[ \-]?\d){6,22}[Xx]?(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def is_id_card_number(value: str) -> bool:
    """A mainland resident ID number (18 characters) whose check character (GB 11643) holds."""
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] in "Xx"):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def is_bank_card_number(value: str) -> bool:
    """13 to 19 digits whose Luhn check digit holds."""
    if not (13 <= len(value) <= 19 and value.isdigit()):
        return False
    total = 0
    for i, ch in enumerate(reversed(value)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_mobile_number(value: str) -> bool:
    """A mainland mobile number, with or without the 86 country code."""
    digits = value.removeprefix("+").removeprefix("86") if len(value) > 11 else value
    return len(digits) == 11 and digits.isdigit() and digits[0] == "1" and digits[1] in "3456789"


def mask_bank_card(value: str) -> str:
    """``6222021234567890123`` → ``6222***********0123``."""
    return _mask_middle(value, 4, 4)


def _mask_number(match: re.Match[str]) -> str:
    found = match.group(0)
    compact = re.sub(r"[ \-]", "", found)
    if is_id_card_number(compact):
        return mask_id_number(compact)
    if is_mobile_number(compact):
        return mask_phone(compact if not compact.startswith("86") else "+" + compact)
    if is_bank_card_number(compact):
        return mask_bank_card(compact)
    return found


def mask_text(text: str) -> str:
    """Free text with every phone number, ID-card number, bank card and e-mail address masked:
    ``请回电13812348000`` → ``请回电138****8000``."""
    if not text:
        return text
    text = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)), text)
    return _NUMBER_RE.sub(_mask_number, text)


def erase_values(text: str, values: Iterable[str], replacement: str = "[erased]") -> str:
    """``text`` with each of ``values`` (a phone in any common spelling, an ID, an address…)
    replaced, for erasure: the identifiers a customer asked to be forgotten leave no trace."""
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        text = re.sub(re.escape(value), replacement, text, flags=re.IGNORECASE)
    return text


def identity_digest(value: str) -> str:
    """A keyed hash of an identifier (``hmac-sha256:…``): the same value always gives the same
    digest, so records can still be matched, but the value cannot be read back or guessed from a
    list of phone numbers without the site's secret key."""
    from django.conf import settings

    key = str(settings.SECRET_KEY).encode()
    return "hmac-sha256:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]
