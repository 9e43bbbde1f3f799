"""One handler per command, all of one shape ``handler(cmd, ctx) -> result``.

They translate a command into a call of the existing application services (which keep their
transactions, races and emails); the actor was already checked by the bus. The resolution paths'
and the scheduler's handlers live beside this module (``key_handlers``, ``callback_handlers``,
``session_handlers``, ``housekeeping_handlers``), each with its ``register``.
"""

from __future__ import annotations

from workflow.domain.errors import NotFound
from workflow.domain.events import NotificationRequested
from workflow.domain.rejection_notice import next_step
from workflow.domain.ticket import Ticket
from workflow.service import (
    callback_handlers,
    housekeeping_handlers,
    key_handlers,
    ops_handlers,
    presence,
    session_handlers,
)
from workflow.service import commands as c
from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.handlers import ActOnTicket, act
from workflow.service.intake_handlers import register_intake
from workflow.service.notes import AddNote as NoteCmd
from workflow.service.notes import add_note
from workflow.service.replies import ReplyToTicket, reply_to_ticket

Move = (c.FireTrigger | c.ClaimTicket | c.ReleaseTicket | c.TakeOver | c.Resolve | c.Abandon
        | c.Reopen)


def move(cmd: Move, ctx: HandlerContext) -> Ticket:
    """Every plain move: one trigger, no record of its own to create."""
    trigger = cmd.trigger if isinstance(cmd, c.FireTrigger) else cmd.triggers[0]
    reason = getattr(cmd, "reason", None)
    return act(ctx.uow(), ctx.clock, ActOnTicket(cmd.ticket_id, trigger, cmd.actor.label,
                                                 cmd.expected_version, reason))


def reject(cmd: c.RejectTicket, ctx: HandlerContext) -> Ticket:
    """Close with a rejected-* outcome and tell the customer, as a worker's rejection does:
    the same email, with the next step worked out from the request."""
    rules = HandlerContext.need(ctx.rules, "the verification rules")()

    def tell_customer(ticket: Ticket) -> None:
        steps = next_step(cmd.outcome, ticket.data, rules)
        context: dict[str, str | int | None] = {"reference": ticket.reference,
                                                "outcome": cmd.outcome.value}
        context.update({f"next_{k}": v for k, v in steps.items()})
        ticket.raise_event(NotificationRequested(ticket.id, ticket.updated_at, "rejection",
                                                 ticket.language, context))

    return act(ctx.uow(), ctx.clock, ActOnTicket(cmd.ticket_id, "reject", cmd.actor.label,
                                                 cmd.expected_version, cmd.reason,
                                                 outcome=cmd.outcome), then=tell_customer)


def reassign(cmd: c.Reassign, ctx: HandlerContext) -> Ticket:
    role = HandlerContext.need(ctx.agents, "the agent directory").role_of(cmd.to_agent)
    if role is None:
        raise NotFound(f"no enabled agent {cmd.to_agent!r}")
    return act(ctx.uow(), ctx.clock, ActOnTicket(cmd.ticket_id, "reassign", cmd.actor.label,
                                                 cmd.expected_version, cmd.reason,
                                                 assign_to=cmd.to_agent))


def reply(cmd: c.Reply, ctx: HandlerContext) -> Ticket:
    return reply_to_ticket(ctx.uow(), ctx.clock, ReplyToTicket(
        cmd.ticket_id, cmd.actor.name, cmd.message, cmd.agent_name, cmd.expected_version,
        role=cmd.actor.kind))


def note(cmd: c.AddNote, ctx: HandlerContext) -> None:
    add_note(ctx.uow(), ctx.clock, NoteCmd(cmd.ticket_id, cmd.actor.name, cmd.body))




def build_bus(ctx: HandlerContext) -> MessageBus:
    """The bus with every handler registered (the composition root calls this once)."""
    bus = MessageBus(ctx)
    bus.register(c.FireTrigger, move)
    bus.register(c.ClaimTicket, move)
    bus.register(c.ReleaseTicket, move)
    bus.register(c.TakeOver, move)
    bus.register(c.Resolve, move)
    bus.register(c.Abandon, move)
    bus.register(c.Reopen, move)
    bus.register(c.RejectTicket, reject)
    bus.register(c.Reassign, reassign)
    bus.register(c.Reply, reply)
    bus.register(c.AddNote, note)
    for handlers in (key_handlers, callback_handlers, session_handlers, housekeeping_handlers,
                     presence, ops_handlers):
        handlers.register(bus)
    register_intake(bus)
    return bus

