"""Broker queue figures without touching a message: depth and consumers by passive declare.

``basic.get`` would charge a quorum queue's ``x-delivery-limit``, and RabbitMQ 3.10 does not
tell the age of a quorum queue's oldest message, so only the ready count and the consumer count
are known here (the management API knows more where it is enabled). A queue that does not exist
yet (nothing declared it) is left out. Used by the archiver's metrics; any ops view may call
:func:`broker_figures` too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from amqp.exceptions import ChannelError
from kombu.connection import Connection

from consumers.topology import CONSUMER_QUEUES, ConsumerQueue

Figures = dict[str, list[tuple[tuple[str, ...], float]]]


def queue_names(queues: Iterable[ConsumerQueue] | None = None) -> list[str]:
    """Every consumer queue and its dead-letter queue."""
    chosen = list(queues if queues is not None else CONSUMER_QUEUES.values())
    return [name for q in chosen for name in (q.name, q.dlq_name)]


def passive_counts(conn: Connection, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """queue -> (ready messages, consumers) for each queue that exists."""
    found: dict[str, tuple[int, int]] = {}
    channel: Any = conn.channel()
    try:
        for name in names:
            try:
                ok = channel.queue_declare(name, passive=True)
            except ChannelError:  # 404: not declared yet; the channel is closed, take another
                channel = conn.channel()
                continue
            found[name] = (int(ok.message_count), int(ok.consumer_count))
    finally:
        channel.close()
    return found


def broker_figures(broker_url: str, queues: Iterable[ConsumerQueue] | None = None, *,
                   timeout: float = 3.0) -> Figures:
    """``resetdesk_queue_messages`` (state ``ready``) and ``resetdesk_queue_consumers``."""
    with Connection(broker_url, connect_timeout=timeout,
                    transport_options={"client_properties": {
                        "connection_name": "resetdesk-queue-figures"}}) as conn:
        conn.connect()
        counts = passive_counts(conn, queue_names(queues))
    return {
        "resetdesk_queue_messages": [(("amqp", q, "ready"), float(n)) for q, (n, _) in counts.items()],
        "resetdesk_queue_consumers": [((q,), float(c)) for q, (_, c) in counts.items()],
    }


def ping(broker_url: str, *, timeout: float = 2.0) -> None:
    """Open and close a connection: raises when the broker cannot be reached or refuses us."""
    with Connection(broker_url, connect_timeout=timeout) as conn:
        conn.connect()


def death_code(headers: Mapping[str, Any]) -> str:
    """A dead letter's reason as a short code: ours (``x-resetdesk-error-code``), else the
    broker's (``rejected``, ``expired``, ``delivery_limit``, ``maxlen``)."""
    own = headers.get("x-resetdesk-error-code")
    if isinstance(own, bytes | bytearray):
        own = bytes(own).decode("utf-8", "replace")
    if own:
        return str(own)
    deaths = headers.get("x-death") or []
    first = deaths[0] if deaths and isinstance(deaths[0], Mapping) else {}
    return str(first.get("reason") or headers.get("x-first-death-reason") or "unknown")
