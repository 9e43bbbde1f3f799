"""The inbox: every accepted inbound message, keyed by (source, id) — dedup and, in embedded
mode, the durable queue.

Claiming is one UPDATE … RETURNING that moves ``available_at`` past the lease: a worker that
dies simply lets the lease run out and the row becomes claimable again; attempts are counted in
the row, never in memory. ``complete`` runs inside the handler's transaction and only succeeds on
a row still pending, so two workers that both held a row (an expired lease) cannot both apply it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from workflow.adapters.db import Database
from workflow.adapters.tables import INBOX, OUTBOX
from workflow.domain.errors import WorkflowError
from workflow.domain.ticket import new_reference
from workflow.service.ports import AlreadyRecorded, InboxEntry, InboxRepository


class ContentConflict(WorkflowError):
    """The same (source, id) was sent before with different content."""


@dataclass(frozen=True)
class InboxKey:
    source: str
    event_id: str


@dataclass(frozen=True)
class Recorded:
    """The answer to an intake: ``replay`` means this (source, id) was already accepted."""

    replay: bool
    reference: str
    status: str


@dataclass(frozen=True)
class Claimed:
    key: InboxKey
    type: str
    producer: str
    payload: str
    reference: str
    attempts: int
    human_check: str | None
    remote_addr: str | None
    last_error: str | None
    received_at: datetime


@dataclass(frozen=True)
class InboxStatus:
    source: str
    event_id: str
    type: str
    status: str
    reference: str
    attempts: int
    ticket_id: str | None
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None


def _existing(conn: Connection, source: str, event_id: str) -> Any:
    return conn.execute(select(INBOX.c.content_digest, INBOX.c.reference, INBOX.c.status).where(
        INBOX.c.source == source, INBOX.c.event_id == event_id)).first()


def peek(db: Database, source: str, event_id: str, digest: str) -> Recorded | None:
    """The earlier answer for this (source, id), if any (``ContentConflict`` if it differs)."""
    with db.reader.begin() as conn:
        row = _existing(conn, source, event_id)
    return _as_replay(row, digest) if row else None


def _as_replay(row: Any, digest: str) -> Recorded:
    if row.content_digest != digest:
        raise ContentConflict("this (source, id) was already accepted with different content")
    return Recorded(True, row.reference, row.status)


def record(db: Database, *, source: str, event_id: str, type_: str, producer: str, digest: str,
           payload: str, now: datetime, human_check: str | None = None,
           remote_addr: str | None = None, relay: bool = False) -> Recorded:
    """Durably accept a message (committed when this returns), or answer as before.

    ``relay`` (production HTTP intake): in the same transaction, an outbox row that the relay
    publishes to the requests exchange, so the verification consumers process the message like
    one a producer published over AMQP; nothing in the HTTP process has to stay alive for it.
    """
    for _ in range(5):
        reference = new_reference()
        try:
            with db.writer.begin() as conn:
                row = _existing(conn, source, event_id)
                if row is not None:
                    return _as_replay(row, digest)
                conn.execute(insert(INBOX).values(
                    source=source, event_id=event_id, type=type_, producer=producer,
                    content_digest=digest, payload=payload, received_at=now, status="pending",
                    attempts=0, available_at=now, reference=reference, human_check=human_check,
                    remote_addr=remote_addr))
                if relay:
                    conn.execute(insert(OUTBOX).values(
                        event_id=uuid.uuid4().hex, ticket_id=relay_key(reference), sequence=0,
                        type=type_, payload=payload, created_at=now))
            return Recorded(False, reference, "pending")
        except IntegrityError:
            continue  # a concurrent insert of the same key, or a reference collision: look again
    raise WorkflowError("could not record the message; try again")


def relay_key(reference: str) -> str:
    """The outbox ``ticket_id`` of a relayed request: no ticket exists yet; the reference will
    be the ticket's, and keeps each relayed request its own ordering group."""
    return f"intake:{reference}"


def claim(db: Database, *, limit: int, lease: timedelta, now: datetime) -> list[Claimed]:
    """Lease up to ``limit`` due rows, oldest first, counting one attempt on each."""
    due = (select(INBOX.c.source, INBOX.c.event_id)
           .where(INBOX.c.status == "pending", INBOX.c.available_at <= now)
           .order_by(INBOX.c.available_at).limit(limit))
    if not db.is_sqlite:
        due = due.with_for_update(skip_locked=True)
    stmt = (update(INBOX)
            .where(tuple_(INBOX.c.source, INBOX.c.event_id).in_(due))
            .values(available_at=now + lease, lease_until=now + lease,
                    attempts=INBOX.c.attempts + 1)
            .returning(INBOX.c.source, INBOX.c.event_id, INBOX.c.type, INBOX.c.producer,
                       INBOX.c.payload, INBOX.c.reference, INBOX.c.attempts, INBOX.c.human_check,
                       INBOX.c.remote_addr, INBOX.c.last_error, INBOX.c.received_at))
    with db.writer.begin() as conn:
        rows = conn.execute(stmt).all()
    return [Claimed(InboxKey(r.source, r.event_id), r.type, r.producer, r.payload, r.reference,
                    r.attempts, r.human_check, r.remote_addr, r.last_error, r.received_at)
            for r in rows]


