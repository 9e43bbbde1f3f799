"""Two ``resetdesk serve`` processes on one PostgreSQL database share a producer's rate limit:
the posts both accepted add up to the limit, and the next one is refused by either process."""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from schemas.sample import SAMPLE_SOURCE, sample_request
from tests.processes import PROCESS_START, Proc, process_env, wait_for
from workflow.adapters import accounts
from workflow.adapters.db import open_database

LIMIT = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_servers(pg_url: str, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    db = open_database(pg_url)
    token = accounts.add_producer(db, "forms", SAMPLE_SOURCE)
    db.dispose()
    # production layout: `serve` only writes the outbox for the relay; it never opens the broker
    env = process_env(RESETDESK_DATABASE_URL=pg_url, RESETDESK_DATA_DIR=str(tmp_path),
                      RESETDESK_BROKER_URL="amqp://guest:guest@127.0.0.1:5672/%2F",
                      RESETDESK_SECRET_KEY=secrets.token_urlsafe(32),
                      RESETDESK_THROTTLE__INTAKE_RATE_PER_MINUTE=str(LIMIT))
    ports = [_free_port(), _free_port()]
    procs = [Proc(f"serve-{n}", ["serve", "--port", str(port)], env, tmp_path / f"serve-{n}.log")
             for n, port in enumerate(ports)]
    try:
        for proc in procs:
            proc.start()
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, proc in zip(urls, procs, strict=True):
            wait_for(f"{proc.name} to answer", partial(_healthy, url), timeout=PROCESS_START)
        yield urls, token
    finally:
        for proc in procs:
            proc.stop(timeout=15)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.postgres
def test_two_serve_processes_count_one_producer_against_one_limit(
        two_servers: tuple[list[str], str]) -> None:
    urls, token = two_servers
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"}

    def post(url: str) -> httpx.Response:
        return httpx.post(f"{url}/events", content=json.dumps(sample_request()), headers=headers,
                          timeout=30)

    codes = [post(urls[n % 2]).status_code for n in range(LIMIT)]
    assert codes == [202] * LIMIT
    for url in urls:
        r = post(url)
        assert r.status_code == 429, r.text
        assert r.headers["retry-after"].isdigit() and r.json()["error"] == "rate_limited"
