"""Ticket read models for people: lists, details and SLA, straight from the tables."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from workflow.adapters.db import Database
from workflow.adapters.tables import AUDIT, TICKET
from workflow.domain import ticket_sla
from workflow.domain.errors import TicketNotFound

SORTS = {"created": TICKET.c.created_at, "updated": TICKET.c.updated_at,
         "due": TICKET.c.first_reply_due_at}


@dataclass(frozen=True)
class TicketSummary:
    id: str
    reference: str
    state: str
    outcome: str | None
    waiting_on: str | None
    assignee: str | None
    language: str
    created_at: datetime
    version: int
    first_reply_due_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        d["first_reply_due_at"] = _iso(self.first_reply_due_at)
        return d


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def list_tickets(db: Database, *, state: str | None = None, waiting_on: str | None = None,
                 sort: str = "created", limit: int = 100) -> list[TicketSummary]:
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
    cols = [TICKET.c.id, TICKET.c.reference, TICKET.c.state, TICKET.c.outcome,
            TICKET.c.waiting_on, TICKET.c.assignee, TICKET.c.language, TICKET.c.created_at,
            TICKET.c.version, TICKET.c.first_reply_due_at]
    stmt = select(*cols)
    if state:
        stmt = stmt.where(TICKET.c.state == state)
    if waiting_on:
        stmt = stmt.where(TICKET.c.waiting_on == waiting_on)
    order = SORTS[sort]
    # due: tickets with a running first-reply clock first, soonest first. NULLS LAST, not an
    # ``IS NULL`` sort key, which keeps PostgreSQL off the index (87 ms vs 0.45 ms at 100,000)
    key = order.nulls_last() if sort == "due" else order
    stmt = stmt.order_by(key, TICKET.c.id).limit(limit)
    with db.reader.begin() as conn:
        return [TicketSummary(*row) for row in conn.execute(stmt)]


def ticket_details(db: Database, ticket_id_or_reference: str) -> dict[str, Any]:
    """State, data and history of one ticket, by id or by reference."""
    from workflow.adapters.repository import SqlTicketRepository  # the list needs no domain ticket

    with db.reader.connect() as conn, conn.begin():
        repo = SqlTicketRepository(conn)
        try:
            ticket = repo.get(ticket_id_or_reference)
        except TicketNotFound:
            ticket = repo.by_reference(ticket_id_or_reference)
        history = conn.execute(
            select(AUDIT).where(AUDIT.c.ticket_id == ticket.id).order_by(AUDIT.c.id)).all()
    return {
        "id": ticket.id, "reference": ticket.reference, "state": ticket.state.value,
        "outcome": ticket.outcome.value if ticket.outcome else None,
        "waiting_on": ticket.waiting_on.value if ticket.waiting_on else None,
        "assignee": ticket.assignee, "language": ticket.language, "version": ticket.version,
        "linked_ticket_id": ticket.linked_ticket_id,
        "created_at": ticket.created_at.isoformat(), "updated_at": ticket.updated_at.isoformat(),
        "first_reply_at": ticket.first_reply_at.isoformat() if ticket.first_reply_at else None,
        "closed_at": ticket.closed_at.isoformat() if ticket.closed_at else None,
        "accepted_at": _iso(ticket.accepted_at),
        "sla": ticket_sla.to_dict(ticket.sla) if ticket.sla else None,
        "data": ticket.data,
        "history": [
            {"at": h.at.isoformat(), "actor": h.actor, "trigger": h.trigger,
             "from": h.from_state, "to": h.to_state, "outcome": h.outcome, "reason": h.reason}
            for h in history
        ],
    }


def sla_of(db: Database, ticket_ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """The stored SLA clocks (``ticket_sla.to_dict`` form) of some tickets, by id."""
    if not ticket_ids:
        return {}
    with db.reader.begin() as conn:
        rows = conn.execute(select(TICKET.c.id, TICKET.c.sla).where(TICKET.c.id.in_(ticket_ids)))
        return {row.id: json.loads(row.sla) if row.sla else None for row in rows}


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Requester:
    """Whom a notification goes to; None fields once the ticket's personal data is gone."""

    reference: str
    #: the ticket's ``data["requester"]`` (None when anonymised or absent)
    requester: dict[str, Any] | None


def requester_of(db: Database, ticket_id: str) -> Requester:
    """The ticket's reference and requester block (``TicketNotFound`` if there is none);
    an anonymised ticket has no requester."""
    from workflow.adapters.repository import SqlTicketRepository

    with db.reader.connect() as conn, conn.begin():
        ticket = SqlTicketRepository(conn).get(ticket_id)
        anonymised_at = conn.execute(
            select(TICKET.c.anonymised_at).where(TICKET.c.id == ticket_id)).scalar()
    requester = ticket.data.get("requester")
    if anonymised_at is not None or not isinstance(requester, dict):
        requester = None
    return Requester(ticket.reference, requester)
