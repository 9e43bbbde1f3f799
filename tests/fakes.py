"""An in-memory unit of work over the ports, for fast handler tests (no database).

It keeps the ports' contracts that handlers rely on: ``save`` checks the version the ticket was
loaded with and takes its pending audit and events; the inbox's key and reference are unique;
nothing is visible before ``commit``. The resolution paths' and the scheduler's stores
(``callbacks``, ``keys``, ``sessions``, ``throttle``, ``alarms``) are in ``tests.fake_stores``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from workflow.domain.ticket import AuditEntry, Ticket, new_reference
from workflow.service.inbox_ports import Claimed, ContentConflict, InboxKey, InboxQueue, Recorded
from workflow.service.ports import (
    AgentDirectory,
    AlreadyRecorded,
    Attachment,
    AttachmentRepository,
    InboxEntry,
    InboxRepository,
    NoteRepository,
    TicketRepository,
    UnitOfWork,
)


@dataclass
class InboxRow:
    source: str
    event_id: str
    type: str
    producer: str
    digest: str
    payload: str
    reference: str
    received_at: datetime
    status: str = "pending"
    human_check: str | None = None
    remote_addr: str | None = None
    ticket_id: str | None = None
    #: recorded with an outbox row for the relay (production HTTP intake)
    relayed: bool = False
    last_error: str | None = None


class Store:
    """What the fake 'database' holds; shared by every unit of work made from it."""

    def __init__(self) -> None:
        self.tickets: dict[str, Ticket] = {}
        self.audit: list[AuditEntry] = []
        self.events: list[DomainEvent] = []
        self.notes: list[tuple[str, str, datetime, str]] = []
        self.tables = Tables()
        self.inbox: dict[tuple[str, str], InboxRow] = {}
        self.attachments: list[tuple[str, Attachment]] = []
        #: units of work committed, in order (what a test may check the order of)
        self.commits = 0


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


class FakeInbox(InboxRepository, InboxQueue):
    """The inbox's rows in memory: the key (source, id) and the reference are unique; the
    leases are not faked (the workers' tests run on the real database)."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    def _taken(self, source: str, event_id: str, reference: str) -> bool:
        rows = self.uow.inbox_view
        return (source, event_id) in rows or any(r.reference == reference for r in rows.values())

    def insert(self, source: str, event_id: str, reference: str, entry: InboxEntry,
               now: datetime, *, ticket_id: str | None = None) -> None:
        if self._taken(source, event_id, reference):
            raise AlreadyRecorded(f"{source} {event_id} is already in the inbox")
        self.uow.inbox_view[(source, event_id)] = InboxRow(
            source, event_id, entry.type, entry.producer, entry.digest, entry.payload, reference,
            now, "done" if ticket_id else "pending", entry.human_check, ticket_id=ticket_id)

    def complete(self, source: str, event_id: str, ticket_id: str, reference: str,
                 now: datetime) -> bool:
        row = self.uow.inbox_view.get((source, event_id))
        if row is None or row.status != "pending":
            return False
        row.status, row.ticket_id = "done", ticket_id
        return True

    def earlier(self, source: str, event_id: str, digest: str) -> Recorded | None:
        row = self.uow.inbox_view.get((source, event_id))
        if row is None:
            return None
        if row.digest != digest:
            raise ContentConflict("this (source, id) was already accepted with different content")
        return Recorded(True, row.reference, row.status)

    def record(self, *, source: str, event_id: str, type_: str, producer: str, digest: str,
               payload: str, now: datetime, human_check: str | None = None,
               remote_addr: str | None = None, relay: bool = False) -> Recorded:
        found = self.earlier(source, event_id, digest)
        if found is not None:
            return found
        reference = new_reference()
        self.uow.inbox_view[(source, event_id)] = InboxRow(
            source, event_id, type_, producer, digest, payload, reference, now,
            human_check=human_check, remote_addr=remote_addr, relayed=relay)
        return Recorded(False, reference, "pending")

    def claim(self, *, limit: int, lease: timedelta, now: datetime) -> list[Claimed]:
        raise AssertionError("inbox leases not faked")

    def claim_key(self, key: InboxKey, *, lease: timedelta, now: datetime,
                  steal: bool = False) -> Claimed | None:
        raise AssertionError("inbox leases not faked")

    def set_human_check(self, key: InboxKey, result: str) -> None:
        row = self.uow.inbox_view[(key.source, key.event_id)]
        if row.human_check is None:
            row.human_check = result

    def retry_later(self, key: InboxKey, error: str, at: datetime) -> None:
        self.uow.inbox_view[(key.source, key.event_id)].last_error = error

    def park_dead(self, key: InboxKey, reason: str, now: datetime) -> None:
        row = self.uow.inbox_view[(key.source, key.event_id)]
        row.status, row.last_error = "dead", reason

    def revive(self, key: InboxKey, now: datetime) -> bool:
        row = self.uow.inbox_view[(key.source, key.event_id)]
        if row.status != "dead":
            return False
        row.status = "pending"
        return True


class FakeAttachments(AttachmentRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    def add(self, ticket_id: str, attachment: Attachment, now: datetime) -> None:
        self.uow.pending_attachments.append((ticket_id, attachment))


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, store: Store) -> None:
        self.store = store
        self.sla = default_book()
        self.tickets = FakeTickets(self)
        self.notes = FakeNotes(self)
        self.inbox = self.inbox_queue = FakeInbox(self)
        self.attachments = FakeAttachments(self)
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
        self.store.inbox = self.inbox_view
        self.store.attachments.extend(self.pending_attachments)
        self.store.commits += 1
        self.rollback()

    def rollback(self) -> None:
        self.view: dict[str, Ticket] = dict(self.store.tickets)
        self.pending_audit: list[AuditEntry] = []
        self.pending_events: list[DomainEvent] = []
        self.pending_notes: list[tuple[str, str, datetime, str]] = []
        self.data: Tables = copy.deepcopy(self.store.tables)
        self.inbox_view = copy.deepcopy(self.store.inbox)
        self.pending_attachments: list[tuple[str, Attachment]] = []


class FakeAgents(AgentDirectory):
    def __init__(self, **roles: str) -> None:
        self.roles = roles

    def role_of(self, login: str) -> str | None:
        return self.roles.get(login)
