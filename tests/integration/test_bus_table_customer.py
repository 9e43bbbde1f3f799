"""The customer's moves, generated from the declaration and driven through the real entries over
one database: the customer pages and the customer JSON API with genuine signed links and codes,
the agents' API and CLI for staff, the agents' API with a producer's token.

For every move the declaration gives the customer: the customer's route fires it from the
state the declaration allows it in (audited as ``customer``), and every other actor kind gets
exactly what the declaration says through its own entries. For every move the customer is not
given: no customer route fires it (each customer POST route is one driven here or one that
makes no move), every link route refuses a link signed for it, and the agents' API is shut.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from tests.bus_table import (
    CUSTOMER_LINKS,
    CUSTOMER_ROUTES,
    GENERIC,
    NO_MOVE_CUSTOMER_ROUTES,
    PRODUCER_TOKEN,
    STAFF_BODIES,
    Row,
    app_routes,
    declared,
    refusal,
    rows_for,
    staff_http,
    staff_http_path,
    staff_try,
)
from tests.factories import make_ticket
from tests.web import SECRET, agent_headers, web_client
from workflow.adapters import accounts, migrate
from workflow.adapters.db import Database, open_database
from workflow.adapters.tables import OUTBOX
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.actors import Actor
from workflow.domain.policies import Policies
from workflow.domain.states import TRIGGERS, Outcome, State, actors_of, moves_of
from workflow.domain.throttle import ThrottleLimits
from workflow.domain.ticket import AuditEntry
from workflow.service import links

CUSTOMER_MOVES = [t for t in TRIGGERS if declared(t, "customer")]
ROWS = rows_for("customer")
STAFF_LOGINS = {"agent": "sam", "supervisor": "sue"}


def _params(keep: Callable[[Row], bool]) -> list[Any]:
    return [pytest.param(r, id=r.id) for r in ROWS if keep(r)]


@dataclass
class Desk:
    db: Database
    client: TestClient
    alice: dict[str, str]
    staff: dict[str, dict[str, str]] = field(default_factory=dict)
    producer_token: str = ""

    def ticket(self, assignee: str | None = "alice", state: State = State.QUEUED,
               **fields: Any) -> str:
        t = make_ticket(state, assignee=assignee, accepted_at=datetime.now(UTC),
                        data={"requester": {"name": "Test Person", "email": "t@example.com"}},
                        **fields)
        with SqlUnitOfWork(self.db) as uow:
            uow.tickets.add(t)
            uow.commit()
        return t.id

    def snapshot(self, tid: str) -> tuple[Any, ...]:
        with SqlUnitOfWork(self.db, read_only=True) as uow:
            t = uow.tickets.get(tid)
            return t.state, t.waiting_on, t.assignee, t.version, len(uow.tickets.history(tid))

    def history(self, tid: str) -> list[AuditEntry]:
        with SqlUnitOfWork(self.db, read_only=True) as uow:
            return list(uow.tickets.history(tid))

    def emails(self, tid: str) -> list[dict[str, Any]]:
        import json

        with self.db.reader.begin() as conn:
            payloads = conn.execute(select(OUTBOX.c.payload).where(
                OUTBOX.c.ticket_id == tid, OUTBOX.c.type == "com.resetdesk.notification.email.v1")
                .order_by(OUTBOX.c.id)).scalars().all()
        return [json.loads(p)["data"] for p in payloads]


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    url = f"sqlite:///{tmp_path_factory.mktemp('customer-table') / 'resetdesk.db'}"
    migrate.upgrade(url)
    db = open_database(url)
    client = web_client(db, policies=Policies(throttle=ThrottleLimits(enabled=False)))
    made = Desk(db, client, agent_headers(client, db, "alice"))
    for kind, login in STAFF_LOGINS.items():
        made.staff[kind] = agent_headers(client, db, login)
        accounts.set_agent_role(db, login, kind)
    made.producer_token = accounts.add_producer(db, "form", "urn:test:table")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RESETDESK_DATABASE_URL", url)
        env.setenv("RESETDESK_SECRET_KEY", SECRET.decode())
        env.setenv("RESETDESK_SERVER__PUBLIC_URL", "https://desk.example")
        yield made
    db.dispose()


# --- getting a ticket to where the customer can make each move -------------------------------


@dataclass(frozen=True)
class Ready:
    """A ticket where the move can be made, and what the customer's request carries."""

    tid: str
    token: str = ""
    body: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _token(url: str) -> str:
    return str(url).rstrip("/").rsplit("/", 1)[-1]


