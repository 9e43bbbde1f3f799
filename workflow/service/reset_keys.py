"""Reset-key delivery: the agent returns an artifact, the customer confirms or reports, a silent
customer is reminded then the ticket closed.

Every move goes through ``transition`` and ``uow.tickets.save`` in the transaction that also
writes the artifact row, so the ticket's version check settles races: two answers to one key,
or an answer racing the silent close, leave exactly one move. The artifact itself is sealed
before it is stored; no email, event or audit row ever carries it in clear — the email holds a
signed link to it instead (the outbox, the broker and the delivery table keep event payloads).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from workflow.domain.errors import ConcurrencyConflict
from workflow.domain.events import NotificationRequested
from workflow.domain.guards import TriggerContext
from workflow.domain.reset_keys import (
    SILENT_REASON,
    TEXT_KINDS,
    ArtifactOutcome,
    KeyLinks,
    KeyPolicy,
    NewArtifact,
    SilencePolicy,
    utc_text,
)
from workflow.domain.states import WaitingOn
from workflow.domain.ticket import Ticket
from workflow.service.handlers import transition
from workflow.service.key_ports import ArtifactStore as ArtifactStore
from workflow.service.key_ports import Sealer as Sealer
from workflow.service.key_ports import StoredArtifact as StoredArtifact
from workflow.service.key_ports import StoreFor as StoreFor
from workflow.service.key_ports import keys_of as keys_of
from workflow.service.ports import Clock, UnitOfWork

SYSTEM_ACTOR = "system:key-jobs"


@dataclass(frozen=True)
class KeyDesk:
    """What the key services need besides the unit of work; built once by the entry point."""

    store: StoreFor
    sealer: Sealer
    links: KeyLinks
    policy: KeyPolicy = field(default_factory=KeyPolicy)


def seal_context(ticket_id: str, kind: str) -> bytes:
    return f"resetdesk-artifact|{ticket_id}|{kind}".encode()


def _answer_links(links: KeyLinks | None, ticket_id: str,
                  now: datetime) -> dict[str, str | int | None]:
    if links is None:
        return {"confirm_url": None, "report_url": None}
    return links.answer_urls(ticket_id, now)


def _pending(ticket: Ticket, art: StoredArtifact | None) -> bool:
    return (art is not None and art.outcome is None and ticket.is_open
            and ticket.waiting_on is WaitingOn.KEY_CONFIRMATION)


@dataclass(frozen=True)
class SendKey:
    ticket_id: str
    agent: str
    artifact: NewArtifact
    expected_version: int | None = None
    #: agent | supervisor: how the audit trail names who sent it
    role: str = "agent"


def send_key(uow: UnitOfWork, clock: Clock, desk: KeyDesk, cmd: SendKey) -> Ticket:
    """Store the sealed artifact, wait on the customer (the SLA clocks pause), email the links.
    A key still pending is superseded: the customer's answer is about the newest one."""
    art = cmd.artifact
    with uow:
        ticket = uow.tickets.get(cmd.ticket_id)
        if cmd.expected_version is not None and ticket.version != cmd.expected_version:
            raise ConcurrencyConflict(ticket.id, cmd.expected_version)
        now = clock.now()
        until = desk.policy.valid_until(art.kind, now)
        transition(uow, ticket, "send_key", TriggerContext(
            f"{cmd.role}:{cmd.agent}", now, reason=f"{art.kind} valid until {utc_text(until)}"))
        store = desk.store(uow)
        store.supersede_pending(ticket.id, now)
        sealed = desk.sealer.seal(art.plaintext, seal_context(ticket.id, art.kind))
        store.add(ticket.id, art, sealed, f"{cmd.role}:{cmd.agent}", now, until)
        ticket.raise_event(NotificationRequested(ticket.id, now, "reset_key", ticket.language, {
            "reference": ticket.reference, "kind": art.kind,
            "valid_hours": round(desk.policy.validity[art.kind] / timedelta(hours=1)),
            "valid_until": utc_text(until),
            "key_url": desk.links.url("get_key", ticket.id, until),
            **desk.links.answer_urls(ticket.id, now)}))
        uow.tickets.save(ticket)
        uow.commit()
    return ticket


class KeyAnswer(enum.Enum):
    RECORDED = "recorded"
    #: the same answer was recorded before (a second click, a retried POST)
    ALREADY_RECORDED = "already-recorded"
    #: no key is waiting any more (answered otherwise, closed, or never sent)
    NOT_WAITING = "not-waiting"


@dataclass(frozen=True)
class AnswerResult:
    answer: KeyAnswer
    reference: str
    language: str
    outcome: str | None = None


def answer_key(uow: UnitOfWork, clock: Clock, store_for: StoreFor, ticket_id: str, *,
               worked: bool) -> AnswerResult:
    """The customer's answer from a signed link: worked closes the ticket resolved; did not
    work (or expired) puts it back in the queue and asks for a new export. Idempotent: a
    repeated answer is reported as already recorded and moves nothing; a lost race is retried
    once and then reads as already recorded."""
    try:
        return _answer(uow, clock, store_for, ticket_id, worked)
    except ConcurrencyConflict:
        return _answer(uow, clock, store_for, ticket_id, worked)


