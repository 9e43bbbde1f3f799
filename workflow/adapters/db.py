"""Engines for the two supported databases.

SQLite (the embedded default) runs in WAL mode and opens every write transaction with
``BEGIN IMMEDIATE``: in WAL a deferred read-then-write transaction fails at once with
SQLITE_BUSY_SNAPSHOT whatever the busy timeout, while IMMEDIATE waits for the lock up front.
Read-only work goes through a second engine whose transactions stay deferred, so readers never
queue behind writers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class Database:
    url: str
    writer: Engine
    reader: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def _sqlite_engine(url: str, begin: str, busy_timeout_ms: int, synchronous: str = "FULL",
                   pool_size: int = 8) -> Engine:
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=8,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")  # FULL: a 202 survives a power loss
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


def open_database(url: str, *, busy_timeout_ms: int = 30_000, pool_size: int = 5) -> Database:
    """Engines for ``url``: ``sqlite:///path.db`` or ``postgresql+psycopg://…``."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        writer = _sqlite_engine(url, "BEGIN IMMEDIATE", busy_timeout_ms)
        reader = _sqlite_engine(url, "BEGIN", busy_timeout_ms)
        return Database(url, writer, reader)
    if backend == "postgresql":
        engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2,
                               pool_pre_ping=True)
        return Database(url, engine, engine)
    raise ValueError(f"unsupported database URL scheme {backend!r}: use sqlite or postgresql")


def lossy_writer(db: Database, busy_timeout_ms: int = 30_000) -> Engine:
    """For writes a power cut may lose without harm (rate-limit counters): on SQLite a small
    second writer whose commits skip the fsync (``synchronous=NORMAL``; WAL keeps the file
    consistent, and the next FULL commit syncs them too); on PostgreSQL the writer itself
    (the caller turns ``synchronous_commit`` off per transaction)."""
    if not db.is_sqlite:
        return db.writer
    return _sqlite_engine(db.url, "BEGIN IMMEDIATE", busy_timeout_ms, synchronous="NORMAL",
                          pool_size=2)
