"""Remote-session codes: enough entropy, readable, kept only as a keyed hash, expiring, and a
throttle that locks after repeated wrong guesses."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

import pytest

from workflow.domain import session_codes as sc
from workflow.domain.throttle import CounterState

SECRET = b"k" * 32
T0 = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def test_codes_carry_at_least_40_bits_from_their_alphabet_and_length() -> None:
    assert len(set(sc.ALPHABET)) == len(sc.ALPHABET) == 31
    assert sc.entropy_bits() == pytest.approx(sc.LENGTH * math.log2(31))
    assert sc.entropy_bits() >= sc.MIN_BITS >= 40


def test_codes_are_grouped_for_the_phone_and_avoid_look_alikes() -> None:
    for _ in range(200):
        code = sc.new_code()
        assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code)
        assert not set(code) & set("0O1IL")


def test_fifty_thousand_codes_are_all_different_and_use_the_whole_alphabet() -> None:
    made = [sc.new_code() for _ in range(50_000)]
    assert len(set(made)) == len(made)
    assert set("".join(made).replace("-", "")) == set(sc.ALPHABET)


def test_typed_codes_are_normalised_and_impossible_ones_refused() -> None:
    code = sc.new_code()
    assert sc.normalise(code.lower().replace("-", " ")) == code.replace("-", "")
    for bad in ("", "ABCDE-FGHJ", "ABCDE-FGHJKM", "ABCDE-FGHJ0", "ABCDE-FGHJI"):
        assert sc.normalise(bad) is None


def test_the_stored_hash_reveals_nothing_and_is_bound_to_ticket_and_key() -> None:
    code = sc.new_code()
    stored = sc.code_hash(SECRET, "t1", code)
    assert code.replace("-", "") not in stored and len(stored) == 64
    assert sc.code_matches(SECRET, "t1", code.lower(), stored)
    assert not sc.code_matches(SECRET, "t2", code, stored)
    assert not sc.code_matches(b"other" * 8, "t1", code, stored)
    assert not sc.code_matches(SECRET, "t1", "not a code", stored)


def test_a_code_is_live_until_it_expires_is_used_or_is_revoked() -> None:
    expires = T0 + timedelta(minutes=15)
    assert sc.is_live(expires, None, None, expires - timedelta(seconds=1))
    assert not sc.is_live(expires, None, None, expires)
    assert not sc.is_live(expires, T0, None, T0)
    assert not sc.is_live(expires, None, T0, T0)


def test_five_wrong_guesses_in_the_window_lock_for_the_lockout() -> None:
    policy = sc.ThrottlePolicy(max_failures=5, window=timedelta(minutes=15),
                               lockout=timedelta(minutes=15))
    state = CounterState(window_start=T0)
    for n in range(4):
        state = state.after_hit(T0 + timedelta(minutes=n), policy.rule)
        assert not state.is_locked(T0 + timedelta(minutes=n))
    state = state.after_hit(T0 + timedelta(minutes=4), policy.rule)
    assert state.is_locked(T0 + timedelta(minutes=18, seconds=59))
    assert not state.is_locked(T0 + timedelta(minutes=19))


def test_guesses_spread_beyond_the_window_never_lock() -> None:
    policy = sc.ThrottlePolicy()
    state = CounterState(window_start=T0)
    for n in range(20):
        at = T0 + n * timedelta(minutes=4)
        state = state.after_hit(at, policy.rule)
        assert not state.is_locked(at)


def test_policy_keeps_its_defaults_and_refuses_nonsense() -> None:
    policy = sc.SessionPolicy(code_ttl=timedelta(minutes=5),
                              throttle=sc.ThrottlePolicy(max_failures=3))
    assert policy.code_ttl == timedelta(minutes=5) and policy.throttle.max_failures == 3
    assert policy.idle == sc.SessionPolicy().idle == timedelta(minutes=30)
    for nonsense in ({"code_ttl": timedelta(0)}, {"consent_ttl": timedelta(minutes=-1)},
                     {"session_token_ttl": timedelta(0)}, {"idle": timedelta(0)}):
        with pytest.raises(ValueError):
            sc.SessionPolicy(**nonsense)  # type: ignore[arg-type]
    for bad in ({"max_failures": 0}, {"window": timedelta(0)}, {"lockout": timedelta(0)}):
        with pytest.raises(ValueError):
            sc.ThrottlePolicy(**bad)  # type: ignore[arg-type]
    assert sc.SessionPolicy().code_ttl == timedelta(minutes=15)
