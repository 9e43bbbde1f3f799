"""Bulk actions on the queue (claim, release, reassign) and the keyboard's one-ticket claim.

A bulk action names its tickets by the ticks on the page or by the current filter. First a
confirmation page (a GET: nothing changes) states exactly how many tickets it will act on; the
POST from that page acts: one command per ticket through the bus, so each ticket gets the same
checks as a click on its own page, and each refusal is reported for its ticket ("3 claimed, 1
already claimed by bob"). If the filter matches a different number of tickets by the time the
agent confirms, nothing is done and the new count is confirmed again.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, QueryParams

from console.deps import WebDeps
from console.pages.queue import Deps, Me, refused, sla_book
from console.pages.queue_view import BadQuery, QueueQuery, printable
from console.pages.render import page
from console.sessions import Signed
from workflow.adapters import queries
from workflow.adapters.queries import accounts
from workflow.adapters.queries.queue_picks import Picked, picked
from workflow.domain.actors import may_fire
from workflow.domain.errors import (
    ConcurrencyConflict,
    GuardRefused,
    IllegalTransition,
    TicketNotFound,
    WorkflowError,
)
from workflow.service import commands as c

router = APIRouter(include_in_schema=False)
#: the most tickets one bulk action changes (a wider filter must be narrowed first)
BULK_MAX = 500
ACTIONS = {"claim": "Claim", "release": "Release", "reassign": "Assign"}
DONE = {"claim": "claimed", "release": "released"}
SCOPES = ("selected", "filter")
#: what a ticket id looks like (anything else names no ticket and is dropped)
TICKET_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Bulk:
    action: str
    scope: str
    ids: tuple[str, ...]
    query: QueueQuery
    to: str = ""

    @classmethod
    def parse(cls, params: QueryParams | FormData) -> Bulk:
        action, scope = str(params.get("action", "")), str(params.get("scope", "selected"))
        if action not in ACTIONS:
            raise BadQuery(f"unknown action {action[:40]!r}; use one of {', '.join(ACTIONS)}")
        if scope not in SCOPES:
            raise BadQuery("scope is selected or filter")
        ids = tuple(dict.fromkeys(v for v in map(str, params.getlist("ticket")) if TICKET_ID.fullmatch(v)))
        text: Mapping[str, str] = {k: v for k, v in params.items() if isinstance(v, str)}
        return cls(action, scope, ids[:BULK_MAX + 1] if scope == "selected" else (),
                   QueueQuery.parse(text), printable(str(params.get("to", ""))).strip()[:64])

    def verb(self) -> str:
        return f"assigned to {self.to}" if self.action == "reassign" else DONE[self.action]

    def command(self, me: Signed, ticket_id: str) -> c.TicketCommand[Any]:
        if self.action == "claim":
            return c.ClaimTicket(actor=me.actor, ticket_id=ticket_id)
        if self.action == "release":
            return c.ReleaseTicket(actor=me.actor, ticket_id=ticket_id)
        return c.Reassign(actor=me.actor, ticket_id=ticket_id, to_agent=self.to)


def _check(d: WebDeps, me: Signed, bulk: Bulk) -> str | None:
    """Why this agent may not make this bulk action at all (None: go on)."""
    if bulk.action == "reassign":
        if not may_fire(me.actor, "reassign"):
            return "only a supervisor may reassign tickets"
        if not bulk.to or accounts.agent_role(d.db, bulk.to) is None:
            return f"no enabled agent {bulk.to!r} to assign to" if bulk.to else "choose an agent"
    return None


def _count(d: WebDeps, me: Signed, bulk: Bulk) -> tuple[int, list[Picked]]:
    """How many tickets the action would change; the ticked ones by name."""
    if bulk.scope == "selected":
        found = picked(d.db, bulk.ids)
        return len(found), found
    filters = bulk.query.filters(me.login)
    return queries.count_matching(d.db, filters, book=sla_book(d), now=d.clock.now()), []


def _matching(d: WebDeps, me: Signed, bulk: Bulk) -> list[Picked]:
    """Every ticket the filter holds now, in queue order (at most ``BULK_MAX`` + 1)."""
    found: list[Picked] = []
    after: str | None = None
    while len(found) <= BULK_MAX:
        result = queries.queue_page(d.db, bulk.query.filters(me.login), book=sla_book(d),
                                    after=after, limit=200, now=d.clock.now())
        found += [Picked(r.id, r.reference, r.state, r.assignee) for r in result.rows]
        if result.next_cursor is None:
            break
        after = result.next_cursor
    return found


def why(err: WorkflowError) -> str:
    """A refusal as the result line reads it."""
    if isinstance(err, GuardRefused):
        return err.reason
    if isinstance(err, IllegalTransition):
        return f"cannot {err.trigger.replace('_', ' ')} a ticket that is {err.state}"
    if isinstance(err, ConcurrencyConflict):
        return "changed by someone else meanwhile; try again"
    if isinstance(err, TicketNotFound):
        return "no such ticket"
    return str(err)


@dataclass(frozen=True)
class Done:
    ticket: Picked
    ok: bool
    text: str


def act(d: WebDeps, me: Signed, bulk: Bulk, tickets: list[Picked]) -> list[Done]:
    """One command per ticket through the bus; a refusal stops only its own ticket."""
    done: list[Done] = []
    for t in tickets:
        try:
            d.handle(bulk.command(me, t.id))
            done.append(Done(t, True, bulk.verb()))
        except WorkflowError as err:
            done.append(Done(t, False, why(err)))
    return done


def summary(done: list[Done], verb: str) -> str:
    """``3 claimed, 1 already claimed by bob (…)``: successes first, then each refusal."""
    if not done:
        return "No ticket changed."
    ok = sum(1 for x in done if x.ok)
    refusals = Counter(x.text for x in done if not x.ok)
    parts = [f"{ok} {verb}"] if ok or not refusals else []
    return ", ".join(parts + [f"{n} {text}" for text, n in refusals.items()])


@router.get("/queue/bulk")
async def confirm(request: Request, d: Deps, me: Me) -> HTMLResponse:
    """What the action would do, and the button that does it."""
    try:
        bulk = Bulk.parse(request.query_params)
    except BadQuery as err:
        return refused(request, me, str(err))
    return await _confirmation(request, d, me, bulk)


async def _confirmation(request: Request, d: WebDeps, me: Signed, bulk: Bulk,
                        changed_from: int | None = None) -> HTMLResponse:
    problem = await run_in_threadpool(_check, d, me, bulk)
    if problem:
        return refused(request, me, problem, status=403 if "supervisor" in problem else 400)
    count, tickets = await run_in_threadpool(_count, d, me, bulk)
    return page(request, "agent/queue_bulk_confirm.html", me, bulk=bulk, count=count,
                tickets=tickets, label=ACTIONS[bulk.action], limit=BULK_MAX,
                changed_from=changed_from, back=bulk.query.url())


@router.post("/queue/bulk")
async def apply(request: Request, d: Deps, me: Me) -> HTMLResponse:
    """The confirmed action: the ticked tickets, or the filter's if it still holds as many."""
    form = await request.form()
    try:
        bulk = Bulk.parse(form)
        expected = int(str(form.get("expected", "")))
    except (BadQuery, ValueError) as err:
        return refused(request, me, str(err) if isinstance(err, BadQuery) else "confirm first")
    problem = await run_in_threadpool(_check, d, me, bulk)
    if problem:
        return refused(request, me, problem, status=403 if "supervisor" in problem else 400)
    if bulk.scope == "selected":
        tickets = await run_in_threadpool(picked, d.db, bulk.ids)
    else:
        tickets = await run_in_threadpool(_matching, d, me, bulk)
    if len(tickets) != expected or len(tickets) > BULK_MAX:
        return await _confirmation(request, d, me, bulk, changed_from=expected)
    done = await run_in_threadpool(act, d, me, bulk, tickets)
    return page(request, "agent/queue_bulk_done.html", me, done=done, bulk=bulk,
                summary=summary(done, bulk.verb()), back=bulk.query.url())


@router.post("/queue/claim")
async def claim(request: Request, d: Deps, me: Me) -> HTMLResponse:
    """The keyboard's ``a``: claim one ticket; the answer is a line for the page's status area,
    and an ``HX-Trigger`` that makes the page refresh its rows."""
    form = await request.form()
    ticket = str(form.get("ticket", ""))
    bulk = Bulk("claim", "selected", (ticket,), QueueQuery())
    tickets = await run_in_threadpool(picked, d.db, [ticket]) if TICKET_ID.fullmatch(ticket) else []
    done = await run_in_threadpool(act, d, me, bulk, tickets)
    text = (f"{done[0].ticket.reference}: {done[0].text}" if done
            else "That ticket no longer exists.")
    return page(request, "agent/queue_status.html", me, text=text,
                ok=bool(done and done[0].ok), headers={"HX-Trigger": "queue-refresh"})
