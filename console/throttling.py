"""HTTP rate limits: the shared throttle (``workflow.service.throttle``) applied per route, and
the one answer a refused request gets: 429, ``Retry-After`` in whole seconds, and
``{"error": "rate_limited", "reason": …}`` (``console.rendering`` makes it a page for a browser
on a customer page).

Client addresses and logins are counted under a keyed hash, never stored. The address is the
TCP peer's: behind a proxy, run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips``
so that it is the customer's and not the proxy's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from console.deps import WebDeps
from console.routes.intake import producer
from workflow.adapters.queries.accounts import Producer
from workflow.domain import throttle as policy
from workflow.domain.throttle import Decision
from workflow.service.throttle import Throttle

Keys = Sequence[tuple[str, str]]


class RateLimited(Exception):
    def __init__(self, decision: Decision, reason: str) -> None:
        super().__init__(reason)
        self.retry_after = decision.retry_after_seconds
        self.reason = reason


def deps(request: Request) -> WebDeps:
    return request.app.state.deps  # type: ignore[no-any-return]


def throttle_of(d: WebDeps) -> Throttle:
    """The deployment's throttle: the one handed over, else one over ``d.db`` with the limits
    and the on/off switch of ``d.policies.throttle`` (built once)."""
    if d.throttle is None:
        d.throttle = d.build_throttle(d.policies.throttle)
    return d.throttle


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def key(d: WebDeps, scope: str, value: str) -> tuple[str, str]:
    return scope, policy.throttle_key(d.secret_key, scope, value)


def check(d: WebDeps, keys: Keys, reason: str) -> None:
    """Count one request against ``keys``; raise ``RateLimited`` when a limit refuses it."""
    decision = throttle_of(d).hit_all(keys, d.clock.now())
    if not decision.allowed:
        raise RateLimited(decision, reason)


def signin_keys(d: WebDeps, login: str, request: Request) -> Keys:
    return [key(d, policy.SIGNIN_LOGIN, login.strip().casefold()),
            key(d, policy.SIGNIN_ADDR, client_address(request))]


def limit_customer_links(request: Request, d: Annotated[WebDeps, Depends(deps)]) -> None:
    """Customer link pages (reset keys, callbacks), per client address."""
    check(d, [key(d, policy.CUSTOMER_ADDR, client_address(request))],
          "too many requests from this address; wait and try again")


def limit_intake(request: Request, d: Annotated[WebDeps, Depends(deps)],
                 who: Annotated[Producer, Depends(producer)]) -> None:
    """Intake, per producer token (after it is authenticated; the route reuses ``who``)."""
    scope = policy.INTAKE if request.method == "POST" else policy.INTAKE_STATUS
    check(d, [key(d, scope, who.name)],
          f"producer {who.name} is over its rate limit for {request.method} {scope}; "
          "slow down and retry after Retry-After seconds")


def install(app: FastAPI) -> None:
    """The 429 answer (a browser on a customer page gets it as a page: ``console.rendering``)."""
    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, err: RateLimited) -> JSONResponse:
        return JSONResponse({"error": "rate_limited", "reason": err.reason,
                             "retry_after": err.retry_after}, status_code=429,
                            headers={"Retry-After": str(err.retry_after)})
