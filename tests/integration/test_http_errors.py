"""Inputs that once made the web side answer 500, and the one error shape every refusal has.

Each case below answered 500 before the edges checked their inputs: a date near year 9999
overflowed the slot arithmetic, bodies were decoded without a guard, and a validation error
carrying the raw body (bytes) could not be written as JSON.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from console.app import create_app
from tests.factories import make_ticket
from tests.fuzz.world import T0, FixedClock, fuzz_app
from tests.web import SECRET, agent_headers
from workflow.adapters import links
from workflow.adapters.db import Database
from workflow.adapters.sla_book import default_book
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.states import State
from workflow.service.handlers import sync_sla
from workflow.service.ports import Clock

FAR = "9999-12-31T23:59:59-12:00"
REFUSED = {"error": "invalid_link", "reason": "this link is not valid or has expired"}


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with TestClient(fuzz_app(db), raise_server_exceptions=False) as c:
        yield c


def queued(db: Database) -> str:
    t = make_ticket(State.QUEUED, assignee="alice", created_at=T0, updated_at=T0, accepted_at=T0,
                    data={"requester": {"name": "T", "email": "t@example.com"}})
    sync_sla(default_book(), t, T0)
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(t)
        uow.commit()
    return t.id


def link(ticket_id: str, action: str = "request_callback", days: float = 3) -> str:
    return links.sign(SECRET, ticket_id, action, T0 + timedelta(days=days))


@pytest.mark.parametrize("prefix", ["", "/api/v1"])
def test_a_day_near_year_9999_is_refused_not_a_500(db: Database, client: TestClient,
                                                    prefix: str) -> None:
    r = client.get(f"{prefix}/customer/callback/{link(queued(db))}?day=9999-12-31")
    assert r.status_code == 422 and r.json()["error"] == "bad_date"


@pytest.mark.parametrize("how", ["form", "json"])
def test_a_slot_near_year_9999_is_refused_not_a_500(db: Database, client: TestClient,
                                                     how: str) -> None:
    body = {"data": {"slot": FAR}} if how == "form" else {"json": {"slot": FAR}}
    r = client.post(f"/customer/callback/{link(queued(db))}", **body)  # type: ignore[arg-type]
    assert r.status_code == 422 and r.json()["error"] == "bad_date"


def test_a_window_near_year_9999_is_refused_not_a_500(db: Database, client: TestClient) -> None:
    tid = queued(db)
    r = client.post(f"/api/v1/tickets/{tid}/request_callback",
                    json={"preferred": "9999-12-31 23:00-23:30"},
                    headers=agent_headers(client, db, "alice"))
    assert r.status_code == 422 and r.json()["error"] == "bad_date"


def test_a_form_body_that_is_not_utf8_is_refused(db: Database, client: TestClient) -> None:
    r = client.post(f"/customer/callback/{link(queued(db))}", content=b"slot=\xff\xfe",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and r.json()["error"] == "bad_form"


@pytest.mark.parametrize("depth", [2000, 100_000])
def test_deeply_nested_json_is_refused(db: Database, client: TestClient, depth: int) -> None:
    r = client.post(f"/customer/callback/{link(queued(db))}",
                    content=b'{"a":' * depth + b"1" + b"}" * depth,
                    headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 413) and {"error", "reason"} <= set(r.json())


def test_send_key_with_an_empty_body_is_a_422_without_the_raw_body(db: Database,
                                                                   client: TestClient) -> None:
    r = client.post(f"/api/v1/tickets/{queued(db)}/send_key", content=b"",
                    headers=agent_headers(client, db, "alice"))
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_request" and "input" not in r.text


def test_a_forged_link_with_an_absurd_expiry_is_refused_not_a_500(db: Database,
                                                                  client: TestClient) -> None:
    """The expiry was read before the signature was checked: ``fromtimestamp`` overflowed."""
    body = base64.urlsafe_b64encode(f"{queued(db)}:request_callback:{10**20}".encode())
    forged = f"{body.decode().rstrip('=')}.AAAA"
    assert client.get(f"/customer/callback/{forged}?format=json").json() == REFUSED
    r = client.get("/api/v1/customer/session", headers={"X-Session-Token": forged})
    assert r.status_code == 403 and r.json() == REFUSED


@pytest.mark.parametrize("as_json", [True, False])
def test_expired_tampered_and_unknown_links_get_one_answer(db: Database, client: TestClient,
                                                          as_json: bool) -> None:
    tid = queued(db)
    good = link(tid)
    bad = {"expired": link(tid, days=-1), "tampered": good[:-4] + "AAAA",
           "unknown": link("0" * 32), "wrong action": link(tid, "confirm_key")}
    headers = {"Accept": "application/json"} if as_json else {}
    for method in ("GET", "POST"):
        answers = {name: client.request(method, f"/customer/callback/{token}", headers=headers)
                   for name, token in bad.items()}
        seen = {(r.status_code, r.content) for r in answers.values()}
        assert len(seen) == 1, {k: (r.status_code, r.text) for k, r in answers.items()}
        assert seen.pop()[0] == 403
    assert client.get(f"/customer/callback/{good}", headers=headers).status_code == 200


def test_every_refusal_has_one_shape(db: Database, client: TestClient) -> None:
    """FastAPI's own answers (404 route, 405, 401, 422 validation) in the workflow's shape."""
    alice = agent_headers(client, db, "alice")
    answers = [client.get("/no/such/route"), client.delete("/healthz"),
               client.get("/api/v1/tickets"), client.post("/api/v1/auth/token", json={}),
               client.get("/api/v1/tickets?limit=-5", headers=alice),
               client.post(f"/api/v1/tickets/{queued(db)}/reply", json={"message": 5},
                           headers=alice)]
    for r in answers:
        body = r.json()
        assert 400 <= r.status_code < 500 and "detail" not in body, (r.status_code, body)
        assert isinstance(body["error"], str) and isinstance(body["reason"], str), body
    assert answers[2].headers["www-authenticate"].startswith("Bearer")


def test_an_unexpected_fault_is_logged_and_answers_500_in_the_shape(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    boom = APIRouter()

    @boom.get("/boom")
    def fail() -> None:
        raise RuntimeError("a bug")

    clock: Clock = FixedClock(T0)
    app = create_app(fuzz_app(db, clock).state.deps, [boom])
    with TestClient(app, raise_server_exceptions=False) as c, \
            caplog.at_level(logging.ERROR, "resetdesk.http"):
        r = c.get("/boom")
    assert r.status_code == 500 and r.json()["error"] == "internal" and "a bug" not in r.text
    [record] = [rec for rec in caplog.records if rec.name == "resetdesk.http"]
    assert record.exc_info and "RuntimeError" in caplog.text


def test_an_unreachable_database_answers_503_with_retry_after_not_500() -> None:
    """A producer posting while PostgreSQL restarts learns to send the same request again."""
    from workflow.adapters.db import open_database

    down = open_database("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    try:
        with TestClient(fuzz_app(down), raise_server_exceptions=False) as c:
            r = c.post("/events", content=b"{}", headers={"Authorization": "Bearer x"})
    finally:
        down.dispose()
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "2" and r.json()["error"] == "unavailable"
