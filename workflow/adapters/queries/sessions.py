"""A ticket's running remote session and its steps, as the agent's and customer's pages show
them (read only; ``SessionGone`` when it has ended or names another session)."""

from __future__ import annotations

from workflow.service.ports import UnitOfWork
from workflow.service.remote_sessions import SessionGone, running
from workflow.service.session_ports import SessionRecord, StepRecord

__all__ = ["SessionGone", "session_view"]


def session_view(uow: UnitOfWork, ticket_id: str,
                 session_id: int | None = None) -> tuple[SessionRecord, list[StepRecord]]:
    with uow:
        session = running(uow.sessions, ticket_id, session_id)
        return session, uow.sessions.steps(session.id)
