"""The intake handlers, the one way a request comes in whatever carried it (HTTP, AMQP):

- ``RecordRequest`` (a producer): the event's source must be the producer's; a replay answers as
  the first copy did, before anything is asked; the human check is settled here, once, while the
  token is fresh (a transient answer is stored as unknown); then the inbox row is committed.
  With ``verify_now`` (AMQP: the verification step runs in the same delivery, and the broker
  keeps the message until its ack), the row and the ticket are made in one transaction when the
  verifier's tokens may be checked again; a single-use token is left to that step, which asks it
  once (one question per delivery attempt).
- ``VerifyRequest`` (the verification worker): the recorded request becomes one ticket; a human
  check stored as unknown is asked (again) here, and its answer committed before the ticket's
  transaction (a single-use token cannot be asked twice).

Both ask through ``settle_human_check``; no entry point asks the verifier itself.
"""

from __future__ import annotations

import logging

from workflow.domain.actors import Actor, authorize
from workflow.domain.rules import RuleBook
from workflow.domain.ticket import new_reference
from workflow.service import commands as c
from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.human_check import settle_human_check
from workflow.service.inbox_ports import InboxKey, canonical_payload
from workflow.service.intake import Intake, WrongSource
from workflow.service.ports import AlreadyRecorded, InboxEntry, committed
from workflow.service.verification import Processed, ProcessRequest, process_request

#: who makes the intake moves (verify, enqueue, reject, mark_duplicate)
VERIFIER = Actor.system("verification")

log = logging.getLogger(__name__)


def _rules(ctx: HandlerContext) -> RuleBook:
    return HandlerContext.need(ctx.rules, "the verification rules")()


def record_request(cmd: c.RecordRequest, ctx: HandlerContext) -> Intake:
    event, producer = cmd.event, cmd.actor.name
    if event.source != cmd.producer_source:
        raise WrongSource(producer, cmd.producer_source)
    verifier = HandlerContext.need(ctx.verifier, "the human check")
    token = event.data.human_check_token
    human: str | None = None
    if cmd.verify_now:  # the verification step follows at once, and asks if this stays unknown
        if not getattr(verifier, "single_use", True):
            human = settle_human_check(verifier, token, cmd.remote_addr, may_defer=True)
            if human is not None:
                done = _in_one_transaction(cmd, ctx, human)
                if done is not None:
                    return done
    else:
        with (ctx.read_uow or ctx.uow)() as unit:
            earlier = unit.inbox_queue.earlier(event.source, event.id, event.content_digest)
        if earlier is not None:
            return Intake(earlier.reference, replay=True, status=earlier.status)
        human = settle_human_check(verifier, token, cmd.remote_addr, may_defer=True)
    now = ctx.clock.now()
    recorded = committed(ctx.uow, lambda u: u.inbox_queue.record(
        source=event.source, event_id=event.id, type_=event.type, producer=producer,
        digest=event.content_digest, payload=canonical_payload(event.to_structured()), now=now,
        human_check=human, remote_addr=cmd.remote_addr, relay=cmd.relay))
    return Intake(recorded.reference, replay=recorded.replay, status=recorded.status)


def _in_one_transaction(cmd: c.RecordRequest, ctx: HandlerContext, human: str) -> Intake | None:
    """Inbox row, ticket, audit and outbox in one transaction (a crash before the commit leaves
    nothing; the broker delivers the message again). None: take the recorded path, which answers
    a replay and sorts any failure into retry or dead letter."""
    event = cmd.event
    now = ctx.clock.now()
    entry = InboxEntry(event.type, cmd.actor.name, event.content_digest,
                       canonical_payload(event.to_structured()), human)
    try:
        # the ticket's moves are the worker's: refused, the recorded path keeps the request and
        # its reason (the worker's retry sees the same refusal)
        authorize(VERIFIER, c.VerifyRequest.triggers)
        done = process_request(ctx.uow(), ctx.clock, _rules(ctx), ProcessRequest(
            event.source, event.id, new_reference(), cmd.actor.name, human == "passed",
            event.data, now, entry))
    except AlreadyRecorded:
        return None
    except Exception as err:  # anything else: the recorded path retries or dead-letters it
        log.warning("one-transaction intake failed (%s); recording it for the worker",
                    type(err).__name__)
        return None
    return Intake(done.reference, replay=not done.applied, status="done", processed=done)


def verify_request(cmd: c.VerifyRequest, ctx: HandlerContext) -> Processed:
    human = cmd.human_check
    if human is None:
        verifier = HandlerContext.need(ctx.verifier, "the human check")
        asked = settle_human_check(verifier, cmd.request.human_check_token, cmd.remote_addr,
                                   may_defer=False)
        key = InboxKey(cmd.source, cmd.event_id)
        committed(ctx.uow, lambda u: u.inbox_queue.set_human_check(key, asked))
        human = asked
    return process_request(ctx.uow(), ctx.clock, _rules(ctx), ProcessRequest(
        cmd.source, cmd.event_id, cmd.reference, cmd.producer, human == "passed", cmd.request,
        cmd.accepted_at))


def register_intake(bus: MessageBus) -> None:
    bus.register(c.RecordRequest, record_request)
    bus.register(c.VerifyRequest, verify_request)
