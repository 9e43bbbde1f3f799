"""Internal notes: agents talking to agents about a ticket; never shown to the customer."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.domain.errors import WorkflowError
from workflow.service.ports import Clock, UnitOfWork

MAX_NOTE = 4000


@dataclass(frozen=True)
class AddNote:
    ticket_id: str
    agent: str
    body: str


def add_note(uow: UnitOfWork, clock: Clock, cmd: AddNote) -> None:
    body = cmd.body.strip()
    if not body or len(body) > MAX_NOTE:
        raise WorkflowError(f"a note needs 1 to {MAX_NOTE} characters")
    with uow:
        uow.tickets.get(cmd.ticket_id)  # exists, or TicketNotFound
        uow.notes.add(cmd.ticket_id, cmd.agent, clock.now(), body)
        uow.commit()