def claim_key(db: Database, key: InboxKey, *, lease: timedelta, now: datetime,
              steal: bool = False) -> Claimed | None:
    """Lease one specific row (the one a broker delivery stands for), counting an attempt.

    None when the row is not pending (done or dead) or another worker holds a live lease on it;
    ``status`` tells which. ``steal``: take it despite a live lease — right for a broker
    redelivery, which only happens once the previous holder lost its channel (if it still runs,
    ``complete`` lets only one of the two apply the message).
    """
    free = INBOX.c.lease_until.is_(None) | (INBOX.c.lease_until <= now)
    stmt = (update(INBOX)
            .where(_where(key), INBOX.c.status == "pending", *([] if steal else [free]))
            .values(available_at=now + lease, lease_until=now + lease,
                    attempts=INBOX.c.attempts + 1)
            .returning(INBOX.c.source, INBOX.c.event_id, INBOX.c.type, INBOX.c.producer,
                       INBOX.c.payload, INBOX.c.reference, INBOX.c.attempts, INBOX.c.human_check,
                       INBOX.c.remote_addr, INBOX.c.last_error, INBOX.c.received_at))
    with db.writer.begin() as conn:
        r = conn.execute(stmt).first()
    if r is None:
        return None
    return Claimed(InboxKey(r.source, r.event_id), r.type, r.producer, r.payload, r.reference,
                   r.attempts, r.human_check, r.remote_addr, r.last_error, r.received_at)


_INSERT = insert(INBOX)


def _where(key: InboxKey) -> Any:
    return (INBOX.c.source == key.source) & (INBOX.c.event_id == key.event_id)


def set_human_check(db: Database, key: InboxKey, result: str) -> None:
    """Commit the human-check result before anything else: the token is single-use."""
    with db.writer.begin() as conn:
        conn.execute(update(INBOX).where(_where(key), INBOX.c.human_check.is_(None))
                     .values(human_check=result))


def retry_later(db: Database, key: InboxKey, error: str, at: datetime) -> None:
    with db.writer.begin() as conn:
        conn.execute(update(INBOX).where(_where(key), INBOX.c.status == "pending").values(
            available_at=at, lease_until=None, last_error=error[:1000]))


def park_dead(db: Database, key: InboxKey, reason: str, now: datetime) -> None:
    with db.writer.begin() as conn:
        conn.execute(update(INBOX).where(_where(key), INBOX.c.status == "pending").values(
            status="dead", lease_until=None, last_error=reason[:1000], processed_at=now))


def revive(db: Database, key: InboxKey, now: datetime) -> bool:
    """Make a dead row pending again (an operator replayed its dead letter); False if not dead."""
    with db.writer.begin() as conn:
        return conn.execute(update(INBOX).where(_where(key), INBOX.c.status == "dead").values(
            status="pending", available_at=now, lease_until=None, processed_at=None)
        ).rowcount == 1


def status(db: Database, source: str, event_id: str) -> InboxStatus | None:
    with db.reader.begin() as conn:
        row = conn.execute(select(
            INBOX.c.source, INBOX.c.event_id, INBOX.c.type, INBOX.c.status, INBOX.c.reference,
            INBOX.c.attempts, INBOX.c.ticket_id, INBOX.c.last_error, INBOX.c.received_at,
            INBOX.c.processed_at).where(INBOX.c.source == source,
                                        INBOX.c.event_id == event_id)).first()
    return InboxStatus(**row._mapping) if row else None


class SqlInboxRepository(InboxRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, source: str, event_id: str, reference: str, entry: InboxEntry,
               now: datetime, *, ticket_id: str | None = None) -> None:
        try:
            self.conn.execute(_INSERT, {
                "source": source, "event_id": event_id, "type": entry.type,
                "producer": entry.producer, "content_digest": entry.digest,
                "payload": entry.payload, "received_at": now,
                "status": "done" if ticket_id else "pending", "attempts": 1,
                "available_at": now, "reference": reference, "human_check": entry.human_check,
                "ticket_id": ticket_id, "processed_at": now if ticket_id else None})
        except IntegrityError as err:
            raise AlreadyRecorded(f"{source} {event_id} is already in the inbox") from err

    def complete(self, source: str, event_id: str, ticket_id: str, reference: str,
                 now: datetime) -> bool:
        result = self.conn.execute(
            update(INBOX).where(INBOX.c.source == source, INBOX.c.event_id == event_id,
                                INBOX.c.status == "pending")
            .values(status="done", ticket_id=ticket_id, reference=reference, processed_at=now,
                    lease_until=None, last_error=None))
        return result.rowcount == 1


def canonical_payload(envelope: dict[str, Any]) -> str:
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
