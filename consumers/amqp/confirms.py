"""Publishing with publisher confirms taken in batches, and nothing that waits without a bound.

One connection and one channel in confirm mode (py-amqp under kombu). A batch is published, then
its acks are drained until every delivery tag is settled or the deadline passes; the result says,
per message, whether the broker confirmed it. ``basic.ack``/``basic.nack`` may settle many tags at
once (``multiple``); a message the broker returned (``mandatory``, unroutable) is not confirmed
even though RabbitMQ acks it afterwards.

Bounds: the TCP connect and AMQP handshake by ``timeout`` (``connect_timeout``); after that the
socket itself carries ``timeout`` (a Python socket timeout, which bounds a whole ``sendall`` and
every read, unlike ``SO_RCVTIMEO`` that py-amqp retries forever), so opening the channel, a write
into a broker that stopped reading (memory alarm) and each drain are all bounded; the confirm
wait has its own deadline. ``connection.blocked`` ends the batch at once. Any failure discards the
connection: the next call reconnects.

A batch's frames are gathered and written together, a few hundred kB a write,
rather than one ``sendall`` per message (consumers/amqp/gathered_writes.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from amqp import Message as AmqpMessage
from amqp.exceptions import AMQPError
from amqp.method_framing import frame_writer
from kombu.connection import Connection
from kombu.transport.pyamqp import Connection as AmqpConnection

from consumers.amqp.gathered_writes import GatheredWrites

log = logging.getLogger(__name__)

PERSISTENT: Final = 2
CLOUDEVENTS_JSON: Final = "application/cloudevents+json"


class PublishError(Exception):
    """The broker did not confirm the message(s); they may or may not have been taken."""


class ConnectionLost(PublishError):
    """No connection, or it broke (refused, closed, protocol or channel error)."""


class ConfirmTimeout(PublishError):
    """No confirm (or no answer at all) within the timeout."""


class BrokerBlocked(PublishError):
    """The broker sent ``connection.blocked`` (a memory or disk alarm): stop, reconnect later."""


class NotConfirmed(PublishError):
    """Nacked, or returned as unroutable (``mandatory``)."""


@dataclass(frozen=True)
class Outgoing:
    """One message to publish; ``properties`` are AMQP basic properties (py-amqp names, with
    ``application_headers`` for the headers)."""

    exchange: str
    routing_key: str
    body: bytes
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchResult:
    """``confirmed[i]`` is True when message i was acked and not returned. ``error`` names what
    cut the batch short (the connection is gone then); confirmed messages stay confirmed."""

    confirmed: list[bool]
    error: PublishError | None = None

    @property
    def all_confirmed(self) -> bool:
        return self.error is None and all(self.confirmed)


def broker_user(url: str) -> str:
    """The RabbitMQ user a broker URL connects as (py-amqp's default is ``guest``)."""
    return str(Connection(url).userid or "guest")


def open_connection(url: str, *, timeout: float, heartbeat: float, name: str,
                    on_blocked: Callable[[str], None] | None = None,
                    on_unblocked: Callable[[], None] | None = None) -> Any:
    """A py-amqp connection for ``url`` (parsed by kombu; kombu's channel class, so kombu entities
    declare on it), connected, whose socket then carries ``timeout``. No retry here (kombu's
    ``connect()`` retries once, after 2 s): callers back off."""
    info = Connection(url)
    conn = AmqpConnection(host=info.host, userid=info.userid, password=info.password,
                          virtual_host=info.virtual_host, connect_timeout=timeout,
                          heartbeat=heartbeat, on_blocked=on_blocked, on_unblocked=on_unblocked,
                          client_properties={"connection_name": name})
    try:
        conn.connect()
        conn.transport.sock.settimeout(timeout)
    except BaseException:
        drop_connection(conn, graceful=False)
        raise
    return conn


def drop_connection(conn: Any, *, graceful: bool) -> None:
    """Close ``conn``; after a failure drop the socket without the close handshake."""
    try:
        if graceful:
            conn.close()
            return
    except Exception:  # a broken connection: nothing left to save
        log.debug("error while closing an AMQP connection", exc_info=True)
    try:
        conn.collect()
    except Exception:
        log.debug("error while dropping an AMQP connection", exc_info=True)


class ConfirmingPublisher:
    """Not thread-safe: one per thread. Use as a context manager or call :meth:`close`."""

    def __init__(self, url: str, *, timeout: float = 10.0, heartbeat: float = 30.0,
                 name: str = "resetdesk-relay") -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.url = url
        self.timeout = timeout
        self.heartbeat = heartbeat
        self.name = name
        self._conn: Any = None
        self._channel: Any = None
        self._gathered: GatheredWrites | None = None
        self._gathering_writer: Any = None
        self._blocked: str | None = None
        self._next_tag = 1
        self._pending: dict[int, int] = {}
        self._outcome: dict[int, bool] = {}
        self._returned: set[str] = set()
        self._returned_unknown = False

    def __enter__(self) -> ConfirmingPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._channel is not None

    # --- connection ---------------------------------------------------------------------------

    def _on_blocked(self, reason: str) -> None:
        self._blocked = reason or "connection blocked"

    def _on_unblocked(self) -> None:
        self._blocked = None

    def open(self) -> None:
        """Connect, open a channel and select confirms (all bounded by ``timeout``)."""
        if self._channel is not None:
            return
        self._conn = open_connection(self.url, timeout=self.timeout, heartbeat=self.heartbeat,
                                     name=self.name, on_blocked=self._on_blocked,
                                     on_unblocked=self._on_unblocked)
        try:
            channel = self._conn.channel()
            channel.confirm_select()
        except BaseException:
            self.close(graceful=False)
            raise
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)
        self._channel = channel
        self._gathered = GatheredWrites(self._conn.transport)
        self._gathering_writer = frame_writer(self._conn, self._gathered)
        self._next_tag = 1
        self._blocked = None

    def close(self, *, graceful: bool = True) -> None:
        """Close the connection: gracefully (bounded by ``timeout``), or, after a failure, by
        dropping the socket (a blocked or mute broker would not answer a close either)."""
        conn, self._conn, self._channel = self._conn, None, None
        self._gathered = self._gathering_writer = None
        self._pending.clear()
        if conn is not None:
            drop_connection(conn, graceful=graceful)

    def keepalive(self) -> None:
        """Between batches: read what the broker sent (blocked, close, heartbeats), send ours."""
        if self._conn is None:
            return
        try:
            self._drain(0)
            self._conn.heartbeat_tick()
        except (OSError, AMQPError) as err:
            log.warning("publisher connection lost while idle (%r)", err)
            self.close(graceful=False)

    # --- confirms -----------------------------------------------------------------------------

    def _settle(self, tag: int, multiple: bool, ok: bool) -> None:
        tags = [t for t in self._pending if t <= tag] if multiple else [tag]
        for t in tags:
            if t in self._pending:
                self._outcome[self._pending.pop(t)] = ok

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple, True)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple, False)

    def _on_return(self, exc: Any, exchange: str, routing_key: str, message: Any) -> None:
        message_id = (getattr(message, "properties", None) or {}).get("message_id")
        log.error("broker returned a message to %r key %r (%s): no queue bound", exchange,
                  routing_key, exc)
        if message_id:
            self._returned.add(str(message_id))
        else:
            self._returned_unknown = True

    def _drain(self, timeout: float) -> bool:
        """Process frames for up to ``timeout`` seconds; False when nothing came."""
        try:
            self._conn.drain_events(timeout=timeout)
        except TimeoutError:
            return False
        return True

    def _write_all(self, messages: Sequence[Outgoing]) -> None:
        """Frame every message (tags in order), then write the frames in a few large writes."""
        conn, gathered = self._conn, self._gathered
        assert gathered is not None
        gathered.discard()  # nothing left from a batch cut short
        direct, conn.frame_writer = conn.frame_writer, self._gathering_writer
        try:
            publish = self._channel.basic_publish
            for i, m in enumerate(messages):
                self._pending[self._next_tag] = i
                self._next_tag += 1
                publish(AmqpMessage(m.body, **m.properties), exchange=m.exchange,
                        routing_key=m.routing_key, mandatory=True)
        finally:
            conn.frame_writer = direct
        gathered.flush()

    def publish(self, messages: Sequence[Outgoing]) -> BatchResult:
        """Publish ``messages`` in order (``mandatory``), then wait for all their confirms, at
        most ``timeout`` seconds after the last write. Never raises for broker trouble."""
        self._outcome.clear()
        self._returned.clear()
        self._returned_unknown = False
        error: PublishError | None = None
        try:
            self.open()
            self._drain(0)  # a blocked notice or a close that came while we were idle
            if self._blocked:
                raise BrokerBlocked(self._blocked)
            self._write_all(messages)
            deadline = time.monotonic() + self.timeout
            while self._pending:
                if self._blocked:
                    raise BrokerBlocked(self._blocked)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ConfirmTimeout(f"{len(self._pending)} of {len(messages)} messages not "
                                         f"confirmed within {self.timeout:g} s")
                self._drain(min(left, 1.0))
        except PublishError as err:
            error = err
        except TimeoutError as err:
            error = ConfirmTimeout(f"no answer from the broker within {self.timeout:g} s ({err!r})")
        except (OSError, AMQPError) as err:
            error = ConnectionLost(repr(err))
        if error is not None:
            self.close(graceful=False)
        confirmed = [self._outcome.get(i, False) and not self._returned_unknown
                     and str(m.properties.get("message_id")) not in self._returned
                     for i, m in enumerate(messages)]
        if error is None and not all(confirmed):
            error = NotConfirmed(f"{confirmed.count(False)} of {len(messages)} messages nacked "
                                 "or returned unroutable")
        return BatchResult(confirmed, error)
