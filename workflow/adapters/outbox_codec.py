"""Domain events → the versioned CloudEvents of ``schemas.events_v1``, as the outbox stores them
and the relay publishes them unchanged. Validation happens here, in the transaction that raised
the event, so a malformed event can never be committed."""

from __future__ import annotations

import json
import uuid

from pydantic import BaseModel

from schemas import events_v1 as ev
from workflow.domain.events import (
    DomainEvent,
    NotificationRequested,
    SlaRaised,
    TicketClosed,
    TicketQueued,
    TicketTransitioned,
)


def _contract(event: DomainEvent) -> tuple[str, BaseModel]:
    if isinstance(event, TicketTransitioned):
        return ev.TICKET_TRANSITIONED_V1, ev.TicketTransitioned(
            ticket_id=event.ticket_id, reference=event.reference, from_state=event.from_state or "new",
            to_state=event.to_state, trigger=event.trigger, actor=event.actor,
            outcome=event.outcome, waiting_on=event.waiting_on, at=event.at)
    if isinstance(event, TicketQueued):
        return ev.TICKET_QUEUED_V1, ev.TicketQueued(
            ticket_id=event.ticket_id, reference=event.reference, queued_at=event.at,
            first_reply_due=event.first_reply_due)
    if isinstance(event, TicketClosed):
        return ev.TICKET_CLOSED_V1, ev.TicketClosed(
            ticket_id=event.ticket_id, reference=event.reference, outcome=event.outcome,
            reason=event.reason, linked_ticket_id=event.linked_ticket_id)
    if isinstance(event, NotificationRequested):
        return ev.NOTIFICATION_EMAIL_V1, ev.NotificationEmail(
            ticket_id=event.ticket_id, template=event.template, language=event.language,  # type: ignore[arg-type]
            context=event.context)
    if isinstance(event, SlaRaised):
        etype = ev.SLA_BREACHED_V1 if event.level == "breached" else ev.SLA_AT_RISK_V1
        return etype, ev.SlaRaised(ticket_id=event.ticket_id, clock=event.clock,  # type: ignore[arg-type]
                                   cycle=event.cycle, due_at=event.due_at, raised_at=event.at)
    raise TypeError(f"no contract for {type(event).__name__}")


def encode(event: DomainEvent, sequence: int) -> tuple[str, str, str]:
    """(event id, type, structured-mode CloudEvent JSON) for one outbox row."""
    etype, data = _contract(event)
    event_id = uuid.uuid4().hex
    envelope = ev.build_event(etype, event.ticket_id, sequence, data, id=event_id, time=event.at)
    return event_id, etype, json.dumps(envelope, separators=(",", ":"), sort_keys=True)
