"""The inbox: every accepted inbound message, keyed by (source, id) — dedup and, in embedded
mode, the durable queue.

Claiming is one UPDATE … RETURNING that moves ``available_at`` past the lease: a worker that
dies simply lets the lease run out and the row becomes claimable again; attempts are counted in
the row, never in memory. ``complete`` runs inside the handler's transaction and only succeeds on
a row still pending, so two workers that both held a row (an expired lease) cannot both apply it.
The functions taking a ``Database`` run one step in a transaction of their own (the CLI, tests);
the entry points use the same steps as ``uow.inbox_queue``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from workflow.adapters.db import Database
from workflow.adapters.tables import INBOX, OUTBOX
from workflow.domain.errors import WorkflowError
from workflow.domain.ticket import new_reference
from workflow.service.inbox_ports import (
    Claimed,
    ContentConflict,
    InboxKey,
    InboxQueue,
    Recorded,
    canonical_payload,
)
from workflow.service.ports import AlreadyRecorded, InboxEntry, InboxRepository

__all__ = ["Claimed", "ContentConflict", "InboxKey", "InboxStatus", "Recorded", "SqlInboxRepository",
           "canonical_payload", "claim", "claim_key", "park_dead", "record", "relay_key",
           "retry_later", "revive", "set_human_check", "status"]


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


def _as_replay(row: Any, digest: str) -> Recorded:
    if row.content_digest != digest:
        raise ContentConflict("this (source, id) was already accepted with different content")
    return Recorded(True, row.reference, row.status)


def relay_key(reference: str) -> str:
    """The outbox ``ticket_id`` of a relayed request: no ticket exists yet; the reference will
    be the ticket's, and keeps each relayed request its own ordering group."""
    return f"intake:{reference}"


_RETURNING = (INBOX.c.source, INBOX.c.event_id, INBOX.c.type, INBOX.c.producer, INBOX.c.payload,
              INBOX.c.reference, INBOX.c.attempts, INBOX.c.human_check, INBOX.c.remote_addr,
              INBOX.c.last_error, INBOX.c.received_at)
_INSERT = insert(INBOX)


def _claimed(r: Any) -> Claimed:
    return Claimed(InboxKey(r.source, r.event_id), r.type, r.producer, r.payload, r.reference,
                   r.attempts, r.human_check, r.remote_addr, r.last_error, r.received_at)


def _where(key: InboxKey) -> Any:
    return (INBOX.c.source == key.source) & (INBOX.c.event_id == key.event_id)


def insert_values(source: str, event_id: str, reference: str, entry: InboxEntry, now: datetime,
                  ticket_id: str | None) -> dict[str, Any]:
    """The row ``insert`` writes (a batch's unit of work writes many at once)."""
    return {"source": source, "event_id": event_id, "type": entry.type,
            "producer": entry.producer, "content_digest": entry.digest,
            "payload": entry.payload, "received_at": now,
            "status": "done" if ticket_id else "pending", "attempts": 1,
            "available_at": now, "reference": reference, "human_check": entry.human_check,
            "ticket_id": ticket_id, "processed_at": now if ticket_id else None}


