"""Access to the real local services the integration tests use.

Locally, a missing PostgreSQL or RabbitMQ skips those tests with the reason; with
``RESETDESK_REQUIRE_SERVICES=1`` (set by .ci/run) it fails them instead, so CI can never go green
by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

PG_ADMIN_URL = os.environ.get("RESETDESK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AMQP_HOST = os.environ.get("RESETDESK_TEST_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("RESETDESK_TEST_AMQP_PORT", "5672"))
RUN_ID = uuid.uuid4().hex[:8]


def required() -> bool:
    return os.environ.get("RESETDESK_REQUIRE_SERVICES") == "1"


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def unavailable(what: str, why: str) -> None:
    message = f"{what} is not reachable ({why})"
    if required():
        pytest.fail(f"{message}, and RESETDESK_REQUIRE_SERVICES=1 says it must be", pytrace=False)
    pytest.skip(f"{message}: start it to run this test")


def rabbitmqctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, check=check,
                          timeout=60)


def require_rabbitmq() -> None:
    """Skip (or, under RESETDESK_REQUIRE_SERVICES=1, fail) when the local broker is missing."""
    if shutil.which("rabbitmqctl") is None:
        unavailable("RabbitMQ", "rabbitmqctl is not on PATH")
    if not port_open(AMQP_HOST, AMQP_PORT):
        unavailable("RabbitMQ", f"{AMQP_HOST}:{AMQP_PORT} refused")


def amqp_url(vhost: str, port: int | None = None, user: str = "guest",
             password: str = "guest") -> str:
    return f"amqp://{user}:{password}@{AMQP_HOST}:{port or AMQP_PORT}/{quote(vhost, safe='')}"


@contextmanager
def temporary_vhost(name: str) -> Iterator[str]:
    """A vhost of this run's own, guest allowed everything in it, deleted afterwards."""
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        rabbitmqctl("delete_vhost", name, check=False)
