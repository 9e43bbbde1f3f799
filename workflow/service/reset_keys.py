"""Reset-key delivery: the agent returns an artifact, the customer confirms or reports, a silent
customer is reminded then the ticket closed. The sealed artifacts are the unit of work's
(``uow.keys``); sending is ``key_handlers.send_key``, the customer's page reads
``workflow.adapters.queries.keys``.

Every move goes through ``transition`` and ``uow.tickets.save`` in the transaction that also
writes the artifact row, so the ticket's version check settles races: two answers to one key,
or an answer racing the silent close, leave exactly one move. The artifact itself is sealed
before it is stored; no email, event or audit row ever carries it in clear — the email holds a
signed link to it instead (the outbox, the broker and the delivery table keep event payloads).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from workflow.domain.errors import ConcurrencyConflict
from workflow.domain.events import NotificationRequested
from workflow.domain.guards import TriggerContext
from workflow.domain.reset_keys import (
    SILENT_REASON,
    ArtifactOutcome,
    KeyLinks,
    SilencePolicy,
    utc_text,
)
from workflow.domain.states import WaitingOn
from workflow.domain.ticket import Ticket
from workflow.service.handlers import transition
from workflow.service.key_ports import StoredArtifact
from workflow.service.ports import Clock, UnitOfWork


def seal_context(ticket_id: str, kind: str) -> bytes:
    return f"resetdesk-artifact|{ticket_id}|{kind}".encode()


def _answer_links(links: KeyLinks | None, ticket_id: str,
                  now: datetime) -> dict[str, str | int | None]:
    if links is None:
        return {"confirm_url": None, "report_url": None}
    return links.answer_urls(ticket_id, now)


def pending(ticket: Ticket, art: StoredArtifact | None) -> bool:
    """The artifact still waits on the customer's answer (and the ticket on it)."""
    return (art is not None and art.outcome is None and ticket.is_open
            and ticket.waiting_on is WaitingOn.KEY_CONFIRMATION)


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


def answer_key(uow: UnitOfWork, clock: Clock, ticket_id: str, *, worked: bool) -> AnswerResult:
    """The customer's answer from a signed link: worked closes the ticket resolved; did not
    work (or expired) puts it back in the queue and asks for a new export. Idempotent: a
    repeated answer is reported as already recorded and moves nothing; a lost race is retried
    once and then reads as already recorded."""
    try:
        return _answer(uow, clock, ticket_id, worked)
    except ConcurrencyConflict:
        return _answer(uow, clock, ticket_id, worked)


def _answer(uow: UnitOfWork, clock: Clock, ticket_id: str, worked: bool) -> AnswerResult:
    with uow:
        ticket = uow.tickets.get(ticket_id)
        store = uow.keys
        art = store.latest(ticket.id)
        if art is None or not pending(ticket, art):
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


def silent_step(uow: UnitOfWork, clock: Clock, silence: SilencePolicy, artifact_id: int,
                ticket_id: str, actor: str, links: KeyLinks | None = None) -> str | None:
    """Remind or close one silent customer if it is time; returns what was done. Re-reads
    everything in its own transaction, so an answer that came meanwhile wins; ``actor`` closes."""
    with uow:
        ticket = uow.tickets.get(ticket_id)
        store = uow.keys
        art = store.latest(ticket.id)
        if art is None or art.id != artifact_id or not pending(ticket, art):
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
            transition(uow, ticket, "abandon", TriggerContext(actor, now, reason=SILENT_REASON))
            ticket.raise_event(NotificationRequested(
                ticket.id, now, "key_closed_silent", ticket.language,
                {"reference": ticket.reference}))
        else:
            return None
        uow.tickets.save(ticket)
        uow.commit()
    return step


def awaiting_answer(uow: UnitOfWork, after_id: int, limit: int) -> list[StoredArtifact]:
    with uow:
        return uow.keys.awaiting_answer(after_id, limit)

