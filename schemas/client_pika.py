"""What pika does not offer the producers' client (:mod:`schemas.client`): a deadline on the
waits BlockingConnection cannot bound, and what its nested exceptions mean (a time-out, a
permanent refusal, or a lost connection worth one more try)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from pika import exceptions as amqp
from pika.adapters.utils import connection_workflow

PERMANENT_REPLY_CODES: Final = frozenset({403, 404, 406, 530})
TIMEOUTS: Final = (
    TimeoutError, amqp.ConnectionBlockedTimeout, amqp.AMQPHeartbeatTimeout,
    connection_workflow.AMQPConnectorStackTimeout,
)
PERMANENT_CONNECT: Final = (
    amqp.AuthenticationError, amqp.ProbableAuthenticationError, amqp.ProbableAccessDeniedError,
    amqp.IncompatibleProtocolError,
)
CONNECTION_LOST: Final = (
    amqp.AMQPConnectionError, amqp.ChannelClosed, amqp.ChannelWrongStateError,
    connection_workflow.AMQPConnectorException,
)


class DeadlineExpired(Exception):
    """A deadline tore the connection down."""


def causes(exc: BaseException) -> list[BaseException]:
    """exc and what it wraps: pika nests the real reason in args, `.exception` and causes."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 16:
        item = todo.pop()
        if any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend(a for a in item.args if isinstance(a, BaseException))
        for attr in ("exception", "__cause__"):
            nested = getattr(item, attr, None)
            if isinstance(nested, BaseException):
                todo.append(nested)
    return seen


def reply_code(exc: BaseException) -> int | None:
    code = getattr(exc, "reply_code", None)
    return code if isinstance(code, int) else None


def permanent(found: list[BaseException]) -> bool:
    """A refusal that retrying will not cure (credentials, permissions, a missing exchange)."""
    return any(isinstance(c, PERMANENT_CONNECT) for c in found) or any(
        reply_code(c) in PERMANENT_REPLY_CODES for c in found)


@contextmanager
def deadline(connection: Any, seconds: float, expired: list[bool]) -> Iterator[None]:
    """Tear the connection down if the broker's answer awaited inside the block (channel
    open-ok, confirm, close-ok) has not arrived after `seconds`; records that in `expired`.

    BlockingConnection offers no timeout on these waits and runs only its I/O loop's own
    timers while it waits, so the timer goes on that loop, the way pika arms
    `blocked_connection_timeout`. This reaches into pika internals (`_impl`, three of its
    methods and `_error`, stable since pika 1.0); should a release drop them, the deadline is
    skipped and the blocked-connection timeout and heartbeats still bound the wait.
    """
    impl: Any = getattr(connection, "_impl", None)
    call_later = getattr(impl, "_adapter_call_later", None)
    remove = getattr(impl, "_adapter_remove_timeout", None)
    terminate = getattr(impl, "_terminate_stream", None)
    if call_later is None or remove is None or terminate is None:
        yield
        return

    def expire() -> None:
        if impl.is_closed or getattr(impl, "_error", None) is not None:
            return  # already being torn down (blocked timeout, heartbeat): keep that reason
        expired.append(True)
        terminate(DeadlineExpired(f"no answer from the broker within {seconds} s"))

    handle = call_later(seconds, expire)
    try:
        yield
    finally:
        if not expired:
            remove(handle)
