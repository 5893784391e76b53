"""A system check that warns administrators when holiday data runs out (``tousu check``)."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.utils import timezone

from tousu.sla.calendars import year_is_covered


@checks.register(checks.Tags.compatibility)
def holiday_data_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    year = timezone.localdate().year
    missing = [y for y in (year, year + 1) if not year_is_covered(y)]
    if not missing:
        return []
    return [
        checks.Warning(
            f"The chinesecalendar package has no public-holiday data for {', '.join(map(str, missing))}.",
            hint=(
                "Working-day deadlines in those years count Monday to Friday. Upgrade chinesecalendar when a new "
                "release is out, or add the holidays and make-up working days by hand under Business calendars."
            ),
            id="tousu.W001",
        )
    ]
