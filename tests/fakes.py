"""An in-memory unit of work over the ports, for fast handler tests (no database).

It keeps the ports' contracts that handlers rely on: ``save`` checks the version the ticket was
loaded with and takes its pending audit and events; nothing is visible before ``commit``. The
resolution paths' and the scheduler's stores (``callbacks``, ``keys``, ``sessions``,
``throttle``, ``alarms``) are in ``tests.fake_stores``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from tests.fake_stores import (
    FakeAlarms,
    FakeCallbacks,
    FakeCounters,
    FakeKeys,
    FakePresence,
    FakeSessions,
    Tables,
)
from workflow.adapters.sla_book import default_book
from workflow.domain.errors import ConcurrencyConflict, TicketNotFound
from workflow.domain.events import DomainEvent
from workflow.domain.ticket import AuditEntry, Ticket
from workflow.service.ports import (
    AgentDirectory,
    Attachment,
    AttachmentRepository,
    InboxEntry,
    InboxRepository,
    NoteRepository,
    TicketRepository,
    UnitOfWork,
)


class Store:
    """What the fake 'database' holds; shared by every unit of work made from it."""

    def __init__(self) -> None:
        self.tickets: dict[str, Ticket] = {}
        self.audit: list[AuditEntry] = []
        self.events: list[DomainEvent] = []
        self.notes: list[tuple[str, str, datetime, str]] = []
        self.tables = Tables()


class FakeTickets(TicketRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    def get(self, ticket_id: str) -> Ticket:
        stored = self.uow.view.get(ticket_id)
        if stored is None:
            raise TicketNotFound(ticket_id)
        return copy.deepcopy(stored)

    def by_reference(self, reference: str) -> Ticket:
        for t in self.uow.view.values():
            if t.reference == reference:
                return copy.deepcopy(t)
        raise TicketNotFound(reference)

    def add(self, ticket: Ticket) -> None:
        self._keep(ticket, version=1)

    def save(self, ticket: Ticket) -> None:
        stored = self.uow.view.get(ticket.id)
        if stored is None or stored.version != ticket.version:
            raise ConcurrencyConflict(ticket.id, ticket.version)
        self._keep(ticket, version=ticket.version + 1)

    def _keep(self, ticket: Ticket, version: int) -> None:
        audit, events = ticket.take_pending()
        ticket.version = version
        self.uow.view[ticket.id] = copy.deepcopy(ticket)
        self.uow.pending_audit.extend(audit)
        self.uow.pending_events.extend(events)

    def save_clocks(self, tickets: Sequence[Ticket]) -> None:
        for t in tickets:
            self.save(t)

    def history(self, ticket_id: str) -> Sequence[AuditEntry]:
        return [a for a in self.uow.store.audit + self.uow.pending_audit if a.ticket_id == ticket_id]

    def due_for_alarm(self, now: datetime, limit: int) -> list[Ticket]:
        def next_alarm(t: Ticket) -> datetime | None:
            return t.sla.next_alarm_at() if t.sla is not None else None

        due = [t for t in self.uow.view.values() if (at := next_alarm(t)) is not None and at <= now]
        return [copy.deepcopy(t) for t in sorted(due, key=lambda t: next_alarm(t) or now)[:limit]]

    def open_with_clocks(self, after_id: str, limit: int) -> list[Ticket]:
        return []


class FakeNotes(NoteRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    def add(self, ticket_id: str, author: str, at: datetime, body: str) -> None:
        self.uow.pending_notes.append((ticket_id, author, at, body))

    def for_ticket(self, ticket_id: str) -> list[tuple[datetime, str, str]]:
        return [(at, who, body) for tid, who, at, body in self.uow.store.notes if tid == ticket_id]


class Unused(InboxRepository, AttachmentRepository):
    """Ports these tests never reach: calling one is a test bug."""

    def insert(self, source: str, event_id: str, reference: str, entry: InboxEntry,
               now: datetime, *, ticket_id: str | None = None) -> None:
        raise AssertionError("inbox not faked")

    def complete(self, source: str, event_id: str, ticket_id: str, reference: str,
                 now: datetime) -> bool:
        raise AssertionError("inbox not faked")

    def add(self, ticket_id: str, attachment: Attachment, now: datetime) -> None:
        raise AssertionError("attachments not faked")


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, store: Store) -> None:
        self.store = store
        self.sla = default_book()
        self.tickets = FakeTickets(self)
        self.notes = FakeNotes(self)
        unused = Unused()
        self.inbox, self.attachments = unused, unused
        self.callbacks, self.keys = FakeCallbacks(self), FakeKeys(self)
        self.sessions, self.throttle = FakeSessions(self), FakeCounters(self)
        self.alarms = FakeAlarms(self)
        self.presence = FakePresence(self)
        self.rollback()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        yield

    def commit(self) -> None:
        self.store.tickets = self.view
        self.store.audit.extend(self.pending_audit)
        self.store.events.extend(self.pending_events)
        self.store.notes.extend(self.pending_notes)
        self.store.tables = self.data
        self.rollback()

    def rollback(self) -> None:
        self.view: dict[str, Ticket] = dict(self.store.tickets)
        self.pending_audit: list[AuditEntry] = []
        self.pending_events: list[DomainEvent] = []
        self.pending_notes: list[tuple[str, str, datetime, str]] = []
        self.data: Tables = copy.deepcopy(self.store.tables)


class FakeAgents(AgentDirectory):
    def __init__(self, **roles: str) -> None:
        self.roles = roles

    def role_of(self, login: str) -> str | None:
        return self.roles.get(login)
