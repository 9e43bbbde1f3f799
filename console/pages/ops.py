"""``/ops``: the supervisors' overview of queues and desk: every queue's depth, ready and
unacknowledged messages, consumers, utilisation, rates, dead letters and the age of the oldest
message where the application knows it; tickets per state, SLA at risk and breached, throughput
and time in state over 24 hours and 7 days, the oldest waiting ticket, the SLA scanner and the
relay. The figures are read at each request (the broker's from its management API, or passive
declares); the sparklines and charts from the history the scheduler's leader keeps in the
database (``workflow.adapters.ops_samples``).

``/ops/panel`` is the same without the page around it, for the page's htmx poller (``ops.js``
sets its interval and pause).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from console.deps import WebDeps
from console.pages.ops_view import overview_context
from console.pages.render import page
from console.sessions import Signed, deps, signed_in_page
from workflow.adapters.queries.ops_overview import ops_overview

router = APIRouter(include_in_schema=False)
Deps = Annotated[WebDeps, Depends(deps)]
Me = Annotated[Signed, Depends(signed_in_page)]
SUPERVISORS_ONLY = "the ops pages are for supervisors"
#: where the dead-letter list and its retry and discard actions live
DEAD_LETTERS = "/ops/dead-letters"


def refused_unless_supervisor(request: Request, me: Signed) -> HTMLResponse | None:
    if me.role == "supervisor":
        return None
    return page(request, "agent/refused.html", me, status=403, reason=SUPERVISORS_ONLY)


def _overview(d: WebDeps) -> dict[str, Any]:
    broker = d.broker() if d.broker is not None else None
    overview = ops_overview(d.db, d.uow().sla, d.clock.now(), broker, workers=d.workers)
    return {**overview_context(overview), "dead_letters_url": DEAD_LETTERS}


@router.get("/ops")
async def ops(request: Request, d: Deps, me: Me) -> HTMLResponse:
    refused = refused_unless_supervisor(request, me)
    if refused is not None:
        return refused
    context = await run_in_threadpool(_overview, d)
    return page(request, "agent/ops.html", me, **context)


@router.get("/ops/panel")
async def ops_panel(request: Request, d: Deps, me: Me) -> HTMLResponse:
    refused = refused_unless_supervisor(request, me)
    if refused is not None:
        return refused
    context = await run_in_threadpool(_overview, d)
    return page(request, "agent/ops_panel.html", me, **context)
