"""Group commit's unit of work: the handlers of one batch share one connection and one
transaction; a handler's ``commit()`` only says "my part is done", and the batch commits once.

No savepoint per handler: it would cost two round trips per message, most of what batching
saves. Instead a handler that leaves its unit without committing (an error, a rollback) aborts
the batch: :class:`BatchAborted` is raised at the next use, the caller rolls the transaction back
and runs each message alone (the path without batching), whose inbox key makes that replay
idempotent.

Multi-row writes: the inbox, audit and outbox rows of the whole batch are written just before
the commit, one executemany each (the tickets themselves are inserted at once: their open-serial
key decides a duplicate request there and then).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, insert, select, tuple_
from sqlalchemy.exc import OperationalError

from telemetry import metrics
from workflow.adapters.db import Database
from workflow.adapters.inbox import SqlInboxRepository, insert_values
from workflow.adapters.repository import SqlTicketRepository
from workflow.adapters.tables import AUDIT, INBOX, OUTBOX
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.errors import StorageUnavailable
from workflow.domain.ticket_sla import SlaBook
from workflow.service.inbox_ports import InboxKey
from workflow.service.ports import InboxEntry, UnitOfWork

#: stores keeping nothing but their connection: one instance serves every handler of a batch
_SHARED_STORES = ("deliveries", "accounts", "attachments", "alarms", "notes", "callbacks", "keys",
                  "sessions", "throttle", "presence")


class BatchAborted(Exception):
    """A handler of the batch failed: roll the batch back and run its messages one by one."""


class SharedTransaction:
    """One batch's connection and transaction, and the rows kept for its commit."""

    def __init__(self, conn: Connection, db: Database, sla: SlaBook) -> None:
        self.conn, self.db, self.sla = conn, db, sla
        self.aborted = False
        self.inbox_rows: list[dict[str, Any]] = []
        self.audit_rows: list[dict[str, Any]] = []
        self.outbox_rows: list[dict[str, Any]] = []
        #: the stores without per-unit state, made once per batch (their construction adds up)
        self.stores: dict[str, Any] | None = None
        self.moves: list[tuple[str, str, str, str | None]] = []
        self.alarms: list[tuple[str, str]] = []

    def existing(self, keys: Iterable[InboxKey]) -> set[InboxKey]:
        """Which of ``keys`` the inbox holds already (replays: they go alone, after the
        commit, instead of aborting the batch on the inbox key)."""
        wanted = [(k.source, k.event_id) for k in keys]
        if not wanted:
            return set()
        rows = self.conn.execute(select(INBOX.c.source, INBOX.c.event_id).where(
            tuple_(INBOX.c.source, INBOX.c.event_id).in_(wanted))).all()
        return {InboxKey(r.source, r.event_id) for r in rows}

    def flush(self) -> None:
        for table, rows in ((INBOX, self.inbox_rows), (AUDIT, self.audit_rows),
                            (OUTBOX, self.outbox_rows)):
            if rows:
                self.conn.execute(insert(table), rows)
            rows.clear()


class _BatchInbox(SqlInboxRepository):
    def __init__(self, conn: Connection, shared: SharedTransaction) -> None:
        super().__init__(conn)
        self.shared = shared

    def insert(self, source: str, event_id: str, reference: str, entry: InboxEntry,
               now: datetime, *, ticket_id: str | None = None) -> None:
        self.shared.inbox_rows.append(insert_values(source, event_id, reference, entry, now,
                                                    ticket_id))


class _BatchTickets(SqlTicketRepository):
    def __init__(self, conn: Connection, shared: SharedTransaction) -> None:
        super().__init__(conn)
        self.shared = shared

    def _insert_rows(self, audit: list[dict[str, Any]], outbox: list[dict[str, Any]]) -> None:
        self.shared.audit_rows += audit
        self.shared.outbox_rows += outbox


class BatchedUnitOfWork(SqlUnitOfWork):
    """One handler's view of the batch's transaction (see the module docstring)."""

    def __init__(self, shared: SharedTransaction) -> None:
        super().__init__(shared.db, sla=shared.sla)
        self.shared = shared
        self._done = False

    def __enter__(self) -> Self:
        if self.shared.aborted:
            raise BatchAborted("an earlier handler of this batch failed")
        self._conn = self.shared.conn
        if self.shared.stores is None:
            self._bind(self._conn)
            self.shared.stores = {name: getattr(self, name) for name in _SHARED_STORES}
        else:
            for name, store in self.shared.stores.items():
                setattr(self, name, store)
        self.tickets = _BatchTickets(self._conn, self.shared)
        self.inbox = self.inbox_queue = _BatchInbox(self._conn, self.shared)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.rollback()
        self._conn = None
        if isinstance(exc, OperationalError):
            raise StorageUnavailable(f"database error: {exc.orig}") from exc

    def commit(self) -> None:
        if self.shared.aborted:
            raise BatchAborted("an earlier handler of this batch failed")
        self._done = True
        self.shared.moves += self.tickets.written_moves
        self.shared.alarms += self.tickets.written_alarms
        self.tickets.written_moves, self.tickets.written_alarms = [], []

    def rollback(self) -> None:
        if not self._done:  # what this handler wrote cannot be undone alone
            self.shared.aborted = True


class BatchScope:
    """Opens a batch's transaction on the calling thread; ``uow`` (a unit-of-work factory for
    a bus) hands out views of it. ``template`` gives the database and SLA book in force."""

    def __init__(self, template: Callable[[], UnitOfWork]) -> None:
        self.template = template
        self._local = threading.local()

    def uow(self) -> UnitOfWork:
        shared: SharedTransaction | None = getattr(self._local, "shared", None)
        if shared is None:
            raise RuntimeError("no batch is open on this thread")
        return BatchedUnitOfWork(shared)

    @contextmanager
    def transaction(self) -> Iterator[SharedTransaction]:
        """One checkout, one BEGIN; commits when the block ends without error and no handler
        aborted, else rolls back and raises."""
        unit = self.template()
        if not isinstance(unit, SqlUnitOfWork):
            raise TypeError("group commit needs the SQL unit of work")
        with unit.db.writer.connect() as conn:
            tx = conn.begin()
            shared = self._local.shared = SharedTransaction(conn, unit.db, unit.sla)
            try:
                yield shared
                if shared.aborted:
                    raise BatchAborted("a handler of this batch failed")
                shared.flush()
                tx.commit()
            finally:
                self._local.shared = None
                if tx.is_active:
                    tx.rollback()
        metrics.committed(shared.moves, shared.alarms)
