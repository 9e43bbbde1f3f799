"""How often failing work is tried and how long to wait in between: one rule for the inbox
workers, the embedded deliveries and the broker's retry queues, so the three never drift apart.

Attempts count from 1. After attempt ``n`` fails, the next one comes ``delays[n-1]`` seconds
later (the last delay repeats when there are fewer delays than retries); after attempt
``max_attempts`` fails, the work is dead-lettered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    delays: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or not self.delays or min(self.delays) < 0:
            raise ValueError("retry: max_attempts >= 1 and at least one delay, none negative")
        object.__setattr__(self, "delays", tuple(self.delays))

    @classmethod
    def of_broker(cls, retry_delays: Sequence[int]) -> RetryPolicy:
        """The policy a set of broker retry queues stands for: one retry per queue delay."""
        return cls(len(retry_delays) + 1, tuple(retry_delays) or (1.0,))

    def may_retry(self, attempts: int) -> bool:
        """Whether work that failed its ``attempts``-th attempt is tried again."""
        return attempts < self.max_attempts

    def exhausted(self, attempts: int) -> bool:
        """True once ``attempts`` tries have failed and no other is allowed."""
        return not self.may_retry(attempts)

    def seconds_after(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed try (whether or not one is left)."""
        return self.delays[min(max(attempts, 1), len(self.delays)) - 1]

    def delay_after(self, attempts: int) -> timedelta:
        return timedelta(seconds=self.seconds_after(attempts))

    def next_delay(self, attempts: int) -> float | None:
        """The wait before the next try, or None when the work must be dead-lettered."""
        return None if self.exhausted(attempts) else self.seconds_after(attempts)

    def queue_delays(self) -> tuple[int, ...]:
        """The delay of each retry (``max_attempts - 1``) in whole seconds, at least 1: the
        broker's retry queues, which are named by their delay (a message TTL in milliseconds
        rounds badly below a second)."""
        return tuple(max(1, round(self.seconds_after(n))) for n in range(1, self.max_attempts))
