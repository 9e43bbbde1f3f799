"""The rate-limit arithmetic: fixed windows, refusals with whole-second waits, lock-outs,
refunds, and the limits' defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workflow.domain import throttle as t
from workflow.domain.throttle import CounterState, Decision, RateLimit, ThrottleLimits

T0 = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def hits(state: CounterState, rule: RateLimit, at: datetime, n: int) -> tuple[CounterState, list[bool]]:
    """n requests at ``at``, counted the way the Throttle counts them (refused ones are not)."""
    allowed = []
    for _ in range(n):
        decision = state.decide(at, rule)
        allowed.append(decision.allowed)
        if decision.allowed:
            state = state.after_hit(at, rule)
    return state, allowed


def test_limit_hits_pass_in_a_window_and_the_next_waits_for_its_end() -> None:
    rule = RateLimit(3, MINUTE)
    state, allowed = hits(CounterState(T0 - timedelta(seconds=50)), rule, T0, 2)
    assert allowed == [True, True] and state.window_start == T0 - timedelta(seconds=50)
    state, allowed = hits(state, rule, T0 + timedelta(seconds=10), 4)  # a fresh window
    assert allowed == [True, True, True, False]
    assert state.count == 3 and state.window_start == T0 + timedelta(seconds=10)
    assert state.decide(T0 + timedelta(seconds=30), rule) == Decision(False, 40)
    assert state.decide(T0 + timedelta(seconds=69, milliseconds=1), rule) == Decision(False, 1)
    assert state.decide(T0 + timedelta(seconds=70), rule).allowed


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    assert Decision.refused_until(T0 + timedelta(seconds=2, milliseconds=1), T0).retry_after_seconds == 3
    assert Decision.refused_until(T0 + timedelta(milliseconds=1), T0).retry_after_seconds == 1
    assert Decision.refused_until(T0, T0).retry_after_seconds == 1


def test_a_lapsed_window_starts_over_from_the_hit_that_finds_it() -> None:
    rule = RateLimit(2, MINUTE)
    state, _ = hits(CounterState(T0), rule, T0, 2)
    later = T0 + timedelta(minutes=5)
    state = state.after_hit(later, rule)
    assert (state.window_start, state.count) == (later, 1)


def test_with_a_lockout_the_hit_reaching_the_limit_locks_and_clears_the_count() -> None:
    rule = RateLimit(3, timedelta(minutes=15), lockout=timedelta(minutes=30))
    state = CounterState(T0)
    for n in range(2):
        state = state.after_hit(T0 + timedelta(minutes=n), rule)
        assert state.decide(T0 + timedelta(minutes=n), rule).allowed
    state = state.after_hit(T0 + timedelta(minutes=2), rule)
    assert state.count == 0 and state.locked_until == T0 + timedelta(minutes=32)
    assert state.decide(T0 + timedelta(minutes=2), rule) == Decision(False, 30 * 60)
    assert state.decide(T0 + timedelta(minutes=32), rule).allowed


def test_a_refund_gives_back_one_hit_of_the_current_window_only() -> None:
    rule = RateLimit(2, MINUTE)
    state, _ = hits(CounterState(T0), rule, T0, 2)
    assert not state.decide(T0, rule).allowed
    state = state.after_refund(T0 + timedelta(seconds=1), rule)
    assert state.count == 1 and state.decide(T0 + timedelta(seconds=1), rule).allowed
    assert state.after_refund(T0 + MINUTE, rule) == state  # lapsed: nothing to give back
    empty = CounterState(T0)
    assert empty.after_refund(T0, rule) == empty


def test_a_rate_limit_needs_a_positive_limit_and_window() -> None:
    with pytest.raises(ValueError):
        RateLimit(0, MINUTE)
    with pytest.raises(ValueError):
        RateLimit(1, timedelta(0))


def test_limits_default_to_the_documented_rules_and_take_each_one_by_name() -> None:
    limits = ThrottleLimits()
    assert limits.enabled and limits.rule(t.INTAKE) == RateLimit(6000, MINUTE)
    assert limits.rule(t.SIGNIN_LOGIN) == RateLimit(10, timedelta(minutes=15))
    assert limits.rule(t.SIGNIN_ADDR) == RateLimit(50, timedelta(minutes=15))
    assert limits.rule(t.CUSTOMER_ADDR) == RateLimit(60, MINUTE)
    custom = ThrottleLimits(enabled=False, rules=t.default_rules(intake_rate_per_minute=7,
                                                                 signin_window_minutes=5))
    assert custom.rule(t.INTAKE) == RateLimit(7, MINUTE) and not custom.enabled
    assert custom.rule(t.SIGNIN_LOGIN) == RateLimit(10, timedelta(minutes=5))
    with pytest.raises(ValueError):
        t.default_rules(customer_link_rate_per_minute=0)
