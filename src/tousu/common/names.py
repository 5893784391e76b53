"""Names kept as data in two languages (categories, departments): one language at a time."""

from __future__ import annotations

from django.utils.translation import get_language


def in_active_language(name: str, name_en: str) -> str:
    """``name_en`` while the English UI is active and it is set, else the Chinese ``name``."""
    if name_en and (get_language() or "").startswith("en"):
        return name_en
    return name
