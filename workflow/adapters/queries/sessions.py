"""A ticket's running remote session and its steps, as the agent's and customer's pages show
them (read only; ``SessionGone`` when it has ended or names another session), and where the
session stands for the agent's live panel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from workflow.adapters.db import Database
from workflow.adapters.tables_resolution import CONSENT
from workflow.domain.states import State, WaitingOn
from workflow.service.ports import UnitOfWork
from workflow.service.remote_sessions import SessionGone, running
from workflow.service.session_ports import SessionRecord, StepRecord

__all__ = ["Consent", "SessionGone", "SessionStatus", "session_status", "session_view"]


def session_view(uow: UnitOfWork, ticket_id: str,
                 session_id: int | None = None) -> tuple[SessionRecord, list[StepRecord]]:
    with uow:
        session = running(uow.sessions, ticket_id, session_id)
        return session, uow.sessions.steps(session.id)


@dataclass(frozen=True)
class Consent:
    terms_version: str
    language: str
    accepted_at: datetime


@dataclass(frozen=True)
class SessionStatus:
    """``phase``: ``none`` (no code out, no session), ``code`` (a code was offered and the
    customer has not agreed yet; ``code_expires_at`` None once it expired or was used) or
    ``running``; ``consent`` is the latest accepted terms, ``steps`` the running session's."""

    phase: str
    state: str
    code_expires_at: datetime | None = None
    session: SessionRecord | None = None
    consent: Consent | None = None
    steps: list[StepRecord] = field(default_factory=list)


def session_status(uow: UnitOfWork, db: Database, ticket_id: str, now: datetime) -> SessionStatus:
    """One read for the agent's live panel (it polls this)."""
    with uow:
        ticket = uow.tickets.get(ticket_id)
        store = uow.sessions
        live = store.live_session(ticket_id) if ticket.state is State.REMOTE_SESSION else None
        steps = store.steps(live.id) if live is not None else []
        code = store.live_code(ticket_id) if ticket.waiting_on is WaitingOn.SESSION_CODE else None
    expires = code.expires_at if code is not None and code.expires_at > now else None
    phase = "running" if live else "code" if ticket.waiting_on is WaitingOn.SESSION_CODE \
        else "none"
    consent = None
    if live is not None:
        with db.reader.begin() as conn:
            row = conn.execute(select(CONSENT.c.terms_version, CONSENT.c.language,
                                      CONSENT.c.accepted_at)
                               .where(CONSENT.c.ticket_id == ticket_id)
                               .order_by(CONSENT.c.id.desc()).limit(1)).first()
        consent = Consent(*row) if row else None
    return SessionStatus(phase, ticket.state.value, expires, live, consent, steps)
