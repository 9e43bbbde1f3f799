"""The ticket itself for the agents' ticket page: the domain object, read without a write
transaction, so the page can ask the declaration which moves this agent may make on it."""

from __future__ import annotations

from workflow.adapters.db import Database
from workflow.adapters.repository import SqlTicketRepository
from workflow.domain.errors import TicketNotFound
from workflow.domain.ticket import Ticket


def ticket_by_key(db: Database, key: str) -> Ticket:
    """By reference (``RD-…``, any case) or by id; ``TicketNotFound`` otherwise."""
    with db.reader.connect() as conn, conn.begin():
        repo = SqlTicketRepository(conn)
        if key.upper().startswith("RD-"):
            return repo.by_reference(key)
        return repo.get(key)


__all__ = ["Ticket", "TicketNotFound", "ticket_by_key"]
