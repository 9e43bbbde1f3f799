"""``/`` and signing in and out in a browser.

The session is the API's kind (``agent_session``), carried in an HttpOnly, SameSite cookie;
each sign-in opens a new one and revokes the one the browser had (no fixation), sign-out
revokes it. The sign-in form itself is protected against login CSRF by a double submit: a random
value in a short-lived cookie and in the form must match. Attempts share the JSON sign-in's
throttle (per login and per address).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from console.auth import SESSION_TTL, check_credentials, close_session, open_session
from console.deps import WebDeps
from console.pages.render import page
from console.sessions import (
    SESSION_COOKIE,
    Signed,
    deps,
    forget_cookie,
    session_token,
    set_cookie,
    signed_in_page,
    staff_of,
)
from console.throttling import RateLimited

router = APIRouter(include_in_schema=False)
Deps = Annotated[WebDeps, Depends(deps)]
FORM_COOKIE = "rd_signin"
HOME = "/queue"


def safe_next(target: str | None) -> str:
    """Only a path on this site (no ``//host``, no scheme): never an open redirect."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target)):
        return HOME
    return target


def _form(request: Request, d: WebDeps, *, status: int = 200, error: str | None = None,
          login: str = "", next_path: str = HOME) -> HTMLResponse:
    """The sign-in form with a fresh double-submit value (cookie and hidden field)."""
    value = secrets.token_urlsafe(24)
    answer = page(request, "agent/signin.html", None, status=status, error=error, login=login,
                  next=next_path, form_token=value)
    set_cookie(answer, d, FORM_COOKIE, value, max_age=3600, path="/signin", samesite="strict")
    return answer


@router.get("/")
async def home(request: Request, d: Deps) -> RedirectResponse:
    signed = await staff_of(d, session_token(request))
    return RedirectResponse(HOME if signed else "/signin", status_code=303)


@router.get("/signin")
async def signin_form(request: Request, d: Deps, next: str | None = None) -> HTMLResponse:
    """Always the form, signed in or not: signing in again (as someone else, say) replaces
    the session."""
    return _form(request, d, next_path=safe_next(next))


@router.post("/signin", response_model=None)
async def signin(request: Request, d: Deps,
                 login: Annotated[str, Form(max_length=64)] = "",
                 password: Annotated[str, Form(max_length=256)] = "",
                 csrf_token: Annotated[str, Form(max_length=100)] = "",
                 next: Annotated[str, Form(max_length=500)] = HOME) -> Response:
    target = safe_next(next)
    expected = request.cookies.get(FORM_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _form(request, d, status=403, login=login, next_path=target,
                     error="This sign-in form has expired; please sign in again.")
    login = login.strip()
    try:
        ok = bool(login and password) and await check_credentials(d, request, login, password)
    except RateLimited as err:
        limited = _form(request, d, status=429, login=login, next_path=target,
                        error=f"Too many failed sign-ins. Try again in {err.retry_after} s.")
        limited.headers["Retry-After"] = str(err.retry_after)
        return limited
    if not ok:
        return _form(request, d, status=401, login=login, next_path=target,
                     error="Wrong login or password.")
    old = session_token(request)
    if old:  # rotation: whatever session this browser had ends here
        await run_in_threadpool(close_session, d, old)
    token, _ = await run_in_threadpool(open_session, d, login)
    answer = RedirectResponse(target, status_code=303)
    set_cookie(answer, d, SESSION_COOKIE, token, max_age=int(SESSION_TTL.total_seconds()))
    forget_cookie(answer, d, FORM_COOKIE, path="/signin")
    return answer


@router.post("/signout")
async def signout(request: Request, d: Deps,
                  me: Annotated[Signed, Depends(signed_in_page)]) -> RedirectResponse:
    """Ends the cookie's session (its CSRF token was checked by ``signed_in_page``) and
    forgets the cookie."""
    token = session_token(request)
    if token and me.csrf is not None:  # signed in by this cookie, not by a bearer token
        await run_in_threadpool(close_session, d, token)
    answer = RedirectResponse("/signin", status_code=303)
    forget_cookie(answer, d, SESSION_COOKIE)
    return answer
