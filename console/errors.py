"""Every error the web side answers, in one shape: ``{"error": <code>, "reason": <text>, …}``.

The workflow's errors map to a status with a clear reason; FastAPI's own ``HTTPException`` and
request validation are reshaped to the same body (their detail made JSON-safe: a validation
error carries the raw input, bytes included, which is never echoed). A last-resort handler logs
any other fault with its traceback and answers a clean 500 in the same shape.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from workflow.domain.errors import (
    ActorRefused,
    ConcurrencyConflict,
    DedicatedMove,
    GuardRefused,
    IllegalTransition,
    NotFound,
    StorageUnavailable,
    TicketNotFound,
    WorkflowError,
)
from workflow.service.bus import NotConfigured
from workflow.service.links import InvalidLink

log = logging.getLogger("resetdesk.http")

#: the one answer to an expired, tampered, misdirected or unknown customer link
LINK_REFUSED = "this link is not valid or has expired"
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "too_large",
         415: "unsupported_media_type", 422: "invalid_request", 429: "too_many_requests",
         503: "unavailable"}
_MAX_TEXT = 200


def code_for(status: int) -> str:
    return CODES.get(status, "internal" if status >= 500 else "bad_request")


def refuse(status: int, reason: str, code: str | None = None, **extra: Any) -> HTTPException:
    """An ``HTTPException`` whose body is already in the one shape (raise it)."""
    return HTTPException(status, {"error": code or code_for(status), "reason": reason, **extra})


def error_response(status: int, reason: str, code: str | None = None,
                   headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code or code_for(status), "reason": reason, **extra},
                        status_code=status, headers=headers)


def link_refused(headers: Mapping[str, str] | None = None) -> JSONResponse:
    return error_response(403, LINK_REFUSED, "invalid_link", headers)


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` as plain JSON: bytes are never echoed, long text is cut, deep trees end."""
    if depth > 8:
        return "…"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "…"
    if isinstance(value, Mapping):
        return {str(k)[:_MAX_TEXT]: json_safe(v, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v, depth + 1) for v in list(value)[:50]]
    return json_safe(str(value), depth + 1)


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Location, message and type of each validation error; never the input itself."""
    out = []
    for item in list(errors)[:20]:
        e: Mapping[str, Any] = item if isinstance(item, Mapping) else {"msg": str(item)}
        out.append({"loc": [p if isinstance(p, int) else str(p)[:_MAX_TEXT]
                            for p in e.get("loc", ())],
                    "msg": json_safe(e.get("msg", "")), "type": json_safe(e.get("type", ""))})
    return out


def _summary(errors: list[dict[str, Any]]) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors[:3]]
    return "; ".join(parts) or "the request is not valid"


def _workflow_error(err: WorkflowError) -> JSONResponse:
    if isinstance(err, InvalidLink):
        return link_refused()
    body: dict[str, object] = {"error": type(err).__name__, "reason": str(err)}
    status = 422
    if isinstance(err, (TicketNotFound, NotFound)):
        status = 404
    elif isinstance(err, ActorRefused):
        status, body["allowed_actors"] = 403, list(err.allowed)
    elif isinstance(err, DedicatedMove):
        status, body["command"] = 400, err.command
    elif isinstance(err, NotConfigured):
        status = 500
    elif isinstance(err, ConcurrencyConflict):
        status, body["error"] = 409, "conflict"
    elif isinstance(err, IllegalTransition):
        status = 409
        body.update(state=err.state, allowed=err.allowed)
    elif isinstance(err, GuardRefused):
        status = 409
        body.update(state=err.state)
    elif err.transient:
        status = 503
    return JSONResponse(json_safe(body), status_code=status)


def _http_error(err: StarletteHTTPException) -> JSONResponse:
    detail, status = err.detail, err.status_code
    if isinstance(detail, Mapping) and "error" in detail and "reason" in detail:
        body = json_safe(detail)
    elif isinstance(detail, str):
        body = {"error": code_for(status), "reason": json_safe(detail)}
    else:  # a list of validation errors (or anything else): summarised, JSON-safe
        errors = validation_errors(detail) if isinstance(detail, (list, tuple)) else []
        body = {"error": code_for(status), "errors": errors,
                "reason": _summary(errors) if errors else _phrase(status)}
    return JSONResponse(body, status_code=status, headers=err.headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def install(app: FastAPI) -> None:
    @app.exception_handler(WorkflowError)
    async def workflow_error(request: Request, err: WorkflowError) -> JSONResponse:
        return _workflow_error(err)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return _http_error(err)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> JSONResponse:
        errors = validation_errors(err.errors())
        return error_response(422, _summary(errors), "invalid_request", errors=errors)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(StorageUnavailable)  # what a unit of work makes of the two above
    async def storage_down(request: Request, err: Exception) -> JSONResponse:
        """The database is unreachable (restarting, failing over): nothing was accepted, and
        the same request sent again shortly will be; producers retry a 503."""
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                    str(err).splitlines()[0][:200])
        answer = error_response(503, "storage is briefly unavailable; send the same request "
                                "again shortly", "unavailable")
        answer.headers["Retry-After"] = "2"
        return answer

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        """Last resort: inputs are checked at the edges, so this is a bug to fix."""
        log.error("unhandled %s on %s %s", type(err).__name__, request.method,
                  request.url.path, exc_info=err)
        return error_response(500, "an unexpected error occurred; it has been logged",
                              "internal")
