"""Who is signed in, over the API (a bearer token) or on the pages (a session cookie), and the
CSRF rule that comes with the cookie.

Both carry the same kind of session (the ``agent_session`` table: random, stored as a hash,
expiring, revoked at sign-out; a disabled agent's sessions stop working at once). A browser sends
a cookie with every request, including ones another site makes it send, so a state-changing
request (POST, PUT, PATCH, DELETE) made with the cookie must also carry the session's CSRF token,
in the ``X-CSRF-Token`` header (htmx sets it from ``hx-headers`` on ``<body>``) or the
``csrf_token`` form field. The token is an HMAC of the session token under the deployment's
secret: nothing more to store, and it changes with the session. A bearer token is never sent by
a browser on its own, so API calls with one need no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from console.deps import WebDeps
from console.pages.render import page
from workflow.adapters.queries import accounts
from workflow.domain.actors import Actor

SESSION_COOKIE = "rd_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
SIGN_IN_FIRST = "sign in first: POST /api/v1/auth/token (API) or /signin (browser)"


def deps(request: Request) -> WebDeps:
    return request.app.state.deps  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Signed:
    """An authenticated request: the actor, and (cookie sessions only) the CSRF token that
    the page must send back with every change."""

    actor: Actor
    role: str
    csrf: str | None = None

    @property
    def login(self) -> str:
        return self.actor.name


class CsrfRefused(Exception):
    """A cookie-session request that changes state came without its session's CSRF token."""


class SignInRequired(Exception):
    """A page asked for without a live session: the browser goes to the sign-in page."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def csrf_token(d: WebDeps, session: str) -> str:
    return hmac.new(d.secret_key, b"resetdesk-csrf\0" + session.encode(),
                    hashlib.sha256).hexdigest()


def secure_cookies(d: WebDeps) -> bool:
    return (d.public_url or "").lower().startswith("https://")


def set_cookie(answer: Response, d: WebDeps, name: str, value: str, *, max_age: int,
               path: str = "/", samesite: Literal["lax", "strict"] = "lax") -> None:
    """HttpOnly and SameSite always; Secure when the desk is served over https."""
    answer.set_cookie(name, value, max_age=max_age, path=path, httponly=True,
                      samesite=samesite, secure=secure_cookies(d))


def forget_cookie(answer: Response, d: WebDeps, name: str, path: str = "/") -> None:
    answer.delete_cookie(name, path=path, httponly=True, secure=secure_cookies(d))


async def staff_of(d: WebDeps, token: str | None) -> tuple[str, str] | None:
    """(login, role) of the enabled agent a live session token belongs to."""
    if not token or not token.startswith("rda_") or len(token) > 200:
        return None
    return await run_in_threadpool(accounts.staff_for, d.db, token, d.clock.now())


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


async def sent_csrf(request: Request) -> str | None:
    """The CSRF token the request carries: the header, else the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    if request.headers.get("content-type", "").startswith(FORMS):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def authenticate(request: Request, d: WebDeps) -> Signed:
    """The bearer token if the request has an Authorization header, else the session cookie
    (with the CSRF check for a change). 401 when neither names a live session."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    if scheme:
        staff = await staff_of(d, bearer.strip()) if scheme.lower() == "bearer" else None
        if staff is None:
            raise _unauthorized()
        return Signed(Actor.staff(*staff), staff[1])
    token = session_token(request)
    staff = await staff_of(d, token)
    if staff is None or token is None:
        raise _unauthorized()
    expected = csrf_token(d, token)
    if request.method in UNSAFE:
        sent = await sent_csrf(request)
        if sent is None or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CsrfRefused("this change came without the page's CSRF token; reload the "
                              "page and try again")
    return Signed(Actor.staff(*staff), staff[1], expected)


def _unauthorized() -> HTTPException:
    return HTTPException(401, SIGN_IN_FIRST,
                         headers={"WWW-Authenticate": 'Bearer realm="resetdesk-agents"'})


async def signed_in_page(request: Request, d: Annotated[WebDeps, Depends(deps)]) -> Signed:
    """For the agents' pages: as ``authenticate``, but a browser without a session goes to
    the sign-in page instead of reading a 401."""
    try:
        return await authenticate(request, d)
    except HTTPException as err:
        if err.status_code == 401:
            raise SignInRequired(request.url.path) from None
        raise


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") or "hx-request" in request.headers


def install(app: FastAPI) -> None:
    """The CSRF refusal (403, JSON, or a page for a browser) and the way to the sign-in page."""
    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, err: CsrfRefused) -> Response:
        if wants_html(request):
            return page(request, "agent/refused.html", None, status=403, reason=str(err))
        return JSONResponse({"error": "csrf", "reason": str(err)}, status_code=403)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, err: SignInRequired) -> Response:
        if "hx-request" in request.headers:  # htmx follows HX-Redirect with a full page load
            return Response(status_code=401, headers={"HX-Redirect": "/signin"})
        target = "/signin" if err.path in ("/", "/signin") else f"/signin?next={quote(err.path)}"
        return RedirectResponse(target, status_code=303)
