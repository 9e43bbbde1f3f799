"""Refusals of AMQP messages, by (producer, event id): written by the archiver with each
verification dead letter that names its producer, read by ``GET /events/{id}``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow.adapters.db import Database
from workflow.adapters.tables_refusals import REFUSAL

#: the queue whose dead letters are a producer's refused requests
REQUESTS_QUEUE = "verification"


@dataclass(frozen=True)
class Refusal:
    producer: str
    event_id: str
    code: str
    reason: str
    dead_letter_id: int
    refused_at: datetime


def record(conn: Connection, *, producer: str, event_id: str, code: str, reason: str,
           dead_letter_id: int, now: datetime) -> None:
    """Insert, or replace an earlier refusal of the same (producer, id) with this one."""
    values: dict[str, Any] = {"producer": producer[:64], "event_id": event_id[:256],
                              "code": (code or "refused")[:40], "reason": reason[:2000],
                              "dead_letter_id": dead_letter_id, "refused_at": now}
    dialect_insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    stmt = dialect_insert(REFUSAL).values(**values)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["producer", "event_id"],
        set_={k: stmt.excluded[k] for k in ("code", "reason", "dead_letter_id", "refused_at")}))


def lookup(db: Database, producer: str, event_id: str) -> Refusal | None:
    with db.reader.begin() as conn:
        row = conn.execute(select(REFUSAL).where(REFUSAL.c.producer == producer,
                                                 REFUSAL.c.event_id == event_id)).first()
    return Refusal(**row._mapping) if row else None
