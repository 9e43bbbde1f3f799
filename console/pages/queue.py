"""``/queue``: the open tickets, the soonest first-reply deadline first, through the same read
model as ``GET /api/v1/tickets?sort=due`` (filters, live countdowns and paging come later)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from console.deps import WebDeps
from console.pages.render import page
from console.sessions import Signed, deps, signed_in_page
from workflow.adapters import queries

router = APIRouter(include_in_schema=False)
#: rows on one page until keyset paging arrives
LIMIT = 100


@router.get("/queue")
async def queue(request: Request, d: Annotated[WebDeps, Depends(deps)],
                me: Annotated[Signed, Depends(signed_in_page)]) -> HTMLResponse:
    tickets = await run_in_threadpool(queries.list_tickets, d.db, sort="due", limit=LIMIT)
    return page(request, "agent/queue.html", me, tickets=tickets, limit=LIMIT)
