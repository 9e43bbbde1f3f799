"""The one state machine every ticket shares, built from ``states.TRANSITIONS``.

Tickets are never attached with ``add_model`` (that list grows and is scanned, and keeps models
alive): ``fire`` calls the event on the ticket object directly, records the move in memory, and
leaves persisting to the unit of work, which saves nothing unless ``fire`` returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from transitions import Machine

from workflow.domain.actors import Actor, may_fire
from workflow.domain.errors import GuardRefused, IllegalTransition
from workflow.domain.events import TicketClosed, TicketQueued, TicketTransitioned
from workflow.domain.guards import EFFECTS, GUARDS, INPUT_GUARDS, TriggerContext
from workflow.domain.states import TRANSITIONS, TRIGGERS, WAITING_ALLOWED_IN, Move, State
from workflow.domain.ticket import AuditEntry, Ticket


def _condition(name: str) -> Any:
    guard = GUARDS[name]
    return lambda ev: guard(ev.model, ev.kwargs["ctx"]) is None


def _effect(name: str) -> Any:
    effect = EFFECTS[name]
    return lambda ev: effect(ev.model, ev.kwargs["ctx"])


def _as_transition(move: Move) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "trigger": move.trigger,
        "source": list(move.source),
        "dest": move.dest,
        "conditions": [_condition(g) for g in move.guards],
    }
    if move.effect:
        spec["before"] = [_effect(move.effect)]
    return spec


MACHINE = Machine(
    model=None,
    states=State,
    transitions=[_as_transition(m) for m in TRANSITIONS],
    initial=State.SUBMITTED,
    auto_transitions=False,
    send_event=True,
)


def allowed_triggers(ticket: Ticket, ctx: TriggerContext | None = None) -> list[str]:
    """Triggers that have a row from the ticket's state; with ``ctx``, only those whose guards pass."""
    names = [t for t in TRIGGERS if _rows(t, ticket.state)]
    if ctx is None:
        return names
    return [t for t in names if _refusal(t, ticket, ctx) is None]


def offered_triggers(ticket: Ticket, ctx: TriggerContext) -> list[str]:
    """Triggers with a row from the ticket's state whose guards on the ticket pass for ``ctx``'s
    actor, whatever the actor will supply with the move (``INPUT_GUARDS``): the moves a page
    offers, with a form for the rest (``callback_result`` asks for the call's result)."""
    return [t for t in TRIGGERS if any(
        all(g in INPUT_GUARDS or GUARDS[g](ticket, ctx) is None for g in move.guards)
        for move in _rows(t, ticket.state))]


def offered_moves(ticket: Ticket, actor: Actor, at: datetime) -> list[str]:
    """The one answer to "which moves does this actor get on this ticket now" (the console's
    buttons, the API's ``allowed``): the declaration's actors and the guards on the ticket."""
    return [t for t in offered_triggers(ticket, TriggerContext(actor.label, at))
            if may_fire(actor, t)]


def _rows(trigger: str, state: State) -> list[Move]:
    return [m for m in TRANSITIONS if m.trigger == trigger and state in m.source]


def _refusal(trigger: str, ticket: Ticket, ctx: TriggerContext) -> str | None:
    """None when some row of ``trigger`` can be taken, else the first guard's reason."""
    reasons: list[str] = []
    for move in _rows(trigger, ticket.state):
        failed = [r for g in move.guards if (r := GUARDS[g](ticket, ctx)) is not None]
        if not failed:
            return None
        reasons.append(failed[0])
    return reasons[-1] if reasons else "no such move"


def fire(ticket: Ticket, trigger: str, ctx: TriggerContext) -> Ticket:
    """Apply ``trigger`` or raise; on success the move is recorded on the ticket, not yet stored."""
    before = ticket.state
    if trigger not in TRIGGERS or not _rows(trigger, before):
        raise IllegalTransition(trigger, before.value, allowed_triggers(ticket))
    if not MACHINE.events[trigger].trigger(ticket, ctx=ctx):
        raise GuardRefused(trigger, before.value, _refusal(trigger, ticket, ctx) or "refused")
    after: State = ticket.state
    if after not in WAITING_ALLOWED_IN:
        ticket.waiting_on = None
    ticket.updated_at = ctx.at
    _record(ticket, trigger, ctx, before, after)
    return ticket


def _record(ticket: Ticket, trigger: str, ctx: TriggerContext, before: State, after: State) -> None:
    outcome = ticket.outcome.value if ticket.outcome else None
    ticket.pending_audit.append(
        AuditEntry(ticket.id, ctx.at, ctx.actor, trigger, before.value, after.value, outcome,
                   ctx.reason)
    )
    ticket.raise_event(
        TicketTransitioned(
            ticket.id, ctx.at, ticket.reference, before.value, after.value, trigger, ctx.actor,
            outcome, ticket.waiting_on.value if ticket.waiting_on else None,
        )
    )
    if after is State.QUEUED and before is not State.QUEUED:
        ticket.raise_event(TicketQueued(ticket.id, ctx.at, ticket.reference))
    if after is State.CLOSED and before is not State.CLOSED:
        ticket.raise_event(
            TicketClosed(ticket.id, ctx.at, ticket.reference, outcome or "closed",
                         (ctx.reason or "")[:500] or None, ticket.linked_ticket_id)
        )
