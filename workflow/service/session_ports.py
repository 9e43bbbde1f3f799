"""The port the remote-session services store through, and the records it returns.

Implementations work inside the unit of work's transaction (nothing is visible before
``uow.commit``) and leave every race to the database: the live-code and live-session unique
keys, conditional UPDATEs for single use, answers and ending, a row lock per throttle counter.
A service that writes the ticket and a session_code or remote_session row writes the ticket
first, so that two transactions never wait on each other's locks in a cycle (PostgreSQL would
abort one); step rows are only ever updated by the customer's answer.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from workflow.service.throttle import ThrottleCounters


@dataclass(frozen=True)
class LiveCode:
    id: int
    code_hash: str
    expires_at: datetime


@dataclass(frozen=True)
class SessionRecord:
    id: int
    ticket_id: str
    started_at: datetime
    last_activity_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None


@dataclass(frozen=True)
class StepRecord:
    id: int
    session_id: int | None
    kind: str
    description: str
    decision: str
    proposed_at: datetime
    decided_at: datetime | None = None


class SessionStore(ThrottleCounters):
    """Storage of codes, consents, sessions and steps, inside the unit of work's transaction
    (nothing is visible before ``uow.commit``); the guess counters are the shared throttle
    port's (``workflow.service.throttle``), in the same transaction."""

    @abc.abstractmethod
    def issue_code(self, ticket_id: str, code_hash: str, created_by: str, now: datetime,
                   expires_at: datetime) -> int:
        """Revoke the ticket's live code, if any, and store the new one as the live one."""

    @abc.abstractmethod
    def live_code(self, ticket_id: str) -> LiveCode | None: ...

    @abc.abstractmethod
    def use_code(self, code_id: int, ticket_id: str, now: datetime) -> bool:
        """Mark the code used if it is still live, unexpired and the ticket's; False otherwise
        (a concurrent use got it first)."""

    @abc.abstractmethod
    def add_consent(self, ticket_id: str, terms_version: str, language: str, at: datetime,
                    source_addr: str | None, code_id: int) -> None: ...

    @abc.abstractmethod
    def open_session(self, ticket_id: str, now: datetime) -> int:
        """Start the ticket's live session, ending any stale one left open."""

    @abc.abstractmethod
    def live_session(self, ticket_id: str) -> SessionRecord | None: ...

    @abc.abstractmethod
    def touch(self, session_id: int, now: datetime) -> None: ...

    @abc.abstractmethod
    def end_session(self, session_id: int, now: datetime, reason: str, by: str,
                    idle_before: datetime | None = None) -> bool:
        """End it if it is still running (and, with ``idle_before``, still idle since then)."""

    @abc.abstractmethod
    def idle_sessions(self, before: datetime, limit: int) -> list[SessionRecord]:
        """Running sessions with no activity since ``before``, oldest first (one indexed query)."""

    @abc.abstractmethod
    def add_step(self, ticket_id: str, session_id: int, kind: str, description: str, by: str,
                 now: datetime) -> int: ...

    @abc.abstractmethod
    def decide_step(self, step_id: int, session_id: int, decision: str,
                    now: datetime) -> StepRecord | None:
        """Record the answer if the step is this session's and still pending, else None."""

    @abc.abstractmethod
    def steps(self, session_id: int) -> list[StepRecord]: ...
