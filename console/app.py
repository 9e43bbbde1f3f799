"""The one FastAPI application: producers' intake, the agents' JSON API and pages, the customers'
pages."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse

from console import assets, auth, errors, rendering, sessions, throttling
from console.deps import WebDeps
from console.log_scope import LogScope
from console.pages import (
    deadletters,
    deadletters_bulk,
    ops,
    presence,
    queue,
    queue_bulk,
    signin,
    ticket,
    ticket_reply,
)
from console.routes import (
    agent_api,
    agent_callback,
    agent_key,
    agent_session,
    customer_callback,
    customer_key,
    customer_session,
    customer_session_live,
    customer_session_pages,
    intake,
    pages_resolution,
)

#: dedicated agent endpoints must come before the generic POST /api/v1/tickets/{id}/{trigger}
ROUTERS = (intake.router, auth.router, agent_callback.router, agent_key.router,
           agent_session.router, customer_callback.router, customer_key.router, customer_key.api,
           customer_session.router, customer_session_pages.router, customer_session_live.router,
           agent_api.router)
#: the agents' HTML pages (a refusal there may be a page too, as on the customers' pages); the
#: resolution panels' routes have two segments after the reference, so no generic
#: ``/tickets/{reference}/{trigger}`` route shadows them
PAGES = (signin.router, queue.router, queue_bulk.router, pages_resolution.router, ticket.router,
         ticket_reply.router, presence.router, deadletters_bulk.router, deadletters.router,
         ops.router)


#: rate limits by router (sign-in counts its failures itself, in console/auth.py)
_PER_ADDRESS = [Depends(throttling.limit_customer_links)]
LIMITS = {id(intake.router): [Depends(throttling.limit_intake)],
          id(customer_key.router): _PER_ADDRESS, id(customer_key.api): _PER_ADDRESS,
          id(customer_callback.router): _PER_ADDRESS}


def create_app(deps: WebDeps, extra_routers: Sequence[APIRouter] = ()) -> FastAPI:
    app = FastAPI(title="ResetDesk", version="1", docs_url=None, redoc_url=None)
    app.state.deps = deps
    app.add_middleware(LogScope)
    errors.install(app)
    throttling.install(app)
    sessions.install(app)
    rendering.install(app)  # after the handlers it turns into pages
    assets.install_docs(app)
    for router in (*extra_routers, *ROUTERS, *PAGES):
        app.include_router(router, dependencies=LIMITS.get(id(router), []))
    # the callback page answers JSON too (Accept: application/json): also under the API prefix
    app.include_router(customer_callback.router, prefix="/api/v1", dependencies=_PER_ADDRESS)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    return app
