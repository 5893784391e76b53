"""A system check that warns administrators when holiday data runs out (``tousu check``)."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.db import DatabaseError
from django.utils import timezone

from tousu.sla.calendars import year_is_covered


def _entered_by_hand(year: int) -> bool:
    """Every calendar that counts Chinese holidays has days of ``year`` entered by hand (the
    administrator loaded the official schedule). False when the tables cannot be read yet."""
    from tousu.sla.models import BusinessCalendar, CalendarDay

    try:
        calendars = set(
            BusinessCalendar.objects.filter(always_open=False, use_chinese_holidays=True).values_list(
                "pk", flat=True
            )
        )
        if not calendars:
            return True  # nothing counts Chinese holidays: nothing is missing
        entered = set(
            CalendarDay.objects.filter(calendar_id__in=calendars, day__year=year).values_list(
                "calendar_id", flat=True
            )
        )
    except DatabaseError:  # not migrated yet
        return False
    return calendars <= entered


@checks.register(checks.Tags.compatibility)
def holiday_data_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    year = timezone.localdate().year
    missing = [y for y in (year, year + 1) if not year_is_covered(y) and not _entered_by_hand(y)]
    if not missing:
        return []
    years = ", ".join(map(str, missing))
    return [
        checks.Warning(
            f"The chinesecalendar package has no public-holiday data for {years}, and none was entered by hand.",
            hint=(
                f"Until then, working-day deadlines in {years} count Monday to Friday. When the State Council "
                f"publishes the year's schedule (国务院办公厅关于{missing[0]}年部分节假日安排的通知, usually in "
                "November), enter each public holiday and each make-up working day (调休, 'working day' ticked) "
                "in the administration under Business calendars (/admin/sla/businesscalendar/), in each calendar "
                "that counts Chinese holidays, then run `tousu sla_recompute --as <username>` so running "
                "deadlines move. Or "
                "upgrade chinesecalendar once a release covers the year. This warning stops once either is done."
            ),
            id="tousu.W001",
        )
    ]
