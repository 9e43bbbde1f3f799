"""The customer's view of one remote session, running or over: what their session page shows
(the steps to answer while it runs, how it ended once it is over). Read only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from workflow.adapters.db import Database
from workflow.adapters.tables_resolution import REMOTE_SESSION
from workflow.domain.errors import TicketNotFound
from workflow.service.ports import UnitOfWork
from workflow.service.session_ports import StepRecord

__all__ = ["CustomerSession", "customer_session"]


@dataclass(frozen=True)
class CustomerSession:
    """``end_reason`` is None while the session runs, else ``customer``, ``inactivity``,
    ``agent-resolved`` or ``agent-unresolved``; ``steps`` are listed while it runs only."""

    reference: str
    language: str
    end_reason: str | None
    steps: list[StepRecord] = field(default_factory=list)
    #: the last activity the idle time-out counts from (None when ended)
    last_activity_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.end_reason is None

    @property
    def ended_by(self) -> str:
        """Who ended it, as the page says it: ``customer``, ``inactivity`` or ``agent``."""
        reason = self.end_reason or ""
        return reason if reason in ("customer", "inactivity") else "agent"


def customer_session(uow: UnitOfWork, db: Database, ticket_id: str,
                     session_id: int) -> CustomerSession | None:
    """The session ``session_id`` of ticket ``ticket_id``, or None when there is no such pair
    (a token names both, so a token of one ticket never shows another's session)."""
    r = REMOTE_SESSION.c
    with db.reader.begin() as conn:
        row = conn.execute(select(r.ended_at, r.end_reason, r.last_activity_at).where(
            r.id == session_id, r.ticket_id == ticket_id)).first()
    if row is None:
        return None
    with uow:
        try:
            ticket = uow.tickets.get(ticket_id)
        except TicketNotFound:
            return None
        ended = row.ended_at is not None
        steps = [] if ended else uow.sessions.steps(session_id)
    return CustomerSession(ticket.reference, ticket.language,
                           (row.end_reason or "agent") if ended else None, steps,
                           None if ended else row.last_activity_at)
