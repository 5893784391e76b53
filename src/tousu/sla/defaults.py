"""The default calendars, time limits and level rules of DOMAIN.md, loaded by ``tousu bootstrap``
(and by ``tousu seed``). Idempotent: existing rows, edited or not, are left as they are."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Model

from tousu.sla.models import Area, BusinessCalendar, ClockKind, LevelRule, SlaPolicy
from tousu.sla.services import categories, sla_config_changed
from tousu.vocabulary.choices import Channel, Level
from tousu.vocabulary.events import EventKind as E
from tousu.vocabulary.states import Status

HOUR = 60
DAY = 24 * HOUR

CALENDARS: list[dict[str, Any]] = [
    {"name": "24×7", "always_open": True, "windows": [], "use_chinese_holidays": False},
    {
        "name": "工作时间 Working hours",
        "always_open": False,
        "windows": [["09:00", "12:00"], ["13:30", "18:00"]],
        "use_chinese_holidays": True,
    },
    {
        "name": "工作日 Working days",
        "always_open": False,
        "windows": [["00:00", "00:00"]],  # the whole day, on working days only
        "use_chinese_holidays": True,
    },
]

LEVELS = [
    (Level.DISSATISFIED, Decimal(20), 0, 30),
    (Level.VERY_DISSATISFIED, Decimal(30), 0, 20),
    (Level.MAJOR, Decimal(50), 2, 10),
    (Level.CRISIS, Decimal(80), 3, 10),
]

AWAITING = [Status.AWAITING_CUSTOMER.value]


def _policies(cal: dict[str, BusinessCalendar], outage: Model | None) -> list[dict[str, Any]]:
    always, hours, days = cal["24×7"], cal["工作时间 Working hours"], cal["工作日 Working days"]
    rows: list[dict[str, Any]] = []
    for order, (level, _penalty, _esc, minutes) in enumerate(LEVELS):
        rows.append(
            {
                "name": f"首次响应 First response · {level.label}",
                "clock": ClockKind.FIRST_RESPONSE,
                "order": 10 + order,
                "match_levels": [level.value],
                "start_on": E.REGISTERED,
                "stop_on": [E.ACCEPTED, E.REJECTED, E.WITHDRAWN],
                "target_minutes": minutes,
                "calendar": always,
                "warn_percent": 50,
            }
        )
    rows += [
        {
            "name": "二次响应 Second response 24 h",
            "clock": ClockKind.SECOND_RESPONSE,
            "start_on": E.DISPATCHED,
            "stop_on": [E.PLAN_PROPOSED, E.REPLIED],
            "pause_in": AWAITING,
            "target_minutes": 24 * HOUR,
            "calendar": always,
            "warn_percent": 75,
        },
        {
            "name": "15日答复 Reply within 15 days",
            "clock": ClockKind.REPLY,
            "start_on": E.REGISTERED,
            "stop_on": [E.REPLIED, E.REJECTED],
            "pause_in": AWAITING,
            "target_minutes": 15 * DAY,
            "calendar": always,
            "warn_lead_minutes": 2 * DAY,
        },
        {
            "name": "监管转办受理 Regulator referral: accept within 5 working days",
            "clock": ClockKind.REGULATOR_ACCEPT,
            "match_channels": [Channel.REGULATOR.value],
            "start_on": E.REGISTERED,
            "stop_on": [E.ACCEPTED, E.REJECTED],
            "target_minutes": 5 * DAY,
            "calendar": days,
            "warn_lead_minutes": DAY,
        },
        {
            "name": "监管转办答复 Regulator referral: answer within 30 days",
            "clock": ClockKind.REGULATOR_ANSWER,
            "match_channels": [Channel.REGULATOR.value],
            "start_on": E.REGISTERED,
            "stop_on": [E.REPLIED, E.REJECTED],
            "pause_in": AWAITING,
            "target_minutes": 30 * DAY,
            "calendar": always,
            "warn_lead_minutes": 3 * DAY,
        },
        {
            "name": "回访 Return visit within 3 days",
            "clock": ClockKind.RETURN_VISIT,
            "start_on": E.REPLIED,
            "stop_on": [E.RETURN_VISIT, E.CLOSED],
            "target_minutes": 3 * DAY,
            "calendar": always,
            "warn_percent": 75,
            "escalate_on_breach": False,
        },
        {
            "name": "补偿审批 Remedy approval within 4 working hours",
            "clock": ClockKind.REMEDY_APPROVAL,
            "start_on": E.REMEDY_REQUESTED,
            "stop_on": [E.REMEDY_APPROVED, E.REMEDY_REFUSED],
            "target_minutes": 4 * HOUR,
            "calendar": hours,
            "warn_percent": 50,
            "escalate_on_breach": False,
        },
    ]
    if outage is not None:
        for order, (area, hours_limit, label) in enumerate(
            [(Area.RURAL, 72, "农村 rural 72 h"), (Area.URBAN, 48, "城镇 urban 48 h"), (Area.ANY, 48, "48 h")]
        ):
            rows.append(
                {
                    "name": f"故障修复 Fault repair · {label}",
                    "clock": ClockKind.REPAIR,
                    "order": 10 + order,
                    "match_category": outage,
                    "match_area": area,
                    "start_on": E.REGISTERED,
                    "stop_on": [E.REPLIED],
                    "pause_in": AWAITING,
                    "target_minutes": hours_limit * HOUR,
                    "calendar": always,
                    "warn_percent": 75,
                }
            )
    return rows


@transaction.atomic
def sla_bootstrap() -> int:
    """Create what is missing of the defaults. Returns how many policies were created."""
    calendars = {}
    for spec in CALENDARS:
        calendars[spec["name"]], _ = BusinessCalendar.objects.get_or_create(
            name=spec["name"], defaults={k: v for k, v in spec.items() if k != "name"}
        )
    for level, penalty, escalate_to, _minutes in LEVELS:
        LevelRule.objects.get_or_create(
            level=level, defaults={"breach_penalty": penalty, "escalate_to_level": escalate_to}
        )
    outage = categories().filter(code="network-outage").first()
    created = 0
    for row in _policies(calendars, outage):
        _, made = SlaPolicy.objects.get_or_create(name=row.pop("name"), defaults=row)
        created += made
    sla_config_changed()
    transaction.on_commit(sla_config_changed)
    return created
