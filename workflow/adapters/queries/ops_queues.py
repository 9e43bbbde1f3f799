"""The embedded queue's figures from its rows, and the dead-letter archive's, for the ops pages
and the ops sampler. Embedded mode has no broker: the ``inbox`` rows are the requests' queue
and the ``delivery`` rows each subscriber's queue, so every figure a broker would give is
counted here, and the age of the oldest message too (the application knows it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Table, and_, case, func, or_, select

from workflow.adapters.tables import DEAD_LETTER, DELIVERY, INBOX
from workflow.service.ops_ports import DATABASE, QueueFigures

#: the window the rates are counted over
RATE_WINDOW = timedelta(seconds=60)
#: the embedded inbox as the broker's queue it stands in for
INBOX_QUEUE = "verification"


def _age(now: datetime, oldest: datetime | None) -> float | None:
    return None if oldest is None else max(0.0, (now - oldest).total_seconds())


def _count(conn: Connection, table: Table, *where: ColumnElement[bool]) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def inbox_figures(conn: Connection, now: datetime, workers: int | None = None) -> QueueFigures:
    """Pending rows are the depth; a row under a live lease is unacknowledged, the rest ready
    (or waiting for its retry time); dead rows are the dead letters."""
    pending = INBOX.c.status == "pending"
    leased = and_(pending, INBOX.c.lease_until.is_not(None), INBOX.c.lease_until > now)
    depth = _count(conn, INBOX, pending)
    unacked = _count(conn, INBOX, leased) if depth else 0
    oldest = conn.execute(select(func.min(INBOX.c.received_at)).where(pending)).scalar()
    since = now - RATE_WINDOW
    received = _count(conn, INBOX, INBOX.c.received_at >= since)
    processed = _count(conn, INBOX, INBOX.c.processed_at >= since)
    return QueueFigures(
        name=INBOX_QUEUE, source=DATABASE, depth=depth, ready=depth - unacked, unacked=unacked,
        consumers=workers, publish_rate=received / RATE_WINDOW.total_seconds(),
        deliver_rate=processed / RATE_WINDOW.total_seconds(),
        dead_letters=_count(conn, INBOX, INBOX.c.status == "dead"),
        oldest_seconds=_age(now, oldest))


def delivery_figures(conn: Connection, now: datetime) -> list[QueueFigures]:
    """One queue per subscriber of the embedded relay (``notifications``, ``escalation`` …).
    A pending row whose ``available_at`` lies ahead is leased or waiting for a retry."""
    pending = DELIVERY.c.status == "pending"
    rows = conn.execute(
        select(DELIVERY.c.subscriber, DELIVERY.c.status,
               func.count().label("n"), func.min(DELIVERY.c.created_at).label("oldest"),
               func.sum(case((DELIVERY.c.available_at > now, 1), else_=0)).label("later"))
        .where(or_(pending, DELIVERY.c.status == "dead"))
        .group_by(DELIVERY.c.subscriber, DELIVERY.c.status)).all()
    since = now - RATE_WINDOW
    made: dict[str, int] = dict(conn.execute(select(DELIVERY.c.subscriber, func.count())
                             .where(DELIVERY.c.created_at >= since)
                             .group_by(DELIVERY.c.subscriber)).all())
    done: dict[str, int] = dict(conn.execute(select(DELIVERY.c.subscriber, func.count())
                             .where(DELIVERY.c.processed_at >= since)
                             .group_by(DELIVERY.c.subscriber)).all())
    names = sorted({r.subscriber for r in rows} | set(made) | set(done))
    out = []
    for name in names:
        waiting = next((r for r in rows if r.subscriber == name and r.status == "pending"), None)
        dead = next((r.n for r in rows if r.subscriber == name and r.status == "dead"), 0)
        depth = int(waiting.n) if waiting else 0
        later = int(waiting.later or 0) if waiting else 0
        out.append(QueueFigures(
            name=name, source=DATABASE, depth=depth, ready=depth - later, unacked=later,
            publish_rate=made.get(name, 0) / RATE_WINDOW.total_seconds(),
            deliver_rate=done.get(name, 0) / RATE_WINDOW.total_seconds(),
            dead_letters=int(dead), oldest_seconds=_age(now, waiting.oldest if waiting else None)))
    return out


@dataclass(frozen=True)
class ArchivedDead:
    """Dead letters archived from one dead-letter queue and not replayed or discarded yet."""

    queue: str
    count: int
    oldest_seconds: float | None


def dead_letter_archive(conn: Connection, now: datetime) -> list[ArchivedDead]:
    rows = conn.execute(select(DEAD_LETTER.c.queue, func.count(),
                               func.min(DEAD_LETTER.c.archived_at))
                        .where(DEAD_LETTER.c.status == "dead")
                        .group_by(DEAD_LETTER.c.queue).order_by(DEAD_LETTER.c.queue)).all()
    return [ArchivedDead(q, int(n), _age(now, oldest)) for q, n, oldest in rows]

