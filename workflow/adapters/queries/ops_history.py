"""The ops history read back: the samples behind the sparklines, and the hourly roll-ups of
the audit trail behind the throughput and time-in-state charts (``ops_samples`` writes both).

An hour's roll-up is derived from rows that are never deleted or changed once the hour is over
(inbox rows received, tickets closed, SLA alarms raised, audit rows), so a roll-up missed while
no scheduler ran is written later with the same figures, and the hour in progress is computed
live the same way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select

from workflow.adapters.tables import AUDIT, INBOX, SLA_ALARM
from workflow.adapters.tables_ops import OPS_SAMPLE

HOUR = timedelta(hours=1)
HOURLY = "hour"
DESK = "desk"


def queue_series(name: str) -> str:
    return f"queue:{name}"


@dataclass(frozen=True)
class Rollup:
    """One hour: requests received (inbox rows), tickets closed (audit rows into ``closed``), SLA
    breaches (alarms raised), and per state the seconds
    spent there by the tickets that left it during the hour (total and how many left)."""

    start: datetime
    received: int = 0
    closed: int = 0
    breaches: int = 0
    in_state: dict[str, tuple[float, int]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"received": self.received, "closed": self.closed,
                           "breaches": self.breaches,
                           "in_state": {k: list(v) for k, v in self.in_state.items()}})

    @classmethod
    def of(cls, start: datetime, raw: str) -> Rollup:
        d = json.loads(raw)
        return cls(start, int(d["received"]), int(d["closed"]), int(d["breaches"]),
                   {k: (float(v[0]), int(v[1])) for k, v in d["in_state"].items()})


def floor_hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _window(column: Any, start: datetime, end: datetime, *where: Any) -> Any:
    """How many rows have ``column`` in [start, end): a scalar subquery over its index."""
    return (select(func.count()).where(column >= start, column < end, *where)
            .scalar_subquery())


def rollup(conn: Connection, start: datetime, end: datetime) -> Rollup:
    """The hour [start, end) from the rows themselves (an index range on each table)."""
    prev = AUDIT.alias("prev")
    before = (select(func.max(prev.c.at))
              .where(prev.c.ticket_id == AUDIT.c.ticket_id, prev.c.id < AUDIT.c.id)
              .scalar_subquery())
    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for state, at, entered in conn.execute(
            select(AUDIT.c.from_state, AUDIT.c.at, before)
            .where(AUDIT.c.at >= start, AUDIT.c.at < end, AUDIT.c.from_state != AUDIT.c.to_state)):
        if entered is not None:
            spent[state][0] += max(0.0, (at - entered).total_seconds())
            spent[state][1] += 1
    counts = conn.execute(select(
        _window(INBOX.c.received_at, start, end),
        _window(AUDIT.c.at, start, end, AUDIT.c.to_state == "closed",
                AUDIT.c.from_state != "closed"),
        _window(SLA_ALARM.c.raised_at, start, end, SLA_ALARM.c.level == "breached"))).one()
    return Rollup(start, received=int(counts[0]), closed=int(counts[1]), breaches=int(counts[2]),
                  in_state={k: (round(v[0], 3), int(v[1])) for k, v in spent.items()})


def hourly(conn: Connection, now: datetime, hours: int) -> list[Rollup]:
    """The last ``hours`` hours, oldest first, the hour in progress last (computed live); an
    hour with no roll-up yet (no scheduler ran then) is computed live too."""
    current = floor_hour(now)
    first = current - HOUR * (hours - 1)
    stored = {r.taken_at: Rollup.of(r.taken_at, r.figures) for r in conn.execute(
        select(OPS_SAMPLE.c.taken_at, OPS_SAMPLE.c.figures)
        .where(OPS_SAMPLE.c.series == HOURLY, OPS_SAMPLE.c.taken_at >= first))}
    out = []
    for i in range(hours):
        start = first + HOUR * i
        found = stored.get(start)
        out.append(found if found is not None and start < current
                   else rollup(conn, start, min(start + HOUR, now)))
    return out


def latest_rollup(conn: Connection) -> datetime | None:
    return conn.execute(select(func.max(OPS_SAMPLE.c.taken_at))
                        .where(OPS_SAMPLE.c.series == HOURLY)).scalar()


@dataclass(frozen=True)
class Point:
    at: datetime
    figures: dict[str, Any]


def samples(conn: Connection, series: list[str], since: datetime) -> dict[str, list[Point]]:
    """Each series' samples since ``since``, oldest first (one index range per series)."""
    out: dict[str, list[Point]] = {s: [] for s in series}
    if not series:
        return out
    rows = conn.execute(select(OPS_SAMPLE.c.series, OPS_SAMPLE.c.taken_at, OPS_SAMPLE.c.figures)
                        .where(and_(OPS_SAMPLE.c.series.in_(series),
                                    OPS_SAMPLE.c.taken_at >= since))
                        .order_by(OPS_SAMPLE.c.series, OPS_SAMPLE.c.taken_at))
    for name, at, raw in rows:
        out[name].append(Point(at, json.loads(raw)))
    return out

