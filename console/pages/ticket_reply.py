"""Writing on the ticket page: canned replies, the preview, sending (and going on to the next
ticket), macros (a reply and a move) and internal notes, each a command on the bus.

No lock keeps two agents from writing at once (a lock left by a closed tab blocks everyone);
instead, before a reply goes out, the agent is warned when someone else is typing on the ticket
or the ticket changed since the page was loaded, and must send a second time.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from console.deps import WebDeps
from console.inputs import TicketId
from console.pages.render import page
from console.pages.ticket import COMMANDS, STALE, VersionField, refusal, refuse_form, show
from console.pages.ticket_view import (
    DESTRUCTIVE,
    LABELS,
    LANGUAGE_NAMES,
    language_of,
    others_on,
)
from console.sessions import Signed, deps, signed_in_page
from workflow.adapters import queries
from workflow.adapters.queries import canned, ticket_page, timeline
from workflow.domain.canned_replies import fill, placeholders_of
from workflow.domain.errors import ConcurrencyConflict, TicketNotFound, WorkflowError
from workflow.domain.ticket import Ticket
from workflow.service import commands as c

router = APIRouter(include_in_schema=False)
Deps = Annotated[WebDeps, Depends(deps)]
Me = Annotated[Signed, Depends(signed_in_page)]
Message = Annotated[str, Form(max_length=4000)]
#: how far down the queue "Send and go to next" looks for a ticket this agent can take
NEXT_LOOKAHEAD = 50


async def _ticket(d: WebDeps, key: str) -> Ticket:
    return await run_in_threadpool(ticket_page.ticket_by_key, d.db, key)


@router.get("/tickets/{ticket_id}/canned")
async def canned_reply(ticket_id: TicketId, request: Request, d: Deps, me: Me,
                       name: Annotated[str, Query(alias="canned", max_length=64)] = "",
                       version: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> HTMLResponse:
    """The reply box holding the canned reply ``name`` in the ticket's language, with the
    ticket's data in its placeholders (an empty box for no name)."""
    t = await _ticket(d, ticket_id)
    text = ""
    reply = canned.canned_library().replies.get(name)
    if reply is not None:
        text = fill(reply.text(language_of(t)), placeholders_of(t.data, t.reference, me.login))
    return page(request, "agent/ticket_message.html", me, t=t, message=text, version=version)


@router.post("/tickets/{ticket_id}/preview")
async def preview(ticket_id: TicketId, request: Request, d: Deps, me: Me,
                  message: Message = "") -> HTMLResponse:
    """The reply exactly as it will be sent (escaped: what the agent typed is text)."""
    t = await _ticket(d, ticket_id)
    requester = t.data.get("requester") if isinstance(t.data.get("requester"), dict) else {}
    return page(request, "agent/ticket_preview.html", me, t=t, message=message.strip(),
                to=(requester or {}).get("email"),
                language_name=LANGUAGE_NAMES.get(language_of(t), t.language))


def heads_up(d: WebDeps, t: Ticket, me: str, seen_version: int) -> str | None:
    """Why the agent should look again before sending, if anyone is typing or the ticket
    changed since the page showed ``seen_version``."""
    reasons = []
    typing = [p.login for p in others_on(d, t.id, me) if p.activity == "typing"]
    if typing:
        reasons.append(f"{', '.join(typing)} {'is' if len(typing) == 1 else 'are'} typing "
                       "a reply to this ticket right now.")
    if t.version != seen_version:
        moves = [e for e in timeline.timeline(d.db, t.id) if e.kind == "move"]
        last = f" (latest: {moves[-1].text} by {moves[-1].actor})" if moves else ""
        reasons.append(f"The ticket changed since you opened it{last}; it is shown as it "
                       "is now.")
    return " ".join(reasons) or None


def next_ticket(d: WebDeps, me: str, current: str) -> str | None:
    """The first ticket in queue order, after this one, that this agent can take."""
    rows = queries.queue_page(d.db, queries.QueueFilters(), book=d.uow().sla,
                              limit=NEXT_LOOKAHEAD, now=d.clock.now()).rows
    return next((r.reference for r in rows
                 if r.id != current and r.assignee in (None, me)), None)


