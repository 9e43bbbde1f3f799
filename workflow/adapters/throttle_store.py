"""SQL for the throttle counters (table ``throttle``), on SQLite and PostgreSQL.

A counter is created by ``INSERT … ON CONFLICT DO NOTHING`` and then read locked: PostgreSQL
``SELECT … FOR UPDATE`` (a concurrent first insert waits on the unique key, then reads the
committed row), SQLite by its write transactions being ``BEGIN IMMEDIATE`` (one writer at a
time). So every process that shares the database counts on the same row, one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from workflow.adapters.db import Database, lossy_writer
from workflow.adapters.tables_resolution import THROTTLE
from workflow.domain.throttle import CounterState, ThrottleLimits
from workflow.service.throttle import Throttle, ThrottleCounters


class SqlThrottleCounters(ThrottleCounters):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def counter(self, scope: str, key: str, now: datetime) -> CounterState:
        t = THROTTLE.c
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        self.conn.execute(dialect.insert(THROTTLE).values(
            scope=scope, key=key, window_start=now, failures=0).on_conflict_do_nothing())
        stmt = select(t.window_start, t.failures, t.locked_until).where(
            t.scope == scope, t.key == key)
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).one()
        return CounterState(row.window_start, row.failures, row.locked_until)

    def save_counter(self, scope: str, key: str, state: CounterState) -> None:
        t = THROTTLE.c
        self.conn.execute(update(THROTTLE).where(t.scope == scope, t.key == key).values(
            window_start=state.window_start, failures=state.count,
            locked_until=state.locked_until))

    def prune_throttle(self, before: datetime) -> int:
        """Forget counters whose window and lock both ended before ``before``."""
        t = THROTTLE.c
        result = self.conn.execute(THROTTLE.delete().where(
            t.window_start < before, (t.locked_until.is_(None)) | (t.locked_until < before)))
        return int(result.rowcount)


def sql_throttle(db: Database, limits: ThrottleLimits) -> Throttle:
    """The HTTP throttle over ``db``: each hit is one short write transaction of its own, whose
    commit does not wait for the disk (a counter lost in a power cut costs nothing; an fsync per
    intake request would cost a third of its throughput on SQLite)."""
    engine = lossy_writer(db)

    @contextmanager
    def transaction() -> Iterator[ThrottleCounters]:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            yield SqlThrottleCounters(conn)

    return Throttle(transaction, limits)
