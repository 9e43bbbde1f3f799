"""``/queue`` and ``/queue/escalating``: the open tickets, the earliest running SLA clock due
first, through the queue read model (``queries.queue_page``: keyset pages, filters, search,
countdowns in business time).

Each page has a fragment twin (``…/rows``: the table alone) that the page's htmx poller swaps
in, so the rows refresh without a reload; ``queue.js`` ticks the countdowns between refreshes
and drives the keyboard.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from console.deps import WebDeps
from console.pages.queue_view import (
    CHOICES,
    HORIZONS,
    BadQuery,
    QueueQuery,
    RowView,
    row_view,
)
from console.pages.render import page
from console.sessions import Signed, deps, signed_in_page
from workflow.adapters import queries
from workflow.adapters.queries import QueueFilters, accounts
from workflow.domain.actors import may_fire
from workflow.domain.ticket_sla import SlaBook

router = APIRouter(include_in_schema=False)
Deps = Annotated[WebDeps, Depends(deps)]
Me = Annotated[Signed, Depends(signed_in_page)]
#: rows on one page
LIMIT = 50
DEFAULT_HORIZON = 30
#: the escalating view's rows: the most urgent ones (more than an agent can act on anyway)
URGENT = 100


def sla_book(d: WebDeps) -> SlaBook:
    """The calendar and policies in force: the ones the bus's units of work reconcile the clocks
    with (building a unit of work opens no connection)."""
    return d.uow().sla


def refused(request: Request, me: Signed, reason: str, status: int = 400) -> HTMLResponse:
    return page(request, "agent/refused.html", me, status=status, reason=reason)


def _table(d: WebDeps, me: Signed, query: QueueQuery) -> dict[str, Any]:
    """The rows of one page of the queue and the links around it (``ValueError``: bad cursor)."""
    book, now = sla_book(d), d.clock.now()
    found = queries.queue_page(d.db, query.filters(me.login), book=book,
                               after=query.after or None, limit=LIMIT, now=now)
    rows = [row_view(r, now, book) for r in found.rows]
    return {"rows": rows, "query": query, "now": now.astimezone(book.calendar.zone),
            "next_url": query.url(after=found.next_cursor) if found.next_cursor else None,
            "first_url": query.url(after="") if query.after else None, "capped": False,
            "empty": "No ticket matches these filters." if query.narrowed else "No open tickets."}


def _controls(me: Signed, query: QueueQuery) -> dict[str, Any]:
    """The filter form's choices and what the bulk bar may offer this agent."""
    return {"choices": CHOICES, "may_reassign": may_fire(me.actor, "reassign"),
            "bulk_fields": [p for p in query.pairs() if p[0] != "after"]}


async def _queue_table(request: Request, d: WebDeps, me: Signed) -> dict[str, Any] | HTMLResponse:
    try:
        query = QueueQuery.parse(request.query_params)
        return await run_in_threadpool(_table, d, me, query)
    except ValueError as err:  # BadQuery, or a cursor not made here
        return refused(request, me, str(err) if isinstance(err, BadQuery)
                       else "this page link is no longer valid; start from the first page")


@router.get("/queue")
async def queue(request: Request, d: Deps, me: Me) -> HTMLResponse:
    table = await _queue_table(request, d, me)
    if isinstance(table, HTMLResponse):
        return table
    agents = await run_in_threadpool(_assignable, d, me)
    return page(request, "agent/queue.html", me, **table, **_controls(me, table["query"]),
                agents=agents, rows_url=table["query"].url("/queue/rows"))


@router.get("/queue/rows")
async def queue_rows(request: Request, d: Deps, me: Me) -> HTMLResponse:
    """The table alone, for the poller (and for a script that wants the rows)."""
    table = await _queue_table(request, d, me)
    if isinstance(table, HTMLResponse):
        return table
    return page(request, "agent/queue_table.html", me, **table)


def _assignable(d: WebDeps, me: Signed) -> list[str]:
    """Who a supervisor may hand tickets to (nobody, for an agent: no such control)."""
    if not may_fire(me.actor, "reassign"):
        return []
    return [a.login for a in accounts.list_agents(d.db) if a.active]


def _horizon(request: Request) -> int:
    raw = request.query_params.get("within", "")
    if not raw:
        return DEFAULT_HORIZON
    if not raw.isdigit() or int(raw) not in HORIZONS:
        raise BadQuery(f"within is one of {', '.join(map(str, HORIZONS))} (business minutes)")
    return int(raw)


def _escalating(d: WebDeps, me: Signed, within: int, mine: bool) -> dict[str, Any]:
    book, now = sla_book(d), d.clock.now()
    filters = QueueFilters(assignee=me.login if mine else None)
    found = queries.escalating_soon(d.db, book=book, within=timedelta(minutes=within),
                                    filters=filters, limit=URGENT, now=now)
    rows: list[RowView] = [row_view(r, now, book) for r in found]
    query = QueueQuery(mine=mine)
    return {"rows": rows, "query": query, "now": now.astimezone(book.calendar.zone),
            "next_url": None, "first_url": None,
            "capped": len(rows) >= URGENT, "within": within, "horizons": HORIZONS, "mine": mine,
            "empty": f"Nothing is due within {within} business minutes, and nothing is breached."}


async def _escalating_table(request: Request, d: WebDeps,
                            me: Signed) -> dict[str, Any] | HTMLResponse:
    try:
        within = _horizon(request)
    except BadQuery as err:
        return refused(request, me, str(err))
    mine = request.query_params.get("mine", "") in ("1", "on", "true")
    return await run_in_threadpool(_escalating, d, me, within, mine)


def _escalating_url(path: str, within: int, mine: bool) -> str:
    return f"{path}?within={within}" + ("&mine=1" if mine else "")


@router.get("/queue/escalating")
async def escalating(request: Request, d: Deps, me: Me) -> HTMLResponse:
    """Running clocks due within N business minutes, and breached ones: soonest first."""
    table = await _escalating_table(request, d, me)
    if isinstance(table, HTMLResponse):
        return table
    url = _escalating_url("/queue/escalating/rows", table["within"], table["mine"])
    return page(request, "agent/queue_escalating.html", me, **table, rows_url=url)


@router.get("/queue/escalating/rows")
async def escalating_rows(request: Request, d: Deps, me: Me) -> HTMLResponse:
    table = await _escalating_table(request, d, me)
    if isinstance(table, HTMLResponse):
        return table
    return page(request, "agent/queue_table.html", me, **table)
