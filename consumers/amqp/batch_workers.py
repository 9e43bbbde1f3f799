"""The worker pool in group-commit mode: deliveries wait in a queue, a worker takes a batch
(:func:`consumers.amqp.batching.collect`) and hands it to the handler's ``handle_batch``.

Each delivery keeps its own future, so the connection's thread settles (acks) each one as
before, only after the batch's handler returned — that is, after its commit. A delivery a stop
or a lost channel cancelled before its batch started is skipped (the broker delivers it again).
"""

from __future__ import annotations

import queue as queue_mod
import time
from concurrent.futures import Future

from consumers.amqp.batching import BatchHandler, collect
from consumers.amqp.delivery import INVALID, Verdict
from consumers.amqp.settling import Work, log
from consumers.amqp.threads import start_deep
from consumers.amqp.workers import Workers
from telemetry import metrics


class BatchWorkers(Workers):
    """``workers`` deep threads, each taking up to ``size`` deliveries at a time."""

    def __init__(self, queue_name: str, handler: BatchHandler, workers: int, *, size: int,
                 window: float) -> None:
        super().__init__(queue_name, handler, 0)
        self.batch_handler = handler
        self.size, self.window = size, window
        self._waiting: queue_mod.SimpleQueue[Work | None] = queue_mod.SimpleQueue()
        self._threads = [start_deep(self._loop, f"amqp-{queue_name}-batch-{i}")
                         for i in range(workers)]

    def submit(self, work: Work) -> None:
        future: Future[Verdict] = Future()
        work.future = future
        future.add_done_callback(lambda _f: self._finished(work))
        self._waiting.put(work)

    def _take(self, timeout: float) -> Work | None:
        try:
            work = (self._waiting.get(timeout=timeout) if timeout > 0
                    else self._waiting.get_nowait())
        except queue_mod.Empty:
            return None
        if work is None:  # a stop: leave it for the loop
            self._waiting.put(None)
        return work

    def _loop(self) -> None:
        while (first := self._waiting.get()) is not None:
            batch = collect(first, self._take, self.size, self.window)
            started = [w for w in batch
                       if w.future is not None and w.future.set_running_or_notify_cancel()]
            if started:
                self._run(started)

    def _run(self, batch: list[Work]) -> None:
        began = time.perf_counter()
        handled = [w for w in batch if not w.delivery.problem]
        try:
            done = self.batch_handler.handle_batch([w.delivery for w in handled])
        except Exception:  # a bug: each one alone, as without batching
            log.exception("consumer %s: batch of %d failed; one at a time", self.queue_name,
                          len(handled))
            done = [self.run_handler(w.delivery) for w in handled]
        verdicts = dict(zip((id(w) for w in handled), done, strict=True))
        each = (time.perf_counter() - began) / len(batch)
        for work in batch:
            verdict = verdicts.get(id(work)) or Verdict.dead(work.delivery.problem, INVALID)
            metrics.HANDLER_SECONDS.labels(self.queue_name, verdict.action).observe(each)
            assert work.future is not None
            work.future.set_result(verdict)

    def close(self) -> None:
        """Cancel what no batch has taken; batches running finish on their own threads."""
        while True:
            try:
                work = self._waiting.get_nowait()
            except queue_mod.Empty:
                break
            if work is not None and work.future is not None:
                work.future.cancel()
        for _ in self._threads:
            self._waiting.put(None)
        super().close()

