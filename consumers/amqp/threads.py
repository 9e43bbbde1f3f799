"""Threads deep enough for any header table one AMQP frame can carry.

py-amqp decodes a content header's table recursively (one Python call per nesting level) inside
``drain_events``, before any of our code sees the message. Each level of an array costs 5 bytes
of frame (``'A'`` + a 4-byte length), so a frame of ``frame_max`` bytes can nest about
``frame_max // 5`` levels: 26,214 with RabbitMQ's default 131,072. With Python's default limit of
1,000 such a message raised ``RecursionError`` in the connection loop, which looked like a lost
connection: reconnect, the same message again, until the broker dead-lettered it (and the
messages prefetched with it) without a reason.

So the connection loop, its handler threads and the dead-letter archiver run in threads started
with a ``STACK_BYTES`` stack (address space; only what is used is touched), and the interpreter's
recursion limit is raised to the deepest table the negotiated ``frame_max`` allows plus a margin.
The limit is process-wide (Python 3.11 applies it to C recursion such as ``json`` too), which is
why every thread that may meet such a table gets the large stack.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from queue import Empty, SimpleQueue
from typing import Any, Final, TypeVar

T = TypeVar("T")

STACK_BYTES: Final = 64 * 1024 * 1024
#: bytes of frame one nesting level costs at least (an array: type octet + 4-byte length)
BYTES_PER_LEVEL: Final = 5
#: frames below the table reader (thread, loop, kombu, py-amqp's frame handling, a test runner)
CALLER_MARGIN: Final = 2000
DEFAULT_FRAME_MAX: Final = 131072
_lock = threading.Lock()


def deepest_table(frame_max: int) -> int:
    """An upper bound on the nesting of a table that fits one frame of ``frame_max`` bytes."""
    return frame_max // BYTES_PER_LEVEL


def allow_tables(frame_max: int = DEFAULT_FRAME_MAX) -> int:
    """Raise (never lower) the recursion limit so a table of ``frame_max`` bytes decodes;
    returns the limit now in force."""
    with _lock:
        need = deepest_table(frame_max) + CALLER_MARGIN
        if sys.getrecursionlimit() < need:
            sys.setrecursionlimit(need)
        return sys.getrecursionlimit()


def start_deep(target: Callable[[], object], name: str) -> threading.Thread:
    """Start a daemon thread with a ``STACK_BYTES`` stack."""
    with _lock:
        previous = threading.stack_size(STACK_BYTES)
        try:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
    return thread


def run_deep(fn: Callable[[], T], name: str) -> T:
    """``fn()`` on a deep thread; waits (in short joins, so signal handlers of the calling main
    thread still run) and returns its result or raises its exception."""
    box: list[Any] = []

    def body() -> None:
        try:
            box.append((True, fn()))
        except BaseException as err:  # handed to the caller
            box.append((False, err))

    thread = start_deep(body, name)
    while thread.is_alive():
        thread.join(0.5)
    ok, value = box[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


class DeepPool:
    """A fixed pool of deep threads running submitted calls (ThreadPoolExecutor starts its
    threads lazily, with whatever stack size is in force then)."""

    def __init__(self, workers: int, name: str) -> None:
        self._jobs: SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = SimpleQueue()
        self._threads = [start_deep(self._work, f"{name}-{i}") for i in range(workers)]

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((future, fn))
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as err:  # the future carries it
                future.set_exception(err)

    def shutdown(self) -> None:
        """Cancel what has not started; let running calls finish on their own."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in self._threads:
            self._jobs.put(None)
