"""The one throttle port: counters per (scope, key) kept where every process sees them.

``ThrottleCounters`` is the storage, used inside a transaction: ``counter`` returns the row
locked until that transaction ends, so two processes counting the same key wait on each other
instead of both reading the old count. ``Throttle`` is what the entry points call: one short
transaction per ``hit`` that reads, decides (``workflow.domain.throttle``) and counts. Customer
code entry uses the counters directly inside its own transaction, so the lock also covers the
code check.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from workflow.domain.throttle import ALLOWED, CounterState, Decision, ThrottleLimits


class ThrottleCounters(abc.ABC):
    """Counters inside the caller's transaction (nothing is visible before it commits)."""

    @abc.abstractmethod
    def counter(self, scope: str, key: str, now: datetime) -> CounterState:
        """The counter, locked until the transaction ends (created empty when absent)."""

    @abc.abstractmethod
    def save_counter(self, scope: str, key: str, state: CounterState) -> None: ...

    def prune_throttle(self, before: datetime) -> int:
        """Delete the counters whose window and lock ended before ``before``; how many went.
        Only the scheduler's housekeeping needs it, so a fake may leave it out."""
        raise NotImplementedError(f"{type(self).__name__} cannot prune")


#: opens a transaction over the counters: commits when the block ends normally
CountersTransaction = Callable[[], AbstractContextManager[ThrottleCounters]]


class Throttle:
    """Rate limits by scope over shared counters; ``limits.enabled`` False lets everything pass
    (for tests that fuzz routes) without touching the database."""

    def __init__(self, transaction: CountersTransaction, limits: ThrottleLimits) -> None:
        self._transaction = transaction
        self.limits = limits

    @property
    def enabled(self) -> bool:
        return self.limits.enabled

    def hit(self, scope: str, key: str, now: datetime) -> Decision:
        """Count one request for ``key`` if its limit lets it pass; a refused one is not
        counted (it does not push the key's window further)."""
        return self.hit_all([(scope, key)], now)

    def hit_all(self, keys: Sequence[tuple[str, str]], now: datetime) -> Decision:
        """One request counted against several keys at once: refused if any key refuses (then
        none is counted), with the longest wait. Keys are locked in sorted order so that two
        requests sharing keys never wait on each other in a cycle."""
        if not self.enabled:
            return ALLOWED
        ordered = sorted(set(keys))
        with self._transaction() as counters:
            states = [(k, counters.counter(*k, now)) for k in ordered]
            refused = [d for d in (s.decide(now, self.limits.rule(k[0])) for k, s in states)
                       if not d.allowed]
            if refused:
                return max(refused, key=lambda d: d.retry_after_seconds)
            for (scope, key), state in states:
                counters.save_counter(scope, key, state.after_hit(now, self.limits.rule(scope)))
        return ALLOWED

    def refund(self, keys: Sequence[tuple[str, str]], now: datetime) -> None:
        """Give back one hit per key (the attempt turned out to be no failure)."""
        if not self.enabled:
            return
        with self._transaction() as counters:
            for scope, key in sorted(set(keys)):
                state = counters.counter(scope, key, now)
                counters.save_counter(scope, key,
                                      state.after_refund(now, self.limits.rule(scope)))
