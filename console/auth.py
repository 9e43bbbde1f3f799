"""Agent authentication: sign in with login and password (argon2), rate-limited per login and
per address; the JSON API gets a bearer token, the pages (``console.pages.signin``) the same
kind of session in a cookie. ``current_actor`` accepts either (``console.sessions``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from console import throttling
from console.deps import WebDeps
from console.sessions import authenticate, deps
from workflow.adapters.queries import accounts
from workflow.domain.actors import Actor
from workflow.service.ports import committed

__all__ = ["SESSION_TTL", "check_credentials", "close_session", "current_actor",
           "current_agent", "deps", "open_session", "router"]

SESSION_TTL = timedelta(hours=12)
THROTTLED = "too many failed sign-ins for this login or from this address"
router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


async def current_actor(request: Request, d: Annotated[WebDeps, Depends(deps)]) -> Actor:
    """The signed-in agent as an actor, its kind from its role: the only source of who acts
    over HTTP (a body or query never names the actor). A cookie session's change must carry
    its CSRF token (403 ``csrf`` otherwise)."""
    return (await authenticate(request, d)).actor


def current_agent(actor: Annotated[Actor, Depends(current_actor)]) -> str:
    """The signed-in agent's login (one token lookup per request, shared with current_actor)."""
    return actor.name


async def check_credentials(d: WebDeps, request: Request, login: str, password: str) -> bool:
    """Each attempt is counted per login and per address before the password is checked (so
    concurrent guesses cannot slip past the limit; ``RateLimited`` when over it); a success
    gives its count back. A disabled agent's right password is a wrong one."""
    keys = throttling.signin_keys(d, login, request)
    await run_in_threadpool(throttling.check, d, keys, THROTTLED)
    ok = await run_in_threadpool(accounts.check_agent_password, d.db, login, password)
    if ok:
        await run_in_threadpool(throttling.throttle_of(d).refund, keys, d.clock.now())
    return ok


def open_session(d: WebDeps, login: str) -> tuple[str, datetime]:
    """A fresh session token for ``login`` (stored as a hash) and when it expires."""
    now = d.clock.now()
    return committed(d.uow, lambda u: u.accounts.open_session(login, now, SESSION_TTL))


def close_session(d: WebDeps, token: str) -> None:
    now = d.clock.now()
    committed(d.uow, lambda u: u.accounts.close_session(token, now))


class Credentials(BaseModel):
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@router.post("/token")
async def sign_in(body: Credentials, request: Request,
                  d: Annotated[WebDeps, Depends(deps)]) -> dict[str, str]:
    if not await check_credentials(d, request, body.login, body.password):
        raise HTTPException(401, "wrong login or password")
    token, expires = await run_in_threadpool(open_session, d, body.login)
    return {"token": token, "token_type": "bearer", "expires_at": expires.isoformat()}
