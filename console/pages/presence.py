"""The ticket page's heartbeat: every ~10 s (and while typing a reply) the page tells the desk
this agent is here, and is answered with who else is ("Also viewing: bob (typing…)") and
whether the ticket changed since the page was loaded. Stored with a time-to-live in the
database (``workflow.service.presence``), so agents on different ``serve`` processes see each
other, and an agent who closed the page drops out on their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from console.deps import WebDeps
from console.inputs import TicketId
from console.pages.render import page
from console.pages.ticket_view import others_on
from console.sessions import Signed, deps, signed_in_page
from workflow.adapters.queries import ticket_page
from workflow.service.commands import MarkPresence
from workflow.service.presence import ACTIVITIES

router = APIRouter(include_in_schema=False)


@router.post("/tickets/{ticket_id}/presence")
async def heartbeat(ticket_id: TicketId, request: Request,
                    d: Annotated[WebDeps, Depends(deps)],
                    me: Annotated[Signed, Depends(signed_in_page)],
                    activity: Annotated[str, Form(max_length=12)] = "viewing",
                    version: Annotated[int | None, Form(ge=0, le=2**31 - 1)] = None
                    ) -> HTMLResponse:
    t = await run_in_threadpool(ticket_page.ticket_by_key, d.db, ticket_id)
    activity = activity if activity in ACTIVITIES else "viewing"
    await run_in_threadpool(d.handle, MarkPresence(actor=me.actor, ticket_id=t.id,
                                                   activity=activity))
    others = await run_in_threadpool(others_on, d, t.id, me.login)
    return page(request, "agent/ticket_presence.html", me, t=t, others=others,
                changed=version is not None and version != t.version)
