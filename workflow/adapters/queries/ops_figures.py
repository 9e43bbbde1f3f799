"""Ops figures the database knows: tickets by state, SLA breaches now, the outbox backlog and
its oldest unsent event, the embedded queue's rows, the dead-letter archive. Each is one
grouped query on an indexed column; the metrics collectors (and any ops page) read them.

The result maps a figure's name to ``[(label values, value)]``, the names being those of
:data:`telemetry.collectors.FAMILIES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select

from workflow.adapters.db import Database
from workflow.adapters.tables import DEAD_LETTER, DELIVERY, INBOX, OUTBOX, TICKET

Figures = dict[str, list[tuple[tuple[str, ...], float]]]
#: embedded rows still to be worked on (``done`` rows are history, ``dead`` ones are counted)
WAITING = ("pending", "dead")


def _age(now: datetime, oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())


def outbox(conn: Connection, now: datetime) -> Figures:
    count, oldest = conn.execute(select(func.count(), func.min(OUTBOX.c.created_at))
                                 .where(OUTBOX.c.sent_at.is_(None))).one()
    return {"resetdesk_outbox_unsent_messages": [((), float(count))],
            "resetdesk_outbox_oldest_unsent_age_seconds": [((), _age(now, oldest))]}


def tickets(conn: Connection, now: datetime) -> Figures:
    by_state = conn.execute(select(TICKET.c.state, func.count()).group_by(TICKET.c.state)).all()
    breached = conn.execute(select(func.count()).select_from(TICKET)
                            .where(TICKET.c.sla_due_at < now)).scalar_one()
    return {"resetdesk_tickets": [((state,), float(n)) for state, n in by_state],
            "resetdesk_sla_breached_tickets": [((), float(breached))]}


def dead_letters(conn: Connection) -> Figures:
    rows = conn.execute(select(DEAD_LETTER.c.queue, DEAD_LETTER.c.status, func.count())
                        .group_by(DEAD_LETTER.c.queue, DEAD_LETTER.c.status)).all()
    return {"resetdesk_dead_letter_archive_messages": [((q, s), float(n)) for q, s, n in rows]}


def embedded_queues(conn: Connection, now: datetime) -> Figures:
    """The inbox and each subscriber's delivery rows: what waits, and since when."""
    inbox = conn.execute(select(INBOX.c.status, func.count(), func.min(INBOX.c.received_at))
                         .where(INBOX.c.status.in_(WAITING)).group_by(INBOX.c.status)).all()
    deliveries = conn.execute(
        select(DELIVERY.c.subscriber, DELIVERY.c.status, func.count(),
               func.min(DELIVERY.c.created_at))
        .where(DELIVERY.c.status.in_(WAITING))
        .group_by(DELIVERY.c.subscriber, DELIVERY.c.status)).all()
    rows = [("inbox", s, n, at) for s, n, at in inbox] + list(deliveries)
    messages: list[tuple[tuple[str, ...], float]] = []
    oldest: dict[str, datetime | None] = {}
    for queue, status, n, at in rows:
        messages.append((("embedded", queue, status), float(n)))
        if status == "pending":
            oldest[queue] = at
    ages: list[tuple[tuple[str, ...], float]] = [(("embedded", q), _age(now, at))
                                                 for q, at in oldest.items()]
    return {"resetdesk_queue_messages": messages,
            "resetdesk_queue_oldest_message_age_seconds": ages}


ALL = ("outbox", "tickets", "dead_letters", "embedded_queues")


def read(db: Database, parts: Sequence[str] = ALL, now: datetime | None = None) -> Figures:
    """The figures named in ``parts`` (any of :data:`ALL`), read in one transaction."""
    now = now or datetime.now(UTC)
    found: Figures = {}
    with db.reader.connect() as conn:
        for part in parts:
            if part == "outbox":
                found |= outbox(conn, now)
            elif part == "tickets":
                found |= tickets(conn, now)
            elif part == "dead_letters":
                found |= dead_letters(conn)
            elif part == "embedded_queues":
                found |= embedded_queues(conn, now)
            else:
                raise ValueError(f"unknown figure {part!r}")
    return found
