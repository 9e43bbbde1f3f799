"""The SLA clock: a business-time budget that runs, pauses, resumes and stops.

A clock is an immutable value; every operation returns a new one. It stores what it has consumed
up to its last pause and, while running, since when it runs, so due and at-risk instants can be
recomputed under a changed calendar without replaying history. `due_at` and `at_risk_at` are set
only while the clock runs: a scanner that looks for `due_at <= now` ignores paused and stopped
clocks for free. Both are computed in business time, so they are always open instants or a window
end, never inside a closed period: an SLA alarm never fires while the desk is closed.

Pure: standard library and the business calendar only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from workflow.domain.calendar import BusinessCalendar

_ZERO = timedelta(0)


class SlaClockError(ValueError):
    """An operation that does not fit the clock's state (pausing a paused clock, time reversed)."""


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """A business-time budget; `at_risk_ratio` of it consumed makes the clock at risk."""

    name: str
    budget: timedelta
    at_risk_ratio: float = 0.8

    def __post_init__(self) -> None:
        if self.budget <= _ZERO:
            raise ValueError(f"SLA {self.name!r}: budget must be positive, got {self.budget}")
        if not 0.0 < self.at_risk_ratio <= 1.0:
            raise ValueError(f"SLA {self.name!r}: at_risk_ratio must be in (0, 1]")

    @property
    def at_risk_budget(self) -> timedelta:
        return self.budget * self.at_risk_ratio


FIRST_REPLY = SlaPolicy("first_reply", timedelta(hours=1))
# Three business days of the default calendar (3 x 10.5 h, Mon-Fri 06:00-16:30).
RESOLUTION = SlaPolicy("resolution", timedelta(hours=31, minutes=30))
DEFAULT_POLICIES = MappingProxyType({p.name: p for p in (FIRST_REPLY, RESOLUTION)})


@dataclass(frozen=True, slots=True)
class SlaClock:
    """One SLA clock of one ticket for one cycle (a reopened ticket starts cycle 2).

    `consumed` is business time consumed before `running_since`; while paused or stopped it is
    the whole consumption. `running_since` is None when paused or stopped.
    """

    policy: str
    cycle: int
    started_at: datetime
    consumed: timedelta
    running_since: datetime | None
    due_at: datetime | None
    at_risk_at: datetime | None
    paused_at: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def is_running(self) -> bool:
        return self.running_since is not None

    @property
    def is_paused(self) -> bool:
        return self.running_since is None and self.stopped_at is None

    @property
    def is_stopped(self) -> bool:
        return self.stopped_at is not None

    def consumed_at(self, cal: BusinessCalendar, now: datetime) -> timedelta:
        """Business time consumed by `now` (the stored total once paused or stopped)."""
        if self.running_since is None:
            return self.consumed
        return self.consumed + max(cal.business_time_between(self.running_since, now), _ZERO)

    def is_breached(self, cal: BusinessCalendar, policy: SlaPolicy, now: datetime) -> bool:
        """More than the budget consumed; finishing exactly at `due_at` still meets the SLA."""
        return self.consumed_at(cal, now) > policy.budget


def start(cal: BusinessCalendar, policy: SlaPolicy, at: datetime, cycle: int = 1) -> SlaClock:
    """A running clock with nothing consumed; outside hours it effectively starts at the opening."""
    if cycle < 1:
        raise SlaClockError(f"cycle must be >= 1, got {cycle}")
    running = SlaClock(policy.name, cycle, at, _ZERO, at, None, None)
    return _with_deadlines(cal, running, policy)


def pause(cal: BusinessCalendar, clock: SlaClock, at: datetime) -> SlaClock:
    """Bank the business time consumed so far; deadlines are cleared while paused."""
    since = _require_running(clock, at, "pause")
    consumed = clock.consumed + cal.business_time_between(since, at)
    return replace(clock, consumed=consumed, running_since=None, due_at=None, at_risk_at=None, paused_at=at)


def resume(cal: BusinessCalendar, clock: SlaClock, policy: SlaPolicy, at: datetime) -> SlaClock:
    """Run again from `at` with the budget left; a threshold already passed is due at once."""
    if not clock.is_paused:
        raise SlaClockError(f"cannot resume a {_state(clock)} {clock.policy} clock")
    _require_not_before(clock.paused_at or clock.started_at, at, "resume")
    running = replace(clock, running_since=at, paused_at=None)
    return _with_deadlines(cal, running, policy)


def stop(cal: BusinessCalendar, clock: SlaClock, at: datetime) -> SlaClock:
    """End the clock (met or not): a paused clock keeps what it had consumed when it paused."""
    if clock.is_stopped:
        raise SlaClockError(f"the {clock.policy} clock is already stopped")
    consumed = clock.consumed
    if clock.running_since is not None:
        _require_not_before(clock.running_since, at, "stop")
        consumed += cal.business_time_between(clock.running_since, at)
    else:
        _require_not_before(clock.paused_at or clock.started_at, at, "stop")
    return replace(clock, consumed=consumed, running_since=None, due_at=None, at_risk_at=None, stopped_at=at)


def recompute(cal: BusinessCalendar, clock: SlaClock, policy: SlaPolicy) -> SlaClock:
    """Deadlines of a running clock under a new calendar (or policy); others are returned as is.

    The running stretch since `running_since` is re-measured under the new calendar, so a closure
    declared for today also covers the part of today already elapsed. With an unchanged calendar
    this returns an equal clock.
    """
    if clock.running_since is None:
        return clock
    return _with_deadlines(cal, clock, policy)


def _with_deadlines(cal: BusinessCalendar, clock: SlaClock, policy: SlaPolicy) -> SlaClock:
    assert clock.running_since is not None
    since = clock.running_since
    due_at = _deadline(cal, since, policy.budget - clock.consumed)
    at_risk_at = _deadline(cal, since, policy.at_risk_budget - clock.consumed)
    return replace(clock, due_at=due_at, at_risk_at=at_risk_at)


def _deadline(cal: BusinessCalendar, since: datetime, remaining: timedelta) -> datetime:
    """Earliest instant the remaining budget is used up; if already used up, the next opening."""
    if remaining <= _ZERO:
        return cal.next_opening(since)
    return cal.add_business_time(since, remaining)


def _require_running(clock: SlaClock, at: datetime, action: str) -> datetime:
    if clock.running_since is None:
        raise SlaClockError(f"cannot {action} a {_state(clock)} {clock.policy} clock")
    _require_not_before(clock.running_since, at, action)
    return clock.running_since


def _require_not_before(earlier: datetime, at: datetime, action: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise SlaClockError(f"cannot {action} at naive {at.isoformat()}: give an aware datetime")
    if at < earlier:
        raise SlaClockError(f"cannot {action} at {at.isoformat()}: before {earlier.isoformat()}")


def _state(clock: SlaClock) -> str:
    return "running" if clock.is_running else "stopped" if clock.is_stopped else "paused"
