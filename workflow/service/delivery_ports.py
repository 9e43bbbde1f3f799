"""Embedded mode's fan-out as a queue: unsent outbox rows become one delivery per subscriber,
which the subscriber's workers lease and finish (``uow.deliveries``, one step per unit of work)."""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Delivery:
    id: int
    subscriber: str
    event_id: str
    type: str
    payload: str
    attempts: int
    last_error: str | None


class DeliveryQueue(abc.ABC):
    @abc.abstractmethod
    def fan_out(self, subscriptions: Mapping[str, Collection[str]], *, now: datetime,
                limit: int = 200) -> int:
        """Relay up to ``limit`` unsent outbox rows, in outbox order; how many were sent."""

    @abc.abstractmethod
    def claim(self, subscriber: str, *, limit: int, lease: timedelta,
              now: datetime) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries of a subscriber, by id, counting an attempt."""

    @abc.abstractmethod
    def finish(self, delivery_id: int, *, status: str, now: datetime, error: str | None = None,
               retry_at: datetime | None = None) -> None:
        """``done`` / ``dead`` end a delivery; ``pending`` with ``retry_at`` schedules a retry."""
