"""Tables of the resolution paths: agent sessions, callbacks, remote sessions, reset artifacts,
internal notes. Capacity, single-use and one-live-per-ticket rules are unique keys, so the
database decides them — never a check-then-insert."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflow.adapters.types import UtcDateTime


def _at(nullable: bool = True) -> object:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable))


class AgentSessionRow(SQLModel, table=True):
    """A signed-in agent's API token (stored hashed), for the JSON API and later the console."""

    __tablename__ = "agent_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    login: str = Field(max_length=64, index=True)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    revoked_at: datetime | None = _at()  # type: ignore[assignment]


class CallbackBookingRow(SQLModel, table=True):
    """One seat in one callback slot. ``active_seat`` is ``seat`` while the booking holds it and
    NULL after; the unique key (slot_start, active_seat) is the slot's capacity."""

    __tablename__ = "callback_booking"
    __table_args__ = (
        UniqueConstraint("slot_start", "active_seat", name="uq_callback_seat"),
        Index("ix_callback_booking_ticket", "ticket_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=32)
    slot_start: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    slot_end: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    seat: int
    active_seat: int | None = Field(default=None)
    #: booked | done | cancelled | moved
    status: str = Field(default="booked", max_length=12)
    requested_by: str = Field(max_length=80)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class CallbackAttemptRow(SQLModel, table=True):
    __tablename__ = "callback_attempt"
    __table_args__ = (Index("ix_callback_attempt_ticket", "ticket_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=32)
    booking_id: int | None = Field(default=None)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    agent: str = Field(max_length=64)
    #: answered | no_answer | wrong_number | asked_to_move
    result: str = Field(max_length=16)
    cycle: int = Field(default=1)


class SessionCodeRow(SQLModel, table=True):
    """A one-time remote-session code, stored only as a hash. ``live_ticket_id`` is the ticket id
    while the code may be used and NULL once used, revoked or superseded: at most one live code
    per ticket, by a unique key."""

    __tablename__ = "session_code"
    __table_args__ = (Index("ix_session_code_ticket", "ticket_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=32)
    code_hash: str = Field(max_length=128)
    live_ticket_id: str | None = Field(default=None, max_length=32, unique=True)
    created_by: str = Field(max_length=80)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    used_at: datetime | None = _at()  # type: ignore[assignment]
    revoked_at: datetime | None = _at()  # type: ignore[assignment]


class ThrottleRow(SQLModel, table=True):
    """Fixed-window counters of the one throttle port (``workflow.service.throttle``): wrong
    session codes, sign-in failures, customer link pages, intake per producer; in the database
    so that every process and every restart sees the same count. ``failures`` is the window's
    count, whatever the scope counts."""

    __tablename__ = "throttle"

    scope: str = Field(primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=128)
    window_start: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    failures: int = Field(default=0)
    locked_until: datetime | None = _at()  # type: ignore[assignment]


class ConsentRow(SQLModel, table=True):
    """The remote-support terms a customer accepted: version, language, when, from where."""

    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_ticket", "ticket_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=32)
    terms_version: str = Field(max_length=32)
    language: str = Field(max_length=2)
    accepted_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    source_addr: str | None = Field(default=None, max_length=64)
    session_code_id: int | None = Field(default=None)


class RemoteSessionRow(SQLModel, table=True):
    __tablename__ = "remote_session"
    __table_args__ = (Index("ix_remote_session_activity", "ended_at", "last_activity_at"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=32, index=True)
    #: the ticket id while the session runs: one live session per ticket
    live_ticket_id: str | None = Field(default=None, max_length=32, unique=True)
    started_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    last_activity_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    ended_at: datetime | None = _at()  # type: ignore[assignment]
    end_reason: str | None = Field(default=None, max_length=40)
    ended_by: str | None = Field(default=None, max_length=80)


class SessionStepRow(SQLModel, table=True):
    """A change the agent proposed to the customer's equipment or network, and the answer."""

    __tablename__ = "session_step"
    __table_args__ = (Index("ix_session_step_ticket", "ticket_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=32)
    session_id: int | None = Field(default=None)
    #: equipment | network
    kind: str = Field(max_length=16)
    description: str = Field(max_length=2000)
    proposed_by: str = Field(max_length=80)
    proposed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    #: pending | confirmed | declined
    decision: str = Field(default="pending", max_length=12)
    decided_at: datetime | None = _at()  # type: ignore[assignment]


class ResetArtifactRow(SQLModel, table=True):
    """What the agent returns to unlock the device (security codes, an encrypted file, a key),
    stored encrypted; purged after the ticket closes, like attachments."""

    __tablename__ = "reset_artifact"
    __table_args__ = (Index("ix_reset_artifact_ticket", "ticket_id", "id"),
                      Index("ix_reset_artifact_open", "outcome", "valid_until"))

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=32)
    #: security_codes | encrypted_file | key
    kind: str = Field(max_length=20)
    filename: str | None = Field(default=None, max_length=200)
    media_type: str | None = Field(default=None, max_length=80)
    ciphertext: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_by: str = Field(max_length=80)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    valid_until: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    #: NULL while the customer tries it; confirmed | failed | expired | silent
    outcome: str | None = Field(default=None, max_length=12)
    outcome_at: datetime | None = _at()  # type: ignore[assignment]
    reminder_sent_at: datetime | None = _at()  # type: ignore[assignment]
    purged_at: datetime | None = _at()  # type: ignore[assignment]


class TicketNoteRow(SQLModel, table=True):
    """Internal notes between agents; never shown to the customer; purged with the ticket."""

    __tablename__ = "ticket_note"
    __table_args__ = (Index("ix_ticket_note_ticket", "ticket_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=32)
    author: str = Field(max_length=64)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))


AGENT_SESSION = AgentSessionRow.__table__  # type: ignore[attr-defined]
CALLBACK_BOOKING = CallbackBookingRow.__table__  # type: ignore[attr-defined]
CALLBACK_ATTEMPT = CallbackAttemptRow.__table__  # type: ignore[attr-defined]
SESSION_CODE = SessionCodeRow.__table__  # type: ignore[attr-defined]
THROTTLE = ThrottleRow.__table__  # type: ignore[attr-defined]
CONSENT = ConsentRow.__table__  # type: ignore[attr-defined]
REMOTE_SESSION = RemoteSessionRow.__table__  # type: ignore[attr-defined]
SESSION_STEP = SessionStepRow.__table__  # type: ignore[attr-defined]
RESET_ARTIFACT = ResetArtifactRow.__table__  # type: ignore[attr-defined]
TICKET_NOTE = TicketNoteRow.__table__  # type: ignore[attr-defined]
