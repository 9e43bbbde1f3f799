"""The outbox relay (production mode): unsent outbox rows → RabbitMQ, confirmed.

Outgoing events go to ``resetdesk.events``. A request accepted over HTTP (``POST /events`` on
``resetdesk serve``) is an outbox row of a request type: it goes to ``resetdesk.requests``,
where the verification consumers take it like a producer's AMQP message; its ``user_id`` is the
relay's own broker user, which RabbitMQ validates, so producers cannot forge such a copy. Once
confirmed, the relayed copy's payload is dropped (the inbox keeps the request, and the purge
anonymises it there).

Each batch is published in outbox id order, ``mandatory`` and persistent, routing key = the
event type, ``message_id`` = the event id, the stored structured CloudEvent as the body,
unchanged; then the whole batch's confirms are awaited, and only confirmed rows are marked sent.
A crash anywhere leaves unconfirmed rows unsent, so they are published again: consumers dedupe
by event id. Per ticket, a row is marked sent only if every earlier row of that ticket in the
batch was confirmed too, so a re-publish never puts a ticket's events out of order.

Several relays on PostgreSQL: each batch is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` in
one transaction held through publish and confirm (the rows stay locked, other writers are not
blocked). A row whose ticket has an earlier unsent row held by another relay is left out of the
batch, so a ticket's events never overtake each other across relays. On SQLite run one relay:
the batch is read without a lock and marked sent in a short write transaction afterwards (a
write transaction held across a confirm wait would stall every other SQLite writer).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    all_,
    any_,
    bindparam,
    case,
    func,
    select,
    update,
)

from consumers.amqp.confirms import (
    CLOUDEVENTS_JSON,
    PERSISTENT,
    BatchResult,
    ConfirmingPublisher,
    Outgoing,
    PublishError,
    broker_user,
)
from consumers.topology import EVENTS, REQUESTS
from schemas.registry import INBOUND_TYPES
from telemetry import metrics
from workflow.adapters.queries import Database
from workflow.adapters.tables import OUTBOX

log = logging.getLogger(__name__)

BACKOFF_START = 0.5
BACKOFF_MAX = 30.0


def _now() -> datetime:
    return datetime.now(UTC)


class Pending(NamedTuple):
    id: int
    event_id: str
    ticket_id: str
    type: str
    payload: str


def _ids(values: Iterable[object], column: ColumnElement[object]) -> ColumnElement[object]:
    """A PostgreSQL array parameter: one placeholder, so the statement's text (and psycopg's
    parse of it) is the same for every batch, where ``IN`` renders one per value."""
    return bindparam(None, list(values), type_=ARRAY(column.type))


def _claim(conn: Connection, db: Database, batch: int) -> list[Pending]:
    pick = (select(OUTBOX.c.id, OUTBOX.c.event_id, OUTBOX.c.ticket_id, OUTBOX.c.type,
                   OUTBOX.c.payload)
            .where(OUTBOX.c.sent_at.is_(None)).order_by(OUTBOX.c.id).limit(batch))
    if not db.is_sqlite:
        pick = pick.with_for_update(skip_locked=True)
    rows = [Pending(*r) for r in conn.execute(pick).all()]
    if db.is_sqlite or not rows:
        return rows
    ours = [r.id for r in rows]
    held: dict[str, int] = {  # the first unsent row of each of our tickets that another relay holds
        ticket: first for ticket, first in conn.execute(
            select(OUTBOX.c.ticket_id, func.min(OUTBOX.c.id))
            .where(OUTBOX.c.sent_at.is_(None),
                   OUTBOX.c.ticket_id == any_(_ids({r.ticket_id for r in rows}, OUTBOX.c.ticket_id)),
                   OUTBOX.c.id < ours[-1], OUTBOX.c.id != all_(_ids(ours, OUTBOX.c.id)))
            .group_by(OUTBOX.c.ticket_id))}
    return [r for r in rows if r.ticket_id not in held or r.id < held[r.ticket_id]]


#: what a relayed request's outbox payload becomes once the broker confirmed it
RELAYED_PAYLOAD = "{}"


def _message(row: Pending, user: str) -> Outgoing:
    props = {"content_type": CLOUDEVENTS_JSON, "delivery_mode": PERSISTENT,
             "message_id": row.event_id}
    if row.type in INBOUND_TYPES:
        return Outgoing(REQUESTS.name, row.type, row.payload.encode("utf-8"),
                        props | {"user_id": user})
    return Outgoing(EVENTS.name, row.type, row.payload.encode("utf-8"), props)


def _mark_sent(conn: Connection, db: Database, ids: list[int], at: datetime) -> None:
    """One statement for the batch."""
    relayed = OUTBOX.c.type.in_(sorted(INBOUND_TYPES))
    which = OUTBOX.c.id.in_(ids) if db.is_sqlite else OUTBOX.c.id == any_(_ids(ids, OUTBOX.c.id))
    conn.execute(update(OUTBOX).where(which).values(
        sent_at=at, payload=case((relayed, RELAYED_PAYLOAD), else_=OUTBOX.c.payload)))


def _confirmed_ids(rows: Sequence[Pending], result: BatchResult) -> list[int]:
    """Confirmed rows, minus any row of a ticket whose earlier row in the batch was not."""
    broken: set[str] = set()
    ids: list[int] = []
    for row, ok in zip(rows, result.confirmed, strict=True):
        if ok and row.ticket_id not in broken:
            ids.append(row.id)
        else:
            broken.add(row.ticket_id)
    return ids


def relay_once(db: Database, publisher: ConfirmingPublisher, *, batch: int = 500,
               now: Callable[[], datetime] = _now, user: str | None = None) -> int:
    """Publish one batch and mark its confirmed rows sent; returns how many were marked.

    Raises the batch's :class:`PublishError` (timeout, blocked, connection lost, nacked or
    returned) after committing what was confirmed; the rest stays unsent for the next call.
    ``user``: the broker user of ``publisher`` (default: read from its URL).
    """
    user = user or broker_user(publisher.url)
    if db.is_sqlite:
        with db.reader.begin() as conn:
            rows = _claim(conn, db, batch)
        if not rows:
            return 0
        result = publisher.publish([_message(r, user) for r in rows])
        ids = _confirmed_ids(rows, result)
        if ids:
            with db.writer.begin() as conn:
                _mark_sent(conn, db, ids, now())
    else:
        with db.writer.begin() as conn:
            rows = _claim(conn, db, batch)
            if not rows:
                return 0
            result = publisher.publish([_message(r, user) for r in rows])
            ids = _confirmed_ids(rows, result)
            if ids:
                _mark_sent(conn, db, ids, now())
    marked = set(ids)  # counted per event type, one increment per type and batch
    for etype, n in Counter(r.type for r in rows if r.id in marked).items():
        metrics.RELAYED.labels(metrics.event_kind(etype)).inc(n)
    if result.error is not None:
        raise result.error
    return len(ids)


def run_relay(*, db: Database, broker_url: str, stop_event: threading.Event, batch: int = 500,
              confirm_timeout: float = 10.0, poll_seconds: float = 0.2, heartbeat: float = 30.0,
              backoff_max: float = BACKOFF_MAX) -> None:
    """Relay until ``stop_event`` is set. Broker or database trouble never ends it: it logs,
    drops the connection, waits (0.5 s doubling to ``backoff_max``) and tries again."""
    if batch < 1:
        raise ValueError("batch must be positive")
    publisher = ConfirmingPublisher(broker_url, timeout=confirm_timeout, heartbeat=heartbeat)
    user = broker_user(broker_url)
    backoff = BACKOFF_START
    try:
        while not stop_event.is_set():
            try:
                sent = relay_once(db, publisher, batch=batch, user=user)
            except PublishError as err:
                log.warning("relay: %s: %s; retrying in %.1f s", type(err).__name__, err, backoff)
            except Exception:  # the database (or a bug): keep the process, retry with back-off
                log.exception("relay: batch failed; retrying in %.1f s", backoff)
                publisher.close()
            else:
                backoff = BACKOFF_START
                if sent < batch:
                    publisher.keepalive()
                    stop_event.wait(poll_seconds)
                continue
            stop_event.wait(backoff)
            backoff = min(backoff * 2, backoff_max)
    finally:
        publisher.close()

