"""``/tickets/{reference}``: one ticket, and the moves this page makes on it (claim, release,
take over, reassign, resolve, abandon, reopen, reject).

Every move is a command with the signed-in actor and the version the page showed; the bus asks
the declaration whether the actor may make it and the version check settles races. A refusal
is never an error page: the ticket is shown again, fresh, with what happened ("Already claimed
by bob.") and a link to reload it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from console.deps import WebDeps
from console.inputs import TicketId
from console.pages.render import page
from console.pages.ticket_view import DESTRUCTIVE, PLAIN, REJECTIONS, page_context
from console.sessions import Signed, deps, signed_in_page
from workflow.adapters.queries import ticket_page
from workflow.domain.errors import (
    ActorRefused,
    ConcurrencyConflict,
    GuardRefused,
    IllegalTransition,
    NotFound,
    TicketNotFound,
    WorkflowError,
)
from workflow.domain.states import Outcome
from workflow.domain.ticket import Ticket
from workflow.service import commands as c

router = APIRouter(include_in_schema=False)
Deps = Annotated[WebDeps, Depends(deps)]
Me = Annotated[Signed, Depends(signed_in_page)]
#: a version the page showed (absent: a stale or hand-made form; refused)
VersionField = Annotated[int | None, Form(ge=0, le=2**31 - 1)]
ReasonField = Annotated[str, Form(max_length=500)]
COMMANDS: dict[str, Callable[..., c.TicketCommand[Ticket]]] = {
    "claim": c.ClaimTicket, "release": c.ReleaseTicket, "take_over": c.TakeOver,
    "resolve": c.Resolve, "abandon": c.Abandon, "reopen": c.Reopen}
assert set(COMMANDS) == set(PLAIN)


async def show(request: Request, d: WebDeps, me: Signed, key: str, *, status: int = 200,
               alert: str | None = None, **extra: Any) -> HTMLResponse:
    """The ticket page (with ``alert`` on top when something was refused); 404 page when
    there is no such ticket."""
    try:
        context = await run_in_threadpool(page_context, d, me.actor, me.csrf, key)
    except TicketNotFound:
        return page(request, "agent/ticket_missing.html", me, status=404, key=key)
    reply = {"message": "", "warning": None, "confirmed": False, "then": "",
             "version": context["t"].version, **extra.pop("reply", {})}
    return page(request, "agent/ticket.html", me, status=status, alert=alert, reply=reply,
                **context, **extra)


@router.get("/tickets/{ticket_id}")
async def ticket(ticket_id: TicketId, request: Request, d: Deps, me: Me) -> HTMLResponse:
    return await show(request, d, me, ticket_id)


def refusal(err: WorkflowError, trigger: str, fresh: Ticket | None, me: str) -> tuple[int, str]:
    """(status, what the agent reads) for a move the desk refused."""
    if isinstance(err, ConcurrencyConflict):
        holder = fresh.assignee if fresh is not None else None
        if trigger in ("claim", "take_over") and holder:
            return 409, ("You hold this ticket already." if holder == me
                         else f"Already claimed by {holder}.")
        return 409, ("Someone changed this ticket since you opened it, so nothing was done. "
                     "Check the ticket as it is now and try again.")
    if isinstance(err, GuardRefused):
        return 409, err.reason[:1].upper() + err.reason[1:] + "."
    if isinstance(err, IllegalTransition):
        return 409, str(err)
    if isinstance(err, ActorRefused):
        return 403, str(err)
    if isinstance(err, (TicketNotFound, NotFound)):
        return 404, str(err)
    return 422, str(err)


async def act(request: Request, d: WebDeps, me: Signed, key: str, trigger: str,
              build: Callable[[Ticket], c.Command[Any]]) -> Response:
    """Hand the command ``build`` makes to the bus; back to the ticket on success, else the
    ticket as it is now with the refusal."""
    try:
        current = await run_in_threadpool(ticket_page.ticket_by_key, d.db, key)
        await run_in_threadpool(d.handle, build(current))
    except WorkflowError as err:
        if err.transient:
            raise
        fresh = await _fresh(d, key)
        status, text = refusal(err, trigger, fresh, me.login)
        return await show(request, d, me, key, status=status, alert=text)
    return RedirectResponse(f"/tickets/{current.reference}", status_code=303)


async def _fresh(d: WebDeps, key: str) -> Ticket | None:
    try:
        return await run_in_threadpool(ticket_page.ticket_by_key, d.db, key)
    except TicketNotFound:
        return None


async def refuse_form(request: Request, d: WebDeps, me: Signed, key: str, text: str) -> Response:
    return await show(request, d, me, key, status=422, alert=text)


STALE = "This form came without the ticket's version: reload the ticket and try again."


@router.post("/tickets/{ticket_id}/move/{trigger}")
async def move(ticket_id: TicketId, trigger: Annotated[str, Path(max_length=40)],
               request: Request, d: Deps, me: Me, expected_version: VersionField = None,
               reason: ReasonField = "") -> Response:
    """A plain move. The ones that end the ticket need a reason (their form asks for it, with
    a confirmation)."""
    if trigger not in COMMANDS:
        return await refuse_form(request, d, me, ticket_id, f"This page has no {trigger} move.")
    if expected_version is None:
        return await refuse_form(request, d, me, ticket_id, STALE)
    if trigger in DESTRUCTIVE and not reason.strip():
        return await refuse_form(request, d, me, ticket_id,
                                 f"Give a reason to {trigger.replace('_', ' ')} the ticket.")
    command = COMMANDS[trigger]
    extra = {"reason": reason.strip() or None} if trigger != "claim" else {}
    return await act(request, d, me, ticket_id, trigger, lambda t: command(
        actor=me.actor, ticket_id=t.id, expected_version=expected_version, **extra))


@router.post("/tickets/{ticket_id}/reassign")
async def reassign(ticket_id: TicketId, request: Request, d: Deps, me: Me,
                   to: Annotated[str, Form(max_length=64)] = "",
                   expected_version: VersionField = None, reason: ReasonField = "") -> Response:
    """A supervisor hands the ticket to another agent, picked from the enabled ones."""
    if expected_version is None:
        return await refuse_form(request, d, me, ticket_id, STALE)
    if not to:
        return await refuse_form(request, d, me, ticket_id, "Pick the agent to reassign it to.")
    return await act(request, d, me, ticket_id, "reassign", lambda t: c.Reassign(
        actor=me.actor, ticket_id=t.id, to_agent=to, expected_version=expected_version,
        reason=reason.strip() or None))


@router.post("/tickets/{ticket_id}/reject")
async def reject(ticket_id: TicketId, request: Request, d: Deps, me: Me,
                 outcome: Annotated[str, Form(max_length=40)] = "",
                 expected_version: VersionField = None, reason: ReasonField = "") -> Response:
    """Close the ticket rejected, with the outcome and the reason picked (the declaration
    decides who may)."""
    if expected_version is None:
        return await refuse_form(request, d, me, ticket_id, STALE)
    if outcome not in REJECTIONS or not reason.strip():
        return await refuse_form(request, d, me, ticket_id,
                                 "Pick why the ticket is rejected and give a reason.")
    return await act(request, d, me, ticket_id, "reject", lambda t: c.RejectTicket(
        actor=me.actor, ticket_id=t.id, outcome=Outcome(outcome),
        expected_version=expected_version, reason=reason.strip()))
