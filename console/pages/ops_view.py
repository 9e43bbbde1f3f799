"""The ops overview as the templates show it: figures formatted (a figure nobody can know reads
"n/a"), the queues' sparklines, and the charts of the last 24 hours and 7 days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from console.pages.ops_charts import Chart, Spark, grouped_bars, sparkline
from workflow.adapters.queries.ops_overview import OpsOverview, QueueLine

NA = "n/a"


def age(seconds: float | None) -> str:
    if seconds is None:
        return NA
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def count(value: int | None) -> str:
    return NA if value is None else f"{value:,}"


def rate(value: float | None) -> str:
    return NA if value is None else f"{value:.2f}/s"


def share(value: float | None) -> str:
    return NA if value is None else f"{value * 100:.0f} %"


@dataclass(frozen=True)
class QueueView:
    name: str
    source: str
    cells: dict[str, str]
    spark: Spark | None
    dead: str
    dead_oldest: str
    alarm: bool


def queue_view(line: QueueLine) -> QueueView:
    q = line.figures
    cells = {"depth": count(q.depth), "ready": count(q.ready), "unacked": count(q.unacked),
             "consumers": count(q.consumers), "utilisation": share(q.utilisation),
             "publish": rate(q.publish_rate), "deliver": rate(q.deliver_rate),
             "oldest": age(q.oldest_seconds)}
    dead = line.dead_total
    no_consumer = q.consumers == 0 and (q.depth or 0) > 0
    return QueueView(q.name, q.source, cells, sparkline(line.spark), count(dead),
                     age(line.archived.oldest_seconds) if line.archived else NA,
                     bool(dead) or no_consumer)


def _minutes(total: tuple[float, int] | None) -> float:
    if not total or not total[1]:
        return 0.0
    return round(total[0] / total[1] / 60, 1)


def charts(o: OpsOverview) -> dict[str, Chart]:
    hours = o.last_24h
    hour_labels = [r.start.strftime("%H:00") for r in hours]
    # a day is the 24 hours ending with the hour in progress: named after that hour's date
    day_labels = [(d.end - timedelta(hours=1)).strftime("%a %d") for d in o.days]
    states = sorted({s for d in o.days for s in d.in_state} - {"closed"}) or ["queued"]
    last_day = o.days[-1] if o.days else None
    return {
        "throughput_24h": grouped_bars(hour_labels, {
            "received": [r.received for r in hours], "closed": [r.closed for r in hours]},
            label="Requests received and tickets closed per hour, last 24 hours", every=3),
        "throughput_7d": grouped_bars(day_labels, {
            "received": [d.received for d in o.days], "closed": [d.closed for d in o.days]},
            label="Requests received and tickets closed per day, last 7 days"),
        "time_in_state": grouped_bars(states, {
            "24 h": [_minutes(last_day.in_state.get(s)) if last_day else 0 for s in states],
            "7 d": [_minutes(_week(o, s)) for s in states]},
            label="Average minutes in each state before leaving it, last 24 hours and 7 days",
            unit=" min"),
        "breaches_7d": grouped_bars(day_labels, {"breaches": [d.breaches for d in o.days]},
                                    label="SLA breaches per day, last 7 days"),
    }


def _week(o: OpsOverview, state: str) -> tuple[float, int]:
    seconds = sum(d.in_state.get(state, (0.0, 0))[0] for d in o.days)
    n = sum(d.in_state.get(state, (0.0, 0))[1] for d in o.days)
    return seconds, n


def overview_context(o: OpsOverview) -> dict[str, Any]:
    desk = o.desk
    return {
        "o": o, "queues": [queue_view(q) for q in o.queues], "charts": charts(o),
        "desk_sparks": {k: sparkline(v) for k, v in o.desk_spark.items()},
        "figures": {
            "oldest_waiting": age(desk.oldest_waiting.seconds) if desk.oldest_waiting else NA,
            "outbox_oldest": age(desk.outbox_oldest_seconds) if desk.outbox_backlog else "none",
            "sla_lag": age(desk.sla_lag_seconds),
            "sla_last_run": age(desk.sla_last_run.ago_seconds) + " ago"
            if desk.sla_last_run else "never",
            "breaches_per_day": f"{o.breaches_per_day:.1f}",
        },
        "archived": [(a.queue, count(a.count), age(a.oldest_seconds)) for a in o.other_archived],
        "fmt_age": age,
    }
