"""SLA clocks: start, pause, resume, stop and recompute against the business calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_calendar import default_calendar, la
from workflow.domain import sla
from workflow.domain.calendar import ClosedDay, ClosedPeriod
from workflow.domain.sla import FIRST_REPLY, RESOLUTION, SlaClockError, SlaPolicy

CAL = default_calendar()
H = timedelta(hours=1)


def test_default_policies_are_one_hour_and_three_business_days() -> None:
    assert FIRST_REPLY.budget == H
    assert RESOLUTION.budget == 3 * timedelta(hours=10, minutes=30)
    assert sla.DEFAULT_POLICIES["resolution"] is RESOLUTION


def test_started_clock_is_due_after_the_budget_in_business_time() -> None:
    clock = sla.start(CAL, FIRST_REPLY, la(2026, 11, 24, 15, 30))
    assert clock.due_at == la(2026, 11, 24, 16, 30)
    assert clock.at_risk_at == la(2026, 11, 24, 16, 18)
    assert (clock.cycle, clock.consumed, clock.is_running) == (1, timedelta(0), True)


def test_clock_started_outside_hours_is_at_risk_only_when_the_desk_is_open() -> None:
    clock = sla.start(CAL, FIRST_REPLY, la(2026, 11, 27, 20))  # Friday evening
    assert clock.at_risk_at == la(2026, 11, 30, 6, 48)
    assert clock.due_at == la(2026, 11, 30, 7)


def test_resolution_clock_skips_the_weekend_and_thanksgiving() -> None:
    clock = sla.start(CAL, RESOLUTION, la(2026, 11, 25, 6))  # Wednesday before Thanksgiving
    assert clock.due_at == la(2026, 11, 30, 16, 30)


def test_paused_clock_has_no_deadlines_and_keeps_consumed_time() -> None:
    clock = sla.start(CAL, FIRST_REPLY, la(2026, 11, 24, 9))
    paused = sla.pause(CAL, clock, la(2026, 11, 24, 9, 20))
    assert paused.is_paused
    assert (paused.due_at, paused.at_risk_at, paused.running_since) == (None, None, None)
    assert paused.consumed == timedelta(minutes=20)
    assert paused.consumed_at(CAL, la(2026, 12, 1)) == timedelta(minutes=20)


def test_resumed_clock_spends_only_the_remaining_budget() -> None:
    clock = sla.start(CAL, FIRST_REPLY, la(2026, 11, 24, 16))
    paused = sla.pause(CAL, clock, la(2026, 11, 24, 16, 20))
    resumed = sla.resume(CAL, paused, FIRST_REPLY, la(2026, 11, 25, 10))
    assert resumed.due_at == la(2026, 11, 25, 10, 40)
    assert resumed.at_risk_at == la(2026, 11, 25, 10, 28)
    assert resumed.consumed_at(CAL, la(2026, 11, 25, 10, 40)) == H


def test_resume_on_a_weekend_counts_from_the_next_opening() -> None:
    paused = sla.pause(CAL, sla.start(CAL, FIRST_REPLY, la(2026, 11, 20, 9)), la(2026, 11, 20, 9, 30))
    resumed = sla.resume(CAL, paused, FIRST_REPLY, la(2026, 11, 21, 12))
    assert resumed.due_at == la(2026, 11, 23, 6, 30)


def test_thresholds_already_passed_fall_due_at_the_next_opening_not_while_closed() -> None:
    clock = sla.start(CAL, FIRST_REPLY, la(2026, 11, 24, 9))
    paused = sla.pause(CAL, clock, la(2026, 11, 24, 9, 55))  # past 80 % already
    resumed = sla.resume(CAL, paused, FIRST_REPLY, la(2026, 11, 28, 10))  # a Saturday
    assert resumed.at_risk_at == la(2026, 11, 30, 6)
    assert resumed.due_at == la(2026, 11, 30, 6, 5)


def test_stopping_a_paused_clock_keeps_the_time_consumed_at_pause() -> None:
    paused = sla.pause(CAL, sla.start(CAL, FIRST_REPLY, la(2026, 11, 24, 9)), la(2026, 11, 24, 9, 10))
    stopped = sla.stop(CAL, paused, la(2026, 11, 30, 12))
    assert stopped.is_stopped
    assert stopped.consumed == timedelta(minutes=10)
    assert not stopped.is_breached(CAL, FIRST_REPLY, la(2026, 12, 30))


def test_stopping_a_running_clock_records_consumed_time_and_breach() -> None:
    clock = sla.start(CAL, FIRST_REPLY, la(2026, 11, 24, 9))
    met = sla.stop(CAL, clock, la(2026, 11, 24, 10))
    late = sla.stop(CAL, clock, la(2026, 11, 24, 10, 0, 1))
    assert (met.consumed, met.due_at, met.running_since) == (H, None, None)
    assert not met.is_breached(CAL, FIRST_REPLY, la(2026, 11, 25))
    assert late.is_breached(CAL, FIRST_REPLY, la(2026, 11, 25))


def test_operations_that_do_not_fit_the_clock_state_are_refused() -> None:
    clock = sla.start(CAL, FIRST_REPLY, la(2026, 11, 24, 9))
    paused = sla.pause(CAL, clock, la(2026, 11, 24, 9, 10))
    stopped = sla.stop(CAL, clock, la(2026, 11, 24, 9, 30))
    with pytest.raises(SlaClockError, match="pause a paused"):
        sla.pause(CAL, paused, la(2026, 11, 24, 9, 20))
    with pytest.raises(SlaClockError, match="resume a running"):
        sla.resume(CAL, clock, FIRST_REPLY, la(2026, 11, 24, 9, 20))
    with pytest.raises(SlaClockError, match="already stopped"):
        sla.stop(CAL, stopped, la(2026, 11, 24, 9, 40))
    with pytest.raises(SlaClockError, match="before"):
        sla.pause(CAL, clock, la(2026, 11, 24, 8))
    with pytest.raises(SlaClockError, match="naive"):
        sla.pause(CAL, clock, datetime(2026, 11, 24, 10))


def test_policy_rejects_empty_budget_and_bad_ratio() -> None:
    with pytest.raises(ValueError, match="positive"):
        SlaPolicy("x", timedelta(0))
    with pytest.raises(ValueError, match="at_risk_ratio"):
        SlaPolicy("x", H, at_risk_ratio=1.5)


def test_reopened_ticket_starts_a_new_cycle() -> None:
    assert sla.start(CAL, FIRST_REPLY, la(2026, 11, 24, 9), cycle=2).cycle == 2


def test_recompute_moves_deadlines_for_a_new_closure() -> None:
    clock = sla.start(CAL, FIRST_REPLY, la(2026, 11, 24, 16))
    assert clock.due_at == la(2026, 11, 25, 6, 30)
    snowed_in = default_calendar([ClosedDay(date(2026, 11, 25), "Snow day")])
    moved = sla.recompute(snowed_in, clock, FIRST_REPLY)
    assert moved.due_at == la(2026, 11, 27, 6, 30)
    assert moved.at_risk_at == la(2026, 11, 27, 6, 18)


def test_recompute_applies_a_closure_to_the_part_already_elapsed() -> None:
    clock = sla.start(CAL, FIRST_REPLY, la(2026, 11, 24, 9))
    outage = ClosedPeriod(datetime(2026, 11, 24, 9), datetime(2026, 11, 24, 9, 30))
    moved = sla.recompute(default_calendar(closed_periods=[outage]), clock, FIRST_REPLY)
    assert moved.due_at == la(2026, 11, 24, 10, 30)


def test_recompute_leaves_paused_and_stopped_clocks_alone() -> None:
    paused = sla.pause(CAL, sla.start(CAL, FIRST_REPLY, la(2026, 11, 24, 9)), la(2026, 11, 24, 9, 10))
    assert sla.recompute(default_calendar(), paused, FIRST_REPLY) is paused


@given(
    start=st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 1)),
    pauses=st.lists(st.timedeltas(timedelta(0), timedelta(days=3)), max_size=6),
)
def test_pauses_only_delay_and_never_fire_while_closed(start: datetime, pauses: list[timedelta]) -> None:
    """Running segments add up to the budget exactly when the final deadline is reached."""
    at = start.replace(tzinfo=CAL.zone).astimezone(UTC)
    clock = sla.start(CAL, RESOLUTION, at)
    for index, gap in enumerate(pauses):
        at += gap
        running = index % 2 == 0
        clock = sla.pause(CAL, clock, at) if running else sla.resume(CAL, clock, RESOLUTION, at)
    if clock.is_paused:
        clock = sla.resume(CAL, clock, RESOLUTION, at)
    assert clock.due_at is not None and clock.at_risk_at is not None
    assert sla.recompute(CAL, clock, RESOLUTION) == clock
    for deadline in (clock.due_at, clock.at_risk_at):
        assert CAL.is_open(deadline) or CAL.is_open(deadline - timedelta(microseconds=1))
    if clock.consumed < RESOLUTION.budget:
        assert clock.consumed_at(CAL, clock.due_at) == RESOLUTION.budget
