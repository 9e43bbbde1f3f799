"""What every transport does with one accepted request, whatever carried it.

Embedded workers and AMQP consumers both call :meth:`RequestHandler.handle_claimed`: re-decode
the stored message and hand it to the bus as ``VerifyRequest`` (which asks the human check again
only when the stored result is unknown). Errors are sorted here into retry-later and dead-letter
by the one :class:`RetryPolicy`; nothing here sleeps or keeps counts in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import TypeVar

from schemas.errors import ContractError
from schemas.registry import decode_structured
from workflow.adapters.queries import Database, inbox
from workflow.domain.errors import WorkflowError, brief
from workflow.domain.retry import RetryPolicy
from workflow.domain.rules import RuleBook
from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.command_handlers import build_bus
from workflow.service.commands import Command, VerifyRequest
from workflow.service.human_check import HumanCheckVerifier
from workflow.service.inbox_ports import Claimed, InboxKey, InboxQueue
from workflow.service.intake_handlers import VERIFIER
from workflow.service.ports import Clock, UnitOfWork, committed

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class Disposition(Enum):
    DONE = "done"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True)
class Outcome:
    disposition: Disposition
    detail: str = ""
    ticket_reference: str | None = None


@dataclass
class RequestHandler:
    db: Database
    uow: Callable[[], UnitOfWork]
    clock: Clock
    rules: RuleBook
    verifier: HumanCheckVerifier
    #: attempts and back-off, the same policy as the embedded deliveries' and the AMQP queues'
    retry: RetryPolicy
    #: the process's bus (bootstrap's); None: one for this handler, built on first use
    bus: MessageBus | None = None
    #: the units of work of the inbox bookkeeping (records, leases, retries, the human-check
    #: result), each committed on its own whatever becomes of the request's transaction;
    #: None: ``uow`` as it was at construction
    inbox_uow: Callable[[], UnitOfWork] | None = None

    def __post_init__(self) -> None:
        if self.inbox_uow is None:
            self.inbox_uow = self.uow

    def message_bus(self) -> MessageBus:
        if self.bus is None:
            self.bus = build_bus(HandlerContext(uow=self.uow, clock=self.clock,
                                                rules=lambda: self.rules, verifier=self.verifier))
        return self.bus

    def handle(self, cmd: Command[R]) -> R:
        """A command through the process's bus (``RecordRequest`` from the AMQP intake)."""
        return self.message_bus().handle(cmd)

    def bookkeep(self, step: Callable[[UnitOfWork], T]) -> T:
        """One bookkeeping step (an inbox lease, a retry, a delivery's outcome …), committed."""
        return committed(self.inbox_uow or self.uow, step)

    def _queue(self, step: Callable[[InboxQueue], T]) -> T:
        return self.bookkeep(lambda u: step(u.inbox_queue))

    def _park(self, claimed: Claimed, reason: str, now: datetime) -> None:
        """Park the row ``dead`` and say so in the log (it waits on the dead-letter page)."""
        self._queue(lambda q: q.park_dead(claimed.key, reason, now))
        log.warning("dead letter: request %s (event %s) parked dead after %d attempt(s): %s",
                    claimed.reference, claimed.key.event_id, claimed.attempts, reason)

    def handle_claimed(self, claimed: Claimed, retry: RetryPolicy | None = None) -> Outcome:
        """Process one leased inbox row and record what became of it (``retry``: the
        handler's own policy unless the transport counts the attempts)."""
        retry = retry or self.retry
        now = self.clock.now()
        if claimed.attempts > retry.max_attempts:
            reason = f"gave up after {claimed.attempts - 1} attempts"
            if claimed.last_error:
                reason += f"; last error: {claimed.last_error}"
            self._park(claimed, reason, now)
            return Outcome(Disposition.DEAD, reason)
        try:
            outcome = self._process(claimed)
        except ContractError as err:  # stored messages were valid once; a contract change?
            why = f"contract: {err.reason}"
            self._park(claimed, why, now)
            return Outcome(Disposition.DEAD, err.reason)
        except WorkflowError as err:
            return self._retry(claimed, str(err), now, retry)
        except Exception as err:  # a bug or an outage: retry with back-off, never crash the worker
            log.exception("request %s failed", claimed.reference)
            return self._retry(claimed, brief(err), now, retry)
        log.info("request %s (attempt %d): %s: %s", claimed.reference, claimed.attempts,
                 outcome.disposition.value, outcome.detail)
        return outcome

    def handle_delivered(self, key: InboxKey, *, attempt: int, max_attempts: int,
                         lease: timedelta) -> Outcome:
        """Process the recorded row one broker delivery stands for (AMQP consumers).

        The broker counts the attempts (``attempt`` is 1 + the retries ``x-death`` shows), so
        ``attempt``/``max_attempts`` replace the row's own count and the handler's limit; the rest
        is :meth:`handle_claimed`. A row already done answers DONE, a dead one DEAD with its reason,
        and one another consumer holds a live lease on RETRY.
        """
        claimed = self._queue(lambda q: q.claim_key(key, lease=lease, now=self.clock.now(),
                                                    steal=True))
        if claimed is None:
            found = inbox.status(self.db, key.source, key.event_id)
            if found is None:
                return Outcome(Disposition.DEAD, "no inbox row for this message")
            if found.status == "done":
                return Outcome(Disposition.DONE, "already processed", found.reference)
            if found.status in ("dead", "discarded"):
                return Outcome(Disposition.DEAD, found.last_error or f"{found.status} before")
            return Outcome(Disposition.RETRY, "being processed elsewhere (inbox row leased)")
        return self.handle_claimed(replace(claimed, attempts=attempt),
                                   replace(self.retry, max_attempts=max_attempts))

    def _retry(self, claimed: Claimed, error: str, now: datetime, retry: RetryPolicy) -> Outcome:
        delay = retry.next_delay(claimed.attempts)
        if delay is None:
            reason = f"gave up after {claimed.attempts} attempts; last error: {error}"
            self._park(claimed, reason, now)
            return Outcome(Disposition.DEAD, reason)
        at = now + timedelta(seconds=delay)
        self._queue(lambda q: q.retry_later(claimed.key, error, at))
        return Outcome(Disposition.RETRY, error)

    def _process(self, claimed: Claimed) -> Outcome:
        event = decode_structured(claimed.payload.encode("utf-8"))
        done = self.handle(VerifyRequest(
            actor=VERIFIER, source=claimed.key.source, event_id=claimed.key.event_id,
            reference=claimed.reference, producer=claimed.producer,
            human_check=claimed.human_check, request=event.data,
            remote_addr=claimed.remote_addr, accepted_at=claimed.received_at))
        return Outcome(Disposition.DONE, "applied" if done.applied else "already processed",
                       done.reference)
