"""Ports the application services need; adapters implement them, test fakes subclass them.

Contracts every implementation keeps (the contract tests in tests/ run on each):
- ``TicketRepository.save`` applies the change only if the stored version is still the one the
  ticket was loaded with, and writes the ticket's pending audit entries and events (as outbox
  rows) in the same transaction; otherwise it raises ``ConcurrencyConflict`` and changes nothing.
- ``TicketRepository.add`` raises ``OpenSerialTaken`` when another open ticket holds the serial;
  the caller's transaction stays usable.
- Nothing is visible to others before ``UnitOfWork.commit``; leaving the ``with`` block without
  committing rolls everything back.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar

from workflow.domain.errors import WorkflowError
from workflow.domain.ticket import AuditEntry, Ticket
from workflow.domain.ticket_sla import Alarm, SlaBook
from workflow.service.account_ports import AccountStore
from workflow.service.delivery_ports import DeliveryQueue
from workflow.service.inbox_ports import InboxQueue

if TYPE_CHECKING:  # the ports of the resolution paths import this module
    from workflow.service.callback_ports import CallbackStore
    from workflow.service.key_ports import ArtifactStore
    from workflow.service.presence import PresenceStore
    from workflow.service.session_ports import SessionStore
    from workflow.service.throttle import ThrottleCounters


class OpenSerialTaken(WorkflowError):
    """Another open ticket already holds this serial number."""

    def __init__(self, open_ticket_id: str) -> None:
        self.open_ticket_id = open_ticket_id
        super().__init__(f"an open ticket ({open_ticket_id}) exists for this serial number")


class Clock(abc.ABC):
    @abc.abstractmethod
    def now(self) -> datetime:
        """The current instant, timezone-aware."""


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class TicketRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, ticket_id: str) -> Ticket:
        """The ticket, or ``TicketNotFound``."""

    @abc.abstractmethod
    def by_reference(self, reference: str) -> Ticket:
        """The ticket with this customer-facing reference, or ``TicketNotFound``."""

    @abc.abstractmethod
    def add(self, ticket: Ticket) -> None:
        """Insert a new ticket with its pending audit and events."""

    @abc.abstractmethod
    def save(self, ticket: Ticket) -> None:
        """Store the ticket's changes if nobody changed it since it was loaded."""

    @abc.abstractmethod
    def save_clocks(self, tickets: Sequence[Ticket]) -> None:
        """Store only the SLA clocks and pending events of a batch, all or nothing, under the
        same version check as ``save`` (the scheduler's tick changes nothing else)."""

    @abc.abstractmethod
    def history(self, ticket_id: str) -> Sequence[AuditEntry]:
        """The ticket's audit trail, oldest first."""

    @abc.abstractmethod
    def due_for_alarm(self, now: datetime, limit: int) -> list[Ticket]:
        """Tickets whose next SLA alarm instant has come, earliest first (one indexed query)."""

    @abc.abstractmethod
    def open_with_clocks(self, after_id: str, limit: int) -> list[Ticket]:
        """Open tickets that have SLA clocks, by id, for batch recomputation."""


class AlarmLog(abc.ABC):
    @abc.abstractmethod
    def record(self, ticket_id: str, alarm: Alarm, now: datetime) -> bool:
        """Note an SLA alarm; False if it was already noted (the database's unique key decides)."""

    @abc.abstractmethod
    def record_many(self, alarms: Sequence[tuple[str, Alarm]],
                    now: datetime) -> set[tuple[str, str, int, str]]:
        """Note many alarms at once; returns the (ticket, clock, cycle, level) newly noted."""


class NoteRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, ticket_id: str, author: str, at: datetime, body: str) -> None: ...

    @abc.abstractmethod
    def for_ticket(self, ticket_id: str) -> list[tuple[datetime, str, str]]:
        """(at, author, body), oldest first."""


class AlreadyRecorded(WorkflowError):
    """The inbox already holds this (source, id) (or, rarely, the reference drawn): take the
    slow path that answers replays."""


@dataclass(frozen=True)
class InboxEntry:
    """A message recorded in the same transaction that processes it (AMQP: the broker keeps
    the message until the ack, so nothing needs committing before the work)."""

    type: str
    producer: str
    digest: str
    payload: str
    human_check: str


class InboxRepository(abc.ABC):
    @abc.abstractmethod
    def insert(self, source: str, event_id: str, reference: str, entry: InboxEntry,
               now: datetime, *, ticket_id: str | None = None) -> None:
        """Add a row for a new message (already done, for ``ticket_id``, when given);
        ``AlreadyRecorded`` if its key or reference exists."""

    @abc.abstractmethod
    def complete(self, source: str, event_id: str, ticket_id: str, reference: str,
                 now: datetime) -> bool:
        """Mark the message processed; False if it was not pending (someone else applied it),
        in which case the caller must roll back rather than apply it twice."""


@dataclass(frozen=True)
class Attachment:
    kind: str
    media_type: str
    filename: str
    content: bytes


class AttachmentRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, ticket_id: str, attachment: Attachment, now: datetime) -> None: ...


class UnitOfWork(abc.ABC):
    """One database transaction; ``with uow:`` opens it, ``commit`` ends it."""

    tickets: TicketRepository
    inbox: InboxRepository
    #: the inbox as the entry points' queue (recording, leases, retries), one step per unit
    inbox_queue: InboxQueue
    #: embedded mode's fan-out of the outbox to its subscribers
    deliveries: DeliveryQueue
    #: staff accounts (an agent's sign-in opens an API session)
    accounts: AccountStore
    attachments: AttachmentRepository
    alarms: AlarmLog
    notes: NoteRepository
    #: the business calendar and SLA policies services reconcile the clocks with
    sla: SlaBook
    #: the resolution paths' stores, on the same transaction
    callbacks: CallbackStore
    keys: ArtifactStore
    sessions: SessionStore
    #: the rate-limit and guess counters (the scheduler prunes them)
    throttle: ThrottleCounters
    #: who has a ticket open in the console (rows with a time-to-live)
    presence: PresenceStore

    @abc.abstractmethod
    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: an exception inside undoes only what it did."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None:
        """Undo whatever was not committed; harmless after a commit."""


T = TypeVar("T")


def committed(uow: Callable[[], UnitOfWork], step: Callable[[UnitOfWork], T]) -> T:
    """``step`` in a unit of work of its own, committed when it returns (an entry point's
    bookkeeping: an inbox lease, a retry, a delivery's outcome)."""
    with uow() as unit:
        result = step(unit)
        unit.commit()
    return result


class AgentDirectory(abc.ABC):
    """Who the staff are: the CLI's ``--as`` and a reassignment must name one of them."""

    @abc.abstractmethod
    def role_of(self, login: str) -> str | None:
        """``agent`` or ``supervisor`` for an existing, enabled agent; None otherwise."""
