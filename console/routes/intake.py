"""HTTP intake: the CloudEvents HTTP binding, structured and binary, for producers.

Decode, then ``RecordRequest`` through the bus (source check, replay, the human check settled
while the single-use token is fresh, the inbox row): 202 is sent only after that row is committed
(in production, with the outbox row that the relay publishes to the verification consumers;
embedded, the in-process workers are woken).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from console.deps import WebDeps
from schemas.errors import Code, ContractError
from schemas.jsonstrict import MAX_BODY_BYTES
from schemas.registry import MAX_HEADER_BYTES, decode
from telemetry import metrics
from workflow.adapters.queries import accounts, inbox, refusals, ticket_details
from workflow.adapters.queries.accounts import Producer
from workflow.domain.actors import Actor
from workflow.logcontext import bind
from workflow.service.commands import RecordRequest
from workflow.service.inbox_ports import ContentConflict
from workflow.service.intake import WrongSource

MAX_BODY = MAX_BODY_BYTES
STATUS_FOR_CODE = {Code.OVERSIZE: 413, Code.UNSUPPORTED_CONTENT_TYPE: 415}

router = APIRouter(tags=["intake"])
#: a CloudEvents id: non-empty text, no control characters (PostgreSQL refuses NUL)
EventId = Annotated[str, Path(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]


def deps(request: Request) -> WebDeps:
    return request.app.state.deps  # type: ignore[no-any-return]


def producer(request: Request, d: Annotated[WebDeps, Depends(deps)]) -> Producer:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    found = accounts.producer_for_token(d.db, token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        raise HTTPException(401, "a valid producer bearer token is required",
                            headers={"WWW-Authenticate": 'Bearer realm="resetdesk"'})
    return found


def _error(status: int, code: str, reason: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "reason": reason, **extra}, status_code=status)


async def _read_body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _accepted(event_id: str, source: str, reference: str) -> JSONResponse:
    return JSONResponse(
        {"accepted": True, "id": event_id, "source": source, "reference": reference,
         "status_url": f"/events/{event_id}"},
        status_code=202, headers={"Location": f"/events/{event_id}"})


@router.post("/events", status_code=202)
async def post_event(request: Request, d: Annotated[WebDeps, Depends(deps)],
                     who: Annotated[Producer, Depends(producer)]) -> JSONResponse:
    """Accept one ``com.resetdesk.request.submitted.v1`` CloudEvent."""
    header_bytes = sum(len(k) + len(v) for k, v in request.headers.raw)  # repeats included
    if header_bytes > MAX_HEADER_BYTES:
        return _error(413, Code.OVERSIZE, f"headers: {header_bytes} bytes, limit {MAX_HEADER_BYTES}")
    body = await _read_body(request)
    if body is None:
        return _error(413, Code.OVERSIZE, f"the body exceeds {MAX_BODY} bytes")
    remote = request.client.host if request.client else None
    return await run_in_threadpool(_accept, d, who, dict(request.headers), body, remote)


def _accept(d: WebDeps, who: Producer, headers: dict[str, str], body: bytes,
            remote: str | None) -> JSONResponse:
    try:
        event = decode(headers, body)
    except ContractError as err:
        return _error(STATUS_FOR_CODE.get(Code(err.code), 400), err.code, err.reason,
                      path=getattr(err, "path", None))
    bind(message_id=event.id)
    try:
        intake = d.handle(RecordRequest(actor=Actor.producer(who.name), event=event,
                                        producer_source=who.source, remote_addr=remote,
                                        relay=d.relay_intake))
    except WrongSource as err:
        return _error(403, err.code, str(err))
    except ContentConflict as err:
        return _error(409, err.code, str(err))
    if not intake.replay:
        metrics.RECEIVED.labels("http").inc()
        d.on_recorded()
    return _accepted(event.id, event.source, intake.reference)


@router.get("/events/{event_id}")
def event_status(event_id: EventId, d: Annotated[WebDeps, Depends(deps)],
                 who: Annotated[Producer, Depends(producer)]) -> JSONResponse:
    """Processing status of an event this producer sent (looked up within its own source), or
    why it was refused when it came over AMQP and never reached the inbox (``refused``)."""
    found = inbox.status(d.db, who.source, event_id)
    if found is None:
        refused = refusals.lookup(d.db, who.name, event_id)  # sent over AMQP, never accepted
        if refused is not None:
            return JSONResponse({"id": refused.event_id, "status": "refused",
                                 "error": refused.code, "reason": refused.reason,
                                 "refused_at": refused.refused_at.isoformat()})
        return _error(404, "not_found", f"no event {event_id!r} from source {who.source}")
    body: dict[str, Any] = {"id": found.event_id, "source": found.source, "status": found.status,
                            "reference": found.reference, "attempts": found.attempts,
                            "received_at": found.received_at.isoformat()}
    if found.status == "dead":
        body["reason"] = found.last_error
    if found.ticket_id:
        ticket = ticket_details(d.db, found.ticket_id)
        body["ticket"] = {"reference": ticket["reference"], "state": ticket["state"],
                          "outcome": ticket["outcome"]}
    return JSONResponse(body)
