"""The ticket as the domain sees it: a plain object the shared state machine drives.

Deliberately not the SQLModel table class: ``transitions`` rejects pydantic models and does not
roll back when a callback raises, so the machine works on this object and storage persists it
only after the trigger succeeded (``workflow.adapters`` maps it to rows).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workflow.domain.events import DomainEvent
from workflow.domain.states import Outcome, State, WaitingOn
from workflow.domain.ticket_sla import TicketSla

_REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read over the phone


def new_reference() -> str:
    """A short reference the customer can read out: ``RD-`` and 8 characters (~40 bits)."""
    body = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"RD-{body[:4]}-{body[4:]}"


def new_ticket_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class AuditEntry:
    """One move, as the audit table keeps it: who, when, from, to, trigger, why. No personal data."""

    ticket_id: str
    at: datetime
    actor: str
    trigger: str
    from_state: str
    to_state: str
    outcome: str | None = None
    reason: str | None = None


@dataclass(eq=False)
class Ticket:
    id: str
    reference: str
    state: State
    created_at: datetime
    updated_at: datetime
    language: str = "en"
    source: str = ""
    event_id: str = ""
    serial_key: str | None = None
    outcome: Outcome | None = None
    waiting_on: WaitingOn | None = None
    assignee: str | None = None
    linked_ticket_id: str | None = None
    first_reply_at: datetime | None = None
    closed_at: datetime | None = None
    #: set by the retention purge: the personal data is gone, nobody can be contacted
    anonymised_at: datetime | None = None
    version: int = 0
    #: Next ``sequence`` for this ticket's outgoing events (CloudEvents extension).
    event_seq: int = 1
    #: When ResetDesk durably accepted the request: the SLA clocks start here.
    accepted_at: datetime | None = None
    sla: TicketSla | None = None
    #: The request as received (personal data): requester, device, method, attestation, note.
    data: dict[str, Any] = field(default_factory=dict)
    pending_events: list[DomainEvent] = field(default_factory=list)
    pending_audit: list[AuditEntry] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.state is not State.CLOSED

    def raise_event(self, event: DomainEvent) -> None:
        self.pending_events.append(event)

    def take_pending(self) -> tuple[list[AuditEntry], list[DomainEvent]]:
        """Hand the unsaved audit entries and events to storage, once."""
        audit, events = self.pending_audit, self.pending_events
        self.pending_audit, self.pending_events = [], []
        return audit, events
