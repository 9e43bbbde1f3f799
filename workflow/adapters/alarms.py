"""The SLA alarm log: INSERT … ON CONFLICT DO NOTHING on (ticket, clock, cycle, level)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow.adapters.tables import SLA_ALARM
from workflow.domain.ticket_sla import Alarm
from workflow.service.ports import AlarmLog


class SqlAlarmLog(AlarmLog):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert

    def record(self, ticket_id: str, alarm: Alarm, now: datetime) -> bool:
        stmt = self._insert(SLA_ALARM).values(
            ticket_id=ticket_id, clock=alarm.clock, cycle=alarm.cycle, level=alarm.level,
            due_at=alarm.due_at, raised_at=now,
        ).on_conflict_do_nothing(
            index_elements=["ticket_id", "clock", "cycle", "level"]
        ).returning(SLA_ALARM.c.id)
        # RETURNING, not rowcount: psycopg reports -1 for this INSERT
        return self.conn.execute(stmt).first() is not None
