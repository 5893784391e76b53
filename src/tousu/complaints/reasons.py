"""Reasons the system writes itself (an automatic escalation), as codes rendered in the reader's
language.

An automatic escalation's event stores its cause as a code in ``trigger`` — ``threat``,
``level_<level>``, ``sla_breach:<clock kind>`` — and, for readers of the raw payload, the reason's
text in the language active when it was written. Pages render the reason from the code, so each
reader sees it in their own language, events written before this module included (their
``trigger`` has always been there). A manual escalation's reason is a person's words: kept as typed.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from tousu.complaints.choices import Level
from tousu.sla.models import ClockKind

THREAT = "threat"
LEVEL_PREFIX = "level_"
SLA_BREACH_PREFIX = "sla_breach:"


def level_trigger(level: str) -> str:
    return f"{LEVEL_PREFIX}{level}"


def sla_breach_trigger(clock_kind: str) -> str:
    return f"{SLA_BREACH_PREFIX}{clock_kind}"


def automatic_reason(trigger: object) -> str | None:
    """The reason for an automatic ``trigger`` in the active language; None for any other trigger
    (``manual``, a dissatisfied return visit: a person's words) or a code this version does not know."""
    code = str(trigger or "")
    if code == THREAT:
        return _("The customer threatens to go to the regulator, the media or a court.")
    if code.startswith(LEVEL_PREFIX):
        level = code.removeprefix(LEVEL_PREFIX)
        if level not in Level.values:
            return None
        return _("%(level)s complaints are escalated at once.") % {"level": Level(level).label}
    if code.startswith(SLA_BREACH_PREFIX):
        kind = code.removeprefix(SLA_BREACH_PREFIX)
        if kind not in ClockKind.values:
            return None
        return _("Deadline missed: %(clock)s.") % {"clock": ClockKind(kind).label}
    return None
