"""The agents' queue: open tickets, the earliest running SLA clock due first, keyset-paged.

The order is ``sla_due_at NULLS LAST, id``, read as two halves so that each is one index range
on both databases: first the tickets with a running clock by ``(sla_due_at, id)``, then the
others (paused on the customer, not queued yet) by id. A cursor names the last row shown; the
next page starts strictly after it, so rows are neither skipped nor repeated while the queue is
walked (a ticket whose due time moves meanwhile may appear on another page instead).

SQL picks and orders the rows; Python adds what only the business calendar knows, for the
page's rows only: the remaining business seconds of the earliest running clock and when the desk
next opens or closes, so the browser can tick the countdown and stop it outside hours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, Select, func, select

from workflow.adapters.db import Database
from workflow.adapters.queries.queue_filters import (
    CLOSED,
    DUE_COLUMNS,
    QueueFilters,
    SlaMoment,
    decode_cursor,
    due_key,
    encode_cursor,
    part_clause,
    parts,
    scope,
    where,
)
from workflow.adapters.tables import TICKET
from workflow.domain import ticket_sla
from workflow.domain.ticket_sla import SlaBook

__all__ = ["Countdown", "QueueFilters", "QueuePage", "QueueRow", "count_matching",
           "escalating_soon", "queue_page"]

MAX_LIMIT = 200
_COLUMNS = (TICKET.c.id, TICKET.c.reference, TICKET.c.state, TICKET.c.waiting_on,
            TICKET.c.assignee, TICKET.c.language, TICKET.c.method, TICKET.c.created_at,
            TICKET.c.version, TICKET.c.sla_due_at, *DUE_COLUMNS.values(), TICKET.c.sla)
_ORDER = (TICKET.c.sla_due_at, TICKET.c.id)


@dataclass(frozen=True)
class Countdown:
    """What a browser needs to tick a row's SLA countdown in business time.

    ``remaining_s``: business seconds left on the earliest running clock (negative once
    breached) or, when paused, on the paused clock with least left. It decreases by one per
    second while ``ticking``; ``ticking`` flips at ``until`` (the desk's next closing when open,
    next opening when closed; None while paused, when only the customer can restart it)."""

    remaining_s: int
    ticking: bool
    paused: bool
    until: datetime | None


@dataclass(frozen=True)
class QueueRow:
    id: str
    reference: str
    state: str
    waiting_on: str | None
    assignee: str | None
    language: str
    method: str | None
    created_at: datetime
    version: int
    sla_due_at: datetime | None
    #: ok | at_risk | breached | paused, None when no clock runs or waits (not queued, closed)
    sla_status: str | None
    countdown: Countdown | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    #: pass as ``after`` for the next page; None on the last page
    next_cursor: str | None


@dataclass(frozen=True)
class _Desk:
    """The business calendar at ``now``: open or not, and until when."""

    book: SlaBook
    moment: SlaMoment
    open: bool
    until: datetime

    @classmethod
    def at(cls, book: SlaBook, now: datetime) -> _Desk:
        closes = book.calendar.open_until(now)
        return cls(book, SlaMoment.of(book, now), closes is not None,
                   closes or book.calendar.next_opening(now))


def _paused_left(desk: _Desk, sla_json: str | None) -> int | None:
    if not sla_json:
        return None
    clocks = ticket_sla.from_dict(json.loads(sla_json)).clocks
    left = [desk.book.policies[n].budget - c.consumed for n, c in clocks.items()
            if c.is_paused and n in desk.book.policies]
    return int(min(left).total_seconds()) if left else None


def _row(desk: _Desk, r: Row[Any]) -> QueueRow:
    m = r._mapping
    status: str | None = None
    countdown: Countdown | None = None
    if m["sla_due_at"] is not None:
        dues = {name: m[col.name] for name, col in DUE_COLUMNS.items()}
        status = desk.moment.status(m["sla_due_at"], dues)
        left = desk.book.calendar.business_time_between(desk.moment.now, m["sla_due_at"])
        countdown = Countdown(int(left.total_seconds()), desk.open, False, desk.until)
    elif m["waiting_on"] is not None and m["state"] != CLOSED:
        paused_left = _paused_left(desk, m["sla"])
        if paused_left is not None:
            status = "paused"
            countdown = Countdown(paused_left, False, True, None)
    return QueueRow(m["id"], m["reference"], m["state"], m["waiting_on"], m["assignee"],
                    m["language"], m["method"], m["created_at"], m["version"], m["sla_due_at"],
                    status, countdown)


def _select(conn: Connection, filters: QueueFilters, moment: SlaMoment) -> Select[Any]:
    return select(*_COLUMNS).where(*where(filters, moment, conn.dialect.name))


def queue_page(db: Database, filters: QueueFilters = QueueFilters(), *, book: SlaBook,
               after: str | None = None, limit: int = 50,
               now: datetime | None = None) -> QueuePage:
    """One page of the queue after the cursor ``after`` (``ValueError`` for a bad cursor)."""
    limit = max(1, min(limit, MAX_LIMIT))
    cursor = decode_cursor(after) if after else None
    desk = _Desk.at(book, now or datetime.now(UTC))
    found: list[Row[Any]] = []
    with db.reader.begin() as conn:
        base = _select(conn, filters, desk.moment)
        due = due_key(filters, conn.dialect.name)
        for part in parts(filters, cursor):
            want = limit + 1 - len(found)  # one more than shown tells whether a page follows
            stmt = (base.where(*scope(filters, part), part_clause(part, cursor, due))
                    .order_by(due, TICKET.c.id).limit(want))
            found.extend(conn.execute(stmt).all())
            if len(found) > limit:
                break
    rows = [_row(desk, r) for r in found[:limit]]
    more = len(found) > limit
    return QueuePage(rows, encode_cursor(rows[-1].sla_due_at, rows[-1].id) if more else None)


def escalating_soon(db: Database, *, book: SlaBook, within: timedelta = timedelta(minutes=30),
                    filters: QueueFilters = QueueFilters(), limit: int = 50,
                    now: datetime | None = None) -> list[QueueRow]:
    """Tickets whose earliest running clock is due within ``within`` of business time, or is
    already breached: soonest (most overdue) first."""
    desk = _Desk.at(book, now or datetime.now(UTC))
    horizon = book.calendar.add_business_time(desk.moment.now, within)
    with db.reader.begin() as conn:
        stmt = (_select(conn, filters, desk.moment)
                .where(part_clause("running", None), TICKET.c.sla_due_at <= horizon)
                .order_by(*_ORDER).limit(max(1, min(limit, MAX_LIMIT))))
        return [_row(desk, r) for r in conn.execute(stmt)]


def count_matching(db: Database, filters: QueueFilters = QueueFilters(), *, book: SlaBook,
                   now: datetime | None = None) -> int:
    """How many tickets the filter holds now: what a bulk action on it would change."""
    moment = SlaMoment.of(book, now or datetime.now(UTC))
    with db.reader.begin() as conn:
        stmt = select(func.count()).select_from(TICKET).where(
            *where(filters, moment, conn.dialect.name), *scope(filters, None))
        return int(conn.execute(stmt).scalar_one())
