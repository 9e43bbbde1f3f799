"""The worker-pool glue: handlers run off the connection's thread, results come back to it.

A handler may be slow (SMTP, the human-check service); py-amqp has no heartbeat thread, so it
never runs on the connection's thread. A worker only computes a :class:`Verdict`; finished work
is queued and a byte on a socket pair wakes the connection's ``select``, which then settles it.
"""

from __future__ import annotations

import contextlib
import queue as queue_mod
import select
import socket
import time
from collections.abc import Iterator
from typing import Any

from consumers.amqp.delivery import INVALID, Delivery, MessageHandler, Verdict
from consumers.amqp.settling import Work, log, message_id_text
from consumers.amqp.threads import DeepPool
from telemetry import metrics
from workflow.domain.errors import brief
from workflow.logcontext import log_context


class Workers:
    """``workers`` deep threads running ``handler``, and the wake-up pipe back."""

    def __init__(self, queue_name: str, handler: MessageHandler, workers: int) -> None:
        self.queue_name = queue_name
        self.handler = handler
        self._pool = DeepPool(workers, f"amqp-{queue_name}-worker")
        self._done: queue_mod.SimpleQueue[Work] = queue_mod.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    def submit(self, work: Work) -> None:
        delivery = work.delivery
        work.future = self._pool.submit(lambda: self.run_handler(delivery))
        work.future.add_done_callback(lambda _f: self._finished(work))

    def finished(self) -> Iterator[Work]:
        """Work whose handler has returned (or was cancelled), oldest first, without waiting."""
        while True:
            try:
                yield self._done.get_nowait()
            except queue_mod.Empty:
                return

    def wait(self, sock: Any, timeout: float) -> bool:
        """Wait up to ``timeout`` for ``sock`` to be readable or a handler to finish; True
        when ``sock`` is readable."""
        ready, _, _ = select.select([sock, self._wake_r], [], [], timeout)
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                while self._wake_r.recv(4096):
                    pass
        return sock in ready

    def run_handler(self, delivery: Delivery) -> Verdict:
        if delivery.problem:  # never reaches a handler: dead-lettered with what was wrong
            return Verdict.dead(delivery.problem, INVALID)
        message_id = delivery.properties.get("message_id")
        started = time.perf_counter()
        with log_context(message_id=message_id_text(message_id)):
            try:
                verdict = self.handler(delivery)
            except Exception as err:  # a bug or an outage: bounded retries, never a dead consumer
                log.exception("consumer %s: handler failed on message %s", self.queue_name,
                              message_id)
                verdict = Verdict.retry(brief(err))
                self._timed(started, verdict)
                return verdict
            self._timed(started, verdict)
            log.info("consumer %s: message %s handled: %s (%s)", self.queue_name, message_id,
                     verdict.action, verdict.reason)
            return verdict

    def _timed(self, started: float, verdict: Verdict) -> None:
        metrics.HANDLER_SECONDS.labels(self.queue_name, verdict.action).observe(
            time.perf_counter() - started)

    def _finished(self, work: Work) -> None:
        self._done.put(work)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"!")

    def close(self) -> None:
        """Cancel what has not started (running handlers finish on their own threads)."""
        self._pool.shutdown()
        self._wake_r.close()
        self._wake_w.close()

