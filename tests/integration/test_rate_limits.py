"""Rate limits on the real app over a real database: each throttled route answers 429 with a
whole-second Retry-After and {"error": "rate_limited"} once its limit is spent, counts per the
right key, lets the key pass again when its window ends, and turns off with one switch. On
PostgreSQL the counter is shared by two app instances with their own connection pools, as two
``resetdesk serve`` processes would be."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from console.app import create_app
from console.deps import WebDeps
from schemas.sample import SAMPLE_SOURCE, sample_request
from tests.fake_bus import MovableClock
from tests.web import SECRET
from workflow.adapters import accounts
from workflow.adapters.db import Database, open_database
from workflow.adapters.human_check import LocalVerifier
from workflow.adapters.throttle_store import sql_throttle
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain import throttle as t
from workflow.domain.policies import Policies
from workflow.domain.throttle import ThrottleLimits

CE = {"Content-Type": "application/cloudevents+json"}


def client(db: Database, clock: MovableClock, addr: str = "198.51.100.7",
           throttle_enabled: bool = True, **limits: int) -> TestClient:
    """The app with these limits (``default_rules``' names) and the rest at their defaults."""
    throttle = ThrottleLimits(enabled=throttle_enabled, rules=t.default_rules(**limits))
    deps = WebDeps(db=db, clock=clock, verifier=LocalVerifier(), uow=lambda: SqlUnitOfWork(db),
                   secret_key=SECRET, policies=Policies(throttle=throttle))
    return TestClient(create_app(deps), client=(addr, 50000))


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    database = open_database(sqlite_url)
    yield database
    database.dispose()


def assert_limited(r: httpx.Response, *, max_wait: int) -> None:
    assert r.status_code == 429, r.text
    wait = r.headers["retry-after"]
    assert wait.isdigit() and 1 <= int(wait) <= max_wait
    assert r.json()["error"] == "rate_limited" and r.json()["reason"]


def sign_in(c: TestClient, login: str, password: str) -> httpx.Response:
    r: httpx.Response = c.post("/api/v1/auth/token", json={"login": login, "password": password})
    return r


def test_sign_in_failures_are_limited_per_login_and_a_success_gives_its_count_back(
        sqlite_db: Database) -> None:
    clock = MovableClock()
    accounts.add_agent(sqlite_db, "alice", "alice-password-123")
    c = client(sqlite_db, clock, signin_failures_per_login=3)
    for _ in range(5):  # successes never use up the limit
        assert sign_in(c, "alice", "alice-password-123").status_code == 200
    assert [sign_in(c, "alice", "wrong").status_code for _ in range(3)] == [401, 401, 401]
    assert_limited(sign_in(c, "Alice", "alice-password-123"), max_wait=15 * 60)  # even right
    assert sign_in(c, "bob", "wrong").status_code == 401  # another login is its own count
    clock.advance(minutes=15)
    assert sign_in(c, "alice", "alice-password-123").status_code == 200


def test_sign_in_failures_are_limited_per_client_address(sqlite_db: Database) -> None:
    clock = MovableClock()
    c = client(sqlite_db, clock, signin_failures_per_address=4)
    assert [sign_in(c, f"user{n}", "wrong").status_code for n in range(4)] == [401] * 4
    assert_limited(sign_in(c, "user9", "wrong"), max_wait=15 * 60)
    other = client(sqlite_db, clock, addr="198.51.100.8", signin_failures_per_address=4)
    assert sign_in(other, "user9", "wrong").status_code == 401


@pytest.mark.parametrize("path", ["/customer/key/get/not-a-token",
                                  "/customer/callback/not-a-token",
                                  "/api/v1/customer/callback/not-a-token"])
def test_customer_link_pages_are_limited_per_client_address(sqlite_db: Database,
                                                            path: str) -> None:
    clock = MovableClock()
    c = client(sqlite_db, clock, customer_link_rate_per_minute=3)
    assert all(c.get(path).status_code != 429 for _ in range(3))
    assert_limited(c.get(path, headers={"Accept": "application/json"}), max_wait=60)
    assert_limited(c.post("/api/v1/customer/key/confirm/not-a-token", json={}), max_wait=60)
    other = client(sqlite_db, clock, addr="198.51.100.99", customer_link_rate_per_minute=3)
    assert other.get(path).status_code != 429
    clock.advance(minutes=1)
    assert c.get(path).status_code != 429


def test_a_browser_on_a_customer_page_gets_a_small_html_page(sqlite_db: Database) -> None:
    c = client(sqlite_db, MovableClock(), customer_link_rate_per_minute=1)
    c.get("/customer/key/get/x")
    r = c.get("/customer/key/get/x", headers={"Accept": "text/html,*/*;q=0.8"})
    assert r.status_code == 429 and r.headers["retry-after"].isdigit()
    assert r.headers["content-type"].startswith("text/html") and "Too many requests" in r.text


def test_intake_is_limited_per_producer_token_for_posts_and_status_reads(
        sqlite_db: Database) -> None:
    clock = MovableClock()
    token = accounts.add_producer(sqlite_db, "forms", SAMPLE_SOURCE)
    other = accounts.add_producer(sqlite_db, "kiosk", "urn:example:kiosk")
    c = client(sqlite_db, clock, intake_rate_per_minute=3, intake_status_rate_per_minute=2)
    auth = {"Authorization": f"Bearer {token}", **CE}
    events = [sample_request() for _ in range(4)]
    codes = [c.post("/events", content=_json(e), headers=auth).status_code for e in events]
    assert codes[:3] == [202, 202, 202]
    assert_limited(c.post("/events", content=_json(events[3]), headers=auth), max_wait=60)
    kiosk = {"Authorization": f"Bearer {other}", **CE}
    assert c.post("/events", content=_json(events[3]), headers=kiosk).status_code == 403
    status = f"/events/{events[0]['id']}"
    assert [c.get(status, headers=auth).status_code for _ in range(2)] == [200, 200]
    assert_limited(c.get(status, headers=auth), max_wait=60)
    assert c.post("/events", headers={"Authorization": "Bearer nope"}).status_code == 401
    clock.advance(minutes=1)
    assert c.post("/events", content=_json(events[3]), headers=auth).status_code == 202


def test_one_switch_turns_every_limit_off(sqlite_db: Database) -> None:
    c = client(sqlite_db, MovableClock(), throttle_enabled=False, signin_failures_per_login=1,
               customer_link_rate_per_minute=1, intake_rate_per_minute=1)
    token = accounts.add_producer(sqlite_db, "forms", SAMPLE_SOURCE)
    for _ in range(3):
        assert sign_in(c, "alice", "wrong").status_code == 401
        assert c.get("/customer/callback/x").status_code != 429
        r = c.post("/events", content=b"{}", headers={"Authorization": f"Bearer {token}", **CE})
        assert r.status_code == 400


def test_default_intake_limit_lets_a_producer_burst_a_thousand_requests(
        sqlite_db: Database) -> None:
    throttle = sql_throttle(sqlite_db, ThrottleLimits())
    now = MovableClock().now()
    assert all(throttle.hit(t.INTAKE, "forms", now).allowed for _ in range(1000))


@pytest.mark.postgres
def test_two_app_instances_on_one_postgresql_database_share_the_counter(pg_url: str) -> None:
    first, second = open_database(pg_url), open_database(pg_url)
    try:
        clock = MovableClock()
        token = accounts.add_producer(first, "forms", SAMPLE_SOURCE)
        a = client(first, clock, intake_rate_per_minute=4)
        b = client(second, clock, intake_rate_per_minute=4)
        auth = {"Authorization": f"Bearer {token}", **CE}
        codes = [(a if n % 2 else b).post("/events", content=_json(sample_request()),
                                          headers=auth).status_code for n in range(4)]
        assert codes == [202] * 4
        assert_limited(a.post("/events", content=_json(sample_request()), headers=auth),
                       max_wait=60)
        assert_limited(b.post("/events", content=_json(sample_request()), headers=auth),
                       max_wait=60)
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.postgres
def test_concurrent_hits_from_two_pools_never_pass_more_than_the_limit(pg_url: str) -> None:
    """16 threads over two engines race for one key: exactly the limit passes (row lock)."""
    dbs = [open_database(pg_url), open_database(pg_url)]
    try:
        limits = ThrottleLimits(rules={t.INTAKE: t.RateLimit(25, timedelta(minutes=1))})
        throttles = [sql_throttle(db, limits) for db in dbs]
        now = MovableClock().now()

        def worker(n: int) -> int:
            return sum(throttles[n % 2].hit(t.INTAKE, "forms", now).allowed for _ in range(5))

        with ThreadPoolExecutor(16) as pool:
            passed = sum(pool.map(worker, range(16), timeout=120))
        assert passed == 25
    finally:
        for db in dbs:
            db.dispose()


def _json(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()
