"""The generic kombu consumer runtime: decode in a handler, settle on the connection's thread.

One connection per consumer process, owned by one thread (py-amqp is not thread-safe and has no
heartbeat thread). That thread declares the topology, consumes, and loops: wait for broker
frames *or* finished work (``select`` on the socket and a wake-up pipe), ``drain_events`` with a
time-out, ``heartbeat_check()``, then settle finished work — publish the retry/dead-letter copy
(confirmed) and ack. Handlers run in a small thread pool, so a slow one never starves the
heartbeats, and they only return a :class:`Verdict`; they never touch the channel.

Nothing a message holds may raise on that thread (it would read as a lost connection, and the
broker would dead-letter the message and those prefetched with it, without a reason): the
delivery is built without raising (:mod:`consumers.amqp.delivery`; a bad one is dead-lettered
``invalid``), the threads are deep enough for any header table one frame carries
(:mod:`consumers.amqp.threads`), and properties that are not UTF-8 do not stop py-amqp's frame
reader (:mod:`consumers.amqp.properties`).

This module is the connection loop; :mod:`.settling` acks, rejects and republishes,
:mod:`.workers` runs the handlers, and :mod:`.main` picks the handler (:mod:`.routing`).

A lost connection (broker restart, forced close, missed heartbeats) is re-opened with back-off;
deliveries of the old channel that were not acked come back from the broker, and results of work
still running for them are dropped. ``stop_event`` stops cleanly: cancel the subscription, return
prefetched messages not yet started, let the running ones finish within ``grace_seconds`` (ack)
or return them (reject with requeue), close.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kombu.connection import Connection

from consumers.amqp.batch_workers import BatchWorkers
from consumers.amqp.batching import BatchHandler
from consumers.amqp.connection import Backoff, open_connection
from consumers.amqp.delivery import Delivery, MessageHandler, Verdict, delivery_from_message
from consumers.amqp.properties import install as lenient_properties
from consumers.amqp.retry import Republisher
from consumers.amqp.settling import Settler, Work
from consumers.amqp.threads import allow_tables, run_deep
from consumers.amqp.workers import Workers
from consumers.topology import CONSUMER_QUEUES, ConsumerQueue, declare_all

log = logging.getLogger(__name__)

__all__ = ["AmqpConsumer", "Delivery", "MessageHandler", "Verdict", "run_consumer"]


class AmqpConsumer:
    """See the module docstring; :func:`run_consumer` is the way in."""

    def __init__(self, queue: ConsumerQueue, *, broker_url: str, handler: MessageHandler,
                 prefetch: int, heartbeat: int, stop_event: threading.Event,
                 grace_seconds: float = 30.0, workers: int = 1, connect_timeout: float = 10.0,
                 confirm_timeout: float = 10.0, max_backoff: float = 30.0,
                 connection_name: str | None = None, batch_size: int = 1,
                 batch_window: float = 0.005) -> None:
        if prefetch < 1 or workers < 1:
            raise ValueError("prefetch and workers must be at least 1")
        self.queue = queue
        self.url = broker_url
        self.handler = handler
        self.prefetch = prefetch
        self.heartbeat = heartbeat
        self.stop_event = stop_event
        self.grace = grace_seconds
        self.connect_timeout = connect_timeout
        self.confirm_timeout = confirm_timeout
        self.connection_name = connection_name or f"resetdesk-consumer-{queue.name}"
        self.tick = min(0.25, heartbeat / 4) if heartbeat else 0.25  # also how soon a stop is seen
        self._backoff = Backoff(cap=max_backoff)
        self.workers = workers
        #: group commit (a handler with ``handle_batch`` only): deliveries per batch, and how
        #: long a batch waits for more after its first
        self.batch_size, self.batch_window = batch_size, batch_window
        self._workers: Workers | None = None
        self._settler = Settler(queue)
        self._session = 0
        self._stopping = False
        #: connections opened so far (tests and logs read it)
        self.connections = 0

    @property
    def reconnects(self) -> int:
        """Connections opened after the first: each one a lost connection."""
        return max(0, self.connections - 1)

    # --- the outer loop: connect, serve, back off -------------------------------------------

    def run(self) -> None:
        """Serve until ``stop_event`` is set, on a thread deep enough for any header table
        (:mod:`consumers.amqp.threads`); the calling thread only waits."""
        allow_tables()
        lenient_properties()
        run_deep(self._run, f"amqp-{self.queue.name}")

    def _run(self) -> None:
        workers = self._workers = self._pool()
        try:
            while not self.stop_event.is_set():
                try:
                    self._serve()
                except Exception as err:  # everything connection-shaped: log, back off, go on
                    if self.stop_event.is_set():
                        break
                    delay = self._backoff.next()
                    if "user_id property set to" in str(err):
                        log.error("consumer %s: RabbitMQ refused to republish a copy carrying "
                                  "the producer's user_id: give the consumer's user the "
                                  "'impersonator' tag", self.queue.name)
                    log.warning("consumer %s: connection lost (%s: %s); reconnecting in %.1f s",
                                self.queue.name, type(err).__name__, err, delay)
                    self.stop_event.wait(delay)
        finally:
            workers.close()

    def _pool(self) -> Workers:
        if self.batch_size > 1 and isinstance(self.handler, BatchHandler):
            return BatchWorkers(self.queue.name, self.handler, self.workers,
                                size=self.batch_size, window=self.batch_window)
        return Workers(self.queue.name, self.handler, self.workers)

    def _open(self) -> Connection:
        conn = open_connection(self.url, heartbeat=self.heartbeat,
                               connect_timeout=self.connect_timeout,
                               confirm_timeout=self.confirm_timeout, name=self.connection_name)
        self.connections += 1
        return conn

    def _serve(self) -> None:
        self._session += 1
        self._settler.forget()
        self._stopping = False
        conn = self._open()
        clean = False
        try:
            declare_all(conn, [self.queue])
            channel = conn.channel()
            channel.auto_decode = False  # the body stays the octets sent, whatever its encoding
            channel.basic_qos(0, self.prefetch, False)
            publishing = conn.channel()
            publishing.auto_decode = False  # returned messages too
            republisher = Republisher(publishing, self.confirm_timeout)
            main = self.queue.main()(channel)
            tag = main.consume(f"{self.connection_name}-{self._session}",
                               callback=self._on_message, no_ack=False)
            log.info("consumer %s: consuming (prefetch %d, heartbeat %s s)",
                     self.queue.name, self.prefetch, self.heartbeat)
            self._backoff.reset()
            self._loop(conn, channel, main, tag, republisher)
            clean = True
        finally:
            self._settler.forget()  # unacked: the broker delivers them again
            with contextlib.suppress(Exception):
                if clean:
                    conn.release()
                else:  # the peer may be gone: drop the socket without a close handshake
                    conn.collect()

    # --- the connection's thread --------------------------------------------------------------

    def _loop(self, conn: Connection, channel: Any, main: Any, tag: str,
              republisher: Republisher) -> None:
        deadline = 0.0
        settler = self._settler
        while True:
            self._settle_finished(channel, republisher)
            if self.stop_event.is_set() and not self._stopping:
                self._stopping = True
                deadline = time.monotonic() + self.grace
                main.cancel(tag)
                settler.return_unstarted(channel)
                log.info("consumer %s: stopping; %d message(s) in progress",
                         self.queue.name, len(settler))
            if self._stopping:
                if not settler.inflight:
                    return
                if time.monotonic() >= deadline:
                    settler.return_all(channel, self.grace)
                    return
            self._pump(conn)
            conn.heartbeat_check()

    def _pump(self, conn: Connection) -> None:
        """Wait up to one tick for broker frames or a finished handler, and read what came."""
        assert self._workers is not None
        sock = conn.connection.sock
        pending = getattr(sock, "pending", None)  # TLS may hold a decrypted frame already
        if not (pending and pending()) and not self._workers.wait(sock, self.tick):
            return
        with contextlib.suppress(TimeoutError):
            conn.drain_events(timeout=min(self.tick, 0.05))

    def _on_message(self, message: Any) -> None:
        """basic.deliver, called inside drain_events: hand the message to a worker. Nothing
        here may raise on a message's content (it would read as a lost connection):
        ``delivery_from_message`` turns any problem into ``Delivery.problem``."""
        tag = message.delivery_info["delivery_tag"]
        work = Work(self._session, tag, message, delivery_from_message(self.queue, message))
        if self._stopping:
            self._settler.reject(message.channel, work, requeue=True)
            return
        self._settler.track(work)
        assert self._workers is not None
        self._workers.submit(work)

    def _settle_finished(self, channel: Any, republisher: Republisher) -> None:
        assert self._workers is not None
        self._settler.settle_finished(channel, republisher, self._workers.finished(),
                                      self._session)

def run_consumer(queue_name: str | ConsumerQueue, *, broker_url: str,
                 handler_factory: Callable[[], MessageHandler], prefetch: int, heartbeat: int,
                 stop_event: threading.Event, grace_seconds: float = 30.0, workers: int = 1,
                 on_start: Callable[[AmqpConsumer], None] | None = None, batch_size: int = 1,
                 batch_window: float = 0.005) -> None:
    """Consume ``queue_name`` (a name from ``consumers.topology.CONSUMER_QUEUES``, or a
    ConsumerQueue, e.g. one with other retry delays) until ``stop_event`` is set."""
    queue = CONSUMER_QUEUES[queue_name] if isinstance(queue_name, str) else queue_name
    consumer = AmqpConsumer(queue, broker_url=broker_url, handler=handler_factory(),
                            prefetch=prefetch, heartbeat=heartbeat, stop_event=stop_event,
                            grace_seconds=grace_seconds, workers=workers,
                            batch_size=batch_size, batch_window=batch_window)
    if on_start is not None:
        on_start(consumer)
    consumer.run()
