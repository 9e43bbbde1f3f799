"""The resolution panels' routes: ``/tickets/{reference}/…`` form posts (CSRF-checked, as every
change made with the session cookie) that each build one command for the bus.

A move that went through answers a plain form with ``303`` back to the ticket page, and htmx with
``HX-Refresh`` (the page, its state, timeline and buttons, is read again). A refusal is shown in
the panel in plain words: htmx gets the re-rendered panel (status 200, since htmx swaps no error
answer), a plain form a page with the panel and the status (403, 404, 409, 422, 503). Issuing a
remote-session code answers the panel with the code in it: it is shown there once, never
stored in clear, so it cannot survive a redirect.

Every path has at least two segments after the reference, so a generic
``POST /tickets/{reference}/{trigger}`` of the ticket page never shadows one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from console.deps import WebDeps
from console.inputs import MAX_FORM_BYTES, parse_instant, sane_day
from console.pages.render import HEADERS, page
from console.rendering import templates
from console.routes import resolution_forms as forms
from console.routes.resolution_view import panel_context, size_text
from console.sessions import CSRF_HEADER, Signed, deps, signed_in_page
from workflow.adapters import queries
from workflow.adapters.queries.sessions import session_status
from workflow.domain.errors import TicketNotFound, WorkflowError
from workflow.service import commands as c

router = APIRouter(prefix="/tickets/{reference}", include_in_schema=False)
Reference = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Deps = Annotated[WebDeps, Depends(deps)]
Me = Annotated[Signed, Depends(signed_in_page)]
#: how long the live session area waits between two looks
POLL_SECONDS = 2


def small_body(request: Request) -> None:
    """Before the session check reads the form for its CSRF field: a bounded body only."""
    forms.bounded(request, MAX_FORM_BYTES)


def key_body(request: Request, d: Deps) -> None:
    """An upload over the limit is refused unread: in the panel when the request carries its
    CSRF token in the header (htmx; the session check then reads no form), else with 413."""
    limit = d.message_bus().ctx.key_policy.max_file_bytes
    try:
        forms.bounded(request, limit + forms.FORM_OVERHEAD)
    except HTTPException:
        if CSRF_HEADER not in request.headers:
            raise
        request.state.too_large = (f"The file is too large: send at most {size_text(limit)}.")


Small = Annotated[None, Depends(small_body)]
Upload = Annotated[None, Depends(key_body)]
Build = Callable[[str, FormData], c.Command[Any]]


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _base(request: Request) -> str:
    return str(request.base_url)


async def _panel(request: Request, d: WebDeps, reference: str, me: Signed, *, status: int = 200,
                 **extra: Any) -> Response:
    """The panel: a fragment for htmx, else a page around it (the refusals' page too)."""
    context = await run_in_threadpool(panel_context, d, reference, me.actor, me.csrf,
                                      _base(request), **extra)
    if _is_htmx(request):
        return templates.TemplateResponse(request, "agent/resolution_panel.html", context,
                                          status_code=200, headers=HEADERS)
    return page(request, "agent/resolution.html", me, status=status, **context)


async def _act(request: Request, d: WebDeps, reference: str, me: Signed, panel: str,
               build: Build) -> Response:
    """Read the form, build the command, hand it to the bus; the answer as the module says."""
    form = await request.form()
    try:
        ticket_id = await run_in_threadpool(_ticket_id, d, reference)
        done = await run_in_threadpool(d.handle, build(ticket_id, form))
    except TicketNotFound:
        return _missing(request, reference)
    except (WorkflowError, HTTPException) as err:
        return await _panel(request, d, reference, me, status=forms.status_of(err),
                            error=forms.plain(err), error_panel=panel,
                            values=forms.kept(form))
    return await _after(request, d, reference, me, panel, done)


async def _after(request: Request, d: WebDeps, reference: str, me: Signed, panel: str,
                 done: object) -> Response:
    if isinstance(done, forms.IssuedCode):
        return await _panel(request, d, reference, me, issued=done)
    if panel == "steps":
        return await _panel(request, d, reference, me,
                            notice="Change proposed: the customer's answer shows below.")
    if _is_htmx(request):
        return Response(status_code=200, headers={"HX-Refresh": "true", **HEADERS})
    return RedirectResponse(f"/tickets/{reference}", status_code=303)


def _ticket_id(d: WebDeps, reference: str) -> str:
    return str(queries.ticket_details(d.db, reference)["id"])


def _missing(request: Request, reference: str) -> HTMLResponse:
    return page(request, "agent/refused.html", None, status=404,
                reason=f"There is no ticket {reference}.")


@router.get("/resolution")
async def resolution(request: Request, reference: Reference, d: Deps, me: Me,
                     day: Annotated[date | None, Query()] = None) -> Response:
    """The panels with their data (the ticket page's include loads this); ``day``: the free
    slots from that day on."""
    try:
        return await _panel(request, d, reference, me, day=sane_day(day) if day else None)
    except TicketNotFound:
        return _missing(request, reference)


@router.get("/session/live")
async def session_live(request: Request, reference: Reference, d: Deps, me: Me,
                       phase: Annotated[str, Query(max_length=10)] = "") -> Response:
    """The consent and the steps' answers, polled by the panel. When the session moved on from
    the ``phase`` the page shows (the customer agreed, the session ended), the page is read
    again; with nothing left to watch, htmx is told to stop polling (286)."""
    try:
        ticket = await run_in_threadpool(queries.ticket_details, d.db, reference)
    except TicketNotFound:
        return _missing(request, reference)
    status = await run_in_threadpool(session_status, d.uow(), d.db, str(ticket["id"]),
                                     d.clock.now())
    if status.phase != phase:
        refresh = {"HX-Refresh": "true"} if _is_htmx(request) else {}
        return Response(status_code=286, headers={**refresh, **HEADERS})
    return templates.TemplateResponse(
        request, "agent/panel_session_live.html",
        {"ticket": ticket, "s": status, "poll": POLL_SECONDS, "zone": d.uow().sla.calendar.zone},
        headers=HEADERS)


@router.post("/key/send")
async def send_key(request: Request, reference: Reference, _: Upload, d: Deps,
                   me: Me) -> Response:
    too_large = getattr(request.state, "too_large", None)
    if too_large:
        return await _panel(request, d, reference, me, status=413, error=too_large,
                            error_panel="key")
    limit = d.message_bus().ctx.key_policy.max_file_bytes
    async with request.form(max_files=1, max_fields=8) as form:
        upload = form.get("file")
        named = isinstance(upload, UploadFile) and bool(upload.filename)
        content = await upload.read(limit + 1) if named and isinstance(upload, UploadFile) \
            else None

        def build(tid: str, fields: FormData) -> c.Command[Any]:
            return c.SendKey(actor=me.actor, ticket_id=tid,
                             artifact=forms.artifact(fields, upload, content, limit),
                             expected_version=forms.version(fields), link_base=_base(request))

        return await _act(request, d, reference, me, "key", build)


@router.post("/callback/book")
async def book_callback(request: Request, reference: Reference, _: Small, d: Deps,
                        me: Me) -> Response:
    """Book the picked slot: a queued ticket's callback (request_callback), or a new time for
    one given back (book_callback)."""
    def build(tid: str, form: FormData) -> c.Command[Any]:
        slot = parse_instant(forms.required(form, "slot", "Pick a time."))
        version = forms.version(form)
        if forms.field(form, "move") == "book":
            return c.BookCallback(actor=me.actor, ticket_id=tid, slot_start=slot,
                                  expected_version=version)
        return c.RequestCallback(actor=me.actor, ticket_id=tid, slot_start=slot,
                                 expected_version=version)
    return await _act(request, d, reference, me, "callback", build)


@router.post("/callback/move")
async def move_callback(request: Request, reference: Reference, _: Small, d: Deps,
                        me: Me) -> Response:
    def build(tid: str, form: FormData) -> c.Command[Any]:
        slot = parse_instant(forms.required(form, "slot", "Pick the new time."))
        return c.MoveCallback(actor=me.actor, ticket_id=tid, slot_start=slot,
                              reason=forms.field(form, "reason") or None,
                              expected_version=forms.version(form))
    return await _act(request, d, reference, me, "callback", build)


@router.post("/callback/release")
async def release_callback(request: Request, reference: Reference, _: Small, d: Deps,
                           me: Me) -> Response:
    """Give the booked slot back without a new one: confirmed, with a reason."""
    def build(tid: str, form: FormData) -> c.Command[Any]:
        forms.confirmed(form, "Tick the box to confirm the release.")
        reason = forms.required(form, "reason", "Say why the callback is released.")
        return c.MoveCallback(actor=me.actor, ticket_id=tid, reason=reason,
                              expected_version=forms.version(form))
    return await _act(request, d, reference, me, "release", build)


@router.post("/callback/result")
async def call_result(request: Request, reference: Reference, _: Small, d: Deps,
                      me: Me) -> Response:
    def build(tid: str, form: FormData) -> c.Command[Any]:
        result = forms.choice(form, "result", forms.RESULTS, "Choose what came of the call.")
        return c.RecordCallResult(actor=me.actor, ticket_id=tid, result=result,
                                  note=forms.field(form, "note") or None,
                                  window=forms.window(form), expected_version=forms.version(form))
    return await _act(request, d, reference, me, "call", build)


@router.post("/session/code")
async def offer_code(request: Request, reference: Reference, _: Small, d: Deps,
                     me: Me) -> Response:
    def build(tid: str, form: FormData) -> c.Command[Any]:
        return c.OfferRemoteCode(actor=me.actor, ticket_id=tid,
                                 expected_version=forms.version(form))
    return await _act(request, d, reference, me, "session", build)


@router.post("/session/steps")
async def propose_step(request: Request, reference: Reference, _: Small, d: Deps,
                       me: Me) -> Response:
    def build(tid: str, form: FormData) -> c.Command[Any]:
        kind = forms.choice(form, "kind", forms.STEP_KINDS, "Choose equipment or network.")
        text = forms.required(form, "description", "Describe the change.")
        return c.ProposeSessionStep(actor=me.actor, ticket_id=tid, kind=kind, description=text)
    return await _act(request, d, reference, me, "steps", build)


@router.post("/session/end")
async def end_session(request: Request, reference: Reference, _: Small, d: Deps,
                      me: Me) -> Response:
    """No version check: the customer's answers change the ticket while the agent types; the
    running session is what the move needs."""
    def build(tid: str, form: FormData) -> c.Command[Any]:
        outcome = forms.choice(form, "resolved", ("yes", "no"),
                               "Say whether the session resolved the request.")
        reason = forms.required(form, "reason", "Give the reason for ending the session.")
        return c.EndRemoteSession(actor=me.actor, ticket_id=tid, resolved=outcome == "yes",
                                  reason=reason)
    return await _act(request, d, reference, me, "end", build)
