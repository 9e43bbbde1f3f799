"""The agent's side of a remote session: issue the code, propose steps, see the answers, end it.

``offer_remote_session`` and ``end_remote_session`` are dedicated triggers: this router must be
registered before the generic ``/{trigger}`` route of ``agent_api``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from console.auth import current_actor, current_agent, deps
from console.deps import WebDeps
from console.inputs import TicketId, Version
from console.routes.agent_api import summary
from workflow.adapters.queries.sessions import SessionGone, session_view
from workflow.domain.actors import Actor
from workflow.service import commands as c
from workflow.service import remote_sessions as rs

router = APIRouter(prefix="/api/v1/tickets", tags=["agents"])
Agent = Annotated[str, Depends(current_agent)]
Deps = Annotated[WebDeps, Depends(deps)]
Staff = Annotated[Actor, Depends(current_actor)]


class Offer(BaseModel):
    expected_version: Version = None


@router.post("/{ticket_id}/offer_remote_session", status_code=201)
async def offer(ticket_id: TicketId, body: Offer, d: Deps, actor: Staff) -> JSONResponse:
    """Issue a one-time code for the customer; it is in this answer only (read it to them)."""
    issued = await run_in_threadpool(d.handle, c.OfferRemoteCode(
        actor=actor, ticket_id=ticket_id, expected_version=body.expected_version))
    return JSONResponse({"code": issued.code, "expires_at": issued.expires_at.isoformat(),
                         "ticket": summary(issued.ticket, actor)},
                        status_code=201, headers={"Cache-Control": "no-store"})


class End(BaseModel):
    resolved: bool = False
    reason: str = Field(min_length=1, max_length=500)
    expected_version: Version = None


@router.post("/{ticket_id}/end_remote_session")
async def end(ticket_id: TicketId, body: End, d: Deps, actor: Staff) -> dict[str, Any]:
    """End the session: closed resolved, or back to the queue; the reason is audited."""
    ticket = await run_in_threadpool(d.handle, c.EndRemoteSession(
        actor=actor, ticket_id=ticket_id, resolved=body.resolved, reason=body.reason.strip(),
        expected_version=body.expected_version))
    return summary(ticket, actor)


class Step(BaseModel):
    kind: Literal["equipment", "network"]
    description: str = Field(min_length=1, max_length=rs.MAX_STEP)


@router.post("/{ticket_id}/session/steps", status_code=201)
async def propose(ticket_id: TicketId, body: Step, d: Deps, actor: Staff) -> dict[str, Any]:
    """Record a change to the customer's equipment or network; the customer answers it."""
    step_id = await run_in_threadpool(d.handle, c.ProposeSessionStep(
        actor=actor, ticket_id=ticket_id, kind=body.kind, description=body.description))
    return {"id": step_id, "kind": body.kind, "decision": "pending"}


@router.get("/{ticket_id}/session")
async def show(ticket_id: TicketId, d: Deps, agent: Agent) -> dict[str, Any]:
    try:
        record, steps = await run_in_threadpool(session_view, d.uow(), ticket_id)
    except SessionGone as err:
        raise HTTPException(404, str(err)) from None
    return {"id": record.id, "started_at": record.started_at.isoformat(),
            "last_activity_at": record.last_activity_at.isoformat(),
            "steps": [{"id": s.id, "kind": s.kind, "description": s.description,
                       "decision": s.decision,
                       "decided_at": s.decided_at.isoformat() if s.decided_at else None}
                      for s in steps]}


@router.post("/{ticket_id}/session/activity", status_code=204)
async def activity(ticket_id: TicketId, d: Deps, actor: Staff) -> Response:
    """The agent is still working in the session (resets the inactivity time-out)."""
    try:
        await run_in_threadpool(d.handle, c.TouchSession(actor=actor, ticket_id=ticket_id))
    except SessionGone as err:
        raise HTTPException(409, str(err)) from None
    return Response(status_code=204)
