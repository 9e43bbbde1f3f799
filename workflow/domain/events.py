"""Domain events: past tense, small, immutable; the unit of work turns them into outbox rows.

They are not the wire format: ``schemas.events_v1`` is. ``kind`` names the contract the outbox
writer builds (``ticket.queued`` becomes ``com.resetdesk.ticket.queued.v1``). None of them carries
personal data: a worker that needs an address reads it from the ticket when it acts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True)
class DomainEvent:
    kind: ClassVar[str] = ""
    ticket_id: str
    at: datetime


@dataclass(frozen=True)
class TicketTransitioned(DomainEvent):
    kind: ClassVar[str] = "ticket.transitioned"
    reference: str
    from_state: str
    to_state: str
    trigger: str
    actor: str
    outcome: str | None = None
    waiting_on: str | None = None


@dataclass(frozen=True)
class TicketQueued(DomainEvent):
    kind: ClassVar[str] = "ticket.queued"
    reference: str
    first_reply_due: datetime | None = None


@dataclass(frozen=True)
class TicketClosed(DomainEvent):
    kind: ClassVar[str] = "ticket.closed"
    reference: str
    outcome: str
    reason: str | None = None
    linked_ticket_id: str | None = None


@dataclass(frozen=True)
class NotificationRequested(DomainEvent):
    """Ask the notification worker to email the ticket's requester, in the ticket's language."""

    kind: ClassVar[str] = "notification.email"
    template: str
    language: str
    context: dict[str, str | int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class SlaRaised(DomainEvent):
    """An SLA clock crossed its at-risk point or its due time (``level``: at_risk | breached)."""

    kind: ClassVar[str] = "sla"
    clock: str
    cycle: int
    level: str
    due_at: datetime
