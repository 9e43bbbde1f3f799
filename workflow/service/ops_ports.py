"""What the ops pages and the ops sampler know about a queue, and the port that records the
ops history (``workflow.adapters.ops_samples``).

A broker queue's figures come from RabbitMQ's management API when it is enabled, from passive
declares otherwise (ready messages and consumers only); the embedded queue's from its rows.
A figure nobody can know is ``None`` and shows as "n/a" (the age of a broker queue's oldest
message: RabbitMQ 3.10 does not expose it for quorum queues, and ``basic.get`` would charge
``x-delivery-limit``).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

#: where a queue's figures came from
MANAGEMENT = "management API"
PASSIVE = "passive declare"
DATABASE = "database"


@dataclass(frozen=True)
class QueueFigures:
    name: str
    source: str
    #: ready + unacknowledged (the embedded queue: pending rows)
    depth: int | None = None
    ready: int | None = None
    unacked: int | None = None
    consumers: int | None = None
    #: 0..1, the share of time the queue could deliver to a consumer at once
    utilisation: float | None = None
    publish_rate: float | None = None
    deliver_rate: float | None = None
    #: messages in its dead-letter queue (broker) or parked dead (rows)
    dead_letters: int | None = None
    oldest_seconds: float | None = None


@dataclass(frozen=True)
class BrokerReport:
    """The broker's queues as one read found them; ``error`` says why a read failed."""

    source: str
    queues: tuple[QueueFigures, ...] = ()
    error: str | None = None
    #: dead-letter queue name -> messages waiting in it (not archived yet)
    dead_letter_queues: dict[str, int] = field(default_factory=dict)


#: reads the broker now (never raises: a failure is a report with ``error``)
BrokerReader = Callable[[], BrokerReport]


class OpsRecorder(abc.ABC):
    """Writes the ops history: the scheduler's leader calls it through the bus."""

    @abc.abstractmethod
    def record_sample(self, now: datetime, broker: BrokerReport | None, keep: timedelta) -> int:
        """One sample of every series (the broker's queues as ``broker`` found them, the
        embedded queue, the desk), the hourly roll-ups that are missing, and the history older
        than ``keep`` forgotten; how many rows were written."""

    @abc.abstractmethod
    def record_job(self, name: str, at: datetime, seconds: float, detail: str | None) -> None:
        """A periodic job ran at ``at`` for ``seconds``."""
