"""The queue's filters as SQL over the ticket table's stored columns, its SLA status thresholds
and its opaque keyset cursor. Every predicate here has an index behind it (``tables``): an
equality on a queue index's leading column, a range on ``sla_due_at``, or a prefix on a search
column; the open-ticket predicate is written literally so SQLite can match the partial indexes.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, false, literal_column, or_, type_coerce

from workflow.adapters import search_keys
from workflow.adapters.tables import TICKET
from workflow.adapters.types import UtcDateTime
from workflow.domain.states import State
from workflow.domain.ticket_sla import SlaBook

CLOSED = State.CLOSED.value

SLA_STATUSES = ("ok", "at_risk", "breached", "paused")
DUE_COLUMNS = {"first_reply": TICKET.c.first_reply_due_at, "resolution": TICKET.c.resolution_due_at}
_DUE: ColumnElement[datetime] = TICKET.c.sla_due_at
_ID: ColumnElement[str] = TICKET.c.id
#: the two halves of the queue order: running clocks by due time, then the rest by id
Part = Literal["running", "parked"]
#: where a page ended: (due time, or None in the second half; ticket id)
Cursor = tuple[datetime | None, str]


@dataclass(frozen=True)
class QueueFilters:
    """What the agent narrowed the queue to; all None/False is every open ticket.

    ``state`` None means every open state (``"closed"`` can be asked for explicitly), or every
    state with a ``search``: finding a ticket by its reference or email includes closed ones;
    ``assignee`` is "mine" (the signed-in login) or a supervisor's pick; ``search`` matches a
    reference or a serial exactly, an email, a phone or a label serial by prefix."""

    state: str | None = None
    waiting_on: str | None = None
    sla: str | None = None
    language: str | None = None
    method: str | None = None
    assignee: str | None = None
    unassigned: bool = False
    search: str | None = None

    def __post_init__(self) -> None:
        if self.sla is not None and self.sla not in SLA_STATUSES:
            raise ValueError(f"unknown SLA status {self.sla!r}; use one of "
                             f"{', '.join(SLA_STATUSES)}")


@dataclass(frozen=True)
class SlaMoment:
    """``now`` and, per clock, the due instant at or before which a running clock is at risk
    (its remaining business time is within ``1 - at_risk_ratio`` of its budget): computed
    once per request so SQL and the rows agree."""

    now: datetime
    at_risk_by: dict[str, datetime]

    @classmethod
    def of(cls, book: SlaBook, now: datetime) -> SlaMoment:
        cal = book.calendar
        return cls(now, {name: cal.add_business_time(now, p.budget - p.at_risk_budget)
                         for name, p in book.policies.items() if name in DUE_COLUMNS})

    def status(self, sla_due_at: datetime | None, dues: dict[str, datetime | None]) -> str:
        """ok / at_risk / breached of a ticket whose earliest running clock is due then."""
        if sla_due_at is not None and sla_due_at < self.now:
            return "breached"
        risky = any(due is not None and due <= self.at_risk_by[name]
                    for name, due in dues.items() if name in self.at_risk_by)
        return "at_risk" if risky else "ok"


def _open() -> ColumnElement[bool]:
    """``state != 'closed'`` with the literal inline, as the partial indexes say it."""
    clause: ColumnElement[bool] = TICKET.c.state != literal_column(f"'{CLOSED}'")
    return clause


def _sla(status: str, moment: SlaMoment) -> ColumnElement[bool]:
    due, now = TICKET.c.sla_due_at, moment.now
    if status == "paused":
        return and_(TICKET.c.waiting_on.is_not(None), TICKET.c.sla.is_not(None))
    if status == "breached":
        breached: ColumnElement[bool] = due < now
        return breached
    risky = [DUE_COLUMNS[n] <= at for n, at in moment.at_risk_by.items()]
    if status == "at_risk":
        if not risky:
            return false()
        return and_(due >= now, due <= max(moment.at_risk_by.values()), or_(*risky))
    safe = [or_(DUE_COLUMNS[n].is_(None), DUE_COLUMNS[n] > at) for n, at in moment.at_risk_by.items()]
    return and_(due >= now, *safe)


def _prefix(column: ColumnElement[str], value: str, dialect: str) -> ColumnElement[bool]:
    """``LIKE 'v%'`` on PostgreSQL (pattern-ops index); a range on SQLite, whose LIKE ignores
    case and so cannot use a binary index (the values are already one case)."""
    if dialect == "sqlite":
        return and_(column >= value, column < value + "\U0010ffff")
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(escaped + "%", escape="\\")


def search_clause(query: str, dialect: str) -> ColumnElement[bool]:
    """Any of the keys the text can be; nothing matches a text too short to search by."""
    terms: list[ColumnElement[bool]] = []
    for column, value in search_keys.query_keys(query).items():
        if column in ("reference", "serial_key"):
            terms.append(TICKET.c[column] == value)
        else:
            terms.append(_prefix(TICKET.c[column], value, dialect))
    return or_(*terms) if terms else false()


def where(filters: QueueFilters, moment: SlaMoment, dialect: str) -> list[ColumnElement[bool]]:
    """The filters' clauses; which tickets are in scope at all is ``scope``'s."""
    f, c = filters, TICKET.c
    clauses = [c.state == f.state] if f.state else []
    pairs = ((c.waiting_on, f.waiting_on), (c.language, f.language), (c.method, f.method),
             (c.assignee, f.assignee))
    clauses += [col == value for col, value in pairs if value]
    if f.unassigned:
        clauses.append(c.assignee.is_(None))
    if f.sla:
        clauses.append(_sla(f.sla, moment))
    if _searching(f):
        clauses.append(search_clause(str(f.search), dialect))
    return clauses


def _searching(f: QueueFilters) -> bool:
    return bool(f.search and f.search.strip())


def scope(filters: QueueFilters, part: Part | None) -> list[ColumnElement[bool]]:
    """``state != 'closed'`` when only open tickets can match (no search across all states,
    not the closed state), said literally so both databases match the partial indexes. Not
    among running clocks, which only open tickets have: there PostgreSQL would multiply the
    two selectivities as if independent, underestimate the running half several-fold and
    prefer sorting it to reading an index in order."""
    if part == "running" or filters.state == CLOSED or (_searching(filters) and not filters.state):
        return []
    return [_open()]


def parts(filters: QueueFilters, cursor: Cursor | None = None) -> tuple[Part, ...]:
    """Which halves of the order can hold matches after the cursor: a waiting ticket's clocks
    are paused, a status other than paused needs a running clock."""
    if filters.sla:
        found: tuple[Part, ...] = ("parked",) if filters.sla == "paused" else ("running",)
    elif filters.waiting_on or filters.state == CLOSED:
        found = ("parked",)
    else:
        found = ("running", "parked")
    past_running = cursor is not None and cursor[0] is None
    return tuple(p for p in found if not (p == "running" and past_running))


def due_key(filters: QueueFilters, dialect: str) -> ColumnElement[datetime]:
    """``sla_due_at`` as the order and the cursor name it. While searching on SQLite it is
    ``+sla_due_at``: the unary plus keeps SQLite's planner, which cannot tell that a prefix
    match is selective, from walking a queue index in order through thousands of rows; it
    takes the search indexes instead and sorts the few matches (PostgreSQL does so by cost)."""
    if dialect == "sqlite" and _searching(filters):
        return type_coerce(literal_column("+ticket.sla_due_at"), UtcDateTime())
    return _DUE


def part_clause(part: Part, cursor: Cursor | None,
                due: ColumnElement[datetime] = _DUE) -> ColumnElement[bool]:
    """One half of the order, after the cursor: ``(sla_due_at, id) > cursor`` among running
    clocks, ``id > cursor`` among the rest (whose ``sla_due_at`` is NULL).

    The first is written ``due >= d AND (due > d OR id > i)``, not as a row comparison: both
    read the index from ``d`` on, but PostgreSQL estimates a row comparison apart from another
    range on ``sla_due_at`` (the breached filter's ``< now``), finds a tenth of the real rows and
    sorts them instead; the plain range it pairs. Rows tied at ``d`` are skipped by the filter."""
    ident = _ID
    if part == "running":
        if cursor is None or cursor[0] is None:  # (``parts`` skips this half past it)
            return due.is_not(None)
        return and_(due >= cursor[0], or_(due > cursor[0], ident > cursor[1]))
    if cursor is None or cursor[0] is not None:
        return due.is_(None)
    return and_(due.is_(None), ident > cursor[1])


_NONE = "~"


def encode_cursor(due: datetime | None, ticket_id: str) -> str:
    raw = f"{due.isoformat() if due else _NONE}|{ticket_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    """The (due or None, id) a page ended at; ``ValueError`` for anything not made here."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due, ticket_id = raw.split("|", 1)
        at = None if due == _NONE else datetime.fromisoformat(due)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError("bad queue cursor") from None
    if not ticket_id or (at is not None and at.tzinfo is None):
        raise ValueError("bad queue cursor")
    return at, ticket_id
