"""How often and how late a failed message is tried again: one policy for the embedded workers
(inbox rows and deliveries re-leased after a delay) and the AMQP consumers (retry queues)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``max_attempts`` attempts; the n-th retry waits ``delays[n - 1]`` seconds, the
    last delay repeated when there are more retries than delays."""

    max_attempts: int = 5
    delays: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or not self.delays or min(self.delays) < 0:
            raise ValueError("retry: max_attempts >= 1 and at least one delay, none negative")

    def may_retry(self, attempts: int) -> bool:
        """Whether a message that failed its ``attempts``-th attempt is tried again."""
        return attempts < self.max_attempts

    def delay_after(self, attempts: int) -> timedelta:
        """The wait before the next attempt, after ``attempts`` attempts (1 or more)."""
        return timedelta(seconds=self.delays[min(max(attempts, 1), len(self.delays)) - 1])

    def queue_delays(self) -> tuple[int, ...]:
        """The delays as the broker's retry queues: one per retry (``max_attempts - 1``), in
        whole seconds and at least 1 (a message TTL in milliseconds rounds badly below that)."""
        whole = [max(1, round(d)) for d in self.delays]
        return tuple(whole[min(i, len(whole) - 1)] for i in range(self.max_attempts - 1))
