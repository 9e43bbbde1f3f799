"""Retries and dead letters: counted by the broker, carried by messages we publish ourselves.

- Attempts are read from ``x-death``: each time a copy expires out of one of the consumer's retry
  queues (``<queue>.retry.<n>s``) RabbitMQ bumps that entry's ``count``. Their sum is the number of
  retries already made; nothing is counted in memory, so a restarted consumer goes on counting.
- A retry is a copy of the delivery (body, properties, headers incl. ``x-death``) published to
  ``resetdesk.retry`` with the key of the retry queue for the next delay; its TTL sends it back to
  the consumer's queue. A dead letter is a copy published to ``resetdesk.dlx`` (key = the queue
  name, bound to ``<queue>.dlq``) with the ``x-resetdesk-*`` headers saying why: a nack carries no
  headers, so a reason only travels on a message we publish.
- Both are published ``mandatory`` and publisher-confirmed; the original is acked only after that.
  The copy keeps the broker-validated ``user_id``, so the consumer's RabbitMQ user needs the
  ``impersonator`` tag (RabbitMQ refuses a ``user_id`` that is not the publishing user's otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import amqp

from consumers.topology import DLX, RETRY, ConsumerQueue

REASON: Final = "x-resetdesk-reason"
ERROR_CODE: Final = "x-resetdesk-error-code"
QUEUE: Final = "x-resetdesk-queue"
DEAD_AT: Final = "x-resetdesk-dead-at"
LAST_ERROR: Final = "x-resetdesk-last-error"
#: the quorum queue's own redelivery counter: meaningless on a copy, which starts afresh
_NOT_COPIED: Final = frozenset({"x-delivery-count"})
_MAX_HEADER_TEXT: Final = 1000


def retries_so_far(headers: Mapping[str, Any] | None, queue: ConsumerQueue) -> int:
    """How many times a copy of this message already came back from ``queue``'s retry queues.

    Every retry queue of the consumer counts, including ones a change of delays left behind.
    """
    deaths = (headers or {}).get("x-death")
    if not isinstance(deaths, list):
        return 0
    prefix = f"{queue.name}.retry."
    total = 0
    for death in deaths:
        if not isinstance(death, Mapping):
            continue
        name = death.get("queue")
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        count = death.get("count")
        if isinstance(name, str) and name.startswith(prefix) and isinstance(count, int) \
                and not isinstance(count, bool) and count > 0:
            total += count
    return total


def next_delay(queue: ConsumerQueue, retries: int) -> int | None:
    """The delay before the next attempt (the name of a retry queue), or None once every retry
    is used up (the queue's retry policy decides)."""
    delay = queue.retry_policy.next_delay(retries + 1)
    return None if delay is None else int(delay)


@dataclass(frozen=True)
class Copy:
    """Where a copy of a delivery goes, and the headers it carries there."""

    exchange: str
    routing_key: str
    headers: dict[str, Any]


def _text(value: str) -> str:
    return value[:_MAX_HEADER_TEXT]


def _carried(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (headers or {}).items() if k not in _NOT_COPIED}


def retry_copy(queue: ConsumerQueue, delay: int, headers: Mapping[str, Any] | None,
               error: str) -> Copy:
    carried = _carried(headers)
    carried[LAST_ERROR] = _text(error)
    return Copy(RETRY.name, queue.retry_key(delay), carried)


def dead_letter_copy(queue: ConsumerQueue, headers: Mapping[str, Any] | None, *, reason: str,
                     code: str, now: datetime) -> Copy:
    carried = _carried(headers)
    carried.update({REASON: _text(reason), ERROR_CODE: code, QUEUE: queue.name,
                    DEAD_AT: now.isoformat()})
    return Copy(DLX.name, queue.name, carried)


class PublishFailed(Exception):
    """The broker did not confirm the copy: the original must not be acked.

    ``broken``: the channel's state is unknown (a confirm that never came); reconnect.
    """

    def __init__(self, message: str, *, broken: bool = False) -> None:
        super().__init__(message)
        self.broken = broken


class Republisher:
    """Publishes copies on a channel in confirm mode; call it from the connection's thread only.

    The channel comes from a kombu connection opened with ``confirm_publish`` so that every
    ``basic_publish`` waits for its confirm (at most ``confirm_timeout`` seconds).
    """

    def __init__(self, channel: Any, confirm_timeout: float) -> None:
        self._channel = channel
        self._confirm_timeout = confirm_timeout
        self._returned: list[str] = []
        channel.events["basic_return"].add(self._on_return)

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.append(f"{exc} (exchange {exchange!r}, key {routing_key!r})")

    def publish(self, body: bytes, properties: Mapping[str, Any], copy: Copy) -> None:
        """Publish ``body`` with the original ``properties`` and ``copy.headers``; return once
        confirmed, or raise ``PublishFailed``."""
        props = {k: v for k, v in properties.items() if k != "application_headers"}
        props["application_headers"] = copy.headers
        props.setdefault("delivery_mode", 2)
        self._returned.clear()
        try:
            self._channel.basic_publish(amqp.Message(body, **props), exchange=copy.exchange,
                                        routing_key=copy.routing_key, mandatory=True,
                                        confirm_timeout=self._confirm_timeout)
        except amqp.exceptions.MessageNacked as exc:
            raise PublishFailed(f"nacked by the broker ({copy.exchange} {copy.routing_key})") \
                from exc
        except TimeoutError as exc:
            raise PublishFailed(f"no confirm within {self._confirm_timeout} s", broken=True) \
                from exc
        if self._returned:
            raise PublishFailed(f"returned unroutable: {self._returned[0]}")
