"""The customer's remote-session pages, up to Agree: ``/session`` (the address the agent reads
out with the code) takes the reference and the code, shows the terms, and Agree starts the
session. They run the same commands as the JSON API (``customer_session``) with the same
tokens; only the answers are pages.

A refused code — wrong, expired, used, replaced, unknown reference or locked out — gets one
page: the same status and the same text, whichever it was.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from console.auth import deps
from console.deps import WebDeps
from console.routes import customer_session as api
from console.routes import customer_session_kit as kit
from console.terms_html import terms_html
from workflow.adapters.queries.terms import TERMS_LANGUAGES, load_terms
from workflow.domain.actors import CUSTOMER
from workflow.service import commands as c
from workflow.service import links
from workflow.service import remote_sessions as rs

router = APIRouter(prefix=kit.PATH, include_in_schema=False, dependencies=[
    Depends(kit.same_site)])
Deps = Annotated[WebDeps, Depends(deps)]
Text = Annotated[str, Form()]
MAX_FIELD = 64


def _addr(request: Request) -> str | None:
    return request.client.host if request.client else None


def entry(request: Request, d: WebDeps, lang: str, *, status: int = 200,
          problem: str | None = None, reference: str = "",
          choice: str | None = None) -> HTMLResponse:
    """The form in ``lang``; an explicit ``choice`` travels with it (else the terms will be in
    the ticket's language)."""
    return kit.page(request, d, "session_entry.html", lang, status=status, problem=problem,
                    reference=reference[:MAX_FIELD], choice=choice)


def terms_page(request: Request, d: WebDeps, ticket_id: str, code_id: int, lang: str, *,
               status: int = 200, changed: bool = False) -> HTMLResponse:
    """The terms in ``lang`` and a consent token that names them (Agree brings it back)."""
    terms = load_terms(lang)
    token, _ = api.consent_token(d, ticket_id, code_id, terms.language)
    return kit.page(request, d, "session_terms.html", terms.language, status=status,
                    terms=terms_html(terms.text), version=terms.version, consent=token,
                    changed=changed)


@router.get("")
def start(request: Request, d: Deps) -> HTMLResponse:
    """The form: reference and code, and the red arrow."""
    return entry(request, d, kit.language(request), choice=kit.explicit(request))


@router.post("")
async def verify(request: Request, d: Deps, reference: Text = "", code: Text = "",
                 lang: Text = "") -> Response:
    """The reference and code typed: the terms, or the one refusal page."""
    shown = kit.language(request, choice=lang)
    try:
        found = await run_in_threadpool(d.handle, c.VerifySessionCode(
            actor=CUSTOMER, reference=reference[:MAX_FIELD], code=code[:MAX_FIELD],
            source_addr=_addr(request)))
    except rs.CodeRefused:
        return entry(request, d, shown, status=403, problem="refused", reference=reference,
                     choice=kit.explicit(request, lang))
    terms_lang = kit.language(request, found.language, choice=lang)
    return terms_page(request, d, found.ticket_id, found.code_id, terms_lang)


def _consent(d: WebDeps, token: str) -> tuple[str, int, str] | None:
    try:
        ticket_id, fields = api.claim(token[:512], d, "consent")
    except links.InvalidLink:
        return None
    lang = fields[1] if len(fields) > 1 and fields[1] in TERMS_LANGUAGES else "en"
    return ticket_id, int(fields[0]), lang


@router.post("/terms")
def switch_terms(request: Request, d: Deps, consent: Text = "", lang: Text = "") -> Response:
    """The language switch on the terms page: the same consent, the terms in ``lang``."""
    found = _consent(d, consent)
    if found is None:
        return kit.expired(request, d, kit.chosen(lang))
    ticket_id, code_id, current = found
    shown = kit.chosen(lang) or current
    answer = terms_page(request, d, ticket_id, code_id, shown)
    kit.remember_language(answer, d, shown)
    return answer


@router.post("/agree")
async def agree(request: Request, d: Deps, consent: Text = "", version: Text = "") -> Response:
    """Agree: the session starts, its token goes into the cookie, on to the live page."""
    found = _consent(d, consent)
    if found is None:
        return kit.expired(request, d)
    ticket_id, code_id, lang = found
    try:
        session_id, _ = await run_in_threadpool(d.handle, c.StartRemoteSession(
            actor=CUSTOMER, ticket_id=ticket_id, code_id=code_id, terms_version=version[:MAX_FIELD],
            current_terms=load_terms(lang).version, language=lang, source_addr=_addr(request)))
    except rs.CodeRefused:
        return entry(request, d, lang, status=409, problem="used")
    except rs.TermsChanged:
        return terms_page(request, d, ticket_id, code_id, lang, status=409, changed=True)
    token, expires = api.session_token(d, ticket_id, session_id)
    answer = kit.go(f"{kit.PATH}/live")
    kit.keep_session(answer, d, token, int((expires - d.clock.now()).total_seconds()))
    return answer
