"""Dead-letter queues → the dead-letter table, and replays back to where a message came from.

The archiver consumes every ``<queue>.dlq`` and, per message: inserts it (``ON CONFLICT
(fingerprint) DO NOTHING``), commits, THEN acks. A crash between commit and ack redelivers the
message; its fingerprint is the same, so it is archived once. The reason is ours when a consumer
dead-lettered the message itself (header ``x-resetdesk-reason``, optional ``x-resetdesk-dead-at``),
else the broker's, read from ``x-death`` (``rejected``, ``delivery_limit``, ``expired``,
``maxlen``). If the database fails the connection is dropped (unacked messages go back to the
queue) and the archiver retries with back-off.

Replay publishes the stored body and properties to the source queue's exchange with the event
type as routing key, ``mandatory``, with a confirm. The broker's death headers and our reason
headers are left out (a consumer counting attempts in ``x-death`` would otherwise dead-letter the
replay at once); ``x-resetdesk-replay-of`` names the dead letter (and keeps a replay that dies
again distinct from the first death). A message whose ``user_id`` is the original producer can
only be published by a user with RabbitMQ's ``impersonator`` tag. See docs/dead-letters.md.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from amqp.exceptions import AMQPError

from consumers.amqp.confirms import (
    ConfirmingPublisher,
    ConnectionLost,
    Outgoing,
    PublishError,
    drop_connection,
    open_connection,
)
from consumers.amqp.delivery import body_bytes
from consumers.amqp.headers import REMOVED_HEADER, screen
from consumers.amqp.properties import install as lenient_properties
from consumers.amqp.queue_figures import death_code
from consumers.amqp.threads import allow_tables, run_deep
from consumers.topology import CONSUMER_QUEUES, ConsumerQueue
from telemetry import metrics
from workflow.adapters import dead_letters
from workflow.adapters.queries import Database
from workflow.adapters.queries.dead_letters import DeadLetter, json_object

log = logging.getLogger(__name__)

REASON_HEADER: Final = "x-resetdesk-reason"
DEAD_AT_HEADER: Final = "x-resetdesk-dead-at"
REPLAY_HEADER: Final = "x-resetdesk-replay-of"
#: added by a quorum queue on each redelivery: not part of the message
VOLATILE_HEADERS: Final = frozenset({"x-delivery-count"})
#: left out of a replay, with every ``x-resetdesk-*`` header (reason, error code, last error …)
DEATH_HEADERS: Final = frozenset({
    "x-death", "x-first-death-reason", "x-first-death-queue", "x-first-death-exchange",
    "x-last-death-reason", "x-last-death-queue", "x-last-death-exchange", *VOLATILE_HEADERS,
})
OUR_PREFIX: Final = "x-resetdesk-"
BROKER_REASONS: Final = {
    "rejected": "rejected", "delivery_limit": "delivery limit exceeded",
    "expired": "expired (TTL)", "maxlen": "queue length limit exceeded",
}
BACKOFF_MAX: Final = 30.0


# --- AMQP values <-> JSON ---------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """AMQP table values as JSON; timestamps, byte strings and decimals are tagged to restore."""
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return {"$datetime": aware.isoformat()}
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    return value


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, inner), = value.items()
            if tag == "$datetime":
                return datetime.fromisoformat(inner).astimezone(UTC).replace(tzinfo=None)
            if tag == "$bytes":
                return base64.b64decode(inner)
            if tag == "$decimal":
                return Decimal(inner)
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def reason_of(headers: Mapping[str, Any], source_queue: str) -> tuple[str, datetime | None]:
    """(reason, when it died): our header first, then the broker's death record for the source
    queue (a retry queue's TTL expiries are recorded in ``x-death`` too: not the reason)."""
    own = headers.get(REASON_HEADER)
    if isinstance(own, bytes | bytearray):
        own = bytes(own).decode("utf-8", "replace")
    if own:
        return str(own), _when(headers.get(DEAD_AT_HEADER))
    deaths = [d for d in headers.get("x-death") or [] if isinstance(d, Mapping)]
    entry = next((d for d in deaths if d.get("queue") == source_queue), deaths[0] if deaths else None)
    if entry is not None:
        raw = str(entry.get("reason"))
        text = BROKER_REASONS.get(raw, raw)
        if entry.get("queue") != source_queue:
            text += f" in {entry.get('queue')}"
        return text, _when(entry.get("time"))
    first = headers.get("x-first-death-reason")
    if first:
        return BROKER_REASONS.get(str(first), str(first)), None
    return "unknown: no reason header and no x-death", None


def _event_type_and_id(headers: Mapping[str, Any], props: Mapping[str, Any],
                       body: bytes) -> tuple[str | None, str | None]:
    etype, eid = headers.get("ce-type"), headers.get("ce-id") or props.get("message_id")
    if etype is None or eid is None:
        parsed = json_object(body)  # None for what is not a JSON object
        if parsed is not None and "specversion" in parsed:
            etype = etype or parsed.get("type")
            eid = eid or parsed.get("id")
    return (str(etype) if etype else None), (str(eid) if eid else None)


# --- the archiver -----------------------------------------------------------------------------


def archive_message(db: Database, source_queue: str, message: Any, *, now: datetime) -> bool:
    """Archive one delivered dead letter (not acked here); True when it was new.

    Whatever the message holds, it is archived: headers too deep or too large are left out (noted
    in ``x-resetdesk-removed-headers``, see :mod:`consumers.amqp.headers`), and a letter whose
    headers or properties cannot be stored at all is stored with its body, reason and a note. Only
    a failure to store even that (the database) raises."""
    props = dict(message.properties)
    screened = screen(props.pop("application_headers", None) or {})
    raw_headers = screened.headers
    content_type = props.pop("content_type", None)
    content_type = content_type if isinstance(content_type, str) else None
    body = body_bytes(message.body)  # bytes whatever content_encoding says (auto_decode is off)
    reason, dead_at = reason_of(raw_headers, source_queue)
    try:
        headers = {k: to_json(v) for k, v in raw_headers.items() if k not in VOLATILE_HEADERS}
        properties = to_json(props)
        etype, eid = _event_type_and_id(raw_headers, props, body)
        return dead_letters.archive(db, queue=source_queue, body=body, headers=headers,
                                    properties=properties, reason=reason, message_id=eid,
                                    event_type=etype, content_type=content_type,
                                    dead_at=dead_at, now=now)
    except Exception as err:  # the content, or the database: the bare letter tells them apart
        note = f"headers and properties not kept: {type(err).__name__}: {err}"[:1000]
        log.warning("dead letter from %s: %s", source_queue, note)
        return dead_letters.archive(db, queue=source_queue, body=body,
                                    headers={REMOVED_HEADER: note}, properties={}, reason=reason,
                                    message_id=None, event_type=None, content_type=content_type,
                                    dead_at=dead_at, now=now)


def _consume(db: Database, conn: Any, queues: Iterable[ConsumerQueue], prefetch: int,
             stop_event: threading.Event, clock: Callable[[], datetime]) -> None:
    channel = conn.channel()
    channel.auto_decode = False  # bodies stay the octets sent, whatever content_encoding says
    channel.basic_qos(0, prefetch, False)
    for q in queues:
        q.dead_letters()(channel).declare()

        def on_message(message: Any, source: str = q.name) -> None:
            new = archive_message(db, source, message, now=clock())
            if new:
                code = death_code(message.properties.get("application_headers") or {})
                metrics.ARCHIVED.labels(source, metrics.reason_code(code)).inc()
            log.info("dead letter from %s %s", source, "archived" if new else "already archived")
            channel.basic_ack(message.delivery_tag)

        channel.basic_consume(q.dlq_name, callback=on_message)
    while not stop_event.is_set():
        with contextlib.suppress(TimeoutError):
            conn.drain_events(timeout=1.0)
        conn.heartbeat_tick()


def run_archiver(*, db: Database, broker_url: str, stop_event: threading.Event,
                 queues: Iterable[ConsumerQueue] | None = None, prefetch: int = 20,
                 timeout: float = 10.0, heartbeat: float = 30.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_connect: Callable[[], None] | None = None) -> None:
    """Archive dead letters from every consumer's ``.dlq`` until ``stop_event`` is set, on a
    thread deep enough for any header table one frame can carry (:mod:`consumers.amqp.threads`).
    ``on_connect`` is called on each connection opened (tests count reconnects with it)."""
    allow_tables()
    lenient_properties()
    run_deep(lambda: _archive_loop(db, broker_url, stop_event, queues, prefetch, timeout,
                                   heartbeat, clock, on_connect), "dlq-archiver")


def _archive_loop(db: Database, broker_url: str, stop_event: threading.Event,
                  queues: Iterable[ConsumerQueue] | None, prefetch: int, timeout: float,
                  heartbeat: float, clock: Callable[[], datetime],
                  on_connect: Callable[[], None] | None) -> None:
    chosen = list(queues if queues is not None else CONSUMER_QUEUES.values())
    backoff = 0.5
    while not stop_event.is_set():
        conn: Any = None
        try:
            conn = open_connection(broker_url, timeout=timeout, heartbeat=heartbeat,
                                   name="resetdesk-dlq-archiver")
            allow_tables(conn.frame_max)
            if on_connect is not None:
                on_connect()
            backoff = 0.5
            _consume(db, conn, chosen, prefetch, stop_event, clock)
            drop_connection(conn, graceful=True)
            return
        except (OSError, AMQPError) as err:
            log.warning("dlq archiver: broker: %r; retrying in %.1f s", err, backoff)
        except Exception:  # the database: unacked messages return to their queue
            log.exception("dlq archiver: archiving failed; retrying in %.1f s", backoff)
        if conn is not None:
            drop_connection(conn, graceful=False)
        stop_event.wait(backoff)
        backoff = min(backoff * 2, BACKOFF_MAX)


# --- replay -----------------------------------------------------------------------------------


def replay_message(letter: DeadLetter) -> Outgoing:
    """The message as it was first published, to the source queue's exchange."""
    source = CONSUMER_QUEUES.get(letter.queue)
    if source is None:
        raise PublishError(f"dead letter {letter.id}: unknown source queue {letter.queue!r}")
    key = letter.event_type
    if not key:
        deaths = letter.headers.get("x-death") or []
        keys = deaths[0].get("routing-keys") if deaths and isinstance(deaths[0], dict) else None
        key = keys[0] if keys else None
    if not key:
        raise PublishError(f"dead letter {letter.id}: no event type, so no routing key")
    headers = {k: from_json(v) for k, v in letter.headers.items()
               if k not in DEATH_HEADERS and not k.startswith(OUR_PREFIX)}
    headers[REPLAY_HEADER] = letter.id
    props = {k: from_json(v) for k, v in letter.properties.items()}
    props["application_headers"] = headers
    props["delivery_mode"] = 2
    if letter.content_type:
        props["content_type"] = letter.content_type
    if letter.message_id and not props.get("message_id"):
        props["message_id"] = letter.message_id
    return Outgoing(source.exchange.name, key, letter.body, props)


class AmqpRepublisher:
    """``republish`` for :func:`workflow.adapters.dead_letters.replay`: one confirmed,
    ``mandatory`` publish; raises :class:`PublishError` unless the broker confirmed it."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout

    def __call__(self, letter: DeadLetter) -> None:
        message = replay_message(letter)
        with ConfirmingPublisher(self.url, timeout=self.timeout, heartbeat=0,
                                 name="resetdesk-dlq-replay") as publisher:
            result = publisher.publish([message])
        if result.all_confirmed:
            return
        err = result.error or PublishError("not confirmed")
        if isinstance(err, ConnectionLost) and "user_id" in str(err):
            raise PublishError(
                f"the broker refused user_id {message.properties.get('user_id')!r}: the replaying "
                "RabbitMQ user needs the 'impersonator' tag (rabbitmqctl set_user_tags <user> "
                f"impersonator) ({err})") from err
        raise err
