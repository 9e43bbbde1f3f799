"""The remote-access session: code issued by the agent → customer proves it and agrees to the
terms → session with recorded steps → ended by the agent, the customer or inactivity.

Every rule that two requests could race on is settled in the database: one live code per ticket
(unique key), single use (conditional UPDATE), throttle counters (row locked while counted), one
live session per ticket (unique key), the end of a session (conditional UPDATE). The plaintext
code exists only in the return value of ``issue_code``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from workflow.domain import session_codes as codes
from workflow.domain.errors import ConcurrencyConflict, GuardRefused, TicketNotFound, WorkflowError
from workflow.domain.events import NotificationRequested
from workflow.domain.guards import TriggerContext
from workflow.domain.states import STAFF, State, WaitingOn
from workflow.domain.throttle import throttle_key
from workflow.domain.ticket import Ticket
from workflow.service.handlers import UowFactory, transition
from workflow.service.ports import Clock, UnitOfWork
from workflow.service.session_ports import SessionRecord, SessionStore, StepRecord

STEP_KINDS = ("equipment", "network")
DECISIONS = ("confirmed", "declined")
MAX_STEP = 1500
MAX_EMAIL_LIST = 2000
SCOPE_ADDR, SCOPE_REF = "code-addr", "code-ref"


class CodeRefused(WorkflowError):
    """Wrong, expired, used or revoked code, unknown reference, or locked out: one answer for all,
    so that an attacker learns nothing from it."""

    def __init__(self) -> None:
        super().__init__("this reference and code do not open a session; check them or ask the "
                         "agent for a new code")


class SessionGone(WorkflowError):
    """The session this customer token names is over (or never started)."""


class TermsChanged(WorkflowError):
    def __init__(self) -> None:
        super().__init__("the remote-support terms changed since they were shown: read them again")


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime
    ticket: Ticket


def _check_version(ticket: Ticket, expected: int | None) -> None:
    if expected is not None and ticket.version != expected:
        raise ConcurrencyConflict(ticket.id, expected)


def issue_code(uow: UnitOfWork, clock: Clock, *, ticket_id: str, agent: str,
               secret: bytes, policy: codes.SessionPolicy,
               expected_version: int | None = None, role: str = "agent") -> IssuedCode:
    """Offer a remote session: the ticket waits on the code (its SLA clocks pause), any older code
    is revoked, and the new code is returned once, never stored in clear."""
    code = codes.new_code()
    with uow:
        ticket = uow.tickets.get(ticket_id)
        _check_version(ticket, expected_version)
        now = clock.now()
        expires = now + policy.code_ttl
        transition(uow, ticket, "offer_remote_session", TriggerContext(
            f"{role}:{agent}", now, reason=f"session code valid {_minutes(policy.code_ttl)} min"))
        uow.tickets.save(ticket)
        uow.sessions.issue_code(ticket.id, codes.code_hash(secret, ticket.id, code),
                               f"{role}:{agent}", now, expires)
        uow.commit()
    return IssuedCode(code, expires, ticket)


@dataclass(frozen=True)
class VerifiedCode:
    ticket_id: str
    code_id: int
    language: str


def verify_code(uow: UnitOfWork, clock: Clock, *, reference: str, code: str,
                source_addr: str | None, secret: bytes,
                policy: codes.SessionPolicy) -> VerifiedCode:
    """Check a code without using it (Agree uses it). A wrong answer counts against the source
    address and the reference, each locked for a while after too many; the counters stay locked
    while this runs, so concurrent guesses cannot slip past the limit."""
    ref = reference.strip().upper()[:64]
    keys = sorted([(SCOPE_ADDR, throttle_key(secret, SCOPE_ADDR, source_addr or "-")),
                   (SCOPE_REF, throttle_key(secret, SCOPE_REF, ref))])
    rule = policy.throttle.rule
    with uow:
        store, now = uow.sessions, clock.now()
        counters = {k: store.counter(*k, now) for k in keys}
        if any(not state.decide(now, rule).allowed for state in counters.values()):
            raise CodeRefused()
        found = _matching_code(uow, store, ref, code, secret, now)
        if found is None:
            for key, state in counters.items():
                store.save_counter(*key, state.after_hit(now, rule))
            uow.commit()
            raise CodeRefused()
    return found  # nothing written: leaving the block rolls back the empty counters


def _matching_code(uow: UnitOfWork, store: SessionStore, reference: str, code: str,
                   secret: bytes, now: datetime) -> VerifiedCode | None:
    try:
        ticket = uow.tickets.by_reference(reference)
    except TicketNotFound:
        return None
    live = store.live_code(ticket.id)
    if (live is None or now >= live.expires_at or ticket.waiting_on is not WaitingOn.SESSION_CODE
            or not codes.code_matches(secret, ticket.id, code, live.code_hash)):
        return None
    return VerifiedCode(ticket.id, live.id, ticket.language)


def start_session(uow: UnitOfWork, clock: Clock, *, ticket_id: str,
                  code_id: int, terms_version: str, current_terms: str, language: str,
                  source_addr: str | None) -> tuple[int, Ticket]:
    """The customer agreed: move the ticket to remote-session (its clocks resume), use the code,
    record the consent and open the session. Of concurrent Agrees exactly one wins: the others
    fail on the ticket's version or on the code's conditional UPDATE."""
    if terms_version != current_terms:
        raise TermsChanged()
    with uow:
        store, now = uow.sessions, clock.now()
        ticket = uow.tickets.get(ticket_id)
        live = store.live_code(ticket_id)
        if live is None or live.id != code_id or now >= live.expires_at:
            raise CodeRefused()
        transition(uow, ticket, "start_remote_session", TriggerContext(
            "customer", now, reason=f"remote-support terms {terms_version} ({language}) accepted"))
        uow.tickets.save(ticket)
        if not store.use_code(code_id, ticket_id, now):
            raise CodeRefused()
        store.add_consent(ticket_id, terms_version, language, now, source_addr, code_id)
        session_id = store.open_session(ticket_id, now)
        uow.commit()
    return session_id, ticket


def running(store: SessionStore, ticket_id: str, session_id: int | None) -> SessionRecord:
    session = store.live_session(ticket_id)
    if session is None or (session_id is not None and session.id != session_id):
        raise SessionGone("this remote session has ended")
    return session


def propose_step(uow: UnitOfWork, clock: Clock, *, ticket_id: str, agent: str,
                 kind: str, description: str, role: str = "agent") -> int:
    """Record a change the agent proposes to the customer's equipment or network."""
    text = description.strip()
    if kind not in STEP_KINDS or not text or len(text) > MAX_STEP:
        raise WorkflowError(f"a step is equipment or network, with 1 to {MAX_STEP} characters")
    with uow:
        store, now = uow.sessions, clock.now()
        ticket = uow.tickets.get(ticket_id)
        if ticket.state is not State.REMOTE_SESSION or ticket.assignee != agent:
            raise GuardRefused("propose_step", ticket.state.value,
                               "only the assigned agent, during a remote session")
        session = running(store, ticket_id, None)
        step_id = store.add_step(ticket_id, session.id, kind, text, f"{role}:{agent}", now)
        store.touch(session.id, now)
        uow.commit()
    return step_id


