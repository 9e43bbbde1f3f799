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

A lost connection (broker restart, forced close, missed heartbeats) is re-opened with back-off;
deliveries of the old channel that were not acked come back from the broker, and results of work
still running for them are dropped. ``stop_event`` stops cleanly: cancel the subscription, return
prefetched messages not yet started, let the running ones finish within ``grace_seconds`` (ack)
or return them (reject with requeue), close.
"""

from __future__ import annotations

import contextlib
import logging
import queue as queue_mod
import select
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kombu.connection import Connection

from consumers.amqp.delivery import INVALID, Delivery, MessageHandler, Verdict, delivery_from_message
from consumers.amqp.properties import install as lenient_properties
from consumers.amqp.retry import PublishFailed, Republisher, dead_letter_copy, next_delay, retry_copy
from consumers.amqp.threads import DeepPool, allow_tables, run_deep
from consumers.topology import CONSUMER_QUEUES, ConsumerQueue, declare_all
from workflow.logcontext import log_context

if TYPE_CHECKING:
    from consumers.amqp.main import AmqpApp

log = logging.getLogger(__name__)

__all__ = ["AmqpConsumer", "Delivery", "MessageHandler", "Verdict", "consume_main", "run_consumer"]


class _Lost(Exception):
    """The connection must be re-opened."""


@dataclass
class _Work:
    session: int
    tag: int
    message: Any  # amqp.Message
    delivery: Delivery
    future: Future[Verdict] | None = None


@dataclass
class _Backoff:
    first: float = 0.5
    cap: float = 30.0
    current: float = field(default=0.0)

    def next(self) -> float:
        self.current = self.first if not self.current else min(self.current * 2, self.cap)
        return self.current

    def reset(self) -> None:
        self.current = 0.0


def _now() -> datetime:
    return datetime.now(UTC)


class AmqpConsumer:
    """See the module docstring; :func:`run_consumer` is the way in."""

    def __init__(self, queue: ConsumerQueue, *, broker_url: str, handler: MessageHandler,
                 prefetch: int, heartbeat: int, stop_event: threading.Event,
                 grace_seconds: float = 30.0, workers: int = 1, connect_timeout: float = 10.0,
                 confirm_timeout: float = 10.0, max_backoff: float = 30.0,
                 connection_name: str | None = None) -> None:
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
        self._backoff = _Backoff(cap=max_backoff)
        self.workers = workers
        self._pool: DeepPool | None = None
        self._done: queue_mod.SimpleQueue[_Work] = queue_mod.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._session = 0
        self._inflight: dict[int, _Work] = {}
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
        pool = self._pool = DeepPool(self.workers, f"amqp-{self.queue.name}-worker")
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
            pool.shutdown()
            self._wake_r.close()
            self._wake_w.close()

    def _open(self) -> Connection:
        conn = Connection(self.url, heartbeat=self.heartbeat, connect_timeout=self.connect_timeout,
                          transport_options={
                              "confirm_publish": True,
                              "write_timeout": self.confirm_timeout,
                              "client_properties": {"connection_name": self.connection_name},
                          })
        conn.connect()
        self.connections += 1
        allow_tables(conn.connection.frame_max)  # what the broker negotiated, before any delivery
        return conn

    def _serve(self) -> None:
        self._session += 1
        self._inflight.clear()
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
            for work in self._inflight.values():  # unacked: the broker delivers them again
                if work.future is not None:
                    work.future.cancel()
            self._inflight.clear()
            with contextlib.suppress(Exception):
                if clean:
                    conn.release()
                else:  # the peer may be gone: drop the socket without a close handshake
                    conn.collect()

    # --- the connection's thread --------------------------------------------------------------

    def _loop(self, conn: Connection, channel: Any, main: Any, tag: str,
              republisher: Republisher) -> None:
        deadline = 0.0
        while True:
            self._settle_finished(channel, republisher)
            if self.stop_event.is_set() and not self._stopping:
                self._stopping = True
                deadline = time.monotonic() + self.grace
                main.cancel(tag)
                self._return_unstarted(channel)
                log.info("consumer %s: stopping; %d message(s) in progress",
                         self.queue.name, len(self._inflight))
            if self._stopping:
                if not self._inflight:
                    return
                if time.monotonic() >= deadline:
                    for work in list(self._inflight.values()):
                        log.warning("consumer %s: message %s not finished within %.0f s; "
                                    "returned to the queue", self.queue.name,
                                    work.delivery.properties.get("message_id"), self.grace)
                        self._reject(channel, work, requeue=True)
                    return
            self._pump(conn)
            conn.heartbeat_check()

    def _pump(self, conn: Connection) -> None:
        """Wait up to one tick for broker frames or a finished handler, and read what came."""
        raw = conn.connection
        sock = raw.sock
        pending = getattr(sock, "pending", None)  # TLS may hold a decrypted frame already
        if not (pending and pending()):
            ready, _, _ = select.select([sock, self._wake_r], [], [], self.tick)
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    while self._wake_r.recv(4096):
                        pass
            if sock not in ready:
                return
        with contextlib.suppress(TimeoutError):
            conn.drain_events(timeout=min(self.tick, 0.05))

    def _on_message(self, message: Any) -> None:
        """basic.deliver, called inside drain_events: hand the message to a worker. Nothing
        here may raise on a message's content (it would read as a lost connection):
        ``delivery_from_message`` turns any problem into ``Delivery.problem``."""
        tag = message.delivery_info["delivery_tag"]
        delivery = delivery_from_message(self.queue, message)
        work = _Work(self._session, tag, message, delivery)
        if self._stopping:
            self._reject(message.channel, work, requeue=True)
            return
        self._inflight[tag] = work
        assert self._pool is not None
        work.future = self._pool.submit(lambda: self._run_handler(delivery))
        work.future.add_done_callback(lambda _f: self._finished(work))

    def _return_unstarted(self, channel: Any) -> None:
        for work in list(self._inflight.values()):
            if work.future is not None and work.future.cancel():
                self._reject(channel, work, requeue=True)

    def _settle_finished(self, channel: Any, republisher: Republisher) -> None:
        while True:
            try:
                work = self._done.get_nowait()
            except queue_mod.Empty:
                return
            if work.session != self._session or work.tag not in self._inflight:
                continue  # its channel is gone: the broker redelivers that message
            if work.future is None or work.future.cancelled():
                continue
            self._settle(channel, republisher, work, work.future.result())

    def _settle(self, channel: Any, republisher: Republisher, work: _Work,
                verdict: Verdict) -> None:
        with log_context(message_id=_text(work.delivery.properties.get("message_id"))):
            self._settle_one(channel, republisher, work, verdict)

    def _settle_one(self, channel: Any, republisher: Republisher, work: _Work,
                    verdict: Verdict) -> None:
        d = work.delivery
        message_id = d.properties.get("message_id")
        if verdict.action == "retry":
            delay = next_delay(self.queue, d.attempt - 1)
            if delay is not None:
                if not self._republish(channel, republisher, work,
                                       retry_copy(self.queue, delay, d.headers, verdict.reason)):
                    return
                log.info("consumer %s: message %s attempt %d failed (%s); retry in %d s",
                         self.queue.name, message_id, d.attempt, verdict.reason, delay)
                self._ack(channel, work)
                return
            verdict = Verdict.dead(f"gave up after {d.attempt} attempts; last error: "
                                   f"{verdict.reason}", "retries_exhausted")
        if verdict.action == "dead":
            copy = dead_letter_copy(self.queue, d.headers, reason=verdict.reason,
                                    code=verdict.code, now=_now())
            if not self._republish(channel, republisher, work, copy):
                return
            log.warning("consumer %s: message %s dead-lettered to %s: %s (%s)", self.queue.name,
                        message_id, self.queue.dlq_name, verdict.reason, verdict.code)
        self._ack(channel, work)

    def _republish(self, channel: Any, republisher: Republisher, work: _Work, copy: Any) -> bool:
        try:
            republisher.publish(work.delivery.body, work.delivery.properties, copy)
        except PublishFailed as err:
            if err.broken:
                raise _Lost(str(err)) from err
            log.error("consumer %s: could not publish to %s/%s (%s); message returned to the "
                      "queue", self.queue.name, copy.exchange, copy.routing_key, err)
            self._reject(channel, work, requeue=True)
            return False
        return True

    def _ack(self, channel: Any, work: _Work) -> None:
        self._inflight.pop(work.tag, None)
        channel.basic_ack(work.tag)

    def _reject(self, channel: Any, work: _Work, *, requeue: bool) -> None:
        self._inflight.pop(work.tag, None)
        channel.basic_reject(work.tag, requeue)

    # --- worker threads -----------------------------------------------------------------------

    def _run_handler(self, delivery: Delivery) -> Verdict:
        if delivery.problem:  # never reaches a handler: dead-lettered with what was wrong
            return Verdict.dead(delivery.problem, INVALID)
        message_id = delivery.properties.get("message_id")
        with log_context(message_id=_text(message_id)):
            try:
                verdict = self.handler(delivery)
            except Exception as err:  # a bug or an outage: bounded retries, never a dead consumer
                log.exception("consumer %s: handler failed on message %s", self.queue.name,
                              message_id)
                return Verdict.retry(f"{type(err).__name__}: {err}")
            log.info("consumer %s: message %s handled: %s (%s)", self.queue.name, message_id,
                     verdict.action, verdict.reason)
            return verdict

    def _finished(self, work: _Work) -> None:
        self._done.put(work)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"!")


def _text(value: Any) -> str | None:
    """A message id as log text (a property may hold bytes or be missing)."""
    return None if value is None else str(value)


def run_consumer(queue_name: str | ConsumerQueue, *, broker_url: str,
                 handler_factory: Callable[[], MessageHandler], prefetch: int, heartbeat: int,
                 stop_event: threading.Event, grace_seconds: float = 30.0, workers: int = 1,
                 on_start: Callable[[AmqpConsumer], None] | None = None) -> None:
    """Consume ``queue_name`` (a name from ``consumers.topology.CONSUMER_QUEUES``, or a
    ConsumerQueue, e.g. one with other retry delays) until ``stop_event`` is set."""
    queue = CONSUMER_QUEUES[queue_name] if isinstance(queue_name, str) else queue_name
    consumer = AmqpConsumer(queue, broker_url=broker_url, handler=handler_factory(),
                            prefetch=prefetch, heartbeat=heartbeat, stop_event=stop_event,
                            grace_seconds=grace_seconds, workers=workers)
    if on_start is not None:
        on_start(consumer)
    consumer.run()


# --- the composition root's way in (consumers/amqp/main.py) --------------------------------------


def consume_main(app: AmqpApp, queue: str) -> None:
    """``resetdesk consume <queue>``: see :func:`consumers.amqp.main.consume_main`."""
    from consumers.amqp.main import consume_main as main

    main(app, queue)
