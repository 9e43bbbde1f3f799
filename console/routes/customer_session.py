"""The customer's side of a remote session (JSON): prove the code, read the terms, agree, answer
the agent's proposed steps, end the session.

``verify`` answers every failure — wrong, expired, used or replaced code, unknown reference,
locked out — with the same status and body, so a guesser learns nothing. The consent and session
tokens are signed, expiring links (``workflow.service.links``) naming the ticket and what they
allow; nothing is stored for them. After Agree, calls carry the session token in the
``X-Session-Token`` header.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from console.auth import deps
from console.deps import WebDeps
from console.inputs import RowId
from workflow.adapters.queries.sessions import session_view
from workflow.adapters.queries.terms import TERMS_LANGUAGES, load_terms
from workflow.domain.actors import CUSTOMER
from workflow.domain.session_codes import SessionPolicy
from workflow.service import commands as c
from workflow.service import links
from workflow.service import remote_sessions as rs

router = APIRouter(prefix="/api/v1/customer/session", tags=["customer"])
Deps = Annotated[WebDeps, Depends(deps)]
NO_STORE = {"Cache-Control": "no-store"}
SESSION_HEADER = "x-session-token"
T = TypeVar("T")


def refused() -> JSONResponse:
    """The one answer to every failed verify."""
    return JSONResponse({"error": "code_refused", "reason": str(rs.CodeRefused())},
                        status_code=403, headers=NO_STORE)


def _policy(d: WebDeps) -> SessionPolicy:
    return d.policies.sessions


def _addr(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _call(fn: Callable[..., T], **kwargs: Any) -> T:
    try:
        return await run_in_threadpool(fn, **kwargs)
    except rs.SessionGone as err:
        raise HTTPException(409, str(err)) from None


def claim(token: str, d: WebDeps, kind: str) -> tuple[str, list[str]]:
    """Ticket id and the action's fields of a valid token of ``kind``, else ``InvalidLink``
    (the session pages read the same tokens)."""
    claim = links.verify(d.secret_key, token, d.clock.now())
    head, *fields = claim.action.split(".")
    if head != kind or not fields or not fields[0].isdigit():
        raise links.InvalidLink("this link is not valid")
    return claim.ticket_id, fields


def customer_session(request: Request, d: Deps) -> tuple[str, int]:
    ticket_id, fields = claim(request.headers.get(SESSION_HEADER, ""), d, "rsession")
    return ticket_id, int(fields[0])


Session = Annotated[tuple[str, int], Depends(customer_session)]


def consent_token(d: WebDeps, ticket_id: str, code_id: int, language: str) -> tuple[str, datetime]:
    """What Agree must bring back: the verified code, the terms' language; expires soon."""
    expires = d.clock.now() + _policy(d).consent_ttl
    return links.sign(d.secret_key, ticket_id, f"consent.{code_id}.{language}", expires), expires


def session_token(d: WebDeps, ticket_id: str, session_id: int) -> tuple[str, datetime]:
    expires = d.clock.now() + _policy(d).session_token_ttl
    return links.sign(d.secret_key, ticket_id, f"rsession.{session_id}", expires), expires


class VerifyBody(BaseModel):
    reference: str = Field(max_length=64)
    code: str = Field(max_length=64)


@router.post("/verify")
async def verify(body: VerifyBody, request: Request, d: Deps,
                 lang: Annotated[str | None, Query(max_length=8)] = None) -> JSONResponse:
    """Check the reference and code; on success, the terms to read and a consent token."""
    try:
        found = await run_in_threadpool(d.handle, c.VerifySessionCode(
            actor=CUSTOMER, reference=body.reference, code=body.code, source_addr=_addr(request)))
    except rs.CodeRefused:
        return refused()
    terms = load_terms(lang if lang in TERMS_LANGUAGES else found.language)
    token, expires = consent_token(d, found.ticket_id, found.code_id, terms.language)
    return JSONResponse({"terms": {"version": terms.version, "language": terms.language,
                                   "text": terms.text},
                         "consent_token": token, "expires_at": expires.isoformat()},
                        headers=NO_STORE)


class AgreeBody(BaseModel):
    consent_token: str = Field(max_length=512)
    terms_version: str = Field(max_length=64)


@router.post("/agree")
async def agree(body: AgreeBody, request: Request, d: Deps) -> JSONResponse:
    """The customer clicked Agree: the session starts and its token is returned (shown once)."""
    ticket_id, fields = claim(body.consent_token, d, "consent")
    language = fields[1] if len(fields) > 1 and fields[1] in TERMS_LANGUAGES else "en"
    try:
        session_id, ticket = await run_in_threadpool(d.handle, c.StartRemoteSession(
            actor=CUSTOMER, ticket_id=ticket_id, code_id=int(fields[0]),
            terms_version=body.terms_version, current_terms=load_terms(language).version,
            language=language, source_addr=_addr(request)))
    except rs.CodeRefused:
        raise HTTPException(409, "this code is no longer valid (used, replaced or expired): "
                                 "ask the agent for a new one") from None
    except rs.TermsChanged as err:
        raise HTTPException(409, str(err)) from None
    token, expires = session_token(d, ticket_id, session_id)
    return JSONResponse({"session_token": token, "expires_at": expires.isoformat(),
                         "reference": ticket.reference, "state": ticket.state.value},
                        headers=NO_STORE)


@router.get("")
async def show(session: Session, d: Deps) -> dict[str, Any]:
    """The running session and the steps the agent proposed, to confirm or decline."""
    ticket_id, session_id = session
    record, steps = await _call(session_view, uow=d.uow(), ticket_id=ticket_id,
                                session_id=session_id)
    return {"started_at": record.started_at.isoformat(),
            "steps": [{"id": s.id, "kind": s.kind, "description": s.description,
                       "decision": s.decision} for s in steps]}


class Decision(BaseModel):
    decision: Literal["confirmed", "declined"]


@router.post("/steps/{step_id}")
async def decide(step_id: RowId, body: Decision, session: Session, d: Deps) -> dict[str, Any]:
    ticket_id, session_id = session
    step = await _call(d.handle, cmd=c.AnswerSessionStep(
        actor=CUSTOMER, ticket_id=ticket_id, session_id=session_id, step_id=step_id,
        decision=body.decision))
    return {"id": step.id, "kind": step.kind, "decision": step.decision}


@router.post("/ping", status_code=204)
async def ping(session: Session, d: Deps) -> Response:
    """The customer is still there (the inactivity time-out counts from the last activity)."""
    ticket_id, session_id = session
    await _call(d.handle, cmd=c.TouchSession(actor=CUSTOMER, ticket_id=ticket_id,
                                             session_id=session_id))
    return Response(status_code=204)


@router.post("/end")
async def end(session: Session, d: Deps) -> dict[str, Any]:
    """The customer ends the session; the ticket goes back to the agent's queue."""
    ticket_id, session_id = session
    ticket = await _call(d.handle, cmd=c.EndRemoteSession(
        actor=CUSTOMER, ticket_id=ticket_id, resolved=False,
        reason="customer ended the session", session_id=session_id))
    return {"reference": ticket.reference, "state": ticket.state.value}
