"""The SQL unit of work: one connection, one transaction, repositories bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, RootTransaction
from sqlalchemy.exc import OperationalError

from telemetry import metrics
from workflow.adapters.agent_sessions import SqlAccountStore
from workflow.adapters.alarms import SqlAlarmLog
from workflow.adapters.artifact_store import SqlArtifactStore
from workflow.adapters.attachments import SqlAttachmentRepository
from workflow.adapters.callback_store import SqlCallbackStore
from workflow.adapters.db import Database
from workflow.adapters.deliveries import SqlDeliveryQueue
from workflow.adapters.inbox import SqlInboxRepository
from workflow.adapters.notes import SqlNoteRepository
from workflow.adapters.presence_store import SqlPresenceStore
from workflow.adapters.repository import SqlTicketRepository
from workflow.adapters.session_store import SqlSessionStore
from workflow.adapters.sla_book import default_book
from workflow.adapters.throttle_store import SqlThrottleCounters
from workflow.domain.errors import StorageUnavailable
from workflow.domain.ticket_sla import SlaBook
from workflow.service.ports import UnitOfWork


class SqlUnitOfWork(UnitOfWork):
    """``read_only`` uses the reader engine: on SQLite its transactions do not take the write lock."""

    tickets: SqlTicketRepository
    inbox: SqlInboxRepository
    inbox_queue: SqlInboxRepository
    deliveries: SqlDeliveryQueue
    accounts: SqlAccountStore
    attachments: SqlAttachmentRepository
    alarms: SqlAlarmLog
    notes: SqlNoteRepository
    callbacks: SqlCallbackStore
    keys: SqlArtifactStore
    sessions: SqlSessionStore
    throttle: SqlThrottleCounters
    presence: SqlPresenceStore

    def __init__(self, db: Database, *, read_only: bool = False, sla: SlaBook | None = None) -> None:
        self.db = db
        self.read_only = read_only
        self.sla = sla or default_book()
        self._conn: Connection | None = None
        self._tx: RootTransaction | None = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside its with-block")
        return self._conn

    def __enter__(self) -> Self:
        engine = self.db.reader if self.read_only else self.db.writer
        try:
            self._conn = engine.connect()
            self._tx = self._conn.begin()
        except OperationalError as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            raise StorageUnavailable(f"database unavailable: {exc.orig}") from exc
        self._bind(self._conn)
        return self

    def _bind(self, conn: Connection) -> None:
        """The stores, on ``conn``'s transaction."""
        self.tickets = SqlTicketRepository(conn)
        self.inbox = self.inbox_queue = SqlInboxRepository(conn)
        self.deliveries = SqlDeliveryQueue(conn)
        self.accounts = SqlAccountStore(conn)
        self.attachments = SqlAttachmentRepository(conn)
        self.alarms = SqlAlarmLog(conn)
        self.notes = SqlNoteRepository(conn)
        self.callbacks = SqlCallbackStore(conn)
        self.keys = SqlArtifactStore(conn)
        self.sessions = SqlSessionStore(conn)
        self.throttle = SqlThrottleCounters(conn)
        self.presence = SqlPresenceStore(conn)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.rollback()
        finally:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            self._tx = None
        if isinstance(exc, OperationalError):
            raise StorageUnavailable(f"database error: {exc.orig}") from exc

    def commit(self) -> None:
        if self._tx is None:
            raise RuntimeError("commit outside the with-block")
        try:
            self._tx.commit()
        except OperationalError as err:
            raise StorageUnavailable(f"commit failed: {err.orig}") from err
        tickets = self.tickets
        metrics.committed(tickets.written_moves, tickets.written_alarms)
        tickets.written_moves, tickets.written_alarms = [], []

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.conn.begin_nested():
            yield

    def rollback(self) -> None:
        if self._tx is not None and self._tx.is_active:
            self._tx.rollback()
            self.tickets.written_moves, self.tickets.written_alarms = [], []
