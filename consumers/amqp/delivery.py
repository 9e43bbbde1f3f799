"""One delivery as a handler sees it, built so that no message content can raise.

The connection's thread builds a :class:`Delivery` from py-amqp's message inside
``drain_events``: anything raised there reads as a lost connection (reconnect, the same message
again, until the broker dead-letters it and the messages prefetched with it, without a reason).
So everything a message's content decides is checked here without raising, and a message that
fails a check carries ``problem``: the runtime dead-letters it (code ``invalid``) without calling
the handler.

- The body is bytes whatever ``content_encoding`` says (channels consume with py-amqp's
  ``auto_decode`` off, as the AMQP and CloudEvents bindings read the body as octets). An empty
  body (py-amqp hands ``''``) is ``b""``.
- ``content_encoding``: absent, ``identity`` or ``utf-8`` (a charset, as kombu and py-amqp set it);
  anything else (``gzip``, ``deflate`` …) is refused: nothing here decompresses. With ``utf-8`` the
  body must be valid UTF-8.
- A short-string property that is not UTF-8 (py-amqp hands it over as bytes, see
  :mod:`consumers.amqp.properties`) is refused.
- Headers are screened (:mod:`consumers.amqp.headers`): too deep or too large tables are refused
  and the offending headers left out of the delivery, and so out of the dead-letter copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from consumers.amqp.headers import screen
from consumers.amqp.retry import retries_so_far
from consumers.topology import ConsumerQueue

log = logging.getLogger(__name__)

#: content_encoding values under which the body is the octets as sent
PLAIN_ENCODINGS: Final = frozenset({"", "identity", "utf-8", "utf8"})
INVALID: Final = "invalid"


@dataclass(frozen=True)
class Delivery:
    """One message as a handler sees it: bytes, properties, and the attempt the broker counted."""

    queue: ConsumerQueue
    body: bytes
    content_type: str | None
    headers: Mapping[str, Any]
    properties: Mapping[str, Any]
    #: 1 on the first delivery, 1 + retries so far (from ``x-death``) after that
    attempt: int
    #: 1 + the retries the queue allows
    max_attempts: int
    redelivered: bool = False
    #: why the message cannot be handled at all ("" when it can): dead-lettered as ``invalid``
    problem: str = ""

    @property
    def user_id(self) -> str | None:
        value = self.properties.get("user_id")
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Verdict:
    """What became of one delivery: ``ack`` (done, or nothing to do), ``retry`` (later, through
    the next retry queue, or the DLQ once they are used up), ``dead`` (to the DLQ with reason)."""

    action: Literal["ack", "retry", "dead"]
    reason: str = ""
    code: str = ""

    @classmethod
    def ack(cls, note: str = "") -> Verdict:
        return cls("ack", note)

    @classmethod
    def retry(cls, reason: str) -> Verdict:
        return cls("retry", reason, "transient")

    @classmethod
    def dead(cls, reason: str, code: str) -> Verdict:
        return cls("dead", reason, code)


MessageHandler = Callable[[Delivery], Verdict]
"""Runs in a worker thread; may raise (an unexpected error is retried like a transient one)."""


def body_bytes(body: object) -> bytes:
    """The body as octets: py-amqp gives ``''`` for an empty body (and ``str`` when a channel
    decodes); never raises."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    return b"" if body is None else str(body).encode("utf-8", "surrogatepass")


def body_problem(body: bytes, content_encoding: object) -> str:
    """Why the body cannot be read as sent ("" when it can)."""
    if content_encoding is None:
        return ""
    encoding = (content_encoding.decode("utf-8", "replace")
                if isinstance(content_encoding, bytes) else str(content_encoding))
    encoding = encoding.strip().lower()
    if encoding not in PLAIN_ENCODINGS:
        return (f"unsupported content-encoding {encoding[:40]!r}: send the body uncompressed, "
                "with no content_encoding (or identity, utf-8)")
    if encoding.startswith("utf"):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as err:
            return f"content-encoding utf-8 but the body is not UTF-8 (byte {err.start})"
    return ""


def property_problem(props: Mapping[str, Any]) -> str:
    """Short-string properties py-amqp could not read as UTF-8 (kept as bytes, see
    :mod:`consumers.amqp.properties`)."""
    bad = sorted(name for name, value in props.items() if isinstance(value, bytes | bytearray))
    return f"propert{'y' if len(bad) == 1 else 'ies'} {', '.join(bad)} not UTF-8" if bad else ""


def delivery_from_message(queue: ConsumerQueue, message: Any) -> Delivery:
    """A Delivery for ``message`` (py-amqp's), with ``problem`` set instead of raising."""
    info = getattr(message, "delivery_info", None) or {}
    try:
        props = dict(message.properties)
        screened = screen(props.pop("application_headers", None) or {})
        body = body_bytes(message.body)
        problem = (screened.problem or property_problem(props)
                   or body_problem(body, props.get("content_encoding")))
        content_type = props.get("content_type")
        return Delivery(
            queue=queue, body=body,
            content_type=content_type if isinstance(content_type, str) else None,
            headers=screened.headers, properties=props,
            attempt=retries_so_far(screened.headers, queue) + 1,
            max_attempts=queue.retry_policy.max_attempts,
            redelivered=bool(info.get("redelivered")), problem=problem)
    except Exception as err:  # a check of ours that did not foresee something: still a dead letter
        log.exception("consumer %s: could not read a delivered message", queue.name)
        return Delivery(queue=queue, body=body_bytes(getattr(message, "body", b"")),
                        content_type=None, headers={}, properties={}, attempt=1,
                        max_attempts=queue.retry_policy.max_attempts,
                        problem=f"unreadable message ({type(err).__name__})")
