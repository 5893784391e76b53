"""Masking of personal data for display and export (138****8000).

Every screen and export shows the masked form; the clear value is only returned by the reveal
services, which write an audit event.
"""

from __future__ import annotations


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
