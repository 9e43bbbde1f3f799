"""The resolution panels' form fields, read strictly, and refusals told in plain words.

A field that is missing or wrong raises ``Invalid`` (a workflow error the panel shows like the
bus's own refusals), so every route has one way to fail: the panel again, with the message and
what the agent typed.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from starlette.datastructures import FormData, UploadFile

from console.routes.agent_callback import parse_window
from workflow.domain.callback_slots import ATTEMPT_RESULTS, PreferredWindow
from workflow.domain.errors import (
    ActorRefused,
    ConcurrencyConflict,
    GuardRefused,
    IllegalTransition,
    NotFound,
    TicketNotFound,
    WorkflowError,
)
from workflow.domain.reset_keys import NewArtifact, new_artifact
from workflow.service.bus import NotConfigured
from workflow.service.callback_ports import NoFreeSlot
from workflow.service.remote_sessions import STEP_KINDS, IssuedCode, SessionGone

__all__ = ["FORM_OVERHEAD", "RESULTS", "STEP_KINDS", "Invalid", "IssuedCode", "artifact",
           "bounded", "choice", "confirmed", "field", "kept", "plain", "required",
           "status_of", "version", "window"]

RESULTS = ATTEMPT_RESULTS
#: room for the multipart framing and the small fields around an uploaded file
FORM_OVERHEAD = 64 * 1024
#: fields never sent back into the form (secrets, the token, the file)
_NOT_KEPT = frozenset({"csrf_token", "file", "expected_version"})


class Invalid(WorkflowError):
    """A form field the panel cannot use (missing, not one of the choices, malformed)."""


def bounded(request: Request, limit: int) -> None:
    """Refuse unread a body without a Content-Length, or announcing more than ``limit``."""
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > limit:
        raise HTTPException(413, f"send at most {limit} bytes, with a Content-Length")


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def required(form: FormData, name: str, missing: str) -> str:
    value = field(form, name)
    if not value:
        raise Invalid(missing)
    return value


def choice(form: FormData, name: str, choices: tuple[str, ...], missing: str) -> str:
    value = field(form, name)
    if value not in choices:
        raise Invalid(missing)
    return value


def confirmed(form: FormData, missing: str) -> None:
    if field(form, "confirm") != "yes":
        raise Invalid(missing)


def version(form: FormData) -> int | None:
    """The ticket version the page showed (the bus refuses the move if it changed since)."""
    text = field(form, "expected_version")
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) > 2**31 - 1:
        raise Invalid("The page sent a broken ticket version: reload it and try again.")
    return int(text)


def window(form: FormData) -> PreferredWindow | None:
    """The time the customer asked for, ``YYYY-MM-DD HH:MM-HH:MM`` in the calendar's zone."""
    return parse_window(field(form, "preferred") or None)


def artifact(form: FormData, upload: object, content: bytes | None,
             max_file_bytes: int) -> NewArtifact:
    """The reset artifact the key panel describes (``InvalidArtifact`` when it does not fit
    its kind: a text for codes and keys, one bounded file for an encrypted file)."""
    kind = field(form, "kind")
    if not kind:
        raise Invalid("Choose the kind of key to send.")
    if kind != "encrypted_file":
        return new_artifact(kind, text=field(form, "text"), max_file_bytes=max_file_bytes)
    named = upload if isinstance(upload, UploadFile) else None
    return new_artifact(kind, content=content, filename=named.filename if named else None,
                        media_type=named.content_type if named else None,
                        max_file_bytes=max_file_bytes)


def kept(form: FormData) -> dict[str, str]:
    """What the agent typed, to fill the form again after a refusal."""
    return {k: v[:4000] for k, v in form.items()
            if isinstance(v, str) and k not in _NOT_KEPT}


def status_of(err: Exception) -> int:
    """The status of a refusal shown as a page (a plain form post)."""
    if isinstance(err, HTTPException):
        return err.status_code
    if isinstance(err, ActorRefused):
        return 403
    if isinstance(err, (TicketNotFound, NotFound)):
        return 404
    if isinstance(err, (ConcurrencyConflict, GuardRefused, IllegalTransition, NoFreeSlot,
                        SessionGone)):
        return 409
    if isinstance(err, NotConfigured) or (isinstance(err, WorkflowError) and err.transient):
        return 503
    return 422


def _sentence(text: str) -> str:
    text = text.strip() or "That did not work"
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def plain(err: Exception) -> str:
    """The refusal as the agent reads it."""
    if isinstance(err, ConcurrencyConflict):
        return ("Someone changed this ticket since the page was shown: nothing was done. "
                "Reload the page and try again.")
    if isinstance(err, GuardRefused):
        return _sentence(f"Not possible now: {err.reason}")
    if isinstance(err, IllegalTransition):
        return (f"Not possible while the ticket is {err.state}: reload the page to see what "
                "it allows now.")
    if isinstance(err, ActorRefused):
        return _sentence(f"Your role may not do this (only {', '.join(err.allowed)})")
    if isinstance(err, NotConfigured):
        return _sentence(f"{err}: ask an operator")
    if isinstance(err, HTTPException):
        detail: Any = err.detail
        reason = detail.get("reason") if isinstance(detail, dict) else detail
        return _sentence(str(reason))
    return _sentence(str(err))
