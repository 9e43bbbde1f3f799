"""The workflow's one error hierarchy, mapped to HTTP answers with a clear reason."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from workflow.adapters.links import InvalidLink
from workflow.domain.errors import (
    ConcurrencyConflict,
    GuardRefused,
    IllegalTransition,
    NotFound,
    TicketNotFound,
    WorkflowError,
)


def install(app: FastAPI) -> None:
    @app.exception_handler(WorkflowError)
    async def workflow_error(request: Request, err: WorkflowError) -> JSONResponse:
        body: dict[str, object] = {"error": type(err).__name__, "reason": str(err)}
        status = 422
        if isinstance(err, (TicketNotFound, NotFound)):
            status = 404
        elif isinstance(err, ConcurrencyConflict):
            status, body["error"] = 409, "conflict"
        elif isinstance(err, IllegalTransition):
            status = 409
            body.update(state=err.state, allowed=err.allowed)
        elif isinstance(err, GuardRefused):
            status = 409
            body.update(state=err.state)
        elif isinstance(err, InvalidLink):
            status = 403
        elif err.transient:
            status = 503
        return JSONResponse(body, status_code=status)
