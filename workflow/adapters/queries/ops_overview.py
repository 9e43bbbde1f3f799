"""The ops overview in one read: every queue's figures with its sparkline and dead letters, the
desk now, and the last 24 hours and 7 days from the hourly roll-ups. The broker's figures are
read by the caller (``BrokerReport``, production) and merged here with what only the database
knows: the dead-letter archive and, in embedded mode, the queues themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from workflow.adapters.db import Database
from workflow.adapters.queries import ops_history as h
from workflow.adapters.queries.ops_desk import DeskNow, desk_now
from workflow.adapters.queries.ops_queues import (
    ArchivedDead,
    dead_letter_archive,
    delivery_figures,
    inbox_figures,
)
from workflow.domain.ticket_sla import SlaBook
from workflow.service.ops_ports import BrokerReport, QueueFigures

#: the sparklines' span
SPARK_SPAN = timedelta(hours=1)
WEEK_HOURS = 24 * 7


@dataclass(frozen=True)
class QueueLine:
    figures: QueueFigures
    #: depth over the last hour, oldest first
    spark: list[float]
    #: archived from its dead-letter queue, not replayed or discarded yet (broker queues)
    archived: ArchivedDead | None = None

    @property
    def dead_total(self) -> int | None:
        waiting = self.figures.dead_letters
        if waiting is None and self.archived is None:
            return None
        return (waiting or 0) + (self.archived.count if self.archived else 0)


@dataclass(frozen=True)
class Day:
    end: datetime
    received: int
    closed: int
    breaches: int
    in_state: dict[str, tuple[float, int]]


@dataclass(frozen=True)
class OpsOverview:
    now: datetime
    embedded: bool
    broker: BrokerReport | None
    queues: list[QueueLine]
    #: dead letters archived from queues the broker did not report (all of them, embedded)
    other_archived: list[ArchivedDead]
    desk: DeskNow
    #: the desk's series over the last hour: open, at_risk, breached, outbox_backlog …
    desk_spark: dict[str, list[float]]
    hours: list[h.Rollup]
    days: list[Day]

    @property
    def last_24h(self) -> list[h.Rollup]:
        return self.hours[-24:]

    @property
    def breaches_per_day(self) -> float:
        return sum(d.breaches for d in self.days) / max(1, len(self.days))


def _days(hours: list[h.Rollup]) -> list[Day]:
    """24-hour windows ending with the hour in progress, oldest first."""
    out = []
    for i in range(0, len(hours), 24):
        chunk = hours[i:i + 24]
        spent: dict[str, list[float]] = {}
        for r in chunk:
            for state, (seconds, n) in r.in_state.items():
                acc = spent.setdefault(state, [0.0, 0])
                acc[0] += seconds
                acc[1] += n
        out.append(Day(chunk[-1].start + h.HOUR, sum(r.received for r in chunk),
                       sum(r.closed for r in chunk), sum(r.breaches for r in chunk),
                       {k: (v[0], int(v[1])) for k, v in spent.items()}))
    return out


def _series(points: list[h.Point], key: str) -> list[float]:
    return [float(p.figures.get(key) or 0) for p in points]


def ops_overview(db: Database, book: SlaBook, now: datetime, broker: BrokerReport | None,
                 *, workers: int | None = None) -> OpsOverview:
    """``broker`` None: embedded mode (the queues are rows)."""
    with db.reader.begin() as conn:
        if broker is None:
            figures = [inbox_figures(conn, now, workers), *delivery_figures(conn, now)]
        else:
            figures = list(broker.queues)
        archive = {a.queue: a for a in dead_letter_archive(conn, now)}
        names = [h.queue_series(q.name) for q in figures]
        sampled = h.samples(conn, [*names, h.DESK], now - SPARK_SPAN)
        desk = desk_now(conn, book, now)
        hours = h.hourly(conn, now, WEEK_HOURS)
    lines = [QueueLine(q, _series(sampled[h.queue_series(q.name)], "depth"),
                       archive.pop(q.name, None) if broker is not None else None)
             for q in figures]
    desk_points = sampled[h.DESK]
    spark = {k: _series(desk_points, k)
             for k in ("open", "at_risk", "breached", "outbox_backlog", "dead_letters")}
    return OpsOverview(now=now, embedded=broker is None, broker=broker, queues=lines,
                       other_archived=list(archive.values()), desk=desk, desk_spark=spark,
                       hours=hours, days=_days(hours))
