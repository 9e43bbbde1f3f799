"""The callback commands' handlers: book, escalate a breach, record a call, let the customer
move — each one transaction: load the ticket, fire the trigger, take or release seats, raise the
email, save under the ticket's version check, commit."""

from __future__ import annotations

from datetime import timedelta

from workflow.domain.callback_slots import ATTEMPT_RESULTS, FAILED_RESULTS, Attempt
from workflow.domain.errors import WorkflowError
from workflow.domain.guards import TriggerContext
from workflow.domain.states import STAFF, WaitingOn
from workflow.service import commands as c
from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.callback_ports import Booked
from workflow.service.callbacks import (
    attempt_cycle,
    book,
    email,
    email_booked,
    email_released,
    load,
    why_not_escalate,
)
from workflow.service.handlers import transition


def request_callback(cmd: c.RequestCallback, ctx: HandlerContext) -> Booked:
    actor = cmd.actor.label
    with ctx.uow() as uow:
        now = ctx.clock.now()
        ticket = load(uow, cmd.ticket_id, cmd.expected_version)
        transition(uow, ticket, "request_callback", TriggerContext(actor, now))
        booking = book(uow, ctx.callback_policy, ticket, now, actor, window=cmd.window,
                       slot_start=cmd.slot_start)
        email_booked(ctx.callback_links, uow, ticket, booking, now, missed=0)
        uow.tickets.save(ticket)
        uow.commit()
    return Booked(ticket, booking)


def escalate_breach(cmd: c.EscalateBreach, ctx: HandlerContext) -> str:
    """Book a callback for a breached ticket, once: a redelivered breach finds the ticket moved
    on (or its booking) and changes nothing; a concurrent twin loses on the version check."""
    if not ctx.callback_policy.escalates(cmd.clock):
        return f"skipped: policy does not escalate {cmd.clock} breaches"
    actor = cmd.actor.label
    with ctx.uow() as uow:
        now = ctx.clock.now()
        ticket = uow.tickets.get(cmd.ticket_id)
        why = why_not_escalate(uow, ticket, cmd.clock, cmd.cycle)
        if why is not None:
            return f"skipped: {why}"
        transition(uow, ticket, "request_callback",
                   TriggerContext(actor, now, reason=f"{cmd.clock} SLA breached"))
        booking = book(uow, ctx.callback_policy, ticket, now, actor)
        email_booked(ctx.callback_links, uow, ticket, booking, now, missed=0)
        uow.tickets.save(ticket)
        uow.commit()
    return "booked"


def record_call(cmd: c.RecordCallResult, ctx: HandlerContext) -> Booked:
    """Record one call: answered goes back to queued, a failure below the limit books the next
    slot, the last failure requeues or closes (policy), each with its email."""
    if cmd.result not in ATTEMPT_RESULTS:
        raise WorkflowError(f"result must be one of {', '.join(ATTEMPT_RESULTS)}")
    policy, actor, agent = ctx.callback_policy, cmd.actor.label, cmd.actor.name
    with ctx.uow() as uow:
        store, now = uow.callbacks, ctx.clock.now()
        ticket = load(uow, cmd.ticket_id, cmd.expected_version)
        cycle = attempt_cycle(uow, ticket.id)
        failed = sum(1 for a in store.attempts(ticket.id)
                     if a.cycle == cycle and a.result in FAILED_RESULTS)
        failed += int(cmd.result in FAILED_RESULTS)
        step = policy.next_step(cmd.result, failed)
        transition(uow, ticket, "callback_result", TriggerContext(
            actor, now, result=step, reason=f"callback attempt: {cmd.result} ({failed} failed)"))
        current = store.active_booking(ticket.id)
        store.add_attempt(ticket.id, Attempt(now, agent, cmd.result, cycle,
                                             current.id if current else None))
        if current is not None:
            store.release(current.id, "done", now)
        booking = None
        if step == "retry":
            booking = book(uow, policy, ticket, now, actor, window=cmd.window,
                           after=current.slot.end if current else None)
            email_booked(ctx.callback_links, uow, ticket, booking, now,
                         missed=failed if cmd.result in FAILED_RESULTS else 0)
        elif step == "requeue":
            email(ticket, now, "callback_failed", {
                "attempts": failed, "last_result": cmd.result, "request_url": ctx.callback_link(
                    ticket.id, "request_callback", now + timedelta(hours=policy.link_hours))})
        elif step == "give_up":
            email(ticket, now, "callback_unreachable",
                  {"attempts": failed, "last_result": cmd.result})
        if cmd.note and cmd.note.strip():
            uow.notes.add(ticket.id, agent, now, cmd.note.strip()[:4000])
        uow.tickets.save(ticket)
        uow.commit()
    return Booked(ticket, booking, step)


def move_callback(cmd: c.MoveCallback | c.BookCallback, ctx: HandlerContext) -> Booked:
    """The slot is given back (waiting on callback-moved: clocks pause while the customer
    picks); choosing a new slot books it and clears the wait. Staff giving it back without a
    new slot must say why, and the customer is emailed a link to pick another time.
    ``BookCallback`` only books a slot for a callback already given back (it never releases
    the current one): the next free slot when it names neither a slot nor a window."""
    actor = cmd.actor.label
    choosing = (cmd.slot_start is not None or cmd.window is not None
                or isinstance(cmd, c.BookCallback))
    reason = (cmd.reason or "").strip()[:500] if isinstance(cmd, c.MoveCallback) else ""
    by_staff = cmd.actor.kind in STAFF
    if by_staff and not choosing and not reason:
        raise WorkflowError("say why the callback is released (the reason is kept in the "
                            "ticket's history)")
    with ctx.uow() as uow:
        store, now = uow.callbacks, ctx.clock.now()
        ticket = load(uow, cmd.ticket_id, cmd.expected_version)
        if ticket.waiting_on is WaitingOn.CALLBACK_MOVED and not choosing:
            return Booked(ticket, None)  # released already (a second click): nothing to do
        if ticket.waiting_on is not WaitingOn.CALLBACK_MOVED and isinstance(cmd, c.MoveCallback):
            transition(uow, ticket, "move_callback", TriggerContext(actor, now,
                                                                    reason=reason or None))
            current = store.active_booking(ticket.id)
            if current is not None:
                store.release(current.id, "moved", now)
            if by_staff and not choosing:
                email_released(ctx.callback_links, ctx.callback_policy, uow, ticket, current,
                               now)
        booking = None
        if choosing:
            # the move first: a ticket not waiting on a new slot books nothing
            transition(uow, ticket, "book_callback", TriggerContext(
                actor, now, reason=f"{cmd.actor.kind} picked a new callback slot"))
            booking = book(uow, ctx.callback_policy, ticket, now, actor,
                           window=cmd.window, slot_start=cmd.slot_start)
            email_booked(ctx.callback_links, uow, ticket, booking, now, missed=0)
        uow.tickets.save(ticket)
        uow.commit()
    return Booked(ticket, booking)


def register(bus: MessageBus) -> None:
    bus.register(c.RequestCallback, request_callback)
    bus.register(c.MoveCallback, move_callback)
    bus.register(c.BookCallback, move_callback)
    bus.register(c.RecordCallResult, record_call)
    bus.register(c.EscalateBreach, escalate_breach)
