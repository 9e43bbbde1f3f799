"""The customer's pages behind the signed links of the reset-key email.

Mail scanners open links, so a GET never acts: the confirm and report pages (and the key
itself) show both answers, "it worked" and "it did not work", and only a POST records one (a
second POST says "already recorded" and moves nothing). The artifact link shows the codes or
key, or downloads the encrypted file — reading is no action. Every link is checked (signature,
action, expiry) before anything is read; a bad one gets the same page whatever was wrong with it.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from console import rendering
from console.auth import deps
from console.deps import WebDeps
from workflow.adapters.queries.keys import KeyView, key_view
from workflow.domain.actors import CUSTOMER
from workflow.domain.errors import TicketNotFound
from workflow.domain.reset_keys import LINK_PATHS
from workflow.service import links
from workflow.service.commands import ReportKey
from workflow.service.reset_keys import AnswerResult

router = APIRouter(prefix="/customer/key", tags=["customers"], include_in_schema=False)
Deps = Annotated[WebDeps, Depends(deps)]

HEADERS = rendering.HEADERS


def _claim(d: WebDeps, token: str, action: str) -> links.LinkClaim | None:
    if len(d.secret_key) < 16:  # unconfigured: never trust a link signed with an empty key
        return None
    try:
        return links.verify(d.secret_key, token, d.clock.now(), action=action)
    except links.InvalidLink:
        return None


def _ticket_id(d: WebDeps, token: str, action: str) -> str | None:
    claim = _claim(d, token, action)
    return claim.ticket_id if claim else None


def _answers(d: WebDeps, claim: links.LinkClaim) -> dict[str, str]:
    """Where the two answers post: "it worked" and "it did not work" sit on one page, so the
    link that opened it vouches for its sibling (same ticket, same expiry, signed here)."""
    return {action: f"/{LINK_PATHS[f'{action}_key']}/"
                    f"{links.sign(d.secret_key, claim.ticket_id, f'{action}_key', claim.expires_at)}"
            for action in ("confirm", "report")}


def _view(d: WebDeps, ticket_id: str, *, with_key: bool) -> KeyView | None:
    sealer = d.message_bus().ctx.key_sealer if with_key else None
    try:
        return key_view(d.uow(), d.clock.now(), ticket_id, sealer=sealer)
    except TicketNotFound:
        return None


def _question(request: Request, d: WebDeps, token: str, action: str,
              answered: tuple[str, ...]) -> HTMLResponse:
    claim = _claim(d, token, f"{action}_key")
    view = _view(d, claim.ticket_id, with_key=False) if claim else None
    if claim is None or view is None:
        return rendering.link_refused(request)
    state = "ask" if view.waiting else "already" if view.outcome in answered else "not_waiting"
    return rendering.render(request, "key_question.html", view.language, action=action,
                            reference=view.reference, state=state, answers=_answers(d, claim))


def _answered(request: Request, d: WebDeps, token: str, action: str,
              worked: bool) -> HTMLResponse:
    ticket_id = _ticket_id(d, token, action)
    if ticket_id is None:
        return rendering.link_refused(request)
    try:
        result: AnswerResult = d.handle(ReportKey(actor=CUSTOMER, ticket_id=ticket_id,
                                                  worked=worked))
    except TicketNotFound:
        return rendering.link_refused(request)
    return rendering.render(request, "key_answer.html", result.language,
                            reference=result.reference, answer=result.answer.value,
                            worked=worked)


@router.get("/confirm/{token}")
def confirm_page(token: str, request: Request, d: Deps) -> HTMLResponse:
    return _question(request, d, token, "confirm", ("confirmed",))


@router.post("/confirm/{token}")
def confirm(token: str, request: Request, d: Deps) -> HTMLResponse:
    return _answered(request, d, token, "confirm_key", worked=True)


@router.get("/report/{token}")
def report_page(token: str, request: Request, d: Deps) -> HTMLResponse:
    return _question(request, d, token, "report", ("failed", "expired"))


@router.post("/report/{token}")
def report(token: str, request: Request, d: Deps) -> HTMLResponse:
    return _answered(request, d, token, "report_key", worked=False)


@router.get("/get/{token}")
def get_key(token: str, request: Request, d: Deps) -> Response:
    """The codes or key as a page, or the encrypted file as a download."""
    claim = _claim(d, token, "get_key")
    view = _view(d, claim.ticket_id, with_key=True) if claim else None
    if claim is None or view is None:
        return rendering.link_refused(request)
    page = partial(rendering.render, request, "key_view.html", view.language,
                   reference=view.reference, answers=_answers(d, claim))
    if not view.waiting:
        return page(state="not_waiting")
    if view.content is not None:
        name = view.filename or "reset-key.bin"
        return Response(view.content, media_type=view.media_type or "application/octet-stream",
                        headers={**HEADERS, "Content-Disposition":
                                 f"attachment; filename*=UTF-8''{quote(name, safe='')}"})
    if view.text is None:
        return page(state="expired")
    return page(state="shown", kind=view.kind, text=view.text,
                until=view.valid_until, time_zone=view.time_zone)


#: the same two answers as JSON, for form front ends and scripts: /api/v1/customer/key/…
api = APIRouter(prefix="/api/v1/customer/key", tags=["customer"])


def _answer_json(d: WebDeps, token: str, action: str, worked: bool) -> JSONResponse:
    ticket_id = _ticket_id(d, token, action)
    try:
        result = d.handle(ReportKey(actor=CUSTOMER, ticket_id=ticket_id, worked=worked)) \
            if ticket_id else None
    except TicketNotFound:
        result = None
    if result is None:
        return JSONResponse({"error": "invalid_link", "reason": "this link is not valid"}, 403)
    return JSONResponse({"reference": result.reference, "answer": result.answer.value})


@api.post("/confirm/{token}")
def confirm_json(token: str, d: Deps) -> JSONResponse:
    """The key worked: the ticket closes resolved (a second call changes nothing)."""
    return _answer_json(d, token, "confirm_key", worked=True)


@api.post("/report/{token}")
def report_json(token: str, d: Deps) -> JSONResponse:
    """The key failed or expired: the ticket goes back to the queue for a re-export."""
    return _answer_json(d, token, "report_key", worked=False)