def decide_step(uow: UnitOfWork, clock: Clock, *, ticket_id: str,
                session_id: int, step_id: int, decision: str) -> StepRecord:
    """The customer's answer. Declining a change emails them the session's declined changes of
    that kind: network ones to hand to their internet provider or IT manager, equipment ones
    to make themselves or with their installer (through the outbox, with this transaction)."""
    if decision not in DECISIONS:
        raise WorkflowError("decision is confirmed or declined")
    with uow:
        store, now = uow.sessions, clock.now()
        running(store, ticket_id, session_id)
        step = store.decide_step(step_id, session_id, decision, now)
        if step is None:
            raise WorkflowError("no pending step with this id in this session")
        if decision == "declined":
            ticket = uow.tickets.get(ticket_id)
            declined = [s.description for s in store.steps(session_id)
                        if s.kind == step.kind and s.decision == "declined"]
            changes, omitted = _email_list(declined)
            ticket.raise_event(NotificationRequested(
                ticket.id, now, f"{step.kind}_changes", ticket.language,
                {"reference": ticket.reference, "changes": changes, "omitted": omitted}))
            uow.tickets.save(ticket)
        store.touch(session_id, now)
        uow.commit()
    return step


def _email_list(items: list[str]) -> tuple[str, int]:
    """Numbered lines, newest kept when they do not all fit in one context value."""
    lines = [f"{n}. {text}" for n, text in enumerate(items, 1)]
    kept: list[str] = []
    for line in reversed(lines):
        if sum(len(k) + 1 for k in kept) + len(line) > MAX_EMAIL_LIST:
            break
        kept.insert(0, line)
    return "\n".join(kept), len(lines) - len(kept)


