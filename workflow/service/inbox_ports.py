"""The inbox as a queue: recording an accepted message, leasing rows to workers, and what
becomes of a row that cannot be applied now (retry later, dead). ``ports.InboxRepository`` is
the part the request handler's own transaction uses; this is the part the entry points use,
each step in a unit of work of its own (``uow.inbox_queue``)."""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from workflow.domain.errors import WorkflowError


class ContentConflict(WorkflowError):
    """The same (source, id) was sent before with different content."""

    #: what the entry points answer: HTTP 409 ``conflict``, a dead letter with this reason
    code = "conflict"


@dataclass(frozen=True)
class InboxKey:
    source: str
    event_id: str


@dataclass(frozen=True)
class Recorded:
    """The answer to an intake: ``replay`` means this (source, id) was already accepted."""

    replay: bool
    reference: str
    status: str


@dataclass(frozen=True)
class Claimed:
    key: InboxKey
    type: str
    producer: str
    payload: str
    reference: str
    attempts: int
    human_check: str | None
    remote_addr: str | None
    last_error: str | None
    received_at: datetime


def canonical_payload(envelope: dict[str, Any]) -> str:
    """The stored form of a structured CloudEvent (its digest is the dedup's content check)."""
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


class InboxQueue(abc.ABC):
    """Inside the caller's transaction: nothing is visible before its unit of work commits."""

    @abc.abstractmethod
    def record(self, *, source: str, event_id: str, type_: str, producer: str, digest: str,
               payload: str, now: datetime, human_check: str | None = None,
               remote_addr: str | None = None, relay: bool = False) -> Recorded:
        """Accept a message, or answer as before (``ContentConflict`` if it differs).
        ``relay``: with an outbox row that carries the request to the verification consumers."""

    @abc.abstractmethod
    def earlier(self, source: str, event_id: str, digest: str) -> Recorded | None:
        """The answer given when this (source, id) was first accepted, or None if it never was
        (``ContentConflict`` if its content differs): a replay is told before the human check
        is asked (a single-use token was spent on the first copy)."""

    @abc.abstractmethod
    def claim(self, *, limit: int, lease: timedelta, now: datetime) -> list[Claimed]:
        """Lease up to ``limit`` due rows, oldest first, counting one attempt on each."""

    @abc.abstractmethod
    def claim_key(self, key: InboxKey, *, lease: timedelta, now: datetime,
                  steal: bool = False) -> Claimed | None:
        """Lease one specific row; None when it is not pending or (unless ``steal``) leased."""

    @abc.abstractmethod
    def set_human_check(self, key: InboxKey, result: str) -> None:
        """Note the human-check result (commit it at once: the token is single-use)."""

    @abc.abstractmethod
    def retry_later(self, key: InboxKey, error: str, at: datetime) -> None: ...

    @abc.abstractmethod
    def park_dead(self, key: InboxKey, reason: str, now: datetime) -> None: ...

    @abc.abstractmethod
    def revive(self, key: InboxKey, now: datetime) -> bool:
        """Make a dead row pending again (a replayed dead letter); False if it was not dead."""
