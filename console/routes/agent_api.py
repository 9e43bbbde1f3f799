"""The agents' JSON API: read tickets, fire triggers, reply, add internal notes.

Triggers that need more than a move (a reset key, a session code, a callback slot) have their
own endpoints, registered before the generic ``/{trigger}`` route; the generic route refuses them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from console.auth import current_agent, deps
from console.deps import WebDeps
from console.inputs import TicketId, Version
from workflow.adapters import queries
from workflow.domain.guards import TriggerContext
from workflow.domain.machine import allowed_triggers
from workflow.domain.ticket import Ticket
from workflow.service.handlers import ActOnTicket, act
from workflow.service.notes import AddNote, add_note
from workflow.service.replies import ReplyToTicket, reply_to_ticket

router = APIRouter(prefix="/api/v1/tickets", tags=["agents"])
Agent = Annotated[str, Depends(current_agent)]
Deps = Annotated[WebDeps, Depends(deps)]

#: moves that only their own services may make (they store codes, keys, slots …)
DEDICATED = frozenset({"send_key", "key_failed", "offer_remote_session", "start_remote_session",
                       "end_remote_session", "request_callback", "move_callback", "book_callback",
                       "callback_result", "reply", "verify", "reject", "mark_duplicate",
                       "enqueue"})


def summary(ticket: Ticket, agent: str) -> dict[str, Any]:
    ctx = TriggerContext(f"agent:{agent}", ticket.updated_at)
    return {"id": ticket.id, "reference": ticket.reference, "state": ticket.state.value,
            "outcome": ticket.outcome.value if ticket.outcome else None,
            "waiting_on": ticket.waiting_on.value if ticket.waiting_on else None,
            "assignee": ticket.assignee, "version": ticket.version,
            "allowed": allowed_triggers(ticket, ctx)}


@router.get("")
def list_tickets(d: Deps, agent: Agent, state: Annotated[str | None, Query(max_length=40)] = None,
                 sort: Annotated[str, Query(max_length=20)] = "due",
                 limit: Annotated[int, Query(ge=1, le=1_000_000)] = 100) -> list[dict[str, Any]]:
    try:
        return [r.as_json() for r in queries.list_tickets(d.db, state=state, sort=sort,
                                                          limit=min(limit, 1000))]
    except ValueError as err:
        raise HTTPException(400, str(err)) from None


@router.get("/{ticket_id}")
def show(ticket_id: TicketId, d: Deps, agent: Agent) -> dict[str, Any]:
    details = queries.ticket_details(d.db, ticket_id)
    with d.uow() as uow:
        details["notes"] = [{"at": at.isoformat(), "author": who, "body": body}
                            for at, who, body in uow.notes.for_ticket(details["id"])]
        details["allowed"] = summary(uow.tickets.get(details["id"]), agent)["allowed"]
    return details


class Move(BaseModel):
    expected_version: Version = None
    reason: str | None = Field(default=None, max_length=500)
    take_over: bool = False


class Reply(BaseModel):
    message: str = Field(min_length=1, max_length=2000)
    expected_version: Version = None


class Note(BaseModel):
    body: str = Field(min_length=1, max_length=4000)


def _id(d: WebDeps, ticket: str) -> str:
    """Agents may name a ticket by its id or by the reference the customer reads out."""
    if ticket.upper().startswith("RD-"):
        return str(queries.ticket_details(d.db, ticket)["id"])
    return ticket


@router.post("/{ticket_id}/reply")
async def reply(ticket_id: TicketId, body: Reply, d: Deps, agent: Agent) -> dict[str, Any]:
    ticket = await run_in_threadpool(reply_to_ticket, d.uow(), d.clock, ReplyToTicket(
        _id(d, ticket_id), agent, body.message, expected_version=body.expected_version))
    return summary(ticket, agent)


@router.post("/{ticket_id}/notes", status_code=201)
async def note(ticket_id: TicketId, body: Note, d: Deps, agent: Agent) -> dict[str, str]:
    await run_in_threadpool(add_note, d.uow(), d.clock, AddNote(_id(d, ticket_id), agent, body.body))
    return {"status": "added"}


@router.post("/{ticket_id}/{trigger}")
async def fire_trigger(ticket_id: TicketId, trigger: Annotated[str, Path(max_length=40)], body: Move, d: Deps,
                       agent: Agent) -> dict[str, Any]:
    if trigger in DEDICATED:
        raise HTTPException(400, f"{trigger} has its own endpoint or is not an agent's move")
    ticket = await run_in_threadpool(act, d.uow(), d.clock, ActOnTicket(
        _id(d, ticket_id), trigger, f"agent:{agent}", body.expected_version, body.reason,
        take_over=body.take_over))
    return summary(ticket, agent)
