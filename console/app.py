"""The one FastAPI application: intake for producers now; agents' and customers' pages later."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from console.deps import WebDeps
from console.routes import intake


def create_app(deps: WebDeps) -> FastAPI:
    app = FastAPI(title="ResetDesk", version="1", docs_url="/docs", redoc_url=None)
    app.state.deps = deps
    app.include_router(intake.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    return app
