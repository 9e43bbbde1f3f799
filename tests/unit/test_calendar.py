"""Business calendar behaviour on named cases: boundaries, holidays, DST, night shifts, closures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflow.domain.calendar import BusinessCalendar, ClosedDay, ClosedPeriod, Window

LA = ZoneInfo("America/Los_Angeles")
H = timedelta(hours=1)
WEEKDAY_HOURS = {day: [Window(time(6), time(16, 30))] for day in range(5)}
# What the packaged default closes in 2026-2027 (US holidays by name, observed days included).
HOLIDAYS_2026_2027 = [
    date(2026, 1, 1), date(2026, 5, 25), date(2026, 7, 3), date(2026, 7, 4), date(2026, 9, 7),
    date(2026, 11, 26), date(2026, 12, 25), date(2027, 1, 1), date(2027, 5, 31),
    date(2027, 7, 4), date(2027, 7, 5), date(2027, 9, 6), date(2027, 11, 25), date(2027, 12, 24),
    date(2027, 12, 25), date(2027, 12, 31),
]  # fmt: skip


def default_calendar(
    extra_days: Sequence[ClosedDay] = (), closed_periods: Sequence[ClosedPeriod] = ()
) -> BusinessCalendar:
    """The packaged default built by hand, so domain tests do no I/O."""
    days: list[ClosedDay | date] = [*HOLIDAYS_2026_2027, *extra_days]
    return BusinessCalendar(WEEKDAY_HOURS, closed_days=days, closed_periods=closed_periods)


def la(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=LA)


def night_calendar(day: int = 4) -> BusinessCalendar:
    return BusinessCalendar({day: [Window(time(22), time(2))]})


CAL = default_calendar()


def test_window_start_is_open_and_window_end_is_closed() -> None:
    assert CAL.is_open(la(2026, 11, 24, 6))
    assert CAL.is_open(la(2026, 11, 24, 16, 29, 59, 999999))
    assert not CAL.is_open(la(2026, 11, 24, 16, 30))
    assert not CAL.is_open(la(2026, 11, 24, 5, 59, 59))


def test_start_before_opening_counts_from_the_opening() -> None:
    assert CAL.add_business_time(la(2026, 11, 24, 5), H) == la(2026, 11, 24, 7)
    assert CAL.next_opening(la(2026, 11, 24, 5)) == la(2026, 11, 24, 6)


def test_next_opening_of_an_open_instant_is_itself() -> None:
    assert CAL.next_opening(la(2026, 11, 24, 9, 15)) == la(2026, 11, 24, 9, 15)


def test_due_time_is_the_earliest_instant_so_it_may_equal_the_window_end() -> None:
    assert CAL.add_business_time(la(2026, 11, 24, 15, 30), H) == la(2026, 11, 24, 16, 30)


def test_friday_last_second_plus_one_hour_is_monday_morning() -> None:
    assert CAL.add_business_time(la(2026, 11, 20, 16, 29, 59), H) == la(2026, 11, 23, 6, 59, 59)


def test_friday_before_a_monday_holiday_rolls_to_tuesday() -> None:
    assert CAL.add_business_time(la(2026, 9, 4, 16, 29, 59), H) == la(2026, 9, 8, 6, 59, 59)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (la(2026, 11, 25, 16), la(2026, 11, 27, 6, 30)),  # day before Thanksgiving
        (la(2026, 12, 24, 16), la(2026, 12, 28, 6, 30)),  # Christmas 2026 is a Friday
        (la(2026, 12, 31, 16), la(2027, 1, 4, 6, 30)),  # New Year 2027 is a Friday
        (la(2026, 7, 2, 16), la(2026, 7, 6, 6, 30)),  # July 4 2026 (Sat) observed Fri July 3
        (la(2026, 11, 26, 10), la(2026, 11, 27, 7)),  # started on Thanksgiving itself
    ],
)
def test_holidays_are_skipped(start: datetime, due: datetime) -> None:
    assert CAL.add_business_time(start, H) == due


def test_observed_holiday_is_closed_all_day() -> None:
    assert not CAL.is_open(la(2026, 7, 3, 10))
    assert CAL.next_opening(la(2026, 7, 3, 10)) == la(2026, 7, 6, 6)


def test_adding_zero_returns_the_start_even_when_closed() -> None:
    assert CAL.add_business_time(la(2026, 11, 28, 3), timedelta(0)) == la(2026, 11, 28, 3)


def test_output_is_in_the_calendar_zone() -> None:
    due = CAL.add_business_time(datetime(2026, 11, 24, 15, tzinfo=UTC), H)
    assert due.tzinfo is LA
    assert due == la(2026, 11, 24, 8)


def test_naive_datetimes_and_negative_durations_are_refused() -> None:
    naive = datetime(2026, 11, 24, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.is_open(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_business_time(naive, H)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.business_time_between(naive, la(2026, 11, 24, 9))
    with pytest.raises(ValueError, match="negative"):
        CAL.add_business_time(la(2026, 11, 24, 9), -H)


def test_business_time_between_is_negative_when_reversed() -> None:
    monday, tuesday = la(2026, 11, 23, 9), la(2026, 11, 24, 9)
    assert CAL.business_time_between(monday, tuesday) == timedelta(hours=10, minutes=30)
    assert CAL.business_time_between(tuesday, monday) == -timedelta(hours=10, minutes=30)


def test_lunch_break_is_not_counted() -> None:
    split = [Window(time(6), time(11, 30)), Window(time(12), time(16, 30))]
    cal = BusinessCalendar(dict.fromkeys(range(5), split))
    assert not cal.is_open(la(2026, 11, 24, 11, 45))
    assert cal.add_business_time(la(2026, 11, 24, 11), H) == la(2026, 11, 24, 12, 30)
    assert cal.add_business_time(la(2026, 11, 24, 10, 30), H) == la(2026, 11, 24, 11, 30)


@pytest.mark.parametrize(
    ("friday", "monday"),
    [(date(2026, 3, 6), date(2026, 3, 9)), (date(2027, 3, 12), date(2027, 3, 15))],
)
def test_weekend_spring_forward_keeps_windows_on_the_wall_clock(friday: date, monday: date) -> None:
    start = datetime.combine(friday, time(16), LA)
    due = CAL.add_business_time(start, H)
    assert due == datetime.combine(monday, time(6, 30), LA)
    assert due.utcoffset() == timedelta(hours=-7)
    assert CAL.business_time_between(start, due) == H


@pytest.mark.parametrize(
    ("day", "real_length"),
    [
        (date(2026, 3, 8), timedelta(hours=2)),
        (date(2026, 11, 1), timedelta(hours=4)),
        (date(2027, 3, 14), timedelta(hours=2)),
        (date(2027, 11, 7), timedelta(hours=4)),
    ],
)
def test_window_on_a_dst_day_lasts_the_real_elapsed_time(day: date, real_length: timedelta) -> None:
    cal = BusinessCalendar({6: [Window(time(0, 30), time(3, 30))]})
    midnight = datetime.combine(day, time(), LA)
    assert cal.business_time_between(midnight, midnight + timedelta(hours=12)) == real_length
    assert cal.add_business_time(midnight, real_length) == datetime.combine(day, time(3, 30), LA)


@pytest.mark.parametrize(
    ("saturday", "real_length"),
    [
        (date(2026, 3, 7), timedelta(hours=4)),  # 02:00 does not exist: the shift ends at 03:00 PDT
        (date(2026, 10, 31), timedelta(hours=5)),  # 01:00-02:00 happens twice
        (date(2027, 3, 13), timedelta(hours=4)),
        (date(2027, 11, 6), timedelta(hours=5)),
    ],
)
def test_night_window_across_the_2am_change(saturday: date, real_length: timedelta) -> None:
    cal = night_calendar(day=5)
    start = datetime.combine(saturday, time(20), LA)
    assert cal.business_time_between(start, start + timedelta(hours=12)) == real_length


def test_fall_back_due_time_lands_in_the_repeated_hour_with_fold() -> None:
    cal = night_calendar(day=5)
    first = cal.add_business_time(la(2026, 10, 31, 23), 2 * H)
    second = cal.add_business_time(la(2026, 10, 31, 23), 3 * H)
    assert (first.hour, first.fold, first.utcoffset()) == (1, 0, timedelta(hours=-7))
    assert (second.hour, second.fold, second.utcoffset()) == (1, 1, timedelta(hours=-8))


def test_night_window_belongs_to_the_day_it_starts_on() -> None:
    cal = night_calendar(day=4)  # Friday 22:00 - Saturday 02:00
    assert cal.is_open(la(2026, 11, 21, 1, 59))
    assert not cal.is_open(la(2026, 11, 21, 2))
    assert cal.add_business_time(la(2026, 11, 20, 23), 3 * H) == la(2026, 11, 21, 2)
    assert cal.add_business_time(la(2026, 11, 20, 23), 4 * H) == la(2026, 11, 27, 23)
    closed_friday = BusinessCalendar(dict(enumerate(cal.hours)), closed_days=[date(2026, 11, 20)])
    assert not closed_friday.is_open(la(2026, 11, 21, 1))


def test_sunday_night_shift_runs_into_monday() -> None:
    cal = BusinessCalendar({6: [Window(time(22), time(2))], 0: [Window(time(6), time(8))]})
    assert cal.add_business_time(la(2026, 11, 22, 23), 4 * H) == la(2026, 11, 23, 7)


def test_partial_closure_cuts_a_window() -> None:
    early_close = ClosedPeriod(datetime(2026, 12, 31, 12), datetime(2026, 12, 31, 16, 30))
    cal = default_calendar(closed_periods=[early_close])
    assert cal.is_open(la(2026, 12, 31, 11, 59))
    assert not cal.is_open(la(2026, 12, 31, 12))
    assert cal.add_business_time(la(2026, 12, 31, 11, 30), H) == la(2027, 1, 4, 6, 30)


def test_partial_closure_may_be_given_in_another_zone() -> None:
    outage = ClosedPeriod(datetime(2026, 11, 24, 17, tzinfo=UTC), datetime(2026, 11, 24, 18, tzinfo=UTC))
    cal = default_calendar(closed_periods=[outage])  # 09:00-10:00 in Los Angeles
    assert cal.add_business_time(la(2026, 11, 24, 8, 30), H) == la(2026, 11, 24, 10, 30)


def test_windows_overlapping_in_the_spring_gap_are_counted_once() -> None:
    # 02:15-02:45 does not exist on 2026-03-08: fold=0 maps it to 03:15-03:45 PDT, inside 03-04.
    cal = BusinessCalendar({6: [Window(time(2, 15), time(2, 45)), Window(time(3), time(4))]})
    day = la(2026, 3, 8)
    assert cal.business_time_between(day, day + 12 * H) == H
    assert cal.next_opening(day) == la(2026, 3, 8, 3)


def test_overlapping_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        BusinessCalendar({0: [Window(time(6), time(12)), Window(time(11), time(14))]})
    with pytest.raises(ValueError, match="overlap"):
        BusinessCalendar({6: [Window(time(22), time(7))], 0: [Window(time(6), time(8))]})
    with pytest.raises(ValueError, match="no working window"):
        BusinessCalendar({})


def test_window_parse_accepts_24_00_and_rejects_garbage() -> None:
    assert Window.parse("18:00-24:00") == Window(time(18), time(0))
    assert str(Window.parse("6:00-16:30")) == "06:00-16:30"
    with pytest.raises(ValueError, match="HH:MM"):
        Window.parse("6am-4pm")
    with pytest.raises(ValueError, match="25:00"):
        Window.parse("25:00-26:00")


def test_a_calendar_closed_for_years_says_so_instead_of_looping() -> None:
    closed = ClosedPeriod(datetime(2026, 1, 1), datetime(2031, 1, 1))
    cal = BusinessCalendar(WEEKDAY_HOURS, closed_periods=[closed])
    with pytest.raises(ValueError, match="closed for years"):
        cal.next_opening(la(2026, 6, 1))


def test_describe_lists_windows_zone_and_the_next_twelve_months_of_closures() -> None:
    cal = default_calendar([ClosedDay(date(2026, 12, 24), "Christmas Eve")])
    text = cal.describe(date(2026, 6, 1))
    assert "America/Los_Angeles" in text
    assert "Mon  06:00-16:30" in text
    assert "Sat  closed" in text
    assert "2026-12-24 Thu  Christmas Eve" in text
    assert "2027-05-31" in text
    assert "2027-07-05" not in text


def test_open_until_says_when_the_open_stretch_ends() -> None:
    cal = default_calendar()
    assert cal.open_until(la(2026, 11, 24, 9, 0)) == la(2026, 11, 24, 16, 30)
    assert cal.open_until(la(2026, 11, 24, 16, 30)) is None  # the end itself is closed
    assert cal.open_until(la(2026, 11, 26, 9, 0)) is None  # Thanksgiving


def test_open_until_joins_a_night_shift_across_midnight_and_caps_an_open_week() -> None:
    night = BusinessCalendar({4: [Window(time(22), time(2))], 5: [Window(time(2), time(4))]})
    assert night.open_until(la(2026, 11, 27, 23, 0)) == la(2026, 11, 28, 4, 0)
    always = BusinessCalendar({d: [Window(time(0), time(0))] for d in range(7)})
    assert always.open_until(la(2026, 11, 24, 9, 0)) == la(2026, 12, 2, 0, 0)
