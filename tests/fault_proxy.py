"""One TCP proxy for broker faults: a client connects to ``proxy.port`` on loopback instead of the
broker, and the test breaks the path in between while the real broker stays untouched (so the
shared node serves every other test as before).

- :meth:`FaultProxy.cut` drops every open connection, as a network failure would;
- :meth:`FaultProxy.pause` / :meth:`FaultProxy.resume` stop and restart forwarding (what is
  read meanwhile is held, in order), in one direction or both;
- :meth:`FaultProxy.delay` holds every chunk that many milliseconds before it goes on;
- :meth:`FaultProxy.inject` hands the clients bytes of the test's own, ahead of what is held.

What is still held when either side closes is dropped (counted in ``dropped_bytes``): a client
that dies with bytes in flight loses them, as it would on a real network.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections import deque
from typing import Literal

from tests import services

Direction = Literal["to_upstream", "to_client", "both"]
SIDES = ("to_upstream", "to_client")


def _sides(direction: Direction) -> set[str]:
    return set(SIDES) if direction == "both" else {direction}


class _Link:
    """One proxied connection: the client's socket, the upstream one, what each side holds."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client, self.upstream = client, upstream
        self.held: dict[str, deque[tuple[float, bytes]]] = {side: deque() for side in SIDES}
        self.injected: deque[bytes] = deque()
        self.open = True

    def cut(self) -> None:
        """Shut both sockets down; the pump sees the end and closes them."""
        self.open = False
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class FaultProxy:
    """A loopback TCP proxy to ``upstream`` (the shared broker unless told) that a test can cut,
    pause, slow down or inject into. Use as a context manager, or call :meth:`close`."""

    def __init__(self, upstream: tuple[str, int] | None = None) -> None:
        self.upstream = upstream or (services.AMQP_HOST, services.AMQP_PORT)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self.connections = 0  # accepted so far
        self.dropped_bytes = 0
        self._links: list[_Link] = []
        self._paused: set[str] = set()
        self._delay: dict[str, float] = dict.fromkeys(SIDES, 0.0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    # --- the faults ---

    def cut(self) -> int:
        """Drop every open connection; how many there were."""
        with self._lock:
            links = [link for link in self._links if link.open]
        for link in links:
            link.cut()
        return len(links)

    def pause(self, direction: Direction = "both") -> None:
        """Stop forwarding: what arrives is held until :meth:`resume`."""
        self._paused |= _sides(direction)

    def resume(self, direction: Direction = "both") -> None:
        self._paused -= _sides(direction)

    def delay(self, ms: float, direction: Direction = "both") -> None:
        """Hold each chunk read from now on ``ms`` milliseconds (0: no delay) before it goes on."""
        for side in _sides(direction):
            self._delay[side] = ms / 1000

    def inject(self, data: bytes) -> None:
        """Send ``data`` to every connected client, ahead of anything held for it."""
        with self._lock:
            for link in self._links:
                link.injected.append(data)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return sum(link.open for link in self._links)

    # --- plumbing ---

    def _accept(self) -> None:
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()  # the broker is down: so is the path to it
                continue
            upstream.settimeout(None)
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
                self.connections += 1
            thread = threading.Thread(target=self._pump, args=(link,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _pump(self, link: _Link) -> None:
        ends = {"to_upstream": (link.client, link.upstream),
                "to_client": (link.upstream, link.client)}
        try:
            while link.open and not self._stop.is_set():
                readable, _, _ = select.select([link.client, link.upstream], [], [], 0.02)
                for side, (source, _) in ends.items():
                    if source in readable:
                        data = source.recv(65536)
                        if not data:
                            return
                        link.held[side].append((time.monotonic() + self._delay[side], data))
                while link.injected:
                    link.client.sendall(link.injected.popleft())
                for side, (_, target) in ends.items():
                    held = link.held[side]
                    while held and side not in self._paused and held[0][0] <= time.monotonic():
                        target.sendall(held.popleft()[1])
        except OSError:
            return
        finally:
            link.open = False
            with self._lock:
                self.dropped_bytes += sum(len(d) for q in link.held.values() for _, d in q)
            link.client.close()
            link.upstream.close()

    def close(self) -> None:
        self._stop.set()
        self.cut()
        for thread in self._threads:
            thread.join(2)
        self._server.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
