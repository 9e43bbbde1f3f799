"""The ops listener of a long-running process: ``/metrics``, ``/healthz`` and ``/readyz``.

A standard-library HTTP server on a daemon thread (the consumers, relay, scheduler and archiver
have no web stack of their own). ``/healthz`` answers 200 while the process runs; ``/readyz``
runs the readiness checks the composition root gives it (database, broker, migrations) and
answers 200 when all pass, else 503 with what failed — each check bounded by its own timeout.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

#: a readiness check: returns when fine, raises (any exception, its text shown) when not
Check = Callable[[], None]


def readiness(checks: Mapping[str, Check], timeout: float = 3.0) -> tuple[bool, dict[str, str]]:
    """Run every check at once; (all passed, name -> "ok" or why not)."""
    results: dict[str, str] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, len(checks)), thread_name_prefix="readyz")
    try:
        futures = {name: pool.submit(check) for name, check in checks.items()}
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
                results[name] = "ok"
            except FutureTimeout:
                results[name] = f"no answer within {timeout:g} s"
            except Exception as err:
                results[name] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return all(v == "ok" for v in results.values()), results


class OpsServer:
    """Serve the ops endpoints on ``host:port`` (port 0 in ``start`` means: pick a free one)."""

    def __init__(self, host: str, port: int, *, process: str,
                 checks: Mapping[str, Check] | None = None,
                 registry: CollectorRegistry = REGISTRY) -> None:
        self.process, self.checks, self.registry = process, dict(checks or {}), registry
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.1,),
                                        name="ops-listener", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> OpsServer:
        self._thread.start()
        log.info("%s: ops listener on port %d (/metrics, /healthz, /readyz)", self.process,
                 self.port)
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for ``path``; the HTTP handler only sends it."""
        route = path.split("?", 1)[0]
        if route == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        if route == "/healthz":
            return 200, "application/json", _json({"ok": True, "process": self.process})
        if route == "/readyz":
            ok, results = readiness(self.checks)
            return (200 if ok else 503), "application/json", _json(
                {"ready": ok, "process": self.process, "checks": results})
        return 404, "application/json", _json({"error": "not found"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    status, ctype, body = server.answer(self.path)
                except Exception:  # never a silent hang-up: the scraper sees a 500
                    log.exception("ops listener: %s failed", self.path)
                    status, ctype, body = 500, "application/json", _json({"error": "failed"})
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # scrapes every few seconds would drown the process's log

        return Handler


def _json(value: object) -> bytes:
    return json.dumps(value).encode("utf-8")
