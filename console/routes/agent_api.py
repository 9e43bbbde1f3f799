"""The agents' JSON API: read tickets, fire triggers, reply, add internal notes.

Each route decodes its body, builds a command with the signed-in actor and hands it to the bus,
which asks the transitions declaration who may fire what. Moves that need more than a move (a
reset key, a session code, a callback slot) have their own endpoints, registered before the
generic ``/{trigger}`` route; the declaration (``Move.command``) makes the generic one refuse them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from console.auth import current_actor, deps
from console.deps import WebDeps
from console.inputs import TicketId, Version
from workflow.adapters import queries
from workflow.domain.actors import Actor
from workflow.domain.machine import offered_moves
from workflow.domain.states import Outcome
from workflow.domain.ticket import Ticket
from workflow.service import commands as c

router = APIRouter(prefix="/api/v1/tickets", tags=["agents"])
REJECTIONS = tuple(o.value for o in Outcome if o.is_rejection)
Staff = Annotated[Actor, Depends(current_actor)]
Deps = Annotated[WebDeps, Depends(deps)]


def summary(ticket: Ticket, actor: Actor) -> dict[str, Any]:
    """The ticket and the moves this actor may make on it now (the console's buttons)."""
    return {"id": ticket.id, "reference": ticket.reference, "state": ticket.state.value,
            "outcome": ticket.outcome.value if ticket.outcome else None,
            "waiting_on": ticket.waiting_on.value if ticket.waiting_on else None,
            "assignee": ticket.assignee, "version": ticket.version,
            "allowed": offered_moves(ticket, actor, ticket.updated_at)}


@router.get("")
def list_tickets(d: Deps, agent: Staff, state: Annotated[str | None, Query(max_length=40)] = None,
                 sort: Annotated[str, Query(max_length=20)] = "due",
                 limit: Annotated[int, Query(ge=1, le=1_000_000)] = 100) -> list[dict[str, Any]]:
    try:
        return [r.as_json() for r in queries.list_tickets(d.db, state=state, sort=sort,
                                                          limit=min(limit, 1000))]
    except ValueError as err:
        raise HTTPException(400, str(err)) from None


@router.get("/{ticket_id}")
def show(ticket_id: TicketId, d: Deps, agent: Staff) -> dict[str, Any]:
    details = queries.ticket_details(d.db, ticket_id)
    with d.uow() as uow:
        details["notes"] = [{"at": at.isoformat(), "author": who, "body": body}
                            for at, who, body in uow.notes.for_ticket(details["id"])]
        details["allowed"] = summary(uow.tickets.get(details["id"]), agent)["allowed"]
    return details


class Move(BaseModel):
    expected_version: Version = None
    reason: str | None = Field(default=None, max_length=500)
    #: claim a ticket someone else holds: the take_over move (supervisors only)
    take_over: bool = False


class Handover(BaseModel):
    to: str = Field(min_length=1, max_length=64, description="the agent's login")
    expected_version: Version = None
    reason: str | None = Field(default=None, max_length=500)


class Rejection(BaseModel):
    outcome: Outcome = Field(description="why: one of the rejected-* outcomes")
    reason: str = Field(min_length=1, max_length=500, description="kept in the audit trail")
    expected_version: Version = None

    @field_validator("outcome")
    @classmethod
    def _a_rejection(cls, value: Outcome) -> Outcome:
        if not value.is_rejection:
            raise ValueError(f"not a rejection: use one of {', '.join(REJECTIONS)}")
        return value


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
async def reply(ticket_id: TicketId, body: Reply, d: Deps, actor: Staff) -> dict[str, Any]:
    ticket = await run_in_threadpool(d.handle, c.Reply(
        actor=actor, ticket_id=_id(d, ticket_id), message=body.message,
        expected_version=body.expected_version))
    return summary(ticket, actor)


@router.post("/{ticket_id}/notes", status_code=201)
async def note(ticket_id: TicketId, body: Note, d: Deps, actor: Staff) -> dict[str, str]:
    await run_in_threadpool(d.handle, c.AddNote(actor=actor, ticket_id=_id(d, ticket_id),
                                                body=body.body))
    return {"status": "added"}


@router.post("/{ticket_id}/reassign")
async def reassign(ticket_id: TicketId, body: Handover, d: Deps, actor: Staff) -> dict[str, Any]:
    """A supervisor hands the ticket to another agent."""
    ticket = await run_in_threadpool(d.handle, c.Reassign(
        actor=actor, ticket_id=_id(d, ticket_id), to_agent=body.to,
        expected_version=body.expected_version, reason=body.reason))
    return summary(ticket, actor)


@router.post("/{ticket_id}/reject")
async def reject(ticket_id: TicketId, body: Rejection, d: Deps, actor: Staff) -> dict[str, Any]:
    """Close a ticket the agent holds as rejected, with the outcome and the reason."""
    ticket = await run_in_threadpool(d.handle, c.RejectTicket(
        actor=actor, ticket_id=_id(d, ticket_id), outcome=body.outcome,
        reason=body.reason, expected_version=body.expected_version))
    return summary(ticket, actor)


@router.post("/{ticket_id}/{trigger}")
async def fire_trigger(ticket_id: TicketId, trigger: Annotated[str, Path(max_length=40)],
                       body: Move, d: Deps, actor: Staff) -> dict[str, Any]:
    """A plain move; the bus refuses a move the actor may not make (403) or one that has its
    own endpoint (400, naming it)."""
    if trigger == "claim" and body.take_over:
        trigger = "take_over"
    ticket = await run_in_threadpool(d.handle, c.FireTrigger(
        actor=actor, ticket_id=_id(d, ticket_id), trigger=trigger,
        expected_version=body.expected_version, reason=body.reason))
    return summary(ticket, actor)
