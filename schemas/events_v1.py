"""Events ResetDesk publishes (version 1), and the one function that builds their envelope.

Every outgoing event is a structured-mode CloudEvent with `source` "urn:resetdesk", `subject` =
ticket id and the CloudEvents `sequence` extension: the per-ticket counter as a zero-padded
decimal string, so that the plain string comparison the extension prescribes orders events the
way the integers do ("0000000010" > "0000000009"). Consumers may also read it with int().
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, Field

from schemas.envelope import JSON_MEDIA_TYPE, SPECVERSION
from schemas.requests_v1 import Language
from schemas.types import Contract, Email, OneLine, Timestamp

SOURCE: Final = "urn:resetdesk"
SEQUENCE_DIGITS: Final = 10
MAX_SEQUENCE: Final = 10**SEQUENCE_DIGITS - 1

TICKET_QUEUED_V1: Final = "com.resetdesk.ticket.queued.v1"
TICKET_CLOSED_V1: Final = "com.resetdesk.ticket.closed.v1"
TICKET_TRANSITIONED_V1: Final = "com.resetdesk.ticket.transitioned.v1"
SLA_AT_RISK_V1: Final = "com.resetdesk.sla.at_risk.v1"
SLA_BREACHED_V1: Final = "com.resetdesk.sla.breached.v1"
NOTIFICATION_EMAIL_V1: Final = "com.resetdesk.notification.email.v1"

TicketId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Reference = Annotated[str, Field(min_length=1, max_length=32), OneLine]
Word = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.:-]*$")]
Actor = Annotated[str, Field(min_length=1, max_length=128), OneLine]
Clock = Literal["first_reply", "resolution"]


class TicketTransitioned(Contract):
    """Any state change, for the audit stream and dashboards; states are workflow's names."""

    ticket_id: TicketId
    reference: Reference
    from_state: Word
    to_state: Word
    trigger: Word
    actor: Actor
    outcome: Word | None = None
    waiting_on: Word | None = None
    at: Timestamp


class TicketQueued(Contract):
    """A verified request waits for an agent; first_reply_due is absent outside any SLA."""

    ticket_id: TicketId
    reference: Reference
    queued_at: Timestamp
    first_reply_due: Timestamp | None = None


class TicketClosed(Contract):
    """A ticket ended; `outcome` e.g. resolved / rejected-<reason>, `linked_ticket_id` for
    duplicates."""

    ticket_id: TicketId
    reference: Reference
    outcome: Word
    reason: Annotated[str, Field(min_length=1, max_length=500), OneLine] | None = None
    linked_ticket_id: TicketId | None = None


class SlaRaised(Contract):
    """Data of both sla.at_risk and sla.breached: one per (ticket, clock, cycle, kind)."""

    ticket_id: TicketId
    clock: Clock
    cycle: Annotated[int, Field(ge=0, le=10_000)]
    due_at: Timestamp
    raised_at: Timestamp


ContextValue = Annotated[str, Field(max_length=2000)] | int | None


class NotificationEmail(Contract):
    """Ask the notification worker to send one templated email.

    `to` may be left out so that no address travels on the bus; the worker then reads the
    requester's address from the ticket when it sends.
    """

    ticket_id: TicketId
    template: Word
    language: Language
    to: Email | None = None
    context: Annotated[
        dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")], ContextValue],
        Field(max_length=50),
    ] = Field(default_factory=dict)


EVENT_TYPES: Final[dict[str, type[Contract]]] = {
    TICKET_QUEUED_V1: TicketQueued,
    TICKET_CLOSED_V1: TicketClosed,
    TICKET_TRANSITIONED_V1: TicketTransitioned,
    SLA_AT_RISK_V1: SlaRaised,
    SLA_BREACHED_V1: SlaRaised,
    NOTIFICATION_EMAIL_V1: NotificationEmail,
}
"""Published CloudEvents `type` → data model."""


def format_sequence(sequence: int) -> str:
    """The `sequence` extension value: zero-padded so string order is numeric order."""
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise TypeError("sequence must be an int")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence must be within 1..{MAX_SEQUENCE}")
    return f"{sequence:0{SEQUENCE_DIGITS}d}"


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("time must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_event(
    type: str,
    subject: str,
    sequence: int,
    data: BaseModel,
    *,
    id: str | None = None,
    time: datetime | None = None,
) -> dict[str, Any]:
    """A structured-mode CloudEvent dict, ready for json.dumps; refuses a mismatched model."""
    model = EVENT_TYPES.get(type)
    if model is None:
        raise ValueError(f"unknown event type {type!r}; known: {', '.join(sorted(EVENT_TYPES))}")
    if not isinstance(data, model):
        raise TypeError(f"{type} carries {model.__name__}, not {data.__class__.__name__}")
    if not subject:
        raise ValueError("subject (the ticket id) is required")
    return {
        "specversion": SPECVERSION,
        "id": id if id is not None else str(uuid.uuid4()),
        "source": SOURCE,
        "type": type,
        "subject": subject,
        "time": _rfc3339(time if time is not None else datetime.now(UTC)),
        "datacontenttype": JSON_MEDIA_TYPE,
        "sequence": format_sequence(sequence),
        "data": data.model_dump(mode="json"),
    }
