"""What intake answers and how it refuses: the results and errors of ``RecordRequest``, which
every transport (HTTP, AMQP) maps to its own vocabulary by ``code``."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.domain.errors import WorkflowError
from workflow.service.verification import Processed


class WrongSource(WorkflowError):
    """A producer sent an event under a source that is not its own (HTTP 403, a dead letter)."""

    code = "wrong_source"

    def __init__(self, producer: str, source: str) -> None:
        self.producer = producer
        self.source = source
        super().__init__(f"producer {producer} may only send events with source {source}")


@dataclass(frozen=True)
class Intake:
    """The answer to one recorded request.

    ``replay``: this (source, id) was accepted before (same content); ``reference`` and
    ``status`` (pending, done, dead) are then the first copy's. ``processed``: the ticket made in
    the same transaction (the AMQP fast path); None when a worker makes it (``VerifyRequest``).
    """

    reference: str
    replay: bool
    status: str
    processed: Processed | None = None
