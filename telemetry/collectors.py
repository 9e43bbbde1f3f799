"""Gauges read when Prometheus scrapes: queue depths, the outbox backlog, tickets by state …

They describe what is stored (the database, the broker), not what this process did, so they are
read at scrape time by whatever process is told to export them (the composition root decides:
the relay, the scheduler, the archiver and the console read the database; the archiver asks the
broker). A source that fails is logged and reported as ``resetdesk_figures_up{source} 0``,
never as a scrape error, so the process's own counters still arrive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

Labels = tuple[str, ...]
#: one source's reading: metric name -> [(label values, value)]
Reading = Mapping[str, Sequence[tuple[Labels, float]]]


@dataclass(frozen=True)
class Family:
    name: str
    help: str
    labels: Labels = ()


#: every scrape-time gauge; a source may fill any of them
FAMILIES: Final = {f.name: f for f in (
    Family("resetdesk_tickets", "Tickets by state, now.", ("state",)),
    Family("resetdesk_sla_breached_tickets", "Open tickets whose earliest running SLA clock is "
           "past due, now."),
    Family("resetdesk_outbox_unsent_messages", "Outbox events not yet published to the broker."),
    Family("resetdesk_outbox_oldest_unsent_age_seconds", "Age of the oldest unsent outbox "
           "event (0: none)."),
    Family("resetdesk_queue_messages", "Messages waiting in a queue, by transport (amqp, "
           "embedded), queue and state (ready, pending, leased, dead).",
           ("transport", "queue", "state")),
    Family("resetdesk_queue_consumers", "Consumers attached to a broker queue.", ("queue",)),
    Family("resetdesk_queue_oldest_message_age_seconds", "Age of the oldest waiting message "
           "where the application knows it (embedded rows).", ("transport", "queue")),
    Family("resetdesk_dead_letter_archive_messages", "Dead letters kept in the database, by "
           "source queue and status (dead, replayed, discarded).", ("queue", "status")),
)}


class Figures(Collector):
    """Reads its ``sources`` at each scrape (each at most every ``min_interval`` seconds; a
    cached reading is served in between, so many scrapers do not multiply the queries)."""

    def __init__(self, sources: Mapping[str, Callable[[], Reading]], *,
                 min_interval: float = 2.0) -> None:
        self.sources, self.min_interval = dict(sources), min_interval
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, Reading | None]] = {}

    def _read(self, name: str) -> Reading | None:
        at, reading = self._cached.get(name, (float("-inf"), None))
        if time.monotonic() - at < self.min_interval:
            return reading
        try:
            reading = self.sources[name]()
        except Exception as err:  # the database or broker is down: say so, keep the rest
            log.warning("metrics source %s failed: %s", name, err)
            reading = None
        self._cached[name] = (time.monotonic(), reading)
        return reading

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            readings = {name: self._read(name) for name in self.sources}
        up = GaugeMetricFamily("resetdesk_figures_up", "1 when a scrape-time source answered.",
                               labels=["source"])
        gauges: dict[str, GaugeMetricFamily] = {}
        for name, reading in readings.items():
            up.add_metric([name], 0 if reading is None else 1)
            for metric, samples in (reading or {}).items():
                family = FAMILIES[metric]
                gauge = gauges.setdefault(metric, GaugeMetricFamily(
                    metric, family.help, labels=list(family.labels)))
                for labels, value in samples:
                    gauge.add_metric(list(labels), value)
        yield up
        yield from gauges.values()

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # read lazily: registering must not query anything


_installed: list[Figures] = []


def install(sources: Mapping[str, Callable[[], Reading]],
            registry: CollectorRegistry = REGISTRY) -> Figures:
    """This process's scrape-time figures (replacing any installed before: one per process)."""
    while _installed:
        registry.unregister(_installed.pop())
    figures = Figures(sources)
    registry.register(figures)
    _installed.append(figures)
    return figures
