"""The one FastAPI application: intake for producers now; agents' and customers' pages later."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from console import auth, errors
from console.deps import WebDeps
from console.routes import agent_api, intake


def create_app(deps: WebDeps, extra_routers: Sequence[APIRouter] = ()) -> FastAPI:
    app = FastAPI(title="ResetDesk", version="1", docs_url="/docs", redoc_url=None)
    app.state.deps = deps
    errors.install(app)
    app.include_router(intake.router)
    app.include_router(auth.router)
    for router in extra_routers:
        app.include_router(router)  # dedicated endpoints before the generic /{trigger}
    app.include_router(agent_api.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    return app