def touch(uow: UnitOfWork, clock: Clock, *, ticket_id: str,
          session_id: int | None = None) -> None:
    """Activity on the session (the inactivity time-out counts from the last one)."""
    with uow:
        store = uow.sessions
        store.touch(running(store, ticket_id, session_id).id, clock.now())
        uow.commit()


def end_session(uow: UnitOfWork, clock: Clock, *, ticket_id: str, actor: str,
                resolved: bool, reason: str, session_id: int | None = None,
                expected_version: int | None = None) -> Ticket:
    """End the remote session: closed resolved, or back to the queue. The reason goes to the
    audit trail; the customer is reminded to close the remote-support tool."""
    with uow:
        store, now = uow.sessions, clock.now()
        ticket = uow.tickets.get(ticket_id)
        _check_version(ticket, expected_version)
        session = running(store, ticket_id, session_id) if session_id is not None \
            else store.live_session(ticket_id)
        transition(uow, ticket, "end_remote_session",
                   TriggerContext(actor, now, reason=reason[:500], resolved=resolved))
        _remind(ticket, now, resolved)
        uow.tickets.save(ticket)
        kind = actor.partition(":")[0]
        code = f"agent-{'resolved' if resolved else 'unresolved'}" if kind in STAFF else kind
        if session is not None:
            store.end_session(session.id, now, code, actor)
        uow.commit()
    return ticket


def _remind(ticket: Ticket, now: datetime, resolved: bool) -> None:
    ticket.raise_event(NotificationRequested(ticket.id, now, "session_ended", ticket.language,
                                             {"reference": ticket.reference,
                                              "resolved": int(resolved)}))


def end_idle_sessions(uow_factory: UowFactory, clock: Clock, *, idle: timedelta, actor: str,
                      limit: int = 100) -> int:
    """End sessions idle for ``idle``, as ``actor``; each in its own transaction, and only if
    still idle when ended (activity meanwhile wins). Returns how many were ended."""
    now = clock.now()
    before = now - idle
    with uow_factory() as uow:
        candidates = uow.sessions.idle_sessions(before, limit)
    ended = 0
    for session in candidates:
        try:
            with uow_factory() as uow:
                ticket = uow.tickets.get(session.ticket_id)
                if ticket.state is State.REMOTE_SESSION:  # else it left by another move already
                    transition(uow, ticket, "end_remote_session", TriggerContext(
                        actor, now, reason=f"no activity for {_minutes(idle)} min: session timed out"))
                    _remind(ticket, now, False)
                    uow.tickets.save(ticket)
                if uow.sessions.end_session(session.id, now, "inactivity", actor,
                                            idle_before=before):
                    uow.commit()
                    ended += 1
        except ConcurrencyConflict:
            continue  # someone acted on the ticket at this instant: the next tick looks again
    return ended


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)
