"""A siteverify-style human-check service the real processes call, that a test takes down and
brings back: down, its port refuses connections (the verifier calls that transient, so the
request is retried and finally dead-lettered); up, every token passes and each call is counted."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.smtp_sink import free_port

SECRET = "test-siteverify-secret"


class _Passes(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.calls += 1
        body = b'{"success": true, "error-codes": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    calls = 0


class HumanCheckService:
    """Starts down; ``up()`` and ``down()`` switch it on its one port."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: _Server | None = None
        self.calls = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/siteverify"

    def settings(self) -> dict[str, str]:
        """The environment that points ResetDesk's processes at this service."""
        return {"RESETDESK_VERIFICATION__HUMAN_CHECK": "siteverify",
                "RESETDESK_VERIFICATION__SITEVERIFY_URL": self.url,
                "RESETDESK_VERIFICATION__SITEVERIFY_SECRET": SECRET,
                "RESETDESK_VERIFICATION__SITEVERIFY_TIMEOUT_SECONDS": "2"}

    def up(self) -> None:
        self._server = _Server(("127.0.0.1", self.port), _Passes)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self.calls += self._server.calls
            self._server.shutdown()
            self._server.server_close()
            self._server = None
