"""Rate limits as pure arithmetic: a fixed-window counter per (scope, key), optionally locking
the key for a while when it reaches its limit.

Fixed windows rather than sliding ones because the state is one small row (window start, count,
lock) that one locked read and one write keep exact across processes; the price is that a key
may spend up to twice its limit across a window boundary, which every limit here tolerates.
The storage lives behind ``workflow.service.throttle``; nothing here knows about it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

#: agent sign-in, counted per login and per client address (failures: a success is refunded)
SIGNIN_LOGIN, SIGNIN_ADDR = "signin-login", "signin-addr"
#: customer link pages (reset keys, callbacks), per client address
CUSTOMER_ADDR = "customer-addr"
#: HTTP intake per producer: POST /events and GET /events/{id}
INTAKE, INTAKE_STATUS = "intake", "intake-status"


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` hits per ``window``; with ``lockout``, the hit that reaches the limit
    locks the key for that long (and the count starts over), else the key is refused until its
    window ends."""

    limit: int
    window: timedelta
    lockout: timedelta | None = None

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= timedelta(0):
            raise ValueError("a rate limit needs limit >= 1 and a positive window")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: whole seconds until a refused key may try again (0 when allowed)
    retry_after_seconds: int = 0

    @classmethod
    def refused_until(cls, until: datetime, now: datetime) -> Decision:
        return cls(False, max(1, math.ceil((until - now).total_seconds())))


ALLOWED = Decision(True)


@dataclass(frozen=True)
class CounterState:
    window_start: datetime
    count: int = 0
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def decide(self, now: datetime, rule: RateLimit) -> Decision:
        """Whether one more hit may pass now (nothing counted)."""
        if self.locked_until is not None and now < self.locked_until:
            return Decision.refused_until(self.locked_until, now)
        window_end = self.window_start + rule.window
        if now < window_end and self.count >= rule.limit:
            return Decision.refused_until(window_end, now)
        return ALLOWED

    def after_hit(self, now: datetime, rule: RateLimit) -> CounterState:
        """The state once one more hit is counted: a lapsed window starts over, and with a
        lockout the hit that reaches the limit locks the key and clears the count."""
        fresh = now >= self.window_start + rule.window
        count = (0 if fresh else self.count) + 1
        if rule.lockout is not None and count >= rule.limit:
            return CounterState(window_start=now, count=0, locked_until=now + rule.lockout)
        return CounterState(now if fresh else self.window_start, count, self.locked_until)

    def after_refund(self, now: datetime, rule: RateLimit) -> CounterState:
        """Give back one hit of the current window (a sign-in that succeeded); a lapsed window
        or an empty count has nothing to give back."""
        if now >= self.window_start + rule.window or self.count == 0:
            return self
        return CounterState(self.window_start, self.count - 1, self.locked_until)


def throttle_key(secret: bytes, kind: str, value: str) -> str:
    """A counter key that does not store the address, login or reference it counts."""
    message = f"resetdesk-throttle-v1|{kind}|{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ThrottleLimits:
    """The HTTP rate limits, by scope (a deployment's come from its ``throttle`` settings), and
    the one switch that turns every one of them off."""

    enabled: bool = True
    rules: Mapping[str, RateLimit] = field(default_factory=lambda: default_rules())

    def rule(self, scope: str) -> RateLimit:
        return self.rules[scope]


def default_rules(*, signin_failures_per_login: int = 10, signin_failures_per_address: int = 50,
                  signin_window_minutes: float = 15, customer_link_rate_per_minute: int = 60,
                  intake_rate_per_minute: int = 6000,
                  intake_status_rate_per_minute: int = 6000) -> dict[str, RateLimit]:
    """Each scope's limit: sign-in failures per login and per address in one window, the
    customer link pages per address and intake per producer token, per minute."""
    signin_window = timedelta(minutes=signin_window_minutes)
    minute = timedelta(minutes=1)
    return {
        SIGNIN_LOGIN: RateLimit(signin_failures_per_login, signin_window),
        SIGNIN_ADDR: RateLimit(signin_failures_per_address, signin_window),
        CUSTOMER_ADDR: RateLimit(customer_link_rate_per_minute, minute),
        INTAKE: RateLimit(intake_rate_per_minute, minute),
        INTAKE_STATUS: RateLimit(intake_status_rate_per_minute, minute),
    }
