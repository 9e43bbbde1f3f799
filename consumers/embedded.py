"""Embedded mode's workers: threads that lease rows from the database instead of a broker.

Each loop does one step (claim a batch, handle it) and sleeps briefly when idle; intake wakes
the inbox workers at once. Every bit of progress is a committed row, so a process killed at any
point loses nothing: leases run out and another worker (or the restarted process) goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from consumers.request_handling import RequestHandler
from telemetry import metrics
from workflow.adapters.queries import Database
from workflow.adapters.queries.dead_letter_view import PERMANENT_MARK
from workflow.domain.errors import WorkflowError, brief
from workflow.domain.retry import RetryPolicy
from workflow.logcontext import bind, log_context
from workflow.service.delivery_ports import Delivery
from workflow.service.ports import Clock

log = logging.getLogger(__name__)


#: embedded dispositions as the AMQP consumers' verdicts name them
_RESULTS = {"done": "ack", "retry": "retry", "dead": "dead"}


def _observe(queue: str, started: float, disposition: str, detail: str) -> None:
    """Handler latency by queue and result; a dead message counted with its reason code."""
    result = _RESULTS.get(disposition, disposition)
    metrics.HANDLER_SECONDS.labels(queue, result).observe(time.perf_counter() - started)
    if result == "dead":
        code = "retries_exhausted" if detail.startswith("gave up") else detail
        metrics.DEAD_LETTERED.labels(queue, metrics.reason_code(code)).inc()


class Subscriber(Protocol):
    """Something that reacts to outgoing events (the notification worker, escalation …)."""

    name: str
    types: frozenset[str]

    def handle(self, envelope: dict[str, Any]) -> str:
        """Act on one event; raise a ``WorkflowError`` (``transient`` or not) when it cannot."""


class _Loop(threading.Thread):
    def __init__(self, name: str, step: Callable[[], int], stop: threading.Event,
                 wake: threading.Event | None = None, idle_seconds: float = 0.5) -> None:
        super().__init__(name=name, daemon=True)
        self._step = step
        self._halt = stop  # not ``_stop``: Thread.join() calls its own ``_stop()`` method
        self._wake = wake or threading.Event()
        self._idle = idle_seconds

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                busy = self._step()
            except Exception:  # the database may be briefly unavailable: back off, go on
                log.exception("%s: step failed", self.name)
                busy = 0
            if not busy:
                self._wake.wait(self._idle)
                self._wake.clear()


class EmbeddedRuntime:
    def __init__(self, *, db: Database, clock: Clock, handler: RequestHandler,
                 subscribers: Sequence[Subscriber], workers: int = 2, lease_seconds: float = 60,
                 batch: int = 8, retry: RetryPolicy | None = None,
                 idle_seconds: float = 0.5) -> None:
        self.db, self.clock, self.handler = db, clock, handler
        self.subscribers = list(subscribers)
        self.lease = timedelta(seconds=lease_seconds)
        self.batch, self.retry = batch, retry or handler.retry
        self._stop = threading.Event()
        self._inbox_wake = threading.Event()
        self._relay_wake = threading.Event()
        self._threads: list[threading.Thread] = [
            _Loop(f"inbox-worker-{n}", self._inbox_step, self._stop, self._inbox_wake, idle_seconds)
            for n in range(workers)
        ]
        self._threads.append(_Loop("relay", self._relay_step, self._stop, self._relay_wake,
                                   idle_seconds))
        for sub in self.subscribers:
            self._threads.append(_Loop(f"deliver-{sub.name}", self._delivery_step(sub), self._stop,
                                       None, idle_seconds))

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._inbox_wake.set()
        self._relay_wake.set()
        for t in self._threads:
            t.join(timeout)

    def wake(self) -> None:
        """Intake just recorded a message: don't wait for the next poll."""
        self._inbox_wake.set()

    def _inbox_step(self) -> int:
        now = self.clock.now()
        claimed = self.handler.bookkeep(lambda u: u.inbox_queue.claim(
            limit=self.batch, lease=self.lease, now=now))
        for c in claimed:
            started = time.perf_counter()
            with log_context(message_id=c.key.event_id):
                outcome = self.handler.handle_claimed(c)
            _observe("inbox", started, outcome.disposition.value, outcome.detail)
        if claimed:
            self._relay_wake.set()
        return len(claimed)

    def _relay_step(self) -> int:
        subs = {s.name: s.types for s in self.subscribers}
        now = self.clock.now()
        return self.handler.bookkeep(lambda u: u.deliveries.fan_out(subs, now=now))

    def _delivery_step(self, sub: Subscriber) -> Callable[[], int]:
        def step() -> int:
            now = self.clock.now()
            batch = self.handler.bookkeep(lambda u: u.deliveries.claim(
                sub.name, limit=self.batch, lease=self.lease, now=now))
            for d in batch:
                self._deliver(sub, d)
            return len(batch)

        return step

    def _deliver(self, sub: Subscriber, d: Delivery) -> None:
        started = time.perf_counter()
        with log_context(message_id=d.event_id):
            status, error = self._deliver_one(sub, d)
        _observe(sub.name, started, status, error or "")

    def _deliver_one(self, sub: Subscriber, d: Delivery) -> tuple[str, str | None]:
        now = self.clock.now()
        try:
            envelope = json.loads(d.payload)
            bind(ticket_id=envelope.get("subject"))  # outgoing events name their ticket there
            sub.handle(envelope)
        except Exception as err:  # unexpected errors are retried like transient ones, bounded
            if not isinstance(err, WorkflowError):
                log.exception("subscriber %s failed on event %s", sub.name, d.event_id)
            transient = not isinstance(err, WorkflowError) or err.transient
            error = brief(err)
            if transient and self.retry.may_retry(d.attempts):
                self._finish(d, "pending", now, error, now + self.retry.delay_after(d.attempts))
                return "retry", error
            if not transient:
                error = PERMANENT_MARK + error
            self._finish(d, "dead", now, error)
            log.warning("dead letter: %s's delivery of event %s (%s) parked dead after %d "
                        "attempt(s): %s", sub.name, d.event_id, d.type, d.attempts, error)
            return "dead", ("retries_exhausted" if transient else "failed")
        self._finish(d, "done", now)
        return "done", None

    def _finish(self, d: Delivery, status: str, now: datetime, error: str | None = None,
                retry_at: datetime | None = None) -> None:
        self.handler.bookkeep(lambda u: u.deliveries.finish(d.id, status=status, now=now,
                                                            error=error, retry_at=retry_at))
