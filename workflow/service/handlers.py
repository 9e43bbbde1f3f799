"""Application services: one function per command — load, fire the trigger, store, commit.

They know only the ports; the same functions run under the embedded workers, the AMQP consumers,
the HTTP API and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from workflow.domain.errors import ConcurrencyConflict
from workflow.domain.guards import TriggerContext
from workflow.domain.machine import fire
from workflow.domain.states import Outcome
from workflow.domain.ticket import Ticket
from workflow.domain.ticket_sla import SlaBook, reconcile
from workflow.service.ports import Clock, UnitOfWork

UowFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class ActOnTicket:
    """Fire ``trigger`` on a ticket as ``actor`` (``agent:<login>``, ``supervisor:<login>``,
    ``customer``, ``system:<p>``); who may is settled by the message bus before this runs.

    ``expected_version`` is the version the actor saw: when given and stale, nothing changes and
    ``ConcurrencyConflict`` tells the actor to reload (two agents, one ticket: one wins).
    """

    ticket_id: str
    trigger: str
    actor: str
    expected_version: int | None = None
    reason: str | None = None
    result: str | None = None
    resolved: bool = False
    outcome: Outcome | None = None
    #: reassign: the login the ticket goes to
    assign_to: str | None = None


def transition(uow: UnitOfWork, ticket: Ticket, trigger: str, ctx: TriggerContext) -> Ticket:
    """Fire the trigger, then bring the SLA clocks in line with where the ticket now stands."""
    fire(ticket, trigger, ctx)
    sync_sla(uow.sla, ticket, ctx.at)
    return ticket


def sync_sla(book: SlaBook, ticket: Ticket, at: datetime) -> None:
    ticket.sla = reconcile(ticket.sla, state=ticket.state, waiting=ticket.waiting_on is not None,
                           replied=ticket.first_reply_at is not None, book=book, at=at,
                           accepted_at=ticket.accepted_at or ticket.created_at)


def act(uow: UnitOfWork, clock: Clock, cmd: ActOnTicket,
        then: Callable[[Ticket], None] | None = None) -> Ticket:
    """Fire the move and save; ``then`` runs on the moved ticket inside the same transaction
    (an event it raises is committed with the move, or not at all)."""
    with uow:
        ticket = uow.tickets.get(cmd.ticket_id)
        if cmd.expected_version is not None and ticket.version != cmd.expected_version:
            raise ConcurrencyConflict(ticket.id, cmd.expected_version)
        ctx = TriggerContext(
            actor=cmd.actor, at=clock.now(), reason=cmd.reason, result=cmd.result,
            resolved=cmd.resolved, outcome=cmd.outcome, assign_to=cmd.assign_to,
        )
        transition(uow, ticket, cmd.trigger, ctx)
        if then is not None:
            then(ticket)
        uow.tickets.save(ticket)
        uow.commit()
    return ticket
