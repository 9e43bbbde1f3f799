"""The customer's remote-session pages after Agree: the live status (the agent's proposed
changes, each to confirm or decline, polled by htmx with a pause control), "End session" with
its confirmation, and the page every end leads to, with the steps to close the remote tool.

The session token is the cookie's (``customer_session_kit``); the answers and the end run the
same commands as the JSON API. The poll answers 204 when nothing changed, so a screen reader
hears a change only when there is one and the focused button is not replaced under the user.
"""

from __future__ import annotations

import hashlib
from contextlib import suppress
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from console import rendering
from console.auth import deps
from console.deps import WebDeps
from console.inputs import RowId
from console.routes import customer_session_kit as kit
from workflow.adapters.queries.customer_session import CustomerSession, customer_session
from workflow.domain.actors import CUSTOMER
from workflow.domain.errors import WorkflowError
from workflow.service import commands as c
from workflow.service import remote_sessions as rs

router = APIRouter(prefix=kit.PATH, include_in_schema=False, dependencies=[
    Depends(kit.same_site)])
Deps = Annotated[WebDeps, Depends(deps)]
Text = Annotated[str, Form()]
Held = tuple[str, int, str]
POLL_SECONDS = 2
#: how often an open, updating live page counts as the customer's activity (a write)
PRESENCE_EVERY = timedelta(seconds=60)
ENDED = f"{kit.PATH}/ended"


def _htmx(request: Request) -> bool:
    return "hx-request" in request.headers


def _away(request: Request, path: str) -> Response:
    """To another page: htmx follows ``HX-Redirect`` with a full page load."""
    if _htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": path})
    return kit.go(path)


async def _current(request: Request, d: WebDeps) -> tuple[Held, CustomerSession] | Response:
    """The cookie's session and what the page shows of it, or the page to show instead."""
    held = kit.session_of(request, d)
    view = None
    if held is not None:
        view = await run_in_threadpool(customer_session, d.uow(), d.db, held[0], held[1])
    if view is not None and held is not None:
        return held, view
    if _htmx(request):
        return _away(request, f"{kit.PATH}/live")
    if kit.COOKIE not in request.cookies:
        return kit.go(kit.PATH)
    return kit.expired(request, d)


async def _present(d: WebDeps, held: Held, view: CustomerSession) -> None:
    """The live page open and updating counts as the customer's activity (as the JSON API's
    ping does), at most once per ``PRESENCE_EVERY``: a customer watching the page while the
    agent works is not idle."""
    last = view.last_activity_at
    if last is not None and d.clock.now() - last < PRESENCE_EVERY:
        return
    with suppress(WorkflowError):  # ended meanwhile: the next poll shows it
        await run_in_threadpool(d.handle, c.TouchSession(actor=CUSTOMER, ticket_id=held[0],
                                                         session_id=held[1]))


def _digest(view: CustomerSession, paused: bool) -> str:
    seen = repr((paused, [(s.id, s.decision) for s in view.steps]))
    return hashlib.sha256(seen.encode()).hexdigest()[:16]


def _live(request: Request, d: WebDeps, held: Held, view: CustomerSession, *, paused: bool,
          fragment: bool, answered: int | None = None) -> HTMLResponse:
    lang = kit.language(request, view.language)
    template = "session_status.html" if fragment else "session_live.html"
    return kit.page(request, d, template, lang, view=view, paused=paused,
                    digest=_digest(view, paused), csrf=kit.csrf_for(d, held[2]),
                    poll=POLL_SECONDS, answered=answered)


@router.get("/live")
async def live(request: Request, d: Deps, paused: bool = False) -> Response:
    found = await _current(request, d)
    if isinstance(found, Response):
        return found
    held, view = found
    if not view.running:
        return kit.go(ENDED)
    return _live(request, d, held, view, paused=paused, fragment=False)


@router.get("/status")
async def status(request: Request, d: Deps, paused: bool = False, seen: str = "") -> Response:
    """The polled part of the live page; 204 when the customer already sees this."""
    found = await _current(request, d)
    if isinstance(found, Response):
        return found
    held, view = found
    if not view.running:
        return _away(request, ENDED)
    if not paused:
        await _present(d, held, view)
    if seen and seen == _digest(view, paused):
        return Response(status_code=204, headers=rendering.HEADERS)
    return _live(request, d, held, view, paused=paused, fragment=True)


def _checked(d: WebDeps, held: Held, csrf: str) -> None:
    if not kit.csrf_ok(d, held[2], csrf):
        raise HTTPException(403, "this page has expired: reload it and try again")


@router.post("/steps/{step_id}")
async def answer(step_id: RowId, request: Request, d: Deps, decision: Text = "",
                 csrf_token: Text = "", paused: Text = "") -> Response:
    """Confirm or decline one proposed change (a declined network change is emailed)."""
    found = await _current(request, d)
    if isinstance(found, Response):
        return found
    held, _ = found
    _checked(d, held, csrf_token)
    if decision not in rs.DECISIONS:
        raise HTTPException(400, "the answer is confirmed or declined")
    try:
        await run_in_threadpool(d.handle, c.AnswerSessionStep(
            actor=CUSTOMER, ticket_id=held[0], session_id=held[1], step_id=step_id,
            decision=decision))
    except rs.SessionGone:
        return _away(request, ENDED)
    except WorkflowError:
        pass  # answered already (another tab): the page shows the answer that stands
    if not _htmx(request):
        return kit.go(f"{kit.PATH}/live")
    view = await run_in_threadpool(customer_session, d.uow(), d.db, held[0], held[1])
    if view is None or not view.running:
        return _away(request, ENDED)
    return _live(request, d, held, view, paused=paused == "1", fragment=True,
                 answered=step_id)


@router.get("/end")
async def confirm_end(request: Request, d: Deps) -> Response:
    """End session asks first."""
    found = await _current(request, d)
    if isinstance(found, Response):
        return found
    held, view = found
    if not view.running:
        return kit.go(ENDED)
    return kit.page(request, d, "session_end.html", kit.language(request, view.language),
                    csrf=kit.csrf_for(d, held[2]))


@router.post("/end")
async def end(request: Request, d: Deps, csrf_token: Text = "") -> Response:
    found = await _current(request, d)
    if isinstance(found, Response):
        return found
    held, _ = found
    _checked(d, held, csrf_token)
    with suppress(rs.SessionGone):  # the agent or the time-out ended it first: same page
        await run_in_threadpool(d.handle, c.EndRemoteSession(
            actor=CUSTOMER, ticket_id=held[0], resolved=False,
            reason="customer ended the session", session_id=held[1]))
    return kit.go(ENDED)


@router.get("/ended")
async def ended(request: Request, d: Deps) -> Response:
    """However it ended: who ended it, and how to close the remote-support tool."""
    found = await _current(request, d)
    if isinstance(found, Response):
        return found
    _, view = found
    if view.running:
        return kit.go(f"{kit.PATH}/live")
    return kit.page(request, d, "session_ended.html", kit.language(request, view.language),
                    view=view)
