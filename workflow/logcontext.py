"""Which ticket and which message a log line is about, without passing them down every call.

Entry points open a scope per unit of work (a broker delivery, an inbox row, an HTTP request)
with :func:`log_context`; code deeper down that learns more (the service layer loading a ticket)
adds it with :func:`bind`. The logging setup (``resetdesk.logs``) reads :func:`current` for every
line. Stdlib only, so every layer may import it.

A scope restores every field on exit, including what was bound inside it, so nothing leaks from
one message to the next on a worker thread. A nested scope restores only the fields it was
given: a ticket bound inside a handler's own scope stays known to the consumer that runs it,
until the consumer's scope ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ticket_id: ContextVar[str | None] = ContextVar("resetdesk_ticket_id", default=None)
_message_id: ContextVar[str | None] = ContextVar("resetdesk_message_id", default=None)
_depth: ContextVar[int] = ContextVar("resetdesk_log_depth", default=0)


@contextmanager
def log_context(*, ticket_id: str | None = None, message_id: str | None = None) -> Iterator[None]:
    """Lines logged inside carry these ids (a None leaves what an enclosing scope set)."""
    outer = _depth.get() == 0
    saved = (_ticket_id.get(), _message_id.get())
    depth = _depth.set(_depth.get() + 1)
    bind(ticket_id=ticket_id, message_id=message_id)
    try:
        yield
    finally:
        _depth.reset(depth)
        if outer or ticket_id is not None:
            _ticket_id.set(saved[0])
        if outer or message_id is not None:
            _message_id.set(saved[1])


def bind(*, ticket_id: str | None = None, message_id: str | None = None) -> None:
    """Add to the current scope what was just learnt (outside any scope: a no-op, so a
    long-lived thread never keeps a stale id)."""
    if _depth.get() == 0:
        return
    if ticket_id is not None:
        _ticket_id.set(ticket_id)
    if message_id is not None:
        _message_id.set(message_id)


def current() -> tuple[str | None, str | None]:
    """(ticket id, message id) of the current scope; None where unknown."""
    return _ticket_id.get(), _message_id.get()
