"""Typed commands: one per user intent, each carried by the message bus to its one handler.

Every command names its ``actor`` and, through ``triggers``, the moves it may fire: the bus
checks the actor against the transitions declaration before the handler runs. A command that
fires no move (a note, a session step) names its own ``actors`` instead. ``R`` is what the
handler returns, so ``bus.handle(cmd)`` is typed end to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Generic, TypeVar

from schemas.envelope import InboundEvent
from schemas.requests_v1 import RequestSubmittedV1
from workflow.domain.actors import Actor
from workflow.domain.callback_slots import PreferredWindow
from workflow.domain.reset_keys import NewArtifact
from workflow.domain.states import STAFF, Outcome
from workflow.domain.ticket import Ticket
from workflow.service.callback_ports import Booked
from workflow.service.intake import Intake
from workflow.service.remote_sessions import IssuedCode, VerifiedCode
from workflow.service.reset_keys import AnswerResult
from workflow.service.session_ports import StepRecord
from workflow.service.verification import Processed

R = TypeVar("R")


@dataclass(frozen=True, kw_only=True)
class Command(Generic[R]):
    actor: Actor
    #: the moves this command may fire (all are checked against the declaration)
    triggers: ClassVar[tuple[str, ...]] = ()
    #: for commands that fire no move: who may run them
    actors: ClassVar[tuple[str, ...]] = ()

    def fires(self) -> tuple[str, ...]:
        return self.triggers


@dataclass(frozen=True, kw_only=True)
class TicketCommand(Command[R]):
    ticket_id: str
    #: the version the actor saw; stale: nothing changes, ``ConcurrencyConflict``
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class FireTrigger(TicketCommand[Ticket]):
    """A plain move (no key, booking or code to create); dedicated moves are refused."""

    trigger: str
    reason: str | None = None

    def fires(self) -> tuple[str, ...]:
        return (self.trigger,)


@dataclass(frozen=True, kw_only=True)
class ClaimTicket(TicketCommand[Ticket]):
    triggers = ("claim",)


@dataclass(frozen=True, kw_only=True)
class ReleaseTicket(TicketCommand[Ticket]):
    triggers = ("release",)
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class TakeOver(TicketCommand[Ticket]):
    """A supervisor takes a ticket another agent holds."""

    triggers = ("take_over",)
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Reassign(TicketCommand[Ticket]):
    """A supervisor hands a ticket to another (existing, enabled) agent."""

    triggers = ("reassign",)
    to_agent: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Resolve(TicketCommand[Ticket]):
    triggers = ("resolve",)
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Abandon(TicketCommand[Ticket]):
    triggers = ("abandon",)
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Reopen(TicketCommand[Ticket]):
    triggers = ("reopen",)
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class RejectTicket(TicketCommand[Ticket]):
    triggers = ("reject",)
    outcome: Outcome
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Reply(TicketCommand[Ticket]):
    triggers = ("reply",)
    message: str
    agent_name: str = ""


@dataclass(frozen=True, kw_only=True)
class AddNote(TicketCommand[None]):
    actors = STAFF
    body: str


@dataclass(frozen=True, kw_only=True)
class SendKey(TicketCommand[Ticket]):
    triggers = ("send_key",)
    artifact: NewArtifact
    #: where the customer's links point when no public URL is configured (the request's base)
    link_base: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReportKey(TicketCommand[AnswerResult]):
    """The customer's answer to a reset key: it worked (resolve) or it did not (key_failed)."""

    triggers = ("resolve", "key_failed")
    worked: bool

    def fires(self) -> tuple[str, ...]:
        return ("resolve",) if self.worked else ("key_failed",)


