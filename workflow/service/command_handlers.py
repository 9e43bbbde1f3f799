"""One handler per command, all of one shape ``handler(cmd, ctx) -> result``.

They translate a command into a call of the existing application services (which keep their
transactions, races and emails); the actor was already checked by the bus.
"""

from __future__ import annotations

from workflow.domain.errors import NotFound
from workflow.domain.ticket import Ticket
from workflow.service import callbacks as cb
from workflow.service import commands as c
from workflow.service import remote_sessions as rs
from workflow.service import reset_keys as rk
from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.callback_desk import Booked, CallbackDesk
from workflow.service.handlers import ActOnTicket, act
from workflow.service.intake_handlers import register_intake
from workflow.service.notes import AddNote as NoteCmd
from workflow.service.notes import add_note
from workflow.service.replies import ReplyToTicket, reply_to_ticket
from workflow.service.session_ports import StepRecord, StoreFor

Move = (c.FireTrigger | c.ClaimTicket | c.ReleaseTicket | c.TakeOver | c.Resolve | c.Abandon
        | c.Reopen | c.RejectTicket)


def move(cmd: Move, ctx: HandlerContext) -> Ticket:
    """Every plain move: one trigger, no record of its own to create."""
    trigger = cmd.trigger if isinstance(cmd, c.FireTrigger) else cmd.triggers[0]
    reason = getattr(cmd, "reason", None)
    outcome = cmd.outcome if isinstance(cmd, c.RejectTicket) else None
    return act(ctx.uow(), ctx.clock, ActOnTicket(cmd.ticket_id, trigger, cmd.actor.label,
                                                 cmd.expected_version, reason, outcome=outcome))


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


def send_key(cmd: c.SendKey, ctx: HandlerContext) -> Ticket:
    desk = HandlerContext.need(ctx.keys, "reset-key delivery")(cmd.link_base)
    return rk.send_key(ctx.uow(), ctx.clock, desk, rk.SendKey(
        cmd.ticket_id, cmd.actor.name, cmd.artifact, cmd.expected_version, role=cmd.actor.kind))


def report_key(cmd: c.ReportKey, ctx: HandlerContext) -> rk.AnswerResult:
    store = HandlerContext.need(ctx.key_store, "the reset-key store")
    return rk.answer_key(ctx.uow(), ctx.clock, store, cmd.ticket_id, worked=cmd.worked)


def callback_desk(ctx: HandlerContext) -> CallbackDesk:
    """The callback services' desk, from the bus's context (routes that read bookings too)."""
    return CallbackDesk(ctx.uow, ctx.clock, HandlerContext.need(ctx.callback_store, "callbacks"),
                        ctx.callback_policy, ctx.callback_links)


def request_callback(cmd: c.RequestCallback, ctx: HandlerContext) -> Booked:
    return cb.request_callback(callback_desk(ctx), cb.RequestCallback(
        cmd.ticket_id, cmd.actor.label, cmd.window, cmd.slot_start, cmd.expected_version))


def move_callback(cmd: c.MoveCallback | c.BookCallback, ctx: HandlerContext) -> Booked:
    return cb.move_callback(callback_desk(ctx), cb.MoveCallback(
        cmd.ticket_id, cmd.slot_start, cmd.window, actor=cmd.actor.label,
        book_only=isinstance(cmd, c.BookCallback)))


def record_call(cmd: c.RecordCallResult, ctx: HandlerContext) -> Booked:
    return cb.record_attempt(callback_desk(ctx), cb.RecordAttempt(
        cmd.ticket_id, cmd.actor.name, cmd.result, cmd.note, cmd.window, cmd.expected_version,
        role=cmd.actor.kind))


def escalate(cmd: c.EscalateBreach, ctx: HandlerContext) -> str:
    return cb.escalate_breach(callback_desk(ctx), cb.EscalateBreach(cmd.ticket_id, cmd.clock, cmd.cycle))


def _sessions(ctx: HandlerContext) -> StoreFor:
    return HandlerContext.need(ctx.session_store, "remote sessions")


def offer_code(cmd: c.OfferRemoteCode, ctx: HandlerContext) -> rs.IssuedCode:
    if not ctx.session_secret:
        raise HandlerContext.need(None, "the secret key")
    return rs.issue_code(ctx.uow(), ctx.clock, _sessions(ctx), ticket_id=cmd.ticket_id,
                         agent=cmd.actor.name, secret=ctx.session_secret,
                         policy=ctx.session_policy, expected_version=cmd.expected_version,
                         role=cmd.actor.kind)


def start_session(cmd: c.StartRemoteSession, ctx: HandlerContext) -> tuple[int, Ticket]:
    return rs.start_session(ctx.uow(), ctx.clock, _sessions(ctx), ticket_id=cmd.ticket_id,
                            code_id=cmd.code_id, terms_version=cmd.terms_version,
                            current_terms=cmd.current_terms, language=cmd.language,
                            source_addr=cmd.source_addr)


def propose_step(cmd: c.ProposeSessionStep, ctx: HandlerContext) -> int:
    return rs.propose_step(ctx.uow(), ctx.clock, _sessions(ctx), ticket_id=cmd.ticket_id,
                           agent=cmd.actor.name, kind=cmd.kind, description=cmd.description,
                           role=cmd.actor.kind)


def answer_step(cmd: c.AnswerSessionStep, ctx: HandlerContext) -> StepRecord:
    return rs.decide_step(ctx.uow(), ctx.clock, _sessions(ctx), ticket_id=cmd.ticket_id,
                          session_id=cmd.session_id, step_id=cmd.step_id,
                          decision=cmd.decision)


def end_session(cmd: c.EndRemoteSession, ctx: HandlerContext) -> Ticket:
    return rs.end_session(ctx.uow(), ctx.clock, _sessions(ctx), ticket_id=cmd.ticket_id,
                          actor=cmd.actor.label, resolved=cmd.resolved, reason=cmd.reason,
                          session_id=cmd.session_id, expected_version=cmd.expected_version)


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
    bus.register(c.RejectTicket, move)
    bus.register(c.Reassign, reassign)
    bus.register(c.Reply, reply)
    bus.register(c.AddNote, note)
    bus.register(c.SendKey, send_key)
    bus.register(c.ReportKey, report_key)
    bus.register(c.RequestCallback, request_callback)
    bus.register(c.MoveCallback, move_callback)
    bus.register(c.BookCallback, move_callback)
    bus.register(c.RecordCallResult, record_call)
    bus.register(c.EscalateBreach, escalate)
    bus.register(c.OfferRemoteCode, offer_code)
    bus.register(c.StartRemoteSession, start_session)
    bus.register(c.ProposeSessionStep, propose_step)
    bus.register(c.AnswerSessionStep, answer_step)
    bus.register(c.EndRemoteSession, end_session)
    register_intake(bus)
    return bus

