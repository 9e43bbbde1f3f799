"""SQLModel tables: the schema Alembic migrates. Queries on the hot path use SQLAlchemy core over
these same ``__table__`` objects (a Session per transaction costs 3–11x on SQLite WAL).

Personal data lives only in ``ticket.data`` (and the search columns derived from it),
``inbox.payload`` and ``outbox.payload`` (anonymised by purge); ``audit`` holds none and is
append-only (database triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from workflow.adapters.types import UtcDateTime


def _ts(nullable: bool = True, index: bool = False) -> object:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable,
                                                index=index))


#: the queue shows open tickets: its indexes leave the closed ones (most rows) out. Said as
#: "running clock or open" (the same rows: only open tickets have a running clock) so that a
#: query over running clocks needs no state clause (``queries.queue_filters.scope``)
IN_QUEUE = "sla_due_at IS NOT NULL OR state != 'closed'"


def _queue_index(name: str, *leading: str, where: str | None = IN_QUEUE) -> Index:
    """An index in queue order (earliest running SLA due first, then id) behind an equality
    filter, so a filtered page is a range scan, never a sort (``queries.queue``)."""
    partial: dict[str, Any] = (
        {"sqlite_where": text(where), "postgresql_where": text(where)} if where else {})
    return Index(name, *leading, "sla_due_at", "id", **partial)


def _prefix_index(column: str) -> Index:
    """For ``LIKE 'abc%'``: PostgreSQL needs the pattern operator class unless the collation
    is C; SQLite's queue module matches prefixes with a range instead (``queries.queue``)."""
    return Index(f"ix_ticket_{column}", column, postgresql_ops={column: "varchar_pattern_ops"})