class SqlInboxRepository(InboxRepository, InboxQueue):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, source: str, event_id: str, reference: str, entry: InboxEntry,
               now: datetime, *, ticket_id: str | None = None) -> None:
        try:
            self.conn.execute(_INSERT, insert_values(source, event_id, reference, entry, now,
                                                     ticket_id))
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

    def earlier(self, source: str, event_id: str, digest: str) -> Recorded | None:
        row = _existing(self.conn, source, event_id)
        return _as_replay(row, digest) if row else None

    def record(self, *, source: str, event_id: str, type_: str, producer: str, digest: str,
               payload: str, now: datetime, human_check: str | None = None,
               remote_addr: str | None = None, relay: bool = False) -> Recorded:
        for _ in range(5):
            row = _existing(self.conn, source, event_id)
            if row is not None:
                return _as_replay(row, digest)
            reference = new_reference()
            try:
                with self.conn.begin_nested():
                    self.conn.execute(insert(INBOX).values(
                        source=source, event_id=event_id, type=type_, producer=producer,
                        content_digest=digest, payload=payload, received_at=now,
                        status="pending", attempts=0, available_at=now, reference=reference,
                        human_check=human_check, remote_addr=remote_addr))
                    if relay:
                        self.conn.execute(insert(OUTBOX).values(
                            event_id=uuid.uuid4().hex, ticket_id=relay_key(reference),
                            sequence=0, type=type_, payload=payload, created_at=now))
            except IntegrityError:
                continue  # a concurrent insert of the same key, or a reference collision
            return Recorded(False, reference, "pending")
        raise WorkflowError("could not record the message; try again")

    def claim(self, *, limit: int, lease: timedelta, now: datetime) -> list[Claimed]:
        due = (select(INBOX.c.source, INBOX.c.event_id)
               .where(INBOX.c.status == "pending", INBOX.c.available_at <= now)
               .order_by(INBOX.c.available_at).limit(limit))
        if self.conn.dialect.name != "sqlite":
            due = due.with_for_update(skip_locked=True)
        rows = self.conn.execute(
            update(INBOX).where(tuple_(INBOX.c.source, INBOX.c.event_id).in_(due))
            .values(available_at=now + lease, lease_until=now + lease,
                    attempts=INBOX.c.attempts + 1).returning(*_RETURNING)).all()
        return [_claimed(r) for r in rows]

    def claim_key(self, key: InboxKey, *, lease: timedelta, now: datetime,
                  steal: bool = False) -> Claimed | None:
        """``steal``: take it despite a live lease — right for a broker redelivery, which only
        happens once the previous holder lost its channel (if it still runs, ``complete`` lets
        only one of the two apply the message)."""
        free = INBOX.c.lease_until.is_(None) | (INBOX.c.lease_until <= now)
        r = self.conn.execute(
            update(INBOX).where(_where(key), INBOX.c.status == "pending",
                                *([] if steal else [free]))
            .values(available_at=now + lease, lease_until=now + lease,
                    attempts=INBOX.c.attempts + 1).returning(*_RETURNING)).first()
        return _claimed(r) if r is not None else None

    def set_human_check(self, key: InboxKey, result: str) -> None:
        self.conn.execute(update(INBOX).where(_where(key), INBOX.c.human_check.is_(None))
                          .values(human_check=result))

    def retry_later(self, key: InboxKey, error: str, at: datetime) -> None:
        self.conn.execute(update(INBOX).where(_where(key), INBOX.c.status == "pending").values(
            available_at=at, lease_until=None, last_error=error[:1000]))

    def park_dead(self, key: InboxKey, reason: str, now: datetime) -> None:
        self.conn.execute(update(INBOX).where(_where(key), INBOX.c.status == "pending").values(
            status="dead", lease_until=None, last_error=reason[:1000], processed_at=now))

    def revive(self, key: InboxKey, now: datetime) -> bool:
        return self.conn.execute(update(INBOX).where(_where(key), INBOX.c.status == "dead").values(
            status="pending", available_at=now, lease_until=None, processed_at=None)
        ).rowcount == 1


# --- one step in a transaction of its own ------------------------------------------------------


@contextmanager
def _queue(db: Database) -> Iterator[SqlInboxRepository]:
    with db.writer.begin() as conn:
        yield SqlInboxRepository(conn)


def record(db: Database, *, source: str, event_id: str, type_: str, producer: str, digest: str,
           payload: str, now: datetime, human_check: str | None = None,
           remote_addr: str | None = None, relay: bool = False) -> Recorded:
    """Durably accept a message (committed when this returns), or answer as before."""
    with _queue(db) as q:
        return q.record(source=source, event_id=event_id, type_=type_, producer=producer,
                        digest=digest, payload=payload, now=now, human_check=human_check,
                        remote_addr=remote_addr, relay=relay)


def claim(db: Database, *, limit: int, lease: timedelta, now: datetime) -> list[Claimed]:
    with _queue(db) as q:
        return q.claim(limit=limit, lease=lease, now=now)


def claim_key(db: Database, key: InboxKey, *, lease: timedelta, now: datetime,
              steal: bool = False) -> Claimed | None:
    with _queue(db) as q:
        return q.claim_key(key, lease=lease, now=now, steal=steal)


def set_human_check(db: Database, key: InboxKey, result: str) -> None:
    with _queue(db) as q:
        q.set_human_check(key, result)


def retry_later(db: Database, key: InboxKey, error: str, at: datetime) -> None:
    with _queue(db) as q:
        q.retry_later(key, error, at)


def park_dead(db: Database, key: InboxKey, reason: str, now: datetime) -> None:
    with _queue(db) as q:
        q.park_dead(key, reason, now)


def revive(db: Database, key: InboxKey, now: datetime) -> bool:
    with _queue(db) as q:
        return q.revive(key, now)


def status(db: Database, source: str, event_id: str) -> InboxStatus | None:
    with db.reader.begin() as conn:
        row = conn.execute(select(
            INBOX.c.source, INBOX.c.event_id, INBOX.c.type, INBOX.c.status, INBOX.c.reference,
            INBOX.c.attempts, INBOX.c.ticket_id, INBOX.c.last_error, INBOX.c.received_at,
            INBOX.c.processed_at).where(INBOX.c.source == source,
                                        INBOX.c.event_id == event_id)).first()
    return InboxStatus(**row._mapping) if row else None