@dataclass(frozen=True, kw_only=True)
class RequestCallback(TicketCommand[Booked]):
    triggers = ("request_callback",)
    window: PreferredWindow | None = None
    slot_start: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class MoveCallback(TicketCommand[Booked]):
    """The booked slot is given back (by the customer, or by staff for them); with a slot or
    window, the new one is booked too. Staff giving it back without one must say why."""

    triggers = ("move_callback", "book_callback")
    slot_start: datetime | None = None
    window: PreferredWindow | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class BookCallback(TicketCommand[Booked]):
    """A new slot for a callback the customer gave back (waiting on callback-moved)."""

    triggers = ("book_callback",)
    slot_start: datetime | None = None
    window: PreferredWindow | None = None


@dataclass(frozen=True, kw_only=True)
class RecordCallResult(TicketCommand[Booked]):
    triggers = ("callback_result",)
    result: str
    note: str | None = None
    window: PreferredWindow | None = None


@dataclass(frozen=True, kw_only=True)
class EscalateBreach(TicketCommand[str]):
    triggers = ("request_callback",)
    clock: str
    cycle: int


@dataclass(frozen=True, kw_only=True)
class OfferRemoteCode(TicketCommand[IssuedCode]):
    triggers = ("offer_remote_session",)


@dataclass(frozen=True, kw_only=True)
class StartRemoteSession(TicketCommand[tuple[int, Ticket]]):
    """The customer proved the code and agreed to the terms."""

    triggers = ("start_remote_session",)
    code_id: int
    terms_version: str
    current_terms: str
    language: str
    source_addr: str | None = None


@dataclass(frozen=True, kw_only=True)
class ProposeSessionStep(TicketCommand[int]):
    actors = STAFF
    kind: str
    description: str


@dataclass(frozen=True, kw_only=True)
class AnswerSessionStep(TicketCommand[StepRecord]):
    actors = ("customer",)
    session_id: int
    step_id: int
    decision: str


@dataclass(frozen=True, kw_only=True)
class VerifySessionCode(Command[VerifiedCode]):
    """The customer tries a reference and code; a wrong one counts against the guess limits."""

    actors = ("customer",)
    reference: str
    code: str
    source_addr: str | None = None


@dataclass(frozen=True, kw_only=True)
class TouchSession(TicketCommand[None]):
    """Activity in the running session (the inactivity time-out counts from the last one)."""

    actors = (*STAFF, "customer")
    session_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class EndRemoteSession(TicketCommand[Ticket]):
    triggers = ("end_remote_session",)
    resolved: bool
    reason: str
    session_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class RecordRequest(Command[Intake]):
    """Intake: a producer's decoded request, checked (its source), its human check settled
    once, and recorded in the inbox (a replay answers as the first copy did)."""

    actors = ("producer",)
    event: InboundEvent
    #: the source the authenticated producer is registered with (``actor.name`` is its name)
    producer_source: str
    remote_addr: str | None = None
    #: production HTTP: with an outbox row that carries it to the verification consumers
    relay: bool = False
    #: the transport runs ``VerifyRequest`` at once, in the same delivery (the AMQP consumer:
    #: the broker keeps the message until the ack): the ticket is made in the same transaction
    #: when the verifier's tokens may be checked again, else the human check is left to that step
    verify_now: bool = False


@dataclass(frozen=True, kw_only=True)
class VerifyRequest(Command[Processed]):
    """The worker's step: one recorded request becomes one ticket (verified and queued, or
    closed). A human check stored as unknown is asked again here, and committed at once."""

    triggers = ("verify", "reject", "mark_duplicate", "enqueue")
    source: str
    event_id: str
    reference: str
    producer: str
    #: the stored result: ``passed``, ``failed``, or None (unknown: ask again)
    human_check: str | None
    request: RequestSubmittedV1
    remote_addr: str | None = None
    accepted_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class MarkPresence(Command[None]):
    """The console's heartbeat: ``actor`` has the ticket open (``viewing``) or is writing a
    reply (``typing``). No lock: others are only told (``workflow.service.presence``)."""

    actors = STAFF
    ticket_id: str
    activity: str = "viewing"