class TicketRow(SQLModel, table=True):
    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_state_created", "state", "created_at"),
        # the agents' API list sorted by due: ORDER BY first_reply_due_at NULLS LAST, id
        Index("ix_ticket_first_reply_due", "first_reply_due_at", "id"),
        _queue_index("ix_ticket_queue"),
        _queue_index("ix_ticket_queue_state", "state", where=None),
        _queue_index("ix_ticket_queue_waiting", "waiting_on"),
        _queue_index("ix_ticket_queue_language", "language"),
        _queue_index("ix_ticket_queue_method", "method"),
        _queue_index("ix_ticket_queue_assignee", "assignee"),
        _queue_index("ix_ticket_queue_unassigned", where=f"({IN_QUEUE}) AND assignee IS NULL"),
        # the "paused" status: waiting tickets of every kind, in order (their due is NULL)
        _queue_index("ix_ticket_queue_paused", where="waiting_on IS NOT NULL"),
        _prefix_index("search_email"),
        _prefix_index("search_phone"),
        _prefix_index("search_serial"),
    )

    id: str = Field(primary_key=True, max_length=32)
    reference: str = Field(max_length=16, unique=True)
    state: str = Field(max_length=24)
    outcome: str | None = Field(default=None, max_length=40)
    waiting_on: str | None = Field(default=None, max_length=24)
    assignee: str | None = Field(default=None, max_length=64, index=True)
    language: str = Field(max_length=2)
    source: str = Field(max_length=512)
    event_id: str = Field(max_length=256)
    serial_key: str | None = Field(default=None, max_length=128, index=True)
    #: ``serial_key`` while the ticket is open, NULL once closed: a unique index on it lets the
    #: database decide "a second open request for the same serial" without check-then-insert.
    open_serial_key: str | None = Field(default=None, max_length=128, unique=True)
    linked_ticket_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    first_reply_at: datetime | None = _ts()  # type: ignore[assignment]
    closed_at: datetime | None = _ts(index=True)  # type: ignore[assignment]
    anonymised_at: datetime | None = _ts()  # type: ignore[assignment]
    version: int = Field(default=0)
    event_seq: int = Field(default=1)
    data: str = Field(sa_column=Column(Text, nullable=False))
    accepted_at: datetime | None = _ts()  # type: ignore[assignment]
    #: the SLA clocks as JSON (workflow.domain.ticket_sla.to_dict); the columns below are
    #: derived from it so that one indexed query finds what the scheduler must raise
    sla: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    sla_next_alarm_at: datetime | None = _ts(index=True)  # type: ignore[assignment]
    first_reply_due_at: datetime | None = _ts()  # type: ignore[assignment]
    resolution_due_at: datetime | None = _ts()  # type: ignore[assignment]
    #: due instant of the earliest *running* clock (NULL: paused on the customer, stopped, or
    #: none yet): the queue's order
    sla_due_at: datetime | None = _ts()  # type: ignore[assignment]
    #: derived from ``data`` on every save (``search_keys``); anonymised with it
    search_email: str | None = Field(default=None, max_length=254)
    search_phone: str | None = Field(default=None, max_length=16)
    search_serial: str | None = Field(default=None, max_length=128)
    method: str | None = Field(default=None, max_length=24)


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_ticket", "ticket_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=32)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    actor: str = Field(max_length=80)
    trigger: str = Field(max_length=40)
    from_state: str = Field(max_length=24)
    to_state: str = Field(max_length=24)
    outcome: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=500)


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("ticket_id", "sequence", name="uq_outbox_ticket_sequence"),
        Index("ix_outbox_unsent", "sent_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, unique=True)
    ticket_id: str = Field(max_length=32)
    sequence: int
    type: str = Field(max_length=120)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    sent_at: datetime | None = _ts()  # type: ignore[assignment]


class InboxRow(SQLModel, table=True):
    """Every accepted inbound message, keyed by its CloudEvents (source, id).

    In embedded mode this table is also the durable queue: workers claim ``pending`` rows with a
    lease (``lease_until``) and an attempt count; an expired lease makes a row claimable again.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_claim", "status", "available_at"),
        UniqueConstraint("reference", name="uq_inbox_reference"),
    )

    source: str = Field(primary_key=True, max_length=512)
    event_id: str = Field(primary_key=True, max_length=256)
    type: str = Field(max_length=120)
    producer: str = Field(max_length=64)
    content_digest: str = Field(max_length=64)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    #: pending | done | dead
    status: str = Field(default="pending", max_length=12)
    attempts: int = Field(default=0)
    available_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    lease_until: datetime | None = _ts()  # type: ignore[assignment]
    last_error: str | None = Field(default=None, max_length=1000)
    ticket_id: str | None = Field(default=None, max_length=32, index=True)
    #: given at intake (the 202 names it) and used by the ticket the worker creates
    reference: str = Field(max_length=16)
    #: passed | failed, committed before anything else is done (tokens are single-use)
    human_check: str | None = Field(default=None, max_length=8)
    remote_addr: str | None = Field(default=None, max_length=64)
    processed_at: datetime | None = _ts()  # type: ignore[assignment]


class SlaAlarmRow(SQLModel, table=True):
    """Every SLA alarm raised; the unique key is the second guard (after the leader lock) that
    makes each alarm happen once per (ticket, clock, cycle, level)."""

    __tablename__ = "sla_alarm"
    __table_args__ = (
        UniqueConstraint("ticket_id", "clock", "cycle", "level", name="uq_sla_alarm_once"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=32)
    clock: str = Field(max_length=20)
    cycle: int
    level: str = Field(max_length=10)
    due_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    raised_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class DeliveryRow(SQLModel, table=True):
    """Embedded mode's stand-in for broker queues: the embedded relay copies each outbox event
    into one row per interested subscriber; that subscriber's workers claim rows with a lease,
    as the inbox workers do. (With a broker, the relay publishes instead and this stays empty.)"""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("subscriber", "event_id", name="uq_delivery_subscriber_event"),
        Index("ix_delivery_claim", "subscriber", "status", "available_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscriber: str = Field(max_length=40)
    event_id: str = Field(max_length=64)
    type: str = Field(max_length=120)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    #: pending | done | dead
    status: str = Field(default="pending", max_length=12)
    attempts: int = Field(default=0)
    available_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    processed_at: datetime | None = _ts()  # type: ignore[assignment]


class DeadLetterRow(SQLModel, table=True):
    """A message a consumer could not process, archived from its dead-letter queue (AMQP cannot
    browse a queue). ``fingerprint`` makes archiving idempotent under redelivery."""

    __tablename__ = "dead_letter"
    __table_args__ = (Index("ix_dead_letter_status_queue", "status", "queue", "id"),
                      Index("ix_dead_letter_message_id", "message_id"))

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(max_length=64, unique=True)
    queue: str = Field(max_length=120)
    message_id: str | None = Field(default=None, max_length=256)
    event_type: str | None = Field(default=None, max_length=120)
    reason: str = Field(max_length=2000)
    content_type: str | None = Field(default=None, max_length=120)
    headers: str = Field(sa_column=Column(Text, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    dead_at: datetime | None = _ts()  # type: ignore[assignment]
    archived_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    #: dead | replayed | discarded
    status: str = Field(default="dead", max_length=12)
    acted_by: str | None = Field(default=None, max_length=80)
    acted_at: datetime | None = _ts()  # type: ignore[assignment]
    act_reason: str | None = Field(default=None, max_length=500)


class AttachmentRow(SQLModel, table=True):
    """The device export (XML file or QR photo) sent with a request; never logged, purged after
    the ticket closed (``RESETDESK_RETENTION__ATTACHMENT_DAYS``)."""

    __tablename__ = "attachment"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=16)
    media_type: str = Field(max_length=40)
    filename: str = Field(max_length=200)
    size: int
    content: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    purged_at: datetime | None = _ts()  # type: ignore[assignment]


class ProducerRow(SQLModel, table=True):
    __tablename__ = "producer"

    name: str = Field(primary_key=True, max_length=64)
    source: str = Field(max_length=512, unique=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    disabled: bool = Field(default=False)


class AgentRow(SQLModel, table=True):
    __tablename__ = "agent"

    login: str = Field(primary_key=True, max_length=64)
    display_name: str = Field(default="", max_length=120)
    password_hash: str = Field(max_length=256)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    active: bool = Field(default=True)
    #: agent | supervisor (a supervisor may also take over and reassign tickets)
    role: str = Field(default="agent", max_length=16,
                      sa_column_kwargs={"server_default": "agent"})


METADATA = SQLModel.metadata
TICKET = TicketRow.__table__  # type: ignore[attr-defined]
AUDIT = AuditRow.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]
INBOX = InboxRow.__table__  # type: ignore[attr-defined]
PRODUCER = ProducerRow.__table__  # type: ignore[attr-defined]
AGENT = AgentRow.__table__  # type: ignore[attr-defined]
ATTACHMENT = AttachmentRow.__table__  # type: ignore[attr-defined]
DELIVERY = DeliveryRow.__table__  # type: ignore[attr-defined]
SLA_ALARM = SlaAlarmRow.__table__  # type: ignore[attr-defined]
DEAD_LETTER = DeadLetterRow.__table__  # type: ignore[attr-defined]

# the resolution paths' tables live in their own module; importing it registers them in METADATA
from workflow.adapters import (  # noqa: E402, F401
    tables_ops,
    tables_presence,
    tables_refusals,
    tables_resolution,
)
