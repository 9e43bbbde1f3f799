"""Writing to the customer: the agent's reply goes out in the ticket's language and stops the
first-reply SLA clock, in the same transaction as the move."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.domain.errors import ConcurrencyConflict, WorkflowError
from workflow.domain.events import NotificationRequested
from workflow.domain.guards import TriggerContext
from workflow.domain.ticket import Ticket
from workflow.service.handlers import transition
from workflow.service.ports import Clock, UnitOfWork

MAX_MESSAGE = 2000


@dataclass(frozen=True)
class ReplyToTicket:
    ticket_id: str
    agent: str
    message: str
    agent_name: str = ""
    expected_version: int | None = None
    #: agent | supervisor: how the audit trail names who replied
    role: str = "agent"


def reply_to_ticket(uow: UnitOfWork, clock: Clock, cmd: ReplyToTicket) -> Ticket:
    message = cmd.message.strip()
    if not message or len(message) > MAX_MESSAGE:
        raise WorkflowError(f"a reply needs 1 to {MAX_MESSAGE} characters")
    with uow:
        ticket = uow.tickets.get(cmd.ticket_id)
        if cmd.expected_version is not None and ticket.version != cmd.expected_version:
            raise ConcurrencyConflict(ticket.id, cmd.expected_version)
        now = clock.now()
        transition(uow, ticket, "reply", TriggerContext(f"{cmd.role}:{cmd.agent}", now))
        ticket.raise_event(NotificationRequested(
            ticket.id, now, "reply", ticket.language,
            {"reference": ticket.reference, "message": message,
             "agent_name": cmd.agent_name or cmd.agent}))
        uow.tickets.save(ticket)
        uow.commit()
    return ticket
