"""Message properties that are not UTF-8 must not break the connection loop.

py-amqp decodes every short-string property (``content_type``, ``message_id``, ``app_id`` …) as
strict UTF-8 in its frame reader, inside ``drain_events``: one message published with, say, an
``app_id`` of ``b"\\xff"`` (AMQP short strings are octets; RabbitMQ passes them through) raised
``UnicodeDecodeError`` there, which reads as a lost connection. :func:`install` wraps py-amqp's
decoder: when, and only when, it fails that way, the properties are read again keeping such
strings as bytes; :func:`consumers.amqp.delivery.delivery_from_message` then refuses the message
(``invalid``) and the dead-letter copy carries them unchanged (py-amqp writes bytes as they are).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from struct import unpack_from
from typing import Any, Final

from amqp import serialization, spec

#: Basic's property list in wire order: (flag bit, name, kind)
_LAYOUT: Final = (
    (0x8000, "content_type", "s"), (0x4000, "content_encoding", "s"),
    (0x2000, "application_headers", "F"), (0x1000, "delivery_mode", "B"),
    (0x0800, "priority", "B"), (0x0400, "correlation_id", "s"), (0x0200, "reply_to", "s"),
    (0x0100, "expiration", "s"), (0x0080, "message_id", "s"), (0x0040, "timestamp", "Q"),
    (0x0020, "type", "s"), (0x0010, "user_id", "s"), (0x0008, "app_id", "s"),
    (0x0004, "cluster_id", "s"),
)
_lock = threading.Lock()
Decoder = Callable[[Any, int], tuple[dict[str, Any], int]]


def lenient_properties(buf: Any, offset: int) -> tuple[dict[str, Any], int]:
    """py-amqp's ``decode_properties_basic``, with a short string that is not UTF-8 kept as bytes."""
    props: dict[str, Any] = {}
    flags, = unpack_from(">H", buf, offset)
    offset += 2
    for bit, name, kind in _LAYOUT:
        if not flags & bit:
            continue
        if kind == "s":
            size = buf[offset]
            raw = bytes(buf[offset + 1:offset + 1 + size])
            offset += 1 + size
            try:
                props[name] = raw.decode("utf-8")
            except UnicodeDecodeError:
                props[name] = raw
        elif kind == "F":
            (props[name],), offset = serialization.loads("F", buf, offset)
        elif kind == "B":
            props[name] = buf[offset]
            offset += 1
        else:
            props[name], = unpack_from(">Q", buf, offset)
            offset += 8
    return props, offset


def install() -> None:
    """Wrap py-amqp's Basic property decoder (once per process; every connection uses it)."""
    with _lock:
        original: Decoder = serialization.PROPERTY_CLASSES[spec.Basic.CLASS_ID]
        if getattr(original, "resetdesk_lenient", False):
            return

        def decode(buf: Any, offset: int) -> tuple[dict[str, Any], int]:
            try:
                return original(buf, offset)
            except UnicodeDecodeError:
                return lenient_properties(buf, offset)

        decode.resetdesk_lenient = True  # type: ignore[attr-defined]
        serialization.PROPERTY_CLASSES[spec.Basic.CLASS_ID] = decode
