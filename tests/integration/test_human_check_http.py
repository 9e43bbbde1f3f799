"""`SiteverifyVerifier` against a real HTTP server on 127.0.0.1, one behaviour per path."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from workflow.adapters.human_check import SiteverifyVerifier

SECRET = "test-secret"
SLOW_S = 1.0
TIMEOUT_S = 0.2


class FakeSiteverify(BaseHTTPRequestHandler):
    """Answers by path; records each posted form on the server for assertions."""

    server: FakeServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        self.server.forms.append(form)
        if self.path == "/slow":
            time.sleep(SLOW_S)
        status, body = {
            "/500": (500, b"oops"),
            "/429": (429, b'{"success": false}'),
            "/badjson": (200, b"<html>not json</html>"),
            "/nosuccess": (200, b'{"error-codes": []}'),
            "/badsecret": (200, b'{"success": false, "error-codes": ["invalid-input-secret"]}'),
        }.get(self.path, (200, b""))
        if not body:
            ok = form.get("secret") == SECRET and form.get("response", "").startswith("good")
            body = (
                b'{"success": true, "error-codes": []}'
                if ok
                else b'{"success": false, "error-codes": ["invalid-input-response"]}'
            )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)  # fails when the client gave up (time-out test)

    def log_message(self, format: str, *args: object) -> None:
        pass


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeSiteverify)
        self.forms: list[dict[str, str]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def verifier(url: str) -> SiteverifyVerifier:
    return SiteverifyVerifier(url, SECRET, timeout_s=TIMEOUT_S)


def test_good_token_passes_and_posts_secret_response_and_ip(server: FakeServer):
    with verifier(server.base_url + "/siteverify") as v:
        result = v.verify("good-token", "203.0.113.7")
    assert result.passed and not result.transient
    assert server.forms == [{"secret": SECRET, "response": "good-token", "remoteip": "203.0.113.7"}]


def test_remote_ip_is_omitted_when_unknown(server: FakeServer):
    with verifier(server.base_url + "/siteverify") as v:
        assert v.verify("good-token", None).passed
    assert "remoteip" not in server.forms[0]


def test_refused_token_is_a_definite_failure(server: FakeServer):
    with verifier(server.base_url + "/siteverify") as v:
        result = v.verify("bot-token", None)
    assert not result.passed and not result.transient
    assert "invalid-input-response" in result.detail


def test_empty_token_fails_without_calling_the_provider(server: FakeServer):
    with verifier(server.base_url + "/siteverify") as v:
        result = v.verify("", None)
    assert not result.passed and not result.transient and server.forms == []


def test_slow_provider_is_transient_after_the_timeout(server: FakeServer):
    started = time.monotonic()
    with verifier(server.base_url + "/slow") as v:
        result = v.verify("good-token", None)
    assert not result.passed and result.transient and "time-out" in result.detail
    assert time.monotonic() - started < SLOW_S


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/500", "HTTP 500"),
        ("/429", "HTTP 429"),
        ("/badjson", "unreadable JSON"),
        ("/nosuccess", "without a boolean 'success'"),
        ("/badsecret", "invalid-input-secret"),
    ],
)
def test_provider_trouble_and_our_misconfiguration_are_transient(server: FakeServer, path: str, detail: str):
    with verifier(server.base_url + path) as v:
        result = v.verify("good-token", None)
    assert not result.passed and result.transient and detail in result.detail


def test_connection_refused_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port was free a moment ago and nothing listens on it now.
    with verifier(f"http://127.0.0.1:{port}/siteverify") as v:
        result = v.verify("good-token", None)
    assert not result.passed and result.transient and "ConnectError" in result.detail
