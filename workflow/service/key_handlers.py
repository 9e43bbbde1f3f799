"""The reset-key commands' handlers: the agent sends a key, the customer answers it."""

from __future__ import annotations

from datetime import timedelta

from workflow.domain.errors import ConcurrencyConflict
from workflow.domain.events import NotificationRequested
from workflow.domain.guards import TriggerContext
from workflow.domain.reset_keys import utc_text
from workflow.domain.ticket import Ticket
from workflow.service import commands as c
from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.handlers import transition
from workflow.service.reset_keys import AnswerResult, answer_key, seal_context


def send_key(cmd: c.SendKey, ctx: HandlerContext) -> Ticket:
    """Store the sealed artifact, wait on the customer (the SLA clocks pause), email the links.
    A key still pending is superseded: the customer's answer is about the newest one."""
    sealer = ctx.need(ctx.key_sealer, "reset keys (a secret key of 16+ bytes)")
    links = ctx.need(ctx.key_links, "reset-key links")(cmd.link_base)
    art, policy, actor = cmd.artifact, ctx.key_policy, cmd.actor.label
    with ctx.uow() as uow:
        ticket = uow.tickets.get(cmd.ticket_id)
        if cmd.expected_version is not None and ticket.version != cmd.expected_version:
            raise ConcurrencyConflict(ticket.id, cmd.expected_version)
        now = ctx.clock.now()
        until = policy.valid_until(art.kind, now)
        transition(uow, ticket, "send_key", TriggerContext(
            actor, now, reason=f"{art.kind} valid until {utc_text(until)}"))
        uow.keys.supersede_pending(ticket.id, now)
        sealed = sealer.seal(art.plaintext, seal_context(ticket.id, art.kind))
        uow.keys.add(ticket.id, art, sealed, actor, now, until)
        ticket.raise_event(NotificationRequested(ticket.id, now, "reset_key", ticket.language, {
            "reference": ticket.reference, "kind": art.kind,
            "valid_hours": round(policy.validity[art.kind] / timedelta(hours=1)),
            "valid_until": utc_text(until),
            "key_url": links.url("get_key", ticket.id, until),
            **links.answer_urls(ticket.id, now)}))
        uow.tickets.save(ticket)
        uow.commit()
    return ticket


def report_key(cmd: c.ReportKey, ctx: HandlerContext) -> AnswerResult:
    return answer_key(ctx.uow(), ctx.clock, cmd.ticket_id, worked=cmd.worked)


def register(bus: MessageBus) -> None:
    bus.register(c.SendKey, send_key)
    bus.register(c.ReportKey, report_key)