@router.post("/tickets/{ticket_id}/reply")
async def reply(ticket_id: TicketId, request: Request, d: Deps, me: Me,
                message: Message = "", expected_version: VersionField = None,
                confirmed: Annotated[str, Form(max_length=1)] = "",
                then: Annotated[str, Form(max_length=8)] = "stay") -> Response:
    state: dict[str, Any] = {"message": message}
    if expected_version is None:
        return await refuse_form(request, d, me, ticket_id, STALE)
    if not message.strip():
        return await show(request, d, me, ticket_id, status=422, reply=state,
                          alert="Write the reply first.")
    t = await _ticket(d, ticket_id)
    warning = None if confirmed else await run_in_threadpool(
        heads_up, d, t, me.login, expected_version)
    if warning is None:
        try:
            await run_in_threadpool(d.handle, c.Reply(
                actor=me.actor, ticket_id=t.id, message=message,
                expected_version=expected_version))
        except ConcurrencyConflict:  # changed between the warning and the second click
            fresh = await _ticket(d, ticket_id)
            warning = await run_in_threadpool(heads_up, d, fresh, me.login, expected_version)
        except WorkflowError as err:
            if err.transient:
                raise
            status, text = refusal(err, "reply", None, me.login)
            return await show(request, d, me, ticket_id, status=status, alert=text, reply=state)
    if warning is not None:
        return await show(request, d, me, ticket_id, status=409, reply={
            **state, "warning": warning, "confirmed": True})
    target = await run_in_threadpool(next_ticket, d, me.login, t.id) if then == "next" else None
    if then == "next":
        return RedirectResponse(f"/tickets/{target}" if target else "/queue", status_code=303)
    return RedirectResponse(f"/tickets/{t.reference}", status_code=303)


@router.post("/tickets/{ticket_id}/macro/review")
async def review_macro(ticket_id: TicketId, request: Request, d: Deps, me: Me,
                       macro: Annotated[str, Form(max_length=64)] = "") -> HTMLResponse:
    """The confirmation step of a macro: its text filled in (editable) and the move after."""
    t = await _ticket(d, ticket_id)
    found = canned.canned_library().macros.get(macro)
    if found is None:
        return HTMLResponse('<p class="error" role="alert">No such macro.</p>', status_code=404)
    text = fill(found.text(language_of(t)), placeholders_of(t.data, t.reference, me.login))
    return page(request, "agent/ticket_macro.html", me, t=t, macro=found, text=text,
                labels=LABELS, destructive=DESTRUCTIVE,
                language_name=LANGUAGE_NAMES.get(language_of(t), t.language))


@router.post("/tickets/{ticket_id}/macro")
async def apply_macro(ticket_id: TicketId, request: Request, d: Deps, me: Me,
                      macro: Annotated[str, Form(max_length=64)] = "", message: Message = "",
                      reason: Annotated[str, Form(max_length=500)] = "",
                      expected_version: VersionField = None) -> Response:
    """The reply, then the macro's move on the version the reply left: two commands, so the
    declaration decides each one."""
    found = canned.canned_library().macros.get(macro)
    if expected_version is None:
        return await refuse_form(request, d, me, ticket_id, STALE)
    if found is None or found.move not in COMMANDS:
        return await refuse_form(request, d, me, ticket_id, "There is no such macro.")
    if not message.strip() or (found.move in DESTRUCTIVE and not reason.strip()):
        return await refuse_form(request, d, me, ticket_id,
                                 "A macro needs its reply and, when it closes the ticket, a reason.")
    t = await _ticket(d, ticket_id)
    try:
        after = await run_in_threadpool(d.handle, c.Reply(
            actor=me.actor, ticket_id=t.id, message=message, expected_version=expected_version))
    except WorkflowError as err:
        if err.transient:
            raise
        status, text = refusal(err, "reply", None, me.login)
        return await show(request, d, me, ticket_id, status=status, alert=text)
    command = COMMANDS[found.move]
    extra = {"reason": reason.strip() or None} if found.move != "claim" else {}
    try:
        await run_in_threadpool(d.handle, command(
            actor=me.actor, ticket_id=t.id, expected_version=after.version, **extra))
    except WorkflowError as err:
        if err.transient:
            raise
        _, text = refusal(err, found.move, None, me.login)
        return await show(request, d, me, ticket_id, status=409,
                          alert=f"The reply was sent, but not the {LABELS[found.move].lower()}: "
                                f"{text}")
    return RedirectResponse(f"/tickets/{t.reference}", status_code=303)


@router.post("/tickets/{ticket_id}/notes")
async def add_note(ticket_id: TicketId, request: Request, d: Deps, me: Me,
                   body: Annotated[str, Form(max_length=4000)] = "") -> Response:
    """An internal note (agents only, never emailed)."""
    try:
        t = await _ticket(d, ticket_id)
        await run_in_threadpool(d.handle, c.AddNote(actor=me.actor, ticket_id=t.id, body=body))
    except TicketNotFound:
        return await show(request, d, me, ticket_id)
    except WorkflowError as err:
        if err.transient:
            raise
        status, text = refusal(err, "note", None, me.login)
        return await show(request, d, me, ticket_id, status=status, alert=text)
    return RedirectResponse(f"/tickets/{t.reference}#timeline-h", status_code=303)
