"""Callback slots on the business calendar, preferred windows, attempt policy, slot wording."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from workflow.domain.calendar import BusinessCalendar, ClosedDay, ClosedPeriod, Window
from workflow.domain.callback_slots import (
    CallbackPolicy,
    PreferredWindow,
    Slot,
    describe_slot,
    is_grid_slot,
    slots_from,
    slots_in_window,
)

PT = ZoneInfo("America/Los_Angeles")
HALF = timedelta(minutes=30)
WEEK = {d: [Window.parse("06:00-16:30")] for d in range(5)}


def cal(**kw: object) -> BusinessCalendar:
    return BusinessCalendar(WEEK, timezone=PT, **kw)  # type: ignore[arg-type]


def first(calendar: BusinessCalendar, after: datetime, n: int = 1) -> list[datetime]:
    slots = slots_from(calendar, after, HALF, until=after + timedelta(days=30))
    return [s.start.astimezone(PT).replace(tzinfo=None) for s in islice(slots, n)]


def test_breach_late_friday_gets_monday_first_slot() -> None:
    friday = datetime(2026, 10, 16, 16, 20, tzinfo=PT)
    assert first(cal(), friday) == [datetime(2026, 10, 19, 6, 0)]


def test_breach_late_friday_before_a_monday_holiday_gets_tuesday() -> None:
    friday = datetime(2026, 10, 16, 16, 20, tzinfo=PT)
    holiday = cal(closed_days=[ClosedDay(date(2026, 10, 19), "holiday")])
    assert first(holiday, friday) == [datetime(2026, 10, 20, 6, 0)]


def test_slots_follow_the_half_hour_grid_and_end_by_closing() -> None:
    day = first(cal(), datetime(2026, 10, 19, 15, 10, tzinfo=PT), 3)
    assert day == [datetime(2026, 10, 19, 15, 30), datetime(2026, 10, 19, 16, 0),
                   datetime(2026, 10, 20, 6, 0)]


def test_a_partial_closure_removes_the_slots_it_touches() -> None:
    closed = cal(closed_periods=[ClosedPeriod(datetime(2026, 10, 19, 9, 15),
                                              datetime(2026, 10, 19, 10, 0), "training")])
    got = first(closed, datetime(2026, 10, 19, 8, 55, tzinfo=PT), 3)
    assert got == [datetime(2026, 10, 19, 10, 0), datetime(2026, 10, 19, 10, 30),
                   datetime(2026, 10, 19, 11, 0)]


def test_slots_keep_their_real_length_across_dst() -> None:
    nov_2 = datetime(2026, 11, 2, 5, 0, tzinfo=PT)  # the Monday after the fall-back Sunday
    [slot] = islice(slots_from(cal(), nov_2, HALF, until=nov_2 + timedelta(days=1)), 1)
    assert slot.end - slot.start == HALF and slot.start.astimezone(PT).hour == 6


def test_preferred_window_is_parsed_in_the_calendar_zone_and_honoured() -> None:
    window = PreferredWindow.parse("2026-10-20 09:00-11:00")
    assert window == PreferredWindow(date(2026, 10, 20), time(9), time(11))
    slots = list(slots_in_window(cal(), window, HALF, after=datetime(2026, 10, 16, tzinfo=PT)))
    assert [s.start.astimezone(PT).strftime("%H:%M") for s in slots] == [
        "09:00", "09:30", "10:00", "10:30"]


def test_preferred_window_outside_business_hours_has_no_slot() -> None:
    window = PreferredWindow.parse("2026-10-17 09:00-11:00")  # a Saturday
    assert list(slots_in_window(cal(), window, HALF, after=datetime(2026, 10, 1, tzinfo=PT))) == []


@pytest.mark.parametrize("text", ["2026-10-20", "2026-10-20 11:00-09:00", "2026-13-01 09:00-10:00",
                                  "tomorrow 9-11"])
def test_malformed_windows_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        PreferredWindow.parse(text)


def test_only_grid_slots_can_be_chosen() -> None:
    assert is_grid_slot(cal(), datetime(2026, 10, 19, 9, 30, tzinfo=PT), HALF)
    assert not is_grid_slot(cal(), datetime(2026, 10, 19, 9, 40, tzinfo=PT), HALF)
    assert not is_grid_slot(cal(), datetime(2026, 10, 18, 9, 30, tzinfo=PT), HALF)


@pytest.mark.parametrize(("result", "failed", "exhausted", "step"), [
    ("answered", 0, "requeue", "answered"),
    ("no_answer", 1, "requeue", "retry"),
    ("no_answer", 2, "close", "retry"),
    ("no_answer", 3, "requeue", "requeue"),
    ("no_answer", 3, "close", "give_up"),
    ("wrong_number", 1, "requeue", "requeue"),
    ("wrong_number", 1, "close", "give_up"),
    ("asked_to_move", 2, "close", "retry"),
])
def test_attempt_results_map_to_the_policy(result: str, failed: int, exhausted: str,
                                            step: str) -> None:
    assert CallbackPolicy(exhausted=exhausted).next_step(result, failed) == step


def test_escalation_policy_names_the_clocks_it_escalates() -> None:
    assert CallbackPolicy().escalates("first_reply")
    assert not CallbackPolicy().escalates("resolution")
    assert CallbackPolicy(escalation="all").escalates("resolution")
    assert not CallbackPolicy(escalation="none").escalates("first_reply")


def test_policy_keeps_its_defaults_and_refuses_nonsense() -> None:
    policy = CallbackPolicy(capacity=4, exhausted="close")
    assert (policy.capacity, policy.slot_minutes, policy.exhausted) == (4, 30, "close")
    for nonsense in ({"exhausted": "forget"}, {"escalation": "sometimes"}, {"capacity": 0},
                     {"slot_minutes": 4}, {"slot_minutes": 241}, {"notice_minutes": -1},
                     {"link_hours": 0}, {"horizon_days": 0}, {"max_failed_attempts": 0}):
        with pytest.raises(ValueError):
            CallbackPolicy(**nonsense)  # type: ignore[arg-type]


def test_slots_are_told_in_the_customers_language_and_pacific_time() -> None:
    start = datetime(2026, 11, 2, 6, 0, tzinfo=PT)
    slot = Slot(start, start + HALF)
    assert describe_slot(slot, "en", PT) == \
        "Monday, November 2, 2026, between 06:00 and 06:30 PST"
    assert describe_slot(slot, "fr", PT) == \
        "lundi 2 novembre 2026, entre 06 h 00 et 06 h 30 (heure du Pacifique)"
