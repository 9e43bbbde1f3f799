"""The RabbitMQ topology, declared in one place. Declaring it twice is harmless.

- ``resetdesk.requests`` (topic): where form producers publish, routing key = event type. It has
  NO alternate exchange: a producer publishing ``mandatory`` with a mistyped key gets it back.
- ``resetdesk.events`` (topic): what the outbox relay publishes. Its alternate exchange leads to
  the queue ``events.unrouted``, so an event nobody consumes yet is kept, not dropped.
- One quorum queue per consumer, dead-lettering at-least-once (``x-dead-letter-strategy`` with
  ``x-overflow: reject-publish``; RabbitMQ silently ignores misspelt arguments, so the names here
  are checked by a test) into ``<queue>.dlq`` through ``resetdesk.dlx``, with an explicit
  ``x-delivery-limit``.
- Retries: one queue per delay, ``<queue>.retry.<seconds>s``, with a queue-level TTL that
  dead-letters back to ``<queue>`` through the default exchange — a retried message returns to
  the one consumer that failed it. Attempts are read from ``x-death``; nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from schemas.events_v1 import NOTIFICATION_EMAIL_V1, SLA_BREACHED_V1
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from workflow.domain.retry import RetryPolicy

REQUESTS = Exchange("resetdesk.requests", type="topic", durable=True)
EVENTS_UNROUTED = Exchange("resetdesk.events.unrouted", type="fanout", durable=True)
EVENTS = Exchange("resetdesk.events", type="topic", durable=True,
                  arguments={"alternate-exchange": EVENTS_UNROUTED.name})
DLX = Exchange("resetdesk.dlx", type="direct", durable=True)
RETRY = Exchange("resetdesk.retry", type="direct", durable=True)

#: Every redelivery counts toward it, including those a dropped connection causes for each
#: prefetched message (RabbitMQ 3.10): sized for several crashes at the largest prefetch.
DELIVERY_LIMIT = 50
RETRY_DELAYS_SECONDS: tuple[int, ...] = (1, 5, 30, 120)


def _quorum(**extra: Any) -> dict[str, Any]:
    return {"x-queue-type": "quorum", **extra}


@dataclass(frozen=True)
class ConsumerQueue:
    """A consumer's queue with its dead-letter and retry queues."""

    name: str
    exchange: Exchange
    routing_keys: tuple[str, ...]
    retry_delays: tuple[int, ...] = field(default=RETRY_DELAYS_SECONDS)
    delivery_limit: int = DELIVERY_LIMIT

    @property
    def dlq_name(self) -> str:
        return f"{self.name}.dlq"

    @property
    def retry_policy(self) -> RetryPolicy:
        """One attempt, then one retry per retry queue."""
        return RetryPolicy.of_broker(self.retry_delays)

    def retry_key(self, delay: int) -> str:
        return f"{self.name}.retry.{delay}s"

    def main(self) -> Queue:
        args = _quorum(**{
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": DLX.name,
            "x-dead-letter-routing-key": self.name,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        })
        return Queue(self.name, exchange=self.exchange, routing_key=self.routing_keys[0],
                     durable=True, queue_arguments=args,
                     bindings=None)

    def dead_letters(self) -> Queue:
        return Queue(self.dlq_name, exchange=DLX, routing_key=self.name, durable=True,
                     queue_arguments=_quorum())

    def retry_queues(self) -> list[Queue]:
        return [
            Queue(self.retry_key(d), exchange=RETRY, routing_key=self.retry_key(d), durable=True,
                  queue_arguments=_quorum(**{
                      "x-message-ttl": d * 1000,
                      "x-dead-letter-exchange": "",
                      "x-dead-letter-routing-key": self.name,
                      "x-dead-letter-strategy": "at-least-once",
                      "x-overflow": "reject-publish",
                  }))
            for d in self.retry_delays
        ]

    def declare(self, channel: Any) -> None:
        main = self.main()(channel)
        main.declare()
        for key in self.routing_keys[1:]:
            main.bind_to(exchange=self.exchange, routing_key=key)
        self.dead_letters()(channel).declare()
        for q in self.retry_queues():
            q(channel).declare()


VERIFICATION = ConsumerQueue("verification", REQUESTS, (REQUEST_SUBMITTED_V1,))
NOTIFICATIONS = ConsumerQueue("notifications", EVENTS, (NOTIFICATION_EMAIL_V1,))
ESCALATION = ConsumerQueue("escalation", EVENTS, (SLA_BREACHED_V1,))
CONSUMER_QUEUES: dict[str, ConsumerQueue] = {
    q.name: q for q in (VERIFICATION, NOTIFICATIONS, ESCALATION)
}
UNROUTED = Queue("events.unrouted", exchange=EVENTS_UNROUTED, routing_key="", durable=True,
                 queue_arguments=_quorum())


def declare_all(connection: Connection, queues: Sequence[ConsumerQueue] | None = None) -> None:
    """Exchanges, consumer queues, their dead-letter and retry queues, and ``events.unrouted``."""
    channel = connection.default_channel
    for exchange in (REQUESTS, EVENTS_UNROUTED, EVENTS, DLX, RETRY):
        exchange(channel).declare()
    UNROUTED(channel).declare()
    for q in queues if queues is not None else CONSUMER_QUEUES.values():
        q.declare(channel)
