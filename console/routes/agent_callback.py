"""Agents' callback endpoints: book a callback, record a call's result, see the bookings.

Registered before the generic ``/{trigger}`` route (which refuses these triggers): booking needs
a slot and attempts need counting, which only the callback service does.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from console.auth import current_actor, current_agent, deps
from console.deps import WebDeps
from console.inputs import TicketId, Version, parse_instant, sane_day
from console.routes.agent_api import summary
from workflow.adapters.queries.callbacks import CallbackView, callback_view
from workflow.domain.actors import Actor
from workflow.domain.callback_slots import Booking, PreferredWindow
from workflow.domain.errors import WorkflowError
from workflow.service import commands as c
from workflow.service.callback_ports import Booked

router = APIRouter(prefix="/api/v1/tickets", tags=["agents", "callbacks"])
Agent = Annotated[str, Depends(current_agent)]
Deps = Annotated[WebDeps, Depends(deps)]
Staff = Annotated[Actor, Depends(current_actor)]
Window = Annotated[str | None, Field(max_length=40,
                                     description="'YYYY-MM-DD HH:MM-HH:MM', calendar's zone")]


def read_callback(d: WebDeps, ticket_id: str, day: date | None = None) -> CallbackView:
    """The ticket's callback under the bus's own policy (the one bookings are made with)."""
    return callback_view(d.uow(), d.clock.now(), d.message_bus().ctx.callback_policy,
                         ticket_id, day)


def parse_window(text: str | None) -> PreferredWindow | None:
    if not text:
        return None
    try:
        window = PreferredWindow.parse(text)
    except ValueError as err:
        raise WorkflowError(str(err)) from None
    sane_day(window.day, "the window's day")
    return window


def booking_json(b: Booking | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {"id": b.id, "slot_start": b.slot.start.isoformat(), "slot_end": b.slot.end.isoformat(),
            "seat": b.seat, "status": b.status, "requested_by": b.requested_by}


def _answer(done: Booked, actor: Actor) -> dict[str, Any]:
    return {**summary(done.ticket, actor), "callback": booking_json(done.booking),
            "result": done.step}


class CallbackAsk(BaseModel):
    preferred: Window = None
    expected_version: Version = None


class CallbackOutcome(BaseModel):
    result: Literal["answered", "no_answer", "wrong_number", "asked_to_move"]
    note: str | None = Field(default=None, max_length=2000)
    #: asked_to_move: when the customer asked to be called
    preferred: Window = None
    expected_version: Version = None


@router.post("/{ticket_id}/request_callback")
async def ask_callback(ticket_id: TicketId, body: CallbackAsk, d: Deps,
                       actor: Staff) -> dict[str, Any]:
    done = await run_in_threadpool(d.handle, c.RequestCallback(
        actor=actor, ticket_id=ticket_id, window=parse_window(body.preferred),
        expected_version=body.expected_version))
    return _answer(done, actor)


@router.post("/{ticket_id}/book_callback")
async def book_callback(ticket_id: TicketId, body: CallbackAsk, d: Deps,
                        actor: Staff) -> dict[str, Any]:
    """A new slot for a callback the customer gave back (the agent books it for them, on the
    phone say): the next free one, or inside the preferred window."""
    done = await run_in_threadpool(d.handle, c.BookCallback(
        actor=actor, ticket_id=ticket_id, window=parse_window(body.preferred),
        expected_version=body.expected_version))
    return _answer(done, actor)


class CallbackMove(BaseModel):
    #: a slot start offered by ``GET …/callback`` (ISO 8601 with offset)
    slot: str | None = Field(default=None, max_length=40)
    preferred: Window = None
    #: required when neither slot nor window is given (the callback is released)
    reason: str | None = Field(default=None, max_length=500)
    expected_version: Version = None


@router.post("/{ticket_id}/move_callback")
async def move_callback(ticket_id: TicketId, body: CallbackMove, d: Deps,
                        actor: Staff) -> dict[str, Any]:
    """Give the booked slot back for the customer: with a slot or window the new one is booked
    at once; without, the callback is released (a reason is required), the customer is emailed
    a link to pick another time and the ticket waits on them."""
    done = await run_in_threadpool(d.handle, c.MoveCallback(
        actor=actor, ticket_id=ticket_id, window=parse_window(body.preferred),
        slot_start=parse_instant(body.slot) if body.slot else None, reason=body.reason,
        expected_version=body.expected_version))
    return _answer(done, actor)


@router.post("/{ticket_id}/callback_result")
async def callback_result(ticket_id: TicketId, body: CallbackOutcome, d: Deps,
                          actor: Staff) -> dict[str, Any]:
    done = await run_in_threadpool(d.handle, c.RecordCallResult(
        actor=actor, ticket_id=ticket_id, result=body.result, note=body.note,
        window=parse_window(body.preferred), expected_version=body.expected_version))
    return _answer(done, actor)


@router.get("/{ticket_id}/callback")
async def show_callback(ticket_id: TicketId, d: Deps, agent: Agent) -> dict[str, Any]:
    shown = await run_in_threadpool(read_callback, d, ticket_id)
    return {"state": shown.ticket.state.value, "booking": booking_json(shown.booking),
            "attempts": [{"at": a.at.isoformat(), "agent": a.agent, "result": a.result,
                          "cycle": a.cycle} for a in shown.attempts],
            "free_slots": {"day": shown.day.isoformat() if shown.day else None,
                           "slots": [s.start.isoformat() for s in shown.slots]}}