def _answer(uow: UnitOfWork, clock: Clock, store_for: StoreFor, ticket_id: str,
            worked: bool) -> AnswerResult:
    with uow:
        ticket = uow.tickets.get(ticket_id)
        store = store_for(uow)
        art = store.latest(ticket.id)
        if art is None or not _pending(ticket, art):
            same = art is not None and art.outcome in (
                ("confirmed",) if worked else ("failed", "expired"))
            answer = KeyAnswer.ALREADY_RECORDED if same else KeyAnswer.NOT_WAITING
            return AnswerResult(answer, ticket.reference, ticket.language,
                                art.outcome if art else None)
        now = clock.now()
        outcome = (ArtifactOutcome.CONFIRMED if worked else
                   ArtifactOutcome.EXPIRED if now >= art.valid_until else ArtifactOutcome.FAILED)
        if not store.settle(art.id, outcome, now):
            raise ConcurrencyConflict(ticket.id, ticket.version)
        if worked:
            transition(uow, ticket, "resolve", TriggerContext(
                "customer", now, reason="customer confirmed the key worked"))
        else:
            transition(uow, ticket, "key_failed", TriggerContext(
                "customer", now, reason=f"customer reported the key {outcome.value}"))
            ticket.raise_event(NotificationRequested(
                ticket.id, now, "reexport_needed", ticket.language,
                {"reference": ticket.reference, "why": outcome.value}))
        uow.tickets.save(ticket)
        uow.commit()
    return AnswerResult(KeyAnswer.RECORDED, ticket.reference, ticket.language, outcome.value)


@dataclass(frozen=True)
class KeyView:
    """What a customer page shows; ``content`` only when the artifact was asked for."""

    reference: str
    language: str
    waiting: bool
    #: what became of the latest artifact (None while pending or when none was sent)
    outcome: str | None = None
    kind: str | None = None
    valid_until: datetime | None = None
    text: str | None = None
    content: bytes | None = None
    filename: str | None = None
    media_type: str | None = None


def view_key(uow: UnitOfWork, clock: Clock, store_for: StoreFor, ticket_id: str, *,
             sealer: Sealer | None = None) -> KeyView:
    """Read-only. With ``sealer``, also the artifact in clear — only while it is pending, still
    valid, not purged and readable (without it, the page asks the customer to report it)."""
    with uow:
        ticket = uow.tickets.get(ticket_id)
        store = store_for(uow)
        art = store.latest(ticket.id)
        if art is None or not _pending(ticket, art):
            return KeyView(ticket.reference, ticket.language, False, art.outcome if art else None)
        view = KeyView(ticket.reference, ticket.language, True, None, art.kind, art.valid_until)
        sealed = store.ciphertext(art.id) if sealer is not None else None
        if sealer is None or sealed is None or clock.now() >= art.valid_until:
            return view
        try:
            plain = sealer.open(sealed, seal_context(ticket.id, art.kind))
        except ValueError:  # sealed under a secret key since changed: the customer reports it
            return view
    if art.kind in TEXT_KINDS:
        return replace(view, text=plain.decode())
    return replace(view, content=plain, filename=art.filename, media_type=art.media_type)


def silent_step(uow: UnitOfWork, clock: Clock, store_for: StoreFor, silence: SilencePolicy,
                artifact_id: int, ticket_id: str, links: KeyLinks | None = None) -> str | None:
    """Remind or close one silent customer if it is time; returns what was done. Re-reads
    everything in its own transaction, so an answer that came meanwhile wins."""
    with uow:
        ticket = uow.tickets.get(ticket_id)
        store = store_for(uow)
        art = store.latest(ticket.id)
        if art is None or art.id != artifact_id or not _pending(ticket, art):
            return None
        now = clock.now()
        step = silence.next_step(uow.sla.calendar, art.created_at, art.reminder_sent_at, now)
        if step == "remind":
            if not store.mark_reminded(art.id, now):
                return None
            key_url = links.url("get_key", ticket.id, art.valid_until) \
                if links is not None and now < art.valid_until else None
            ticket.raise_event(NotificationRequested(
                ticket.id, now, "key_reminder", ticket.language, {
                    "reference": ticket.reference, "kind": art.kind,
                    "valid_until": utc_text(art.valid_until), "expired": int(now >= art.valid_until),
                    "key_url": key_url,
                    **_answer_links(links, ticket.id, now)}))
        elif step == "close":
            if not store.settle(art.id, ArtifactOutcome.SILENT, now):
                return None
            transition(uow, ticket, "abandon", TriggerContext(SYSTEM_ACTOR, now,
                                                              reason=SILENT_REASON))
            ticket.raise_event(NotificationRequested(
                ticket.id, now, "key_closed_silent", ticket.language,
                {"reference": ticket.reference}))
        else:
            return None
        uow.tickets.save(ticket)
        uow.commit()
    return step


def awaiting_answer(uow: UnitOfWork, store_for: StoreFor, after_id: int,
                    limit: int) -> list[StoredArtifact]:
    with uow:
        return store_for(uow).awaiting_answer(after_id, limit)

