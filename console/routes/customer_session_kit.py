"""What the remote-session pages share: their language, their headers, the session cookie and
its CSRF token, and the refusal of cross-site posts.

After Agree the session token (the same signed ``rsession.<id>`` token the JSON API returns)
lives in an HttpOnly, SameSite=Strict cookie scoped to ``/session``: no script can read it and no
other site's page can send it. Every change also carries a CSRF token (an HMAC of the session
token) in a hidden field, and a POST a browser marks ``Sec-Fetch-Site: cross-site`` is refused
before anything is read, so no other site can post a code, an Agree or an answer for the
customer.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console import assets, i18n, rendering
from console.deps import WebDeps
from console.routes import customer_session as api
from console.sessions import set_cookie
from workflow.service import links

PATH = "/session"
COOKIE = "rd_rsession"
LANG_COOKIE = "rd_lang"
CSRF_FIELD = "csrf_token"
#: the customer pages' policy, plus our own script (htmx) and its requests to us
CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP}


def same_site(request: Request) -> None:
    """Router dependency: a browser's cross-site POST never reaches a session route."""
    if request.method == "POST" and request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(403, "cross-site request refused")


def chosen(value: str | None) -> str | None:
    return value if value in i18n.LANGUAGES else None


def explicit(request: Request, choice: str | None = None) -> str | None:
    """The language the customer chose (a form field, ``?lang=``, the cookie the switch set)."""
    for candidate in (choice, request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if found := chosen(candidate):
            return found
    return None


def language(request: Request, ticket_language: str | None = None,
             choice: str | None = None) -> str:
    """The customer's explicit choice, else the ticket's language once known, else the
    browser's."""
    if found := explicit(request, choice):
        return found
    return i18n.pick(ticket_language) if ticket_language else rendering.language_of(request)


def page(request: Request, d: WebDeps, template: str, lang: str, *, status: int = 200,
         **context: Any) -> HTMLResponse:
    answer = rendering.render(request, f"customer/{template}", lang, status=status,
                              headers=HEADERS, assets=assets, others=[
                                  o for o in i18n.LANGUAGES if o != lang],
                              here=request.url.path if request.method == "GET" else PATH,
                              **context)
    if chosen(request.query_params.get("lang")):
        remember_language(answer, d, lang)
    return answer


def remember_language(answer: Response, d: WebDeps, lang: str) -> None:
    """The switch's choice holds on the customer's next pages (the polled ones included)."""
    set_cookie(answer, d, LANG_COOKIE, lang, max_age=30 * 86400, path=PATH)


def expired(request: Request, d: WebDeps, lang: str | None = None) -> HTMLResponse:
    """The one page for a missing, expired or tampered session or consent token."""
    return page(request, d, "session_expired.html", lang or language(request), status=403)


def go(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers=rendering.HEADERS)


def csrf_for(d: WebDeps, session_token: str) -> str:
    return hmac.new(d.secret_key, b"resetdesk-customer-csrf\0" + session_token.encode(),
                    hashlib.sha256).hexdigest()


def csrf_ok(d: WebDeps, session_token: str, sent: str) -> bool:
    return hmac.compare_digest(csrf_for(d, session_token).encode(), sent.encode())


def keep_session(answer: Response, d: WebDeps, token: str, max_age: int) -> None:
    set_cookie(answer, d, COOKIE, token, max_age=max_age, path=PATH, samesite="strict")


def session_of(request: Request, d: WebDeps) -> tuple[str, int, str] | None:
    """(ticket id, session id, token) of the cookie's valid session token; None when there is
    none, or it is expired or tampered."""
    token = request.cookies.get(COOKIE, "")
    if not token or len(token) > 512 or len(d.secret_key) < 16:
        return None
    try:
        ticket_id, fields = api.claim(token, d, "rsession")
    except links.InvalidLink:
        return None
    return ticket_id, int(fields[0]), token
