"""Laws of business-time arithmetic, checked on random calendars and on the default one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_calendar import default_calendar
from tests.unit.test_calendar_oracle import PROPERTY, calendars, instants
from workflow.domain.calendar import BusinessCalendar

US = timedelta(microseconds=1)
DEFAULT = default_calendar()
durations = st.timedeltas(timedelta(0), timedelta(hours=120))
any_calendar = st.one_of(st.just(DEFAULT), calendars())


@st.composite
def instants_with_microseconds(draw: st.DrawFn, cal: BusinessCalendar) -> datetime:
    return draw(instants(cal)) + timedelta(microseconds=draw(st.integers(0, 60_000_000 - 1)))


@PROPERTY
@given(data=st.data(), duration=durations)
def test_measuring_what_was_added_gives_it_back(data: st.DataObject, duration: timedelta) -> None:
    cal = data.draw(any_calendar)
    t = data.draw(instants_with_microseconds(cal))
    assert cal.business_time_between(t, cal.add_business_time(t, duration)) == duration


@PROPERTY
@given(data=st.data(), duration=durations.filter(bool))
def test_due_time_is_open_or_a_window_end_and_is_the_earliest(
    data: st.DataObject, duration: timedelta
) -> None:
    cal = data.draw(any_calendar)
    t = data.draw(instants_with_microseconds(cal))
    due = cal.add_business_time(t, duration)
    assert cal.is_open(due) or cal.is_open(due - US)
    assert cal.business_time_between(t, due - US) < duration


@PROPERTY
@given(data=st.data(), first=durations, second=durations)
def test_adding_in_two_steps_equals_adding_once(
    data: st.DataObject, first: timedelta, second: timedelta
) -> None:
    cal = data.draw(any_calendar)
    t = data.draw(instants_with_microseconds(cal))
    in_two = cal.add_business_time(cal.add_business_time(t, first), second)
    assert in_two.astimezone(UTC) == cal.add_business_time(t, first + second).astimezone(UTC)


@PROPERTY
@given(data=st.data(), duration=durations, shorter=durations, later=st.timedeltas(timedelta(0)))
def test_due_time_never_moves_back_for_a_later_start_or_a_longer_budget(
    data: st.DataObject, duration: timedelta, shorter: timedelta, later: timedelta
) -> None:
    cal = data.draw(any_calendar)
    t = data.draw(instants_with_microseconds(cal))
    later = min(later, timedelta(days=30))
    assert cal.add_business_time(t, duration) <= cal.add_business_time(t + later, duration)
    assert cal.add_business_time(t, min(shorter, duration)) <= cal.add_business_time(t, duration)


@PROPERTY
@given(data=st.data())
def test_next_opening_is_open_and_nothing_elapses_before_it(data: st.DataObject) -> None:
    cal = data.draw(any_calendar)
    t = data.draw(instants_with_microseconds(cal))
    opening = cal.next_opening(t)
    assert cal.is_open(opening)
    assert cal.business_time_between(t, opening) == timedelta(0)
    assert opening.astimezone(UTC) == t or not cal.is_open(t)


@PROPERTY
@given(data=st.data(), split=st.integers(0, 1000))
def test_business_time_between_adds_up_over_a_split(data: st.DataObject, split: int) -> None:
    cal = data.draw(any_calendar)
    t1 = data.draw(instants_with_microseconds(cal))
    t3 = t1 + timedelta(hours=data.draw(st.integers(0, 24 * 10)))
    t2 = t1 + (t3 - t1) * split / 1000
    whole = cal.business_time_between(t1, t3)
    assert whole == cal.business_time_between(t1, t2) + cal.business_time_between(t2, t3)
    assert timedelta(0) <= whole <= t3 - t1
