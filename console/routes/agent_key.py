"""``POST /api/v1/tickets/{id}/send_key``: the agent returns the reset artifact.

JSON ``{"kind": "security_codes"|"key", "text": …, "expected_version": …}``, or multipart form
fields ``kind=encrypted_file``, ``file`` (one upload) and optional ``expected_version``. The body
is bounded before it is parsed (``RESETDESK_KEYS__MAX_FILE_BYTES``, 1 MiB by default): an upload without a
Content-Length, or announcing more, is refused with 413 unread.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from console.auth import current_actor, deps
from console.deps import WebDeps
from console.errors import refuse, validation_errors
from console.inputs import TicketId, Version
from console.routes.agent_api import summary
from workflow.domain.actors import Actor
from workflow.domain.reset_keys import KINDS, MAX_TEXT, KeyPolicy, NewArtifact, new_artifact
from workflow.service.commands import SendKey

router = APIRouter(prefix="/api/v1/tickets", tags=["agents"])
Staff = Annotated[Actor, Depends(current_actor)]
Deps = Annotated[WebDeps, Depends(deps)]
#: room for the multipart framing and the small fields around the file
FORM_OVERHEAD = 64 * 1024


class TextKey(BaseModel):
    kind: str = Field(description=f"one of {', '.join(KINDS)} (encrypted_file: use multipart)")
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    expected_version: Version = None


def _announced_length(request: Request, limit: int) -> None:
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > limit:
        raise HTTPException(413, f"send at most {limit} bytes, with a Content-Length")


def _version(value: object) -> int | None:
    if value in (None, ""):
        return None
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) > 2**31 - 1:
        raise refuse(422, "expected_version must be an integer from 0 to 2147483647")
    return int(text)


async def _from_form(request: Request, policy: KeyPolicy) -> tuple[NewArtifact, int | None]:
    _announced_length(request, policy.max_file_bytes + FORM_OVERHEAD)
    async with request.form(max_files=1, max_fields=4) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "attach the encrypted file as the form field 'file'")
        content = await upload.read(policy.max_file_bytes + 1)
        kind, text = form.get("kind"), form.get("text")
        artifact = new_artifact(
            str(kind or "encrypted_file"), text=text if isinstance(text, str) else None,
            content=content, filename=upload.filename, media_type=upload.content_type,
            max_file_bytes=policy.max_file_bytes)
        return artifact, _version(form.get("expected_version"))


async def _from_json(request: Request) -> tuple[NewArtifact, int | None]:
    _announced_length(request, 4 * MAX_TEXT + FORM_OVERHEAD)
    try:
        body = TextKey.model_validate_json(await request.body())
    except ValidationError as err:
        errors = validation_errors(err.errors(include_url=False, include_context=False,
                                              include_input=False))
        raise refuse(422, "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                                    for e in errors[:3]), "invalid_request",
                     errors=errors) from None
    return new_artifact(body.kind, text=body.text), body.expected_version


@router.post("/{ticket_id}/send_key")
async def send_key_endpoint(ticket_id: TicketId, request: Request, d: Deps,
                            actor: Staff) -> dict[str, Any]:
    policy = d.message_bus().ctx.key_policy
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        artifact, version = await _from_form(request, policy)
    else:
        artifact, version = await _from_json(request)
    ticket = await run_in_threadpool(d.handle, SendKey(
        actor=actor, ticket_id=ticket_id, artifact=artifact, expected_version=version,
        link_base=str(request.base_url)))
    return summary(ticket, actor)
