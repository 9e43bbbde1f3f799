"""Publish inbound requests to ResetDesk over RabbitMQ: the small client form producers embed.

A request is accepted once RabbitMQ has confirmed it, and not before. So the client publishes
with publisher confirms, `mandatory` (the requests exchange has no alternate exchange: a message
no queue is bound for comes back, and is reported, instead of being confirmed and dropped),
persistent, with `message_id` = the event id and `user_id` = the connection's user (RabbitMQ
refuses a `user_id` that is not the authenticated user, so ResetDesk can trust it).

Nothing here waits forever:
- connecting is bounded by `connect_timeout` (pika's `socket_timeout` for TCP and `stack_timeout`
  for TCP + AMQP handshake);
- a broker under a memory or disk alarm sends `connection.blocked` and stops reading; pika's
  `blocked_connection_timeout` (= `confirm_timeout`) tears the connection down when the block
  lasts longer;
- any other confirm that does not arrive (a quorum queue without a majority, a silent peer) is cut
  by a deadline timer armed on the connection's I/O loop for `confirm_timeout` seconds; the same
  bound applies to opening the channel and to closing the connection.
All three surface as `PublishTimeout`; the message may or may not have been taken.

The client is not thread-safe (pika's BlockingConnection is not): one publisher per thread.
The message itself is built in :mod:`schemas.client_message`, pika's gaps are filled in
:mod:`schemas.client_pika`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

import pika
from pika import exceptions as amqp

from schemas.client_message import CE_PREFIX, Mode, RequestMessage, render_request
from schemas.client_pika import CONNECTION_LOST, TIMEOUTS, causes, deadline, permanent
from schemas.errors import ContractError

__all__ = [
    "CE_PREFIX", "REQUESTS_EXCHANGE", "ContractError", "Mode", "NotConfirmed", "PublishError",
    "PublishTimeout", "RequestPublisher", "Unroutable", "publish_request",
]

REQUESTS_EXCHANGE: Final = "resetdesk.requests"
PERSISTENT: Final = 2

_LOG = logging.getLogger(__name__)


class PublishError(Exception):
    """The broker did not take the request (or we cannot tell). A contract problem is a
    ContractError instead, raised before anything is sent."""


class Unroutable(PublishError):
    """Returned by the broker: no queue is bound for the routing key (the event `type`).
    Resending will not help until ResetDesk serves that type."""


class NotConfirmed(PublishError):
    """Nacked by the broker (e.g. a queue at its length limit rejects publishes); retry later."""


class PublishTimeout(PublishError):
    """No connection or no confirm within the timeout (broker alarm, partition, no quorum).
    The message may have been taken: retry with the same event id, ResetDesk deduplicates."""


class _Retry(Exception):
    """Internal: the connection went away; reconnect and publish again."""


class RequestPublisher:
    """Publishes `com.resetdesk.request.*` CloudEvents to the requests exchange, with confirms.

    Use as a context manager; the connection opens on the first publish and is reused.
    On a lost connection (broker restart, forced close, network blip) it reconnects and
    publishes again, up to `retries` more times. A retried publish may deliver the request
    twice (the first copy may have arrived before the connection broke): that is safe because
    ResetDesk deduplicates on (`source`, `id`), so keep the id when you retry yourself too.
    """

    def __init__(
        self,
        url: str,
        *,
        exchange: str = REQUESTS_EXCHANGE,
        confirm_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        user_id: str | None = None,
        retries: int = 3,
    ) -> None:
        if confirm_timeout <= 0 or connect_timeout <= 0 or retries < 0:
            raise ValueError("timeouts must be positive and retries not negative")
        params = pika.URLParameters(url)
        params.socket_timeout = connect_timeout
        params.stack_timeout = connect_timeout
        params.blocked_connection_timeout = confirm_timeout
        params.connection_attempts = 1  # retries are ours, so the total time stays bounded
        params.client_properties = {"connection_name": "resetdesk-request-publisher"}
        self._params = params
        self._exchange = exchange
        self._confirm_timeout = confirm_timeout
        self._retries = retries
        self.user_id: str = user_id if user_id is not None else str(params.credentials.username)
        self._connection: Any = None
        self._channel: Any = None

    def __enter__(self) -> RequestPublisher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; the publisher reconnects if used again."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                with deadline(connection, self._confirm_timeout, []):  # a mute peer never closes
                    connection.close()
            except Exception:  # closing a broken connection: nothing left to save
                _LOG.debug("error while closing the publisher connection", exc_info=True)

    def publish_request(self, event: Mapping[str, Any], *, mode: Mode = "structured",
                        headers: Mapping[str, Any] | None = None) -> None:
        """Validate `event` (a structured-mode CloudEvent dict) and publish it, with the
        producer's own `headers` if any; returns once RabbitMQ confirmed it. Raises
        ContractError (nothing sent; `reserved_header` for an `x-resetdesk-*` or `ce-*` header),
        Unroutable, NotConfirmed, PublishTimeout or PublishError."""
        message = render_request(event, mode, headers)
        attempt = 0
        while True:
            try:
                self._publish_once(message)
                return
            except _Retry as lost:
                cause = lost.__cause__
                self.close()
                if attempt >= self._retries:
                    raise PublishError(
                        f"event {message.event_id}: no connection, {attempt + 1} attempt(s): {cause!r}"
                    ) from cause
                _LOG.warning("event %s: connection lost (%r), reconnecting", message.event_id, cause)
                time.sleep(min(0.2 * 2**attempt, 2.0))
                attempt += 1

    def _connect(self) -> Any:
        if self._connection is not None and self._connection.is_open:
            try:  # notice a close the broker sent while we were idle; nothing is lost yet
                self._connection.process_data_events(time_limit=0)
            except CONNECTION_LOST as exc:
                _LOG.info("publisher connection was closed while idle (%r); reconnecting", exc)
                self.close()
        if self._connection is None or not self._connection.is_open:
            self._channel = None
            self._connection = pika.BlockingConnection(self._params)  # bounded by connect_timeout
        return self._connection

    def _publish_once(self, message: RequestMessage) -> None:
        where = f"event {message.event_id} to {self._exchange!r} key {message.routing_key!r}"
        expired: list[bool] = []
        try:
            connection = self._connect()
            if self._channel is None or not self._channel.is_open:
                with deadline(connection, self._confirm_timeout, expired):
                    self._channel = connection.channel()
                    self._channel.confirm_delivery()
            with deadline(connection, self._confirm_timeout, expired):
                self._channel.basic_publish(
                    exchange=self._exchange,
                    routing_key=message.routing_key,
                    body=message.body,
                    properties=pika.BasicProperties(
                        delivery_mode=PERSISTENT,
                        message_id=message.event_id,
                        user_id=self.user_id,
                        **message.properties_kw,
                    ),
                    mandatory=True,
                )
        except amqp.UnroutableError as exc:
            raise Unroutable(f"{where}: returned unroutable, no queue is bound for the key") from exc
        except amqp.NackError as exc:
            raise NotConfirmed(f"{where}: nacked by the broker") from exc
        except Exception as exc:
            self._raise_for(exc, where, expired=bool(expired))

    def _raise_for(self, exc: Exception, where: str, *, expired: bool) -> None:
        found = causes(exc)
        if expired or any(isinstance(c, TIMEOUTS) for c in found):
            self.close()
            if expired:
                why = "no confirm within confirm_timeout"
            elif any(isinstance(c, amqp.ConnectionBlockedTimeout) for c in found):
                why = "connection blocked by a broker resource alarm for longer than confirm_timeout"
            else:
                why = "no connection within connect_timeout"
            raise PublishTimeout(f"{where}: {why} ({exc!r})") from exc
        if permanent(found):
            self.close()
            raise PublishError(f"{where}: refused by the broker ({exc!r})") from exc
        if isinstance(exc, CONNECTION_LOST):
            raise _Retry from exc
        raise exc


def publish_request(url: str, event: Mapping[str, Any], *, mode: Mode = "structured",
                    headers: Mapping[str, Any] | None = None, **kw: Any) -> None:
    """One-shot: connect, publish `event` with confirms, close. `kw` as for RequestPublisher."""
    with RequestPublisher(url, **kw) as publisher:
        publisher.publish_request(event, mode=mode, headers=headers)