def _key_sent(desk: Desk, answer: str) -> Ready:
    tid = desk.ticket()
    r = desk.client.post(f"/api/v1/tickets/{tid}/send_key", headers=desk.alice,
                         json={"kind": "security_codes", "text": "2027-01-08 4711-0815-2342"})
    assert r.status_code == 200, r.text
    return Ready(tid, _token(desk.emails(tid)[-1]["context"][f"{answer}_url"]))


def _link(tid: str, action: str) -> str:
    return links.sign(SECRET, tid, action, datetime.now(UTC) + timedelta(days=1))


def _callback_link(desk: Desk) -> Ready:
    tid = desk.ticket(assignee=None)
    return Ready(tid, _link(tid, "request_callback"))


def _callback_booked(desk: Desk) -> Ready:
    asked = _callback_link(desk)
    r = desk.client.post(f"/customer/callback/{asked.token}")
    assert r.status_code == 200, r.text
    return Ready(asked.tid, _link(asked.tid, "move_callback"))


def _callback_moved(desk: Desk) -> Ready:
    booked = _callback_booked(desk)
    r = desk.client.post(f"/customer/callback/{booked.token}")
    assert r.status_code == 200, r.text
    page = desk.client.get(f"/customer/callback/{booked.token}?format=json").json()
    assert page["waiting_on"] == "callback-moved", page
    return Ready(booked.tid, booked.token, {"slot": page["slots"][0]["start"]})


def _session_offered(desk: Desk) -> Ready:
    tid = desk.ticket()
    r = desk.client.post(f"/api/v1/tickets/{tid}/offer_remote_session", json={},
                         headers=desk.alice)
    assert r.status_code == 201, r.text
    offer = r.json()
    terms = desk.client.post("/api/v1/customer/session/verify", json={
        "reference": offer["ticket"]["reference"], "code": offer["code"]})
    assert terms.status_code == 200, terms.text
    return Ready(tid, body={"consent_token": terms.json()["consent_token"],
                            "terms_version": terms.json()["terms"]["version"]})


def _session_started(desk: Desk) -> Ready:
    offered = _session_offered(desk)
    r = desk.client.post("/api/v1/customer/session/agree", json=offered.body)
    assert r.status_code == 200, r.text
    return Ready(offered.tid, headers={"X-Session-Token": r.json()["session_token"]})


#: how to bring a ticket to where each customer move can be made (a new customer move without
#: one fails its rows here with a KeyError naming it)
SCENES: dict[str, Callable[[Desk], Ready]] = {
    "resolve": lambda d: _key_sent(d, "confirm"),
    "key_failed": lambda d: _key_sent(d, "report"),
    "request_callback": _callback_link,
    "move_callback": _callback_booked,
    "book_callback": _callback_moved,
    "start_remote_session": _session_offered,
    "end_remote_session": _session_started,
    # no customer route reopens (see test_reopen_has_a_customer_route): staff rows only
    "reopen": lambda d: Ready(d.ticket(state=State.CLOSED, outcome=Outcome.RESOLVED)),
}


def _customer_post(desk: Desk, route: str, ready: Ready) -> Response:
    path = route.removeprefix("POST ").format(token=ready.token)
    r: Response = desk.client.post(path, json=ready.body, headers=ready.headers) \
        if path.startswith("/api/") else desk.client.post(path, data=ready.body,
                                                          headers=ready.headers)
    return r


def _assert_moved_as_declared(desk: Desk, tid: str, seen: int, trigger: str, actor: str) -> None:
    """The move is in the audit trail, by ``actor``, between states a row of it allows; and
    whatever else the request moved, ``actor`` was allowed to."""
    new = desk.history(tid)[seen:]
    assert trigger in [e.trigger for e in new if e.actor == actor], new
    for e in new:
        assert Actor.parse(e.actor).matches(actors_of(e.trigger)), e
        if e.trigger == trigger:
            assert any(e.from_state in {s.value for s in m.source}
                       and e.to_state == (m.dest.value if m.dest else e.from_state)
                       for m in moves_of(trigger)), e


# --- the tests --------------------------------------------------------------------------------


#: customer moves no customer route fires (none: each declared customer move has a route)
NO_ROUTE_YET: set[str] = set()


def test_the_customer_moves_are_generated_and_each_has_a_customer_route() -> None:
    assert CUSTOMER_MOVES, "the declaration gives the customer no move"
    missing = {t for t in CUSTOMER_MOVES if not CUSTOMER_ROUTES.get(t)}
    assert missing <= NO_ROUTE_YET, f"no customer route fires {sorted(missing - NO_ROUTE_YET)}"
    for trigger in set(CUSTOMER_MOVES) - missing:
        assert set(CUSTOMER_ROUTES[trigger]) <= app_routes(), trigger


