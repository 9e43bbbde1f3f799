"""Settling finished work, on the connection's thread only: ack, reject, or republish a copy.

A retry goes to the queue's next retry queue and a dead letter to ``<queue>.dlq``, each a copy
published with confirms *before* the original is acked, so a crash between the two duplicates a
message and never loses one. A copy the broker refuses returns the original to the queue; a
broken publishing channel raises :class:`Lost` so the runtime re-opens the connection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consumers.amqp.delivery import Delivery, Verdict
from consumers.amqp.retry import PublishFailed, Republisher, dead_letter_copy, next_delay, retry_copy
from consumers.topology import ConsumerQueue
from telemetry import metrics
from workflow.logcontext import log_context

#: one logger for the whole runtime, whatever module a line comes from (operators grep for it)
log = logging.getLogger("consumers.amqp.consumer")


class Lost(Exception):
    """The connection must be re-opened."""


@dataclass
class Work:
    """One delivery of one connection (``session``), from basic.deliver to its settlement."""

    session: int
    tag: int
    message: Any  # amqp.Message
    delivery: Delivery
    future: Future[Verdict] | None = None


def message_id_text(value: Any) -> str | None:
    """A message id as log text (a property may hold bytes or be missing)."""
    return None if value is None else str(value)


class Settler:
    """The deliveries of the current connection not settled yet, and how each is settled."""

    def __init__(self, queue: ConsumerQueue) -> None:
        self.queue = queue
        self.inflight: dict[int, Work] = {}

    def __len__(self) -> int:
        return len(self.inflight)

    def track(self, work: Work) -> None:
        self.inflight[work.tag] = work

    def current(self, work: Work, session: int) -> bool:
        """Whether ``work`` still belongs to the open channel (else the broker redelivers it)."""
        return work.session == session and work.tag in self.inflight

    def forget(self) -> None:
        """The channel is gone: its unacked deliveries come back from the broker; results of
        work still running for them are dropped."""
        for work in self.inflight.values():
            if work.future is not None:
                work.future.cancel()
        self.inflight.clear()

    def return_unstarted(self, channel: Any) -> None:
        """Stopping: prefetched deliveries no worker has started go back to the queue."""
        for work in list(self.inflight.values()):
            if work.future is not None and work.future.cancel():
                self.reject(channel, work, requeue=True)

    def return_all(self, channel: Any, grace: float) -> None:
        """The stop's grace ran out: what is still running goes back to the queue."""
        for work in list(self.inflight.values()):
            log.warning("consumer %s: message %s not finished within %.0f s; returned to the "
                        "queue", self.queue.name, work.delivery.properties.get("message_id"),
                        grace)
            self.reject(channel, work, requeue=True)

    def settle_finished(self, channel: Any, republisher: Republisher, finished: Iterable[Work],
                        session: int) -> None:
        """Settle the work whose handler returned, unless its channel is gone (the broker
        redelivers that message) or it was cancelled."""
        for work in finished:
            if not self.current(work, session):
                continue
            if work.future is None or work.future.cancelled():
                continue
            self.settle(channel, republisher, work, work.future.result())

    def settle(self, channel: Any, republisher: Republisher, work: Work,
               verdict: Verdict) -> None:
        with log_context(message_id=message_id_text(work.delivery.properties.get("message_id"))):
            self._settle(channel, republisher, work, verdict)

    def _settle(self, channel: Any, republisher: Republisher, work: Work,
                verdict: Verdict) -> None:
        d = work.delivery
        message_id = d.properties.get("message_id")
        if verdict.action == "retry":
            delay = next_delay(self.queue, d.attempt - 1)
            if delay is not None:
                if not self._republish(channel, republisher, work,
                                       retry_copy(self.queue, delay, d.headers, verdict.reason)):
                    return
                log.info("consumer %s: message %s attempt %d failed (%s); retry in %d s",
                         self.queue.name, message_id, d.attempt, verdict.reason, delay)
                self.ack(channel, work)
                return
            verdict = Verdict.dead(f"gave up after {d.attempt} attempts; last error: "
                                   f"{verdict.reason}", "retries_exhausted")
        if verdict.action == "dead":
            copy = dead_letter_copy(self.queue, d.headers, reason=verdict.reason,
                                    code=verdict.code, now=datetime.now(UTC))
            if not self._republish(channel, republisher, work, copy):
                return
            log.warning("consumer %s: message %s dead-lettered to %s: %s (%s)", self.queue.name,
                        message_id, self.queue.dlq_name, verdict.reason, verdict.code)
            metrics.DEAD_LETTERED.labels(self.queue.name, metrics.reason_code(verdict.code)).inc()
        self.ack(channel, work)

    def _republish(self, channel: Any, republisher: Republisher, work: Work, copy: Any) -> bool:
        try:
            republisher.publish(work.delivery.body, work.delivery.properties, copy)
        except PublishFailed as err:
            if err.broken:
                raise Lost(str(err)) from err
            log.error("consumer %s: could not publish to %s/%s (%s); message returned to the "
                      "queue", self.queue.name, copy.exchange, copy.routing_key, err)
            self.reject(channel, work, requeue=True)
            return False
        return True

    def ack(self, channel: Any, work: Work) -> None:
        self.inflight.pop(work.tag, None)
        channel.basic_ack(work.tag)

    def reject(self, channel: Any, work: Work, *, requeue: bool) -> None:
        self.inflight.pop(work.tag, None)
        channel.basic_reject(work.tag, requeue)
