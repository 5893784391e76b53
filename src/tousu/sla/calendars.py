"""Business-calendar arithmetic for SLA deadlines. Pure: no ORM, no I/O.

A calendar either counts every minute (24×7) or counts only its working windows on working days,
read in the calendar's own time zone. Working days follow the Chinese public holidays and make-up
working days (调休) published in ``chinese_calendar``; for a year the library has no data for,
Monday to Friday is the fallback, and ``uses_fallback`` says when that happened so a page can show it.
Days added by hand override both.

Datetimes in and out are aware; results are in UTC. Working time is real elapsed time, so a window
that a daylight-saving change shortens or lengthens counts what the clock on the wall really ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

# A window whose end is 00:00 runs to midnight at the end of its day: (time(0), time(0)) is the whole day.
MIDNIGHT: Final = time(0)

# How many days in a row may pass without one working minute before the arithmetic gives up.
MAX_IDLE_DAYS: Final = 3 * 366

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class CalendarSpec:
    """How one SLA clock counts time: 24×7, or working windows on working days.

    ``windows`` are local wall-clock times in ``time_zone``, in order and not overlapping.
    A day in ``extra_workdays`` is worked and a day in ``extra_holidays`` is off, whatever the
    holiday data says (``extra_workdays`` wins if a day is in both).
    """

    name: str
    time_zone: str = "Asia/Shanghai"
    always_open: bool = True
    windows: tuple[tuple[time, time], ...] = ()
    use_chinese_holidays: bool = True
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        _zone(self.time_zone)  # an unknown zone is refused now, not at the first deadline
        previous_end: time | None = None
        for start, end in self.windows:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError(
                    f"calendar {self.name!r}: window times are local wall-clock times, without tzinfo"
                )
            if end != MIDNIGHT and end <= start:
                raise ValueError(
                    f"calendar {self.name!r}: window {_hhmm(start)}–{_hhmm(end)} ends before it starts"
                )
            if previous_end is not None and (previous_end == MIDNIGHT or start < previous_end):
                raise ValueError(f"calendar {self.name!r}: windows must be in order and must not overlap")
            previous_end = end


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


@cache
def year_is_covered(year: int) -> bool:
    """Whether ``chinese_calendar`` has holiday and make-up day data for ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def uses_fallback(spec: CalendarSpec, day: date) -> bool:
    """True when the Monday-to-Friday fallback decided ``day``: Chinese holidays were wanted,
    the year has no data, and the day was not set by hand."""
    return (
        not spec.always_open
        and spec.use_chinese_holidays
        and day not in spec.extra_workdays
        and day not in spec.extra_holidays
        and not year_is_covered(day.year)
    )


def is_working_day(spec: CalendarSpec, day: date) -> bool:
    """Whether working windows open on ``day``. Every day counts on a 24×7 calendar."""
    if spec.always_open or day in spec.extra_workdays:
        return True
    if day in spec.extra_holidays:
        return False
    if spec.use_chinese_holidays and year_is_covered(day.year):
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


def working_day_length(spec: CalendarSpec) -> timedelta:
    """The nominal working time of one working day (24 hours on a 24×7 calendar).

    ``n * working_day_length(spec)`` turns a limit of "n working days" into an amount.
    """
    if spec.always_open:
        return timedelta(days=1)
    day = date(2001, 1, 1)  # any date: nominal lengths ignore daylight-saving changes
    return sum(
        (_naive_end(day, end) - datetime.combine(day, start) for start, end in spec.windows),
        timedelta(0),
    )


def add_business_time(spec: CalendarSpec, start: datetime, amount: timedelta) -> datetime:
    """The instant at which ``amount`` of working time has passed since ``start``, in UTC.

    From outside working time the count begins at the next window start; from a window's end it
    continues in the next window. A zero amount returns ``start`` itself. A deadline that uses up
    a window exactly falls at that window's end, not at the start of the next one.
    """
    since = _as_utc(start, "start")
    if amount < timedelta(0):
        raise ValueError(f"amount must not be negative, got {amount}")
    if spec.always_open or not amount:
        return since + amount
    _require_windows(spec)
    remaining = amount
    for begin, end in _intervals(spec, since):
        available = end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise AssertionError("unreachable: _intervals without an end raises when idle")  # pragma: no cover


def business_time_between(spec: CalendarSpec, start: datetime, end: datetime) -> timedelta:
    """The working time from ``start`` to ``end``; zero when ``end`` is not after ``start``."""
    since = _as_utc(start, "start")
    until = _as_utc(end, "end")
    if until <= since:
        return timedelta(0)
    if spec.always_open:
        return until - since
    _require_windows(spec)
    total = timedelta(0)
    for begin, finish in _intervals(spec, since, until):
        if begin >= until:
            break
        total += min(finish, until) - begin
    return total


def explain(spec: CalendarSpec) -> str:
    """One human sentence that says how the calendar counts."""
    if spec.always_open:
        return "24×7"
    hours = ", ".join(f"{_hhmm(start)}–{_hhmm(end, is_end=True)}" for start, end in spec.windows)
    parts = [f"working hours {hours or '(none)'} {spec.time_zone}"]
    if spec.use_chinese_holidays:
        parts += [
            "Chinese public holidays and make-up days",
            "weekday fallback for years without holiday data",
        ]
    else:
        parts.append("Monday to Friday")
    if spec.extra_holidays:
        parts.append(_count(len(spec.extra_holidays), "extra day off", "extra days off"))
    if spec.extra_workdays:
        parts.append(_count(len(spec.extra_workdays), "extra working day", "extra working days"))
    return ", ".join(parts)


def _as_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _require_windows(spec: CalendarSpec) -> None:
    if not spec.windows:
        raise ValueError(f"calendar {spec.name!r} is not 24×7 and has no working windows")


def _intervals(spec: CalendarSpec, since: datetime, until: datetime | None = None) -> Iterator[Interval]:
    """The working intervals (UTC) after ``since``, in order, the first one clipped to ``since``.

    One step per day; days off cost one lookup. With no ``until`` it runs until the caller stops,
    and raises ``ValueError`` after ``MAX_IDLE_DAYS`` days in a row without working time.
    """
    zone = _zone(spec.time_zone)
    day = since.astimezone(zone).date()
    last_day = None if until is None else until.astimezone(zone).date()
    idle_days = 0
    while last_day is None or day <= last_day:
        spans = [(max(begin, since), end) for begin, end in _day_intervals(spec, zone, day) if end > since]
        if spans:
            idle_days = 0
            yield from spans
        elif last_day is None:
            idle_days += 1
            if idle_days > MAX_IDLE_DAYS:
                raise ValueError(
                    f"calendar {spec.name!r} has no working time in the {MAX_IDLE_DAYS} days before {day}"
                )
        day += timedelta(days=1)


def _day_intervals(spec: CalendarSpec, zone: ZoneInfo, day: date) -> list[Interval]:
    if not is_working_day(spec, day):
        return []
    intervals = []
    for start, end in spec.windows:
        begin = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
        finish = _naive_end(day, end).replace(tzinfo=zone).astimezone(UTC)
        if begin < finish:  # a window swallowed by a daylight-saving gap counts nothing
            intervals.append((begin, finish))
    return intervals


def _naive_end(day: date, end: time) -> datetime:
    if end == MIDNIGHT:
        return datetime.combine(day + timedelta(days=1), MIDNIGHT)
    return datetime.combine(day, end)


def _hhmm(value: time, *, is_end: bool = False) -> str:
    if is_end and value == MIDNIGHT:
        return "24:00"
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
