"""The composition root's way into the AMQP consumers: ``resetdesk consume <queue>``."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from consumers.amqp.consumer import MessageHandler, run_consumer
from consumers.amqp.routing import ByType, is_intake, subscribers_for
from consumers.topology import CONSUMER_QUEUES, ConsumerQueue
from workflow.domain.retry import RetryPolicy

if TYPE_CHECKING:
    from consumers.amqp.routing import EventSubscriber
    from consumers.request_handling import RequestHandler

log = logging.getLogger("consumers.amqp.consumer")


class AmqpSettings(Protocol):
    @property
    def broker_url(self) -> str | None: ...
    @property
    def amqp_prefetch(self) -> int: ...
    @property
    def amqp_heartbeat(self) -> int: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def retry_delays_seconds(self) -> Sequence[float]: ...
    @property
    def amqp_system_user(self) -> str | None: ...


class AmqpApp(Protocol):
    """What ``consume_main`` needs of the composition root (``resetdesk.bootstrap.App`` fits)."""

    @property
    def settings(self) -> AmqpSettings: ...
    @property
    def request_handler(self) -> RequestHandler: ...
    def subscribers(self) -> Sequence[EventSubscriber]: ...


def amqp_retry_delays(delays: Sequence[float], max_attempts: int) -> tuple[int, ...]:
    """The settings' retry policy as the broker's retry queues (one per retry)."""
    return RetryPolicy.of(max_attempts, delays).broker_delays()


def handler_factory_for(app: AmqpApp, queue: ConsumerQueue) -> Callable[[], MessageHandler]:
    """The handler for ``queue``, chosen by the event types it is bound to
    (:mod:`consumers.amqp.routing`); a RoutingError (a ValueError) when nothing handles them."""
    from consumers.amqp.confirms import broker_user
    from consumers.amqp.notifications import NotificationConsumer
    from consumers.amqp.requests import VerificationConsumer

    if is_intake(queue):
        s = app.settings
        system_user = s.amqp_system_user or (broker_user(s.broker_url) if s.broker_url else None)
        return lambda: VerificationConsumer(app.request_handler, system_user=system_user)
    router = ByType(subscribers_for(queue, app.subscribers()))
    return lambda: NotificationConsumer(router)


def consume_main(app: AmqpApp, queue: str) -> None:
    """``resetdesk consume <queue>``: run one consumer until SIGTERM or SIGINT."""
    s = app.settings
    if not s.broker_url:
        raise ValueError("RESETDESK_BROKER_URL is not set: consumers need RabbitMQ")
    if queue not in CONSUMER_QUEUES:
        raise ValueError(f"unknown queue {queue!r}; known: {', '.join(sorted(CONSUMER_QUEUES))}")
    consumer_queue = replace(CONSUMER_QUEUES[queue],
                             retry_delays=amqp_retry_delays(s.retry_delays_seconds,
                                                            s.max_attempts))
    factory = handler_factory_for(app, consumer_queue)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("consumer %s: %s received, stopping", queue, signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        run_consumer(consumer_queue, broker_url=s.broker_url, handler_factory=factory,
                     prefetch=s.amqp_prefetch, heartbeat=s.amqp_heartbeat, stop_event=stop,
                     workers=getattr(s, "amqp_workers", 1))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
