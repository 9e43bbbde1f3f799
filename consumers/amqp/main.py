"""The composition root's way into the AMQP consumers: ``resetdesk consume <queue>``."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from consumers.amqp.consumer import MessageHandler, run_consumer
from consumers.amqp.routing import ByType, is_intake, subscribers_for
from consumers.topology import CONSUMER_QUEUES, ConsumerQueue
from workflow.domain.retry import RetryPolicy

if TYPE_CHECKING:
    from consumers.amqp.request_batch import BatchTransactions
    from consumers.amqp.routing import EventSubscriber
    from consumers.request_handling import RequestHandler

log = logging.getLogger("consumers.amqp.consumer")


@dataclass(frozen=True)
class ConsumerConfig:
    """What a consumer process needs of the settings (the composition root builds it)."""

    broker_url: str | None
    prefetch: int
    heartbeat: int
    #: handler threads per process
    workers: int
    #: the broker user the relay publishes as (None: the user in ``broker_url``)
    system_user: str | None
    #: the same policy as the embedded workers', as retry queues (``RetryPolicy.queue_delays``)
    retry: RetryPolicy
    #: group commit of the verification consumer (1: one transaction per message)
    batch_size: int = 1
    #: seconds a batch waits for more messages after its first
    batch_window: float = 0.005


class AmqpApp(Protocol):
    """What ``consume_main`` needs of the composition root (``resetdesk.bootstrap.App`` fits)."""

    def consumer_config(self) -> ConsumerConfig: ...
    @property
    def request_handler(self) -> RequestHandler: ...
    def subscribers(self) -> Sequence[EventSubscriber]: ...
    def batch_transactions(self) -> BatchTransactions: ...


def handler_factory_for(app: AmqpApp, queue: ConsumerQueue) -> Callable[[], MessageHandler]:
    """The handler for ``queue``, chosen by the event types it is bound to
    (:mod:`consumers.amqp.routing`); a RoutingError (a ValueError) when nothing handles them."""
    from consumers.amqp.confirms import broker_user
    from consumers.amqp.notifications import NotificationConsumer
    from consumers.amqp.requests import VerificationConsumer

    if is_intake(queue):
        c = app.consumer_config()
        system_user = c.system_user or (broker_user(c.broker_url) if c.broker_url else None)
        if c.batch_size > 1:
            from consumers.amqp.request_batch import BatchVerification

            return lambda: BatchVerification(
                VerificationConsumer(app.request_handler, system_user=system_user),
                app.batch_transactions())
        return lambda: VerificationConsumer(app.request_handler, system_user=system_user)
    router = ByType(subscribers_for(queue, app.subscribers()))
    return lambda: NotificationConsumer(router)


def consume_main(app: AmqpApp, queue: str) -> None:
    """``resetdesk consume <queue>``: run one consumer until SIGTERM or SIGINT."""
    c = app.consumer_config()
    if not c.broker_url:
        raise ValueError("RESETDESK_BROKER_URL is not set: consumers need RabbitMQ")
    if queue not in CONSUMER_QUEUES:
        raise ValueError(f"unknown queue {queue!r}; known: {', '.join(sorted(CONSUMER_QUEUES))}")
    consumer_queue = replace(CONSUMER_QUEUES[queue], retry_delays=c.retry.queue_delays())
    factory = handler_factory_for(app, consumer_queue)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("consumer %s: %s received, stopping", queue, signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        # a batch holds only what the broker lets in: room for one batch per worker thread
        batching = c.batch_size > 1 and is_intake(consumer_queue)
        prefetch = max(c.prefetch, c.batch_size * c.workers) if batching else c.prefetch
        run_consumer(consumer_queue, broker_url=c.broker_url, handler_factory=factory,
                     prefetch=prefetch, heartbeat=c.heartbeat, stop_event=stop,
                     workers=c.workers, batch_size=c.batch_size, batch_window=c.batch_window)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
