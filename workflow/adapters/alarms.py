"""The SLA alarm log: INSERT … ON CONFLICT DO NOTHING on (ticket, clock, cycle, level)."""

from __future__ import annotations

from collections.abc import Sequence
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
        self._many = self._insert(SLA_ALARM).on_conflict_do_nothing(
            index_elements=["ticket_id", "clock", "cycle", "level"]
        ).returning(SLA_ALARM.c.ticket_id, SLA_ALARM.c.clock, SLA_ALARM.c.cycle, SLA_ALARM.c.level)

    def record(self, ticket_id: str, alarm: Alarm, now: datetime) -> bool:
        stmt = self._insert(SLA_ALARM).values(
            ticket_id=ticket_id, clock=alarm.clock, cycle=alarm.cycle, level=alarm.level,
            due_at=alarm.due_at, raised_at=now,
        ).on_conflict_do_nothing(
            index_elements=["ticket_id", "clock", "cycle", "level"]
        ).returning(SLA_ALARM.c.id)
        # RETURNING, not rowcount: psycopg reports -1 for this INSERT
        return self.conn.execute(stmt).first() is not None

    def record_many(self, alarms: Sequence[tuple[str, Alarm]],
                    now: datetime) -> set[tuple[str, str, int, str]]:
        if not alarms:
            return set()
        rows = [{"ticket_id": tid, "clock": a.clock, "cycle": a.cycle, "level": a.level,
                 "due_at": a.due_at, "raised_at": now} for tid, a in alarms]
        # one compiled statement, executed as a batch ("insertmanyvalues") with RETURNING
        return {(r[0], r[1], r[2], r[3]) for r in self.conn.execute(self._many, rows)}
