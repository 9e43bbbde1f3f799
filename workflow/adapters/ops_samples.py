"""The ops history's writer (``OpsRecorder``): the scheduler's leader calls it through the bus
every few seconds. One transaction writes a sample of each series, the hourly roll-ups still
missing for the last week, and forgets what is older than the history kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, update

from workflow.adapters.db import Database
from workflow.adapters.queries import ops_history as h
from workflow.adapters.queries.ops_desk import desk_now
from workflow.adapters.queries.ops_queues import (
    dead_letter_archive,
    delivery_figures,
    inbox_figures,
)
from workflow.adapters.tables_ops import OPS_JOB, OPS_SAMPLE
from workflow.domain.ticket_sla import SlaBook
from workflow.service.ops_ports import BrokerReport, OpsRecorder, QueueFigures

#: how far back missing roll-ups are written (the charts show 7 days)
BACKFILL_HOURS = 24 * 7


def _figures(q: QueueFigures) -> str:
    return json.dumps({k: v for k, v in asdict(q).items() if k not in ("name", "source")})


class SqlOpsRecorder(OpsRecorder):
    def __init__(self, db: Database, book: Callable[[], SlaBook]) -> None:
        self.db, self.book = db, book

    def record_sample(self, now: datetime, broker: BrokerReport | None, keep: timedelta) -> int:
        with self.db.writer.begin() as conn:
            rows = self._sample_rows(conn, now, broker) + self._rollups(conn, now)
            conn.execute(insert(OPS_SAMPLE), rows)
            conn.execute(delete(OPS_SAMPLE).where(OPS_SAMPLE.c.taken_at < now - keep))
        return len(rows)

    def _sample_rows(self, conn: Connection, now: datetime,
                     broker: BrokerReport | None) -> list[dict[str, Any]]:
        queues = list(broker.queues) if broker is not None else [
            inbox_figures(conn, now), *delivery_figures(conn, now)]
        rows = [{"series": h.queue_series(q.name), "taken_at": now, "figures": _figures(q)}
                for q in queues]
        desk = desk_now(conn, self.book(), now)
        archived = sum(a.count for a in dead_letter_archive(conn, now))
        figures = {"open": desk.open_total, "at_risk": desk.at_risk, "breached": desk.breached,
                   "outbox_backlog": desk.outbox_backlog, "dead_letters": archived,
                   "sla_lag_seconds": desk.sla_lag_seconds, "states": desk.states}
        rows.append({"series": h.DESK, "taken_at": now, "figures": json.dumps(figures)})
        return rows

    def _rollups(self, conn: Connection, now: datetime) -> list[dict[str, Any]]:
        """Every complete hour of the last week after the latest roll-up written."""
        current = h.floor_hour(now)
        latest = h.latest_rollup(conn)
        start = current - h.HOUR * BACKFILL_HOURS
        if latest is not None:
            start = max(start, latest + h.HOUR)
        rows = []
        while start < current:
            r = h.rollup(conn, start, start + h.HOUR)
            rows.append({"series": h.HOURLY, "taken_at": start, "figures": r.to_json()})
            start += h.HOUR
        return rows

    def record_job(self, name: str, at: datetime, seconds: float, detail: str | None) -> None:
        values = {"last_run_at": at, "seconds": seconds, "detail": detail}
        with self.db.writer.begin() as conn:
            done = conn.execute(update(OPS_JOB).where(OPS_JOB.c.name == name).values(**values))
            if not done.rowcount:
                conn.execute(insert(OPS_JOB).values(name=name, **values))
