"""Embedded mode's in-database fan-out: outbox rows → one delivery row per subscriber.

A subscriber names the event types it wants; the embedded relay copies each unsent outbox row
into the matching subscribers' rows and marks it sent, in one transaction, in outbox order. The
subscriber's workers then lease their rows like the inbox workers do. With a broker configured,
the AMQP relay publishes the outbox instead and nothing here runs. The functions taking a
``Database`` run one step in a transaction of their own; entry points use ``uow.deliveries``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from workflow.adapters.db import Database
from workflow.adapters.tables import DELIVERY, OUTBOX
from workflow.service.delivery_ports import Delivery, DeliveryQueue

__all__ = ["Delivery", "SqlDeliveryQueue", "claim", "fan_out", "finish"]


class SqlDeliveryQueue(DeliveryQueue):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def fan_out(self, subscriptions: Mapping[str, Collection[str]], *, now: datetime,
                limit: int = 200) -> int:
        pick = (select(OUTBOX.c.id, OUTBOX.c.event_id, OUTBOX.c.type, OUTBOX.c.payload)
                .where(OUTBOX.c.sent_at.is_(None)).order_by(OUTBOX.c.id).limit(limit))
        if self.conn.dialect.name != "sqlite":
            pick = pick.with_for_update(skip_locked=True)
        rows = self.conn.execute(pick).all()
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
            self.conn.execute(insert(DELIVERY), copies)
        self.conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_([r.id for r in rows]))
                          .values(sent_at=now))
        return len(rows)

    def claim(self, subscriber: str, *, limit: int, lease: timedelta,
              now: datetime) -> list[Delivery]:
        due = (select(DELIVERY.c.id)
               .where(DELIVERY.c.subscriber == subscriber, DELIVERY.c.status == "pending",
                      DELIVERY.c.available_at <= now)
               .order_by(DELIVERY.c.id).limit(limit))
        if self.conn.dialect.name != "sqlite":
            due = due.with_for_update(skip_locked=True)
        stmt = (update(DELIVERY).where(DELIVERY.c.id.in_(due))
                .values(available_at=now + lease, attempts=DELIVERY.c.attempts + 1)
                .returning(DELIVERY.c.id, DELIVERY.c.subscriber, DELIVERY.c.event_id,
                           DELIVERY.c.type, DELIVERY.c.payload, DELIVERY.c.attempts,
                           DELIVERY.c.last_error))
        rows = self.conn.execute(stmt).all()
        return sorted((Delivery(*r) for r in rows), key=lambda d: d.id)

    def finish(self, delivery_id: int, *, status: str, now: datetime, error: str | None = None,
               retry_at: datetime | None = None) -> None:
        values: dict[str, object] = {"status": status,
                                     "last_error": error[:1000] if error else None}
        if status == "pending":
            values["available_at"] = retry_at or now
        else:
            values["processed_at"] = now
        self.conn.execute(update(DELIVERY).where(DELIVERY.c.id == delivery_id).values(**values))


def fan_out(db: Database, subscriptions: Mapping[str, Collection[str]], *, now: datetime,
            limit: int = 200) -> int:
    """Relay up to ``limit`` unsent outbox rows; returns how many were marked sent."""
    with db.writer.begin() as conn:
        return SqlDeliveryQueue(conn).fan_out(subscriptions, now=now, limit=limit)


def claim(db: Database, subscriber: str, *, limit: int, lease: timedelta,
          now: datetime) -> list[Delivery]:
    with db.writer.begin() as conn:
        return SqlDeliveryQueue(conn).claim(subscriber, limit=limit, lease=lease, now=now)


def finish(db: Database, delivery_id: int, *, status: str, now: datetime,
           error: str | None = None, retry_at: datetime | None = None) -> None:
    with db.writer.begin() as conn:
        SqlDeliveryQueue(conn).finish(delivery_id, status=status, now=now, error=error,
                                      retry_at=retry_at)