def test_reopen_is_for_staff_only() -> None:
    """A closed ticket is reopened by staff; a customer sends a new request instead."""
    assert "customer" not in actors_of("reopen")


#: which test below drives which row
DRIVEN: dict[str, Callable[[Row], bool]] = {
    "route": lambda r: r.kind == "customer" and r.entry != CUSTOMER_LINKS,
    "staff": lambda r: r.kind in STAFF_LOGINS,
    "producer": lambda r: r.entry == PRODUCER_TOKEN,
    "links": lambda r: r.entry == CUSTOMER_LINKS,
}


def test_every_row_is_driven_by_one_test() -> None:
    assert ROWS
    for row in ROWS:
        assert [name for name, keep in DRIVEN.items() if keep(row)] in (["route"], ["staff"],
                                                                         ["producer"], ["links"]), row


@pytest.mark.parametrize("row", _params(DRIVEN["route"]))
def test_the_customer_makes_the_move_through_its_route(desk: Desk, row: Row) -> None:
    ready = SCENES[row.trigger](desk)
    before = desk.snapshot(ready.tid)
    r = _customer_post(desk, str(row.entry), ready)
    if row.allowed:
        assert r.status_code == 200, r.text
        _assert_moved_as_declared(desk, ready.tid, before[-1], row.trigger, "customer")
    else:  # a route the declaration no longer gives the customer: the bus refuses it
        assert r.status_code == 403, r.text
        if str(row.entry).startswith("POST /api/"):
            assert r.json()["reason"] == refusal(row.trigger, "customer")
        assert desk.snapshot(ready.tid) == before


@pytest.mark.parametrize("row", _params(DRIVEN["staff"]))
def test_staff_get_exactly_what_the_declaration_gives_them(desk: Desk, row: Row) -> None:
    ready = SCENES[row.trigger](desk)
    before = desk.snapshot(ready.tid)
    login = STAFF_LOGINS[row.kind]
    done, answer = staff_try(desk.client, desk.staff[row.kind], login, row, ready.tid)
    assert done is row.allowed, answer
    if row.allowed:
        _assert_moved_as_declared(desk, ready.tid, before[-1], row.trigger, f"{row.kind}:{login}")
    else:
        assert desk.snapshot(ready.tid) == before


@pytest.mark.parametrize("row", _params(DRIVEN["producer"]))
def test_a_producer_token_opens_no_move(desk: Desk, row: Row) -> None:
    ready = SCENES[row.trigger](desk)
    before = desk.snapshot(ready.tid)
    for entry in {GENERIC, staff_http(row.trigger, allowed=False) or GENERIC}:
        path = staff_http_path(entry, row.trigger, ready.tid)
        r = desk.client.post(path, json=STAFF_BODIES.get(row.trigger, {}),
                             headers={"Authorization": f"Bearer {desk.producer_token}"})
        assert r.status_code == 401 and r.json()["error"] == "unauthorized", r.text
    assert desk.snapshot(ready.tid) == before


LINK_ROUTES = sorted({route for routes in CUSTOMER_ROUTES.values() for route in routes
                      if "{token}" in route})


def test_every_customer_post_route_is_a_move_route_or_makes_no_move() -> None:
    """A new customer POST route must be classified: it fires moves (CUSTOMER_ROUTES, driven
    above) or it makes none (NO_MOVE_CUSTOMER_ROUTES)."""
    posts = {r for r in app_routes() if r.startswith("POST ")
             and r.split(" ", 1)[1].startswith(("/customer/", "/api/v1/customer/"))}
    moving = {route for routes in CUSTOMER_ROUTES.values() for route in routes}
    assert posts == moving | NO_MOVE_CUSTOMER_ROUTES
    assert not moving & NO_MOVE_CUSTOMER_ROUTES


@pytest.mark.parametrize("row", _params(DRIVEN["links"]))
def test_the_customer_cannot_make_a_move_it_is_not_given(desk: Desk, row: Row) -> None:
    assert not row.allowed and row.trigger not in CUSTOMER_ROUTES
    tid = desk.ticket()
    before = desk.snapshot(tid)
    token = _link(tid, row.trigger)
    for route in LINK_ROUTES:
        path = route.removeprefix("POST ").format(token=token)
        r = desk.client.post(path, json={}) if path.startswith("/api/") \
            else desk.client.post(path)
        assert r.status_code == 403, (route, r.text)
    # and without an agent's token the agents' API is shut
    r = desk.client.post(f"/api/v1/tickets/{tid}/{row.trigger}", json={})
    assert r.status_code == 401, r.text
    assert desk.snapshot(tid) == before
