"""Small display helpers shared by every page."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

from tousu.common.masking import mask_text as _mask_text

register = template.Library()


@register.filter
def mask_text(value: object) -> str:
    """Free text with phones, ID-card numbers, bank cards and e-mail addresses masked (PIPL)."""
    return _mask_text(str(value)) if value is not None else ""


@register.filter
def business_duration(value: timedelta | None) -> str:
    """``timedelta(hours=26, minutes=5)`` → ``1d 2h 05min``; negative values read "overdue …"."""
    if value is None:
        return ""
    total = int(value.total_seconds())
    sign, total = ("-", -total) if total < 0 else ("", total)
    minutes = total // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("%(n)sd") % {"n": days})
    if hours or days:
        parts.append(_("%(n)sh") % {"n": hours})
    parts.append(_("%(n)smin") % {"n": f"{mins:02d}" if (hours or days) else mins})
    text = " ".join(parts)
    return _("overdue %(time)s") % {"time": text} if sign else text


@register.filter
def can(user: object, capability: str) -> bool:
    """``{% if user|can:"customer.merge" %}``: whether the signed-in user has this capability."""
    check = getattr(user, "can", None)
    return bool(check is not None and check(capability))


@register.simple_tag(takes_context=True)
def query_with(context: template.Context, **changes: object) -> str:
    """The current query string with some parameters replaced (for pagination and sorting links)."""
    request = context["request"]
    params = request.GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + params.urlencode() if params else "?"
