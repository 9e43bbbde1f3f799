"""Embedded mode's in-database fan-out: outbox rows → one delivery row per subscriber.

A subscriber names the event types it wants; the embedded relay copies each unsent outbox row
into the matching subscribers' rows and marks it sent, in one transaction, in outbox order. The
subscriber's workers then lease their rows like the inbox workers do. With a broker configured,
the AMQP relay publishes the outbox instead and nothing here runs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from workflow.adapters.db import Database
from workflow.adapters.tables import DELIVERY, OUTBOX


@dataclass(frozen=True)
class Delivery:
    id: int
    subscriber: str
    event_id: str
    type: str
    payload: str
    attempts: int
    last_error: str | None


def fan_out(db: Database, subscriptions: Mapping[str, Collection[str]], *, now: datetime,
            limit: int = 200) -> int:
    """Relay up to ``limit`` unsent outbox rows; returns how many were marked sent."""
    pick = (select(OUTBOX.c.id, OUTBOX.c.event_id, OUTBOX.c.type, OUTBOX.c.payload)
            .where(OUTBOX.c.sent_at.is_(None)).order_by(OUTBOX.c.id).limit(limit))
    if not db.is_sqlite:
        pick = pick.with_for_update(skip_locked=True)
    with db.writer.begin() as conn:
        rows = conn.execute(pick).all()
        if not rows:
            return 0
        copies = [
            {"subscriber": name, "event_id": r.event_id, "type": r.type, "payload": r.payload,
             "status": "pending", "attempts": 0, "available_at": now, "created_at": now}
            for r in rows
            for name, types in subscriptions.items()
            if r.type in types
        ]
        if copies:
            conn.execute(insert(DELIVERY), copies)
        conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_([r.id for r in rows]))
                     .values(sent_at=now))
    return len(rows)


def claim(db: Database, subscriber: str, *, limit: int, lease: timedelta,
          now: datetime) -> list[Delivery]:
    due = (select(DELIVERY.c.id)
           .where(DELIVERY.c.subscriber == subscriber, DELIVERY.c.status == "pending",
                  DELIVERY.c.available_at <= now)
           .order_by(DELIVERY.c.id).limit(limit))
    if not db.is_sqlite:
        due = due.with_for_update(skip_locked=True)
    stmt = (update(DELIVERY).where(DELIVERY.c.id.in_(due))
            .values(available_at=now + lease, attempts=DELIVERY.c.attempts + 1)
            .returning(DELIVERY.c.id, DELIVERY.c.subscriber, DELIVERY.c.event_id,
                       DELIVERY.c.type, DELIVERY.c.payload, DELIVERY.c.attempts,
                       DELIVERY.c.last_error))
    with db.writer.begin() as conn:
        rows = conn.execute(stmt).all()
    return sorted((Delivery(*r) for r in rows), key=lambda d: d.id)


def finish(db: Database, delivery_id: int, *, status: str, now: datetime,
           error: str | None = None, retry_at: datetime | None = None) -> None:
    """``done`` / ``dead`` end a delivery; ``pending`` with ``retry_at`` schedules a retry."""
    values: dict[str, object] = {"status": status, "last_error": error[:1000] if error else None}
    if status == "pending":
        values["available_at"] = retry_at or now
    else:
        values["processed_at"] = now
    with db.writer.begin() as conn:
        conn.execute(update(DELIVERY).where(DELIVERY.c.id == delivery_id).values(**values))
