"""Business-calendar arithmetic: exact deadlines, Chinese holidays and 调休, fallback, round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tousu.sla.calendars import (
    MAX_IDLE_DAYS,
    CalendarSpec,
    add_business_time,
    business_time_between,
    explain,
    is_working_day,
    uses_fallback,
    working_day_length,
    year_is_covered,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = CalendarSpec(
    "office",
    always_open=False,
    windows=((time(9), time(12)), (time(13, 30), time(18))),
)
ROUND_CLOCK = CalendarSpec("24x7")
WEEKDAYS_ONLY = CalendarSpec(
    "weekdays", always_open=False, windows=OFFICE.windows, use_chinese_holidays=False
)
WHOLE_WORKING_DAYS = CalendarSpec("whole days", always_open=False, windows=((time(0), time(0)),))


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def add(spec: CalendarSpec, start: datetime, **amount: float) -> datetime:
    return add_business_time(spec, start, timedelta(**amount))


# --- working windows ---------------------------------------------------------------------------


def test_it_continues_after_the_lunch_break():
    # Monday 2026-03-02, 11:30 + 1 h: 30 min before lunch, 30 min after 13:30.
    assert add(OFFICE, sh(2026, 3, 2, 11, 30), hours=1) == sh(2026, 3, 2, 14, 0)


def test_it_returns_utc():
    due = add(OFFICE, sh(2026, 3, 2, 11, 30), hours=1)

    assert due.tzinfo is UTC
    assert due == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def test_it_skips_the_night_and_the_weekend():
    # Friday 17:30 + 2 h: 30 min on Friday, then Monday 09:00 + 1 h 30.
    friday = sh(2026, 3, 6, 17, 30)

    assert add(OFFICE, friday, hours=2) == sh(2026, 3, 9, 10, 30)
    assert business_time_between(OFFICE, friday, sh(2026, 3, 9, 10, 30)) == timedelta(hours=2)


def test_it_starts_outside_working_time_at_the_next_window():
    assert add(OFFICE, sh(2026, 3, 2, 7, 0), hours=1) == sh(2026, 3, 2, 10, 0)
    assert add(OFFICE, sh(2026, 3, 2, 12, 45), minutes=10) == sh(2026, 3, 2, 13, 40)
    assert add(OFFICE, sh(2026, 3, 7, 10, 0), minutes=10) == sh(2026, 3, 9, 9, 10)  # a Saturday


def test_a_start_at_a_window_end_continues_in_the_next_window():
    assert add(OFFICE, sh(2026, 3, 2, 12, 0), hours=1) == sh(2026, 3, 2, 14, 30)
    assert add(OFFICE, sh(2026, 3, 2, 18, 0), hours=1) == sh(2026, 3, 3, 10, 0)


def test_a_deadline_that_uses_up_a_window_falls_at_its_end():
    assert add(OFFICE, sh(2026, 3, 2, 17, 0), hours=1) == sh(2026, 3, 2, 18, 0)
    assert add(OFFICE, sh(2026, 3, 2, 9, 0), hours=3) == sh(2026, 3, 2, 12, 0)


def test_a_zero_amount_returns_the_start_inside_and_outside_working_time():
    assert add(OFFICE, sh(2026, 3, 2, 10, 15), hours=0) == sh(2026, 3, 2, 10, 15)
    assert add(OFFICE, sh(2026, 3, 7, 23, 59), hours=0) == sh(2026, 3, 7, 23, 59)


def test_a_working_day_is_the_sum_of_its_windows():
    assert working_day_length(OFFICE) == timedelta(hours=7, minutes=30)
    assert working_day_length(WHOLE_WORKING_DAYS) == timedelta(days=1)
    assert working_day_length(ROUND_CLOCK) == timedelta(days=1)


def test_it_counts_working_time_between_two_instants():
    monday = sh(2026, 3, 2, 0, 0)

    assert business_time_between(OFFICE, monday, sh(2026, 3, 3, 0, 0)) == timedelta(hours=7, minutes=30)
    assert business_time_between(OFFICE, monday, sh(2026, 3, 9, 0, 0)) == timedelta(hours=37, minutes=30)
    assert business_time_between(OFFICE, sh(2026, 3, 2, 11, 0), sh(2026, 3, 2, 14, 0)) == timedelta(
        hours=1, minutes=30
    )
    assert business_time_between(OFFICE, sh(2026, 3, 2, 12, 5), sh(2026, 3, 2, 13, 25)) == timedelta(0)


def test_it_counts_nothing_backwards():
    start = sh(2026, 3, 2, 10, 0)

    assert business_time_between(OFFICE, start, start) == timedelta(0)
    assert business_time_between(OFFICE, start, sh(2026, 3, 2, 9, 30)) == timedelta(0)
    assert business_time_between(ROUND_CLOCK, start, sh(2026, 3, 1, 9, 30)) == timedelta(0)


def test_the_time_zone_of_the_input_does_not_matter():
    in_utc = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)  # 11:30 in Shanghai

    assert add(OFFICE, in_utc, hours=1) == sh(2026, 3, 2, 14, 0)
    new_york = in_utc.astimezone(ZoneInfo("America/New_York"))
    assert add(OFFICE, new_york, hours=1) == sh(2026, 3, 2, 14, 0)


def test_windows_are_read_in_the_calendars_time_zone():
    london = CalendarSpec("london", time_zone="Europe/London", always_open=False, windows=OFFICE.windows)

    # 2026-03-02 09:00 in London (GMT) is 17:00 in Shanghai.
    assert add(london, sh(2026, 3, 2, 12, 0), hours=1) == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_daylight_saving_changes_count_real_elapsed_time():
    # Europe/London: 2025-03-30 01:00 GMT jumps to 02:00 BST; 2025-10-26 02:00 BST falls back to 01:00 GMT.
    spring, autumn = date(2025, 3, 30), date(2025, 10, 26)
    night = CalendarSpec(
        "night",
        time_zone="Europe/London",
        always_open=False,
        windows=((time(0, 30), time(2, 30)),),
        use_chinese_holidays=False,
        extra_workdays=frozenset({spring, autumn}),  # both are Sundays
    )
    london = ZoneInfo("Europe/London")

    def whole(day: date) -> timedelta:
        midnight = datetime.combine(day, time(0), tzinfo=london)
        return business_time_between(night, midnight, midnight + timedelta(days=1))

    assert whole(spring) == timedelta(hours=1)
    assert whole(autumn) == timedelta(hours=3)
    midnight = datetime.combine(spring, time(0), tzinfo=london)
    # The short window runs 00:30 GMT to 02:30 BST (01:30 UTC); the rest goes on Monday at 00:30 BST.
    assert add(night, midnight, minutes=60) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert add(night, midnight, minutes=90) == datetime(2025, 3, 31, 0, 0, tzinfo=UTC)


# --- Chinese holidays and 调休 -----------------------------------------------------------------


def test_national_day_week_is_skipped():
    # 2026-09-30 17:00 + 5 working days: 1 h on the 30th, 10-01..07 off, then 10-08, 10-09,
    # Saturday 10-10 (make-up day), Sunday off, 10-12, and 6 h 30 of 10-13.
    registered = sh(2026, 9, 30, 17, 0)

    assert [d for d in _days(date(2026, 10, 1), date(2026, 10, 7)) if is_working_day(OFFICE, d)] == []
    assert add_business_time(OFFICE, registered, 5 * working_day_length(OFFICE)) == sh(2026, 10, 13, 17, 0)
    assert add_business_time(WHOLE_WORKING_DAYS, registered, timedelta(days=5)) == sh(2026, 10, 13, 17, 0)
    assert add(OFFICE, registered, hours=1) == sh(2026, 9, 30, 18, 0)
    assert add(OFFICE, registered, hours=1, minutes=1) == sh(2026, 10, 8, 9, 1)


def test_make_up_weekend_days_of_2026_count_as_work():
    make_up = [
        d
        for d in chinese_calendar.get_workdays(date(2026, 1, 1), date(2026, 12, 31), include_weekends=True)
        if d.weekday() >= 5
    ]

    assert date(2026, 10, 10) in make_up
    for day in make_up:
        assert is_working_day(OFFICE, day), day
        assert not uses_fallback(OFFICE, day)
        assert _whole_day(OFFICE, day) == timedelta(hours=7, minutes=30), day
        assert _whole_day(WEEKDAYS_ONLY, day) == timedelta(0), day


def test_a_make_up_saturday_counts():
    # Friday 2026-10-09 17:00 + 2 h: 1 h on Friday, 1 h on the make-up Saturday 10-10.
    assert add(OFFICE, sh(2026, 10, 9, 17, 0), hours=2) == sh(2026, 10, 10, 10, 0)
    # The next Saturday is an ordinary day off.
    assert add(OFFICE, sh(2026, 10, 16, 17, 0), hours=2) == sh(2026, 10, 19, 10, 0)


def test_public_holidays_of_2026_are_off():
    holidays = [
        d for d in chinese_calendar.get_holidays(date(2026, 1, 1), date(2026, 12, 31)) if d.weekday() < 5
    ]

    assert date(2026, 10, 1) in holidays
    for day in holidays:
        assert not is_working_day(OFFICE, day), day
        assert _whole_day(OFFICE, day) == timedelta(0), day


# --- years without data --------------------------------------------------------------------------


def test_years_the_library_covers():
    assert year_is_covered(2004)
    assert year_is_covered(2026)
    assert not year_is_covered(2003)
    assert not year_is_covered(2030)


def test_a_year_without_data_uses_weekdays_only():
    national_day_2030 = date(2030, 10, 1)  # a Tuesday

    assert uses_fallback(OFFICE, national_day_2030)
    assert is_working_day(OFFICE, national_day_2030)
    assert not is_working_day(OFFICE, date(2030, 10, 5))  # Saturday
    assert add(OFFICE, sh(2030, 9, 30, 17, 0), hours=7, minutes=30) == sh(2030, 10, 1, 17, 0)
    assert add(OFFICE, sh(2030, 10, 4, 17, 0), hours=2) == sh(2030, 10, 7, 10, 0)


def test_the_fallback_is_only_reported_when_it_decided():
    assert not uses_fallback(OFFICE, date(2026, 10, 1))  # covered year
    assert not uses_fallback(WEEKDAYS_ONLY, date(2030, 10, 1))  # weekdays are the rule, not a fallback
    assert not uses_fallback(ROUND_CLOCK, date(2030, 10, 1))  # days do not matter
    by_hand = CalendarSpec(
        "by hand",
        always_open=False,
        windows=OFFICE.windows,
        extra_workdays=frozenset({date(2030, 10, 5)}),
        extra_holidays=frozenset({date(2030, 10, 1)}),
    )
    assert not uses_fallback(by_hand, date(2030, 10, 5))
    assert not uses_fallback(by_hand, date(2030, 10, 1))


def test_weekdays_only_ignores_chinese_holidays():
    assert is_working_day(WEEKDAYS_ONLY, date(2026, 10, 1))
    assert not is_working_day(WEEKDAYS_ONLY, date(2026, 10, 10))


# --- days set by hand ----------------------------------------------------------------------------


def test_days_set_by_hand_override_everything():
    spec = CalendarSpec(
        "by hand",
        always_open=False,
        windows=OFFICE.windows,
        extra_holidays=frozenset({date(2026, 3, 3), date(2030, 10, 2), date(2026, 3, 4)}),
        extra_workdays=frozenset({date(2026, 10, 1), date(2026, 3, 7), date(2026, 3, 4)}),
    )

    assert not is_working_day(spec, date(2026, 3, 3))  # an ordinary Tuesday
    assert not is_working_day(spec, date(2030, 10, 2))  # fallback year
    assert is_working_day(spec, date(2026, 10, 1))  # National Day
    assert is_working_day(spec, date(2026, 3, 7))  # an ordinary Saturday
    assert is_working_day(spec, date(2026, 3, 4))  # in both: the working day wins
    # Monday 17:00 + 2 h: 1 h on Monday, Tuesday off by hand, 1 h on Wednesday.
    assert add(spec, sh(2026, 3, 2, 17, 0), hours=2) == sh(2026, 3, 4, 10, 0)
    assert add(spec, sh(2026, 9, 30, 17, 0), hours=2) == sh(2026, 10, 1, 10, 0)


# --- 24×7 ----------------------------------------------------------------------------------------


def test_round_the_clock_adds_plain_time():
    assert add(ROUND_CLOCK, sh(2026, 11, 23, 10, 0), days=15) == sh(2026, 12, 8, 10, 0)
    assert add(ROUND_CLOCK, sh(2026, 9, 30, 17, 0), hours=24) == sh(2026, 10, 1, 17, 0)
    assert add(ROUND_CLOCK, sh(2026, 9, 30, 17, 0), hours=0).tzinfo is UTC
    assert business_time_between(ROUND_CLOCK, sh(2026, 9, 30, 17, 0), sh(2026, 10, 8, 9, 0)) == timedelta(
        days=7, hours=16
    )
    assert is_working_day(ROUND_CLOCK, date(2026, 10, 1))


def test_round_the_clock_adds_real_time_across_daylight_saving():
    new_york = ZoneInfo("America/New_York")
    before = datetime(2025, 3, 8, 12, 0, tzinfo=new_york)  # EST; clocks go forward on the 9th

    assert add(ROUND_CLOCK, before, hours=24) == datetime(2025, 3, 9, 17, 0, tzinfo=UTC)


# --- refusals ------------------------------------------------------------------------------------


def test_naive_datetimes_are_refused():
    naive = datetime(2026, 3, 2, 10, 0)  # noqa: DTZ001
    aware = sh(2026, 3, 2, 10, 0)

    with pytest.raises(ValueError, match="start must be timezone-aware"):
        add(OFFICE, naive, hours=1)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        add(ROUND_CLOCK, naive, hours=1)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        business_time_between(OFFICE, naive, aware)
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        business_time_between(OFFICE, aware, naive)


def test_negative_amounts_are_refused():
    with pytest.raises(ValueError, match="must not be negative"):
        add(OFFICE, sh(2026, 3, 2, 10, 0), seconds=-1)
    with pytest.raises(ValueError, match="must not be negative"):
        add(ROUND_CLOCK, sh(2026, 3, 2, 10, 0), days=-1)


def test_a_calendar_without_windows_is_refused():
    empty = CalendarSpec("empty", always_open=False)

    with pytest.raises(ValueError, match="'empty' is not 24×7 and has no working windows"):
        add(empty, sh(2026, 3, 2, 10, 0), hours=1)
    with pytest.raises(ValueError, match="no working windows"):
        business_time_between(empty, sh(2026, 3, 2, 10, 0), sh(2026, 3, 3, 10, 0))


def test_a_calendar_without_working_days_gives_up_instead_of_looping():
    closed = CalendarSpec(
        "closed",
        always_open=False,
        windows=OFFICE.windows,
        extra_holidays=frozenset(
            _days(date(2026, 1, 1), date(2026, 1, 1) + timedelta(days=MAX_IDLE_DAYS + 1))
        ),
    )

    with pytest.raises(ValueError, match=f"'closed' has no working time in the {MAX_IDLE_DAYS} days"):
        add(closed, sh(2026, 1, 1, 0, 0), minutes=1)
    # Counting over a bounded range is not a loop risk: it simply finds nothing.
    assert business_time_between(closed, sh(2026, 1, 1, 0, 0), sh(2028, 1, 1, 0, 0)) == timedelta(0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"time_zone": "Asia/Nowhere"}, "unknown time zone 'Asia/Nowhere'"),
        ({"windows": ((time(12), time(9)),)}, "window 12:00–09:00 ends before it starts"),
        ({"windows": ((time(9), time(9)),)}, "ends before it starts"),
        ({"windows": ((time(9), time(12)), (time(11), time(18)))}, "in order and must not overlap"),
        ({"windows": ((time(13), time(18)), (time(9), time(12)))}, "in order and must not overlap"),
        ({"windows": ((time(9), time(0)), (time(1), time(2)))}, "in order and must not overlap"),
        ({"windows": ((time(9, tzinfo=UTC), time(12)),)}, "without tzinfo"),
    ],
)
def test_malformed_calendars_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        CalendarSpec("bad", always_open=False, **fields)


# --- explain -------------------------------------------------------------------------------------


def test_it_explains_itself():
    assert explain(ROUND_CLOCK) == "24×7"
    assert explain(OFFICE) == (
        "working hours 09:00–12:00, 13:30–18:00 Asia/Shanghai, Chinese public holidays and make-up days, "
        "weekday fallback for years without holiday data"
    )
    assert explain(WEEKDAYS_ONLY) == "working hours 09:00–12:00, 13:30–18:00 Asia/Shanghai, Monday to Friday"
    by_hand = CalendarSpec(
        "by hand",
        always_open=False,
        windows=((time(0), time(0)),),
        use_chinese_holidays=False,
        extra_holidays=frozenset({date(2026, 3, 3)}),
        extra_workdays=frozenset({date(2026, 3, 7), date(2026, 3, 14)}),
    )
    assert explain(by_hand) == (
        "working hours 00:00–24:00 Asia/Shanghai, Monday to Friday, 1 extra day off, 2 extra working days"
    )


# --- properties ----------------------------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 (hypothesis bounds are naive)
    max_value=datetime(2027, 12, 31, 23, 59),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, SHANGHAI, ZoneInfo("America/New_York")]),
)
amounts = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40))
no_fixture_reset = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)


@no_fixture_reset
@given(spec=st.sampled_from([OFFICE, ROUND_CLOCK]), start=starts, amount=amounts)
def test_adding_then_measuring_gives_the_amount_back(spec, start, amount):
    due = add_business_time(spec, start, amount)

    assert due.tzinfo is UTC
    assert due >= start
    assert business_time_between(spec, start, due) == amount


@no_fixture_reset
@given(spec=st.sampled_from([OFFICE, ROUND_CLOCK]), a=starts, b=starts, c=starts)
def test_working_time_adds_up_over_consecutive_ranges(spec, a, b, c):
    a, b, c = sorted([a, b, c])

    assert business_time_between(spec, a, b) + business_time_between(spec, b, c) == business_time_between(
        spec, a, c
    )


# --- helpers -------------------------------------------------------------------------------------


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _whole_day(spec: CalendarSpec, day: date) -> timedelta:
    midnight = datetime.combine(day, time(0), tzinfo=SHANGHAI)
    return business_time_between(spec, midnight, midnight + timedelta(days=1))


@pytest.mark.django_db
def test_the_missing_year_warning_says_what_to_do_and_stops_once_the_days_are_entered(
    monkeypatch, time_machine
):
    from tousu.sla import checks as sla_checks
    from tousu.sla.defaults import sla_bootstrap
    from tousu.sla.models import BusinessCalendar, CalendarDay

    time_machine.move_to(datetime(2026, 12, 4, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
    monkeypatch.setattr(sla_checks, "year_is_covered", lambda year: year <= 2026)
    sla_bootstrap()
    [warning] = sla_checks.holiday_data_check()
    assert warning.id == "tousu.W001"
    assert (
        warning.msg
        == "The chinesecalendar package has no public-holiday data for 2027, and none was entered by hand."
    )
    assert "国务院办公厅关于2027年部分节假日安排的通知" in warning.hint
    assert "/admin/sla/businesscalendar/" in warning.hint
    assert "tousu sla_recompute --as <username>" in warning.hint
    calendars = list(BusinessCalendar.objects.filter(always_open=False, use_chinese_holidays=True))
    assert len(calendars) >= 1
    for calendar in calendars[1:]:
        CalendarDay.objects.create(calendar=calendar, day=date(2027, 1, 1), note="元旦")
    assert [w.id for w in sla_checks.holiday_data_check()] == ["tousu.W001"]  # one calendar still lacks them
    CalendarDay.objects.create(calendar=calendars[0], day=date(2027, 1, 1), note="元旦")
    assert sla_checks.holiday_data_check() == []
