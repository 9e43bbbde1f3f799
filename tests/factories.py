"""Builders shared by tests: tickets in any state and trigger contexts that satisfy a row's guards."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from workflow.domain.guards import TriggerContext
from workflow.domain.states import Move, Outcome, State, WaitingOn, moves_of, names_kind
from workflow.domain.ticket import Ticket, new_reference, new_ticket_id

T0 = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def make_ticket(state: State = State.SUBMITTED, **fields: Any) -> Ticket:
    values: dict[str, Any] = {
        "id": new_ticket_id(), "reference": new_reference(), "state": state,
        "created_at": T0, "updated_at": T0, "language": "en", "source": "urn:test",
        "event_id": new_ticket_id(), "serial_key": None,
        "data": {"requester": {"name": "Test Person"}},
    }
    values.update(fields)
    return Ticket(**values)


def row_for(trigger: str, kind: str | None = None) -> Move:
    """``trigger``'s first row that names ``kind`` (the first row when none does, or no kind):
    the one an actor of that kind takes (staff reject an active ticket, the system a request)."""
    rows = moves_of(trigger)
    return next((m for m in rows if kind is not None and names_kind(m, kind)), rows[0])


def stored_for(trigger: str, kind: str | None = None, holder: str = "alice") -> Ticket:
    """A ticket on which ``row_for(trigger, kind)`` can be taken by ``holder``."""
    move = row_for(trigger, kind)
    ticket, _ = satisfying(move, move.source[0])
    if ticket.assignee == "alice":  # an is_assignee guard
        ticket.assignee = holder
    return ticket


def satisfying(move: Move, source: State) -> tuple[Ticket, TriggerContext]:
    """A ticket in ``source`` and a context under which ``move``'s row is the one taken."""
    ticket = make_ticket(source)
    ctx: dict[str, Any] = {"actor": "agent:alice", "at": T0}
    for guard in move.guards:
        if guard == "verdict_ok":
            ctx["verdict_ok"] = True
        elif guard == "has_rejection":
            ctx["outcome"] = Outcome.REJECTED_REGION
        elif guard == "by_system":
            ctx["actor"] = "system:verification"
        elif guard == "has_reason":
            ctx["reason"] = "a reason"
        elif guard == "has_link":
            ctx["link"] = "0" * 32
        elif guard == "is_assignee":
            ticket.assignee = "alice"
        elif guard == "claimed_by_other":
            ticket.assignee = "bob"
        elif guard == "names_agent":
            ctx["assign_to"] = "carol"
        elif guard == "waiting_key":
            ticket.waiting_on = WaitingOn.KEY_CONFIRMATION
        elif guard == "waiting_callback_moved":
            ticket.waiting_on = WaitingOn.CALLBACK_MOVED
        elif guard == "waiting_code":
            ticket.waiting_on = WaitingOn.SESSION_CODE
        elif guard.startswith("result_"):
            ctx["result"] = guard.removeprefix("result_").replace("answered", "answered")
        elif guard == "session_resolved":
            ctx["resolved"] = True
        elif guard == "reopenable":
            ticket.outcome = Outcome.RESOLVED
    if source is State.CLOSED and ticket.outcome is None:
        ticket.outcome = Outcome.RESOLVED
    return ticket, TriggerContext(**ctx)
