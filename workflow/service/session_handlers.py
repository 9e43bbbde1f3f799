"""The remote-session commands' handlers: offer a code, verify it, start, propose and answer
steps, keep alive, end. The services in ``remote_sessions`` keep the transactions and races;
the stores are the unit of work's (``uow.sessions``)."""

from __future__ import annotations

from workflow.domain.ticket import Ticket
from workflow.service import commands as c
from workflow.service import remote_sessions as rs
from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.session_ports import StepRecord


def _secret(ctx: HandlerContext) -> bytes:
    if not ctx.session_secret:
        raise HandlerContext.need(None, "the secret key")
    return ctx.session_secret


def offer_code(cmd: c.OfferRemoteCode, ctx: HandlerContext) -> rs.IssuedCode:
    return rs.issue_code(ctx.uow(), ctx.clock, ticket_id=cmd.ticket_id, agent=cmd.actor.name,
                         secret=_secret(ctx), policy=ctx.session_policy,
                         expected_version=cmd.expected_version, role=cmd.actor.kind)


def verify_code(cmd: c.VerifySessionCode, ctx: HandlerContext) -> rs.VerifiedCode:
    return rs.verify_code(ctx.uow(), ctx.clock, reference=cmd.reference, code=cmd.code,
                          source_addr=cmd.source_addr, secret=_secret(ctx),
                          policy=ctx.session_policy)


def start_session(cmd: c.StartRemoteSession, ctx: HandlerContext) -> tuple[int, Ticket]:
    return rs.start_session(ctx.uow(), ctx.clock, ticket_id=cmd.ticket_id, code_id=cmd.code_id,
                            terms_version=cmd.terms_version, current_terms=cmd.current_terms,
                            language=cmd.language, source_addr=cmd.source_addr)


def propose_step(cmd: c.ProposeSessionStep, ctx: HandlerContext) -> int:
    return rs.propose_step(ctx.uow(), ctx.clock, ticket_id=cmd.ticket_id, agent=cmd.actor.name,
                           kind=cmd.kind, description=cmd.description, role=cmd.actor.kind)


def answer_step(cmd: c.AnswerSessionStep, ctx: HandlerContext) -> StepRecord:
    return rs.decide_step(ctx.uow(), ctx.clock, ticket_id=cmd.ticket_id,
                          session_id=cmd.session_id, step_id=cmd.step_id, decision=cmd.decision)


def touch(cmd: c.TouchSession, ctx: HandlerContext) -> None:
    rs.touch(ctx.uow(), ctx.clock, ticket_id=cmd.ticket_id, session_id=cmd.session_id)


def end_session(cmd: c.EndRemoteSession, ctx: HandlerContext) -> Ticket:
    return rs.end_session(ctx.uow(), ctx.clock, ticket_id=cmd.ticket_id, actor=cmd.actor.label,
                          resolved=cmd.resolved, reason=cmd.reason, session_id=cmd.session_id,
                          expected_version=cmd.expected_version)


def register(bus: MessageBus) -> None:
    bus.register(c.OfferRemoteCode, offer_code)
    bus.register(c.VerifySessionCode, verify_code)
    bus.register(c.StartRemoteSession, start_session)
    bus.register(c.ProposeSessionStep, propose_step)
    bus.register(c.AnswerSessionStep, answer_step)
    bus.register(c.TouchSession, touch)
    bus.register(c.EndRemoteSession, end_session)
