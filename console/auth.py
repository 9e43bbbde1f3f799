"""Agent authentication for the JSON API: sign in with login and password (argon2), get a
bearer token that expires; the console's pages will sit on the same sessions."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from console import throttling
from console.deps import WebDeps
from workflow.adapters.queries import accounts
from workflow.domain.actors import Actor
from workflow.service.ports import committed

SESSION_TTL = timedelta(hours=12)
router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def deps(request: Request) -> WebDeps:
    return request.app.state.deps  # type: ignore[no-any-return]


def current_actor(request: Request, d: Annotated[WebDeps, Depends(deps)]) -> Actor:
    """The signed-in agent as an actor, its kind from its role: the only source of who acts
    over HTTP (a body or query never names the actor)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    staff = (accounts.staff_for(d.db, token.strip(), d.clock.now())
             if scheme.lower() == "bearer" and token.startswith("rda_") else None)
    if staff is None:
        raise HTTPException(401, "sign in first: POST /api/v1/auth/token",
                            headers={"WWW-Authenticate": 'Bearer realm="resetdesk-agents"'})
    return Actor.staff(*staff)


def current_agent(actor: Annotated[Actor, Depends(current_actor)]) -> str:
    """The signed-in agent's login (one token lookup per request, shared with current_actor)."""
    return actor.name


class Credentials(BaseModel):
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@router.post("/token")
async def sign_in(body: Credentials, request: Request,
                  d: Annotated[WebDeps, Depends(deps)]) -> dict[str, str]:
    """Each attempt is counted per login and per address before the password is checked (so
    concurrent guesses cannot slip past the limit); a success gives its count back."""
    keys = throttling.signin_keys(d, body.login, request)
    await run_in_threadpool(throttling.check, d, keys,
                            "too many failed sign-ins for this login or from this address")
    ok = await run_in_threadpool(accounts.check_agent_password, d.db, body.login, body.password)
    if not ok:
        raise HTTPException(401, "wrong login or password")
    await run_in_threadpool(throttling.throttle_of(d).refund, keys, d.clock.now())
    now = d.clock.now()
    token, expires = committed(d.uow, lambda u: u.accounts.open_session(body.login, now,
                                                                       SESSION_TTL))
    return {"token": token, "token_type": "bearer", "expires_at": expires.isoformat()}
