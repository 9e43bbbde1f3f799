"""Group commit's collector: take what is ready, up to a batch size, or what arrives within a
short window after the first message — never more waiting than the window.

Pure (no I/O, no threads of its own): it is given a blocking ``take(timeout)`` and a clock, so
tests drive it with a list and a fake clock. :mod:`consumers.amqp.batch_workers` runs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from consumers.amqp.delivery import Delivery, Verdict

T = TypeVar("T")

#: ``take(timeout)``: the next item, or None when none came within ``timeout`` seconds
#: (``timeout`` 0: only one that is ready now); it may also return None to say "stop"
Take = Callable[[float], T | None]


def collect(first: T, take: Take[T], size: int, window: float,
            clock: Callable[[], float] = time.monotonic) -> list[T]:
    """``first`` and what follows it: everything ready at once, then what arrives until
    ``window`` seconds after the start, until ``size`` items are held."""
    batch = [first]
    deadline = clock() + window
    while len(batch) < size:
        item = take(0.0)  # what is ready costs no waiting
        if item is None:
            left = deadline - clock()
            if left <= 0:
                break
            item = take(left)
            if item is None:
                break
        batch.append(item)
    return batch


@runtime_checkable
class BatchHandler(Protocol):
    """A message handler that can also write several deliveries in one transaction."""

    def __call__(self, delivery: Delivery) -> Verdict: ...

    def handle_batch(self, deliveries: Sequence[Delivery]) -> list[Verdict]:
        """One verdict per delivery, in order; acked only after the batch's commit."""
