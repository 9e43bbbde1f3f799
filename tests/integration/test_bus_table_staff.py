"""The moves only staff are given, generated from the declaration and driven through the agents'
API and the CLI over one database: each (trigger, agent | supervisor, entry) row goes through
exactly when the declaration says, audited under the staff member, and is otherwise refused
with the bus's message, nothing changed. (The other kinds cannot name these moves: the
customer's and the producer's rows for them are in test_bus_table_customer.py and
test_bus_table_workers.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.bus_table import Row, rows_for, staff_try
from tests.factories import stored_for
from tests.web import SECRET, agent_headers, web_client
from workflow.adapters import accounts, migrate
from workflow.adapters.db import Database, open_database
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.actors import Actor
from workflow.domain.policies import Policies
from workflow.domain.states import actors_of
from workflow.domain.throttle import ThrottleLimits

ROWS = rows_for("staff")
STAFF_LOGINS = {"agent": "sam", "supervisor": "sue"}


@dataclass
class Desk:
    db: Database
    client: TestClient
    headers: dict[str, dict[str, str]]

    def ticket(self, trigger: str, kind: str, holder: str) -> str:
        """A ticket on which ``trigger``'s first row for ``kind`` can be taken by ``holder``
        (for reject: a queued ticket ``holder`` claimed)."""
        ticket = stored_for(trigger, kind, holder)
        ticket.data = {"requester": {"name": "Test Person", "email": "t@example.com"}}
        with SqlUnitOfWork(self.db) as uow:
            uow.tickets.add(ticket)
            uow.commit()
        return ticket.id

    def snapshot(self, tid: str) -> tuple[Any, ...]:
        with SqlUnitOfWork(self.db, read_only=True) as uow:
            t = uow.tickets.get(tid)
            return t.state, t.waiting_on, t.assignee, t.version, len(uow.tickets.history(tid))

    def closed(self, tid: str) -> tuple[str | None, str | None]:
        """The outcome the ticket was closed with, and the reason its last move recorded."""
        with SqlUnitOfWork(self.db, read_only=True) as uow:
            t = uow.tickets.get(tid)
            return (t.outcome.value if t.outcome else None), uow.tickets.history(tid)[-1].reason

    def moves(self, tid: str, trigger: str) -> list[str]:
        with SqlUnitOfWork(self.db, read_only=True) as uow:
            return [e.actor for e in uow.tickets.history(tid) if e.trigger == trigger]


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    url = f"sqlite:///{tmp_path_factory.mktemp('staff-table') / 'resetdesk.db'}"
    migrate.upgrade(url)
    db = open_database(url)
    client = web_client(db, policies=Policies(throttle=ThrottleLimits(enabled=False)))
    headers = {login: agent_headers(client, db, login) for login in ("alice", "sam", "sue")}
    for kind, login in STAFF_LOGINS.items():
        accounts.set_agent_role(db, login, kind)
    with pytest.MonkeyPatch.context() as env:  # for the CLI, run in-process
        env.setenv("RESETDESK_DATABASE_URL", url)
        env.setenv("RESETDESK_SECRET_KEY", SECRET.decode())
        env.setenv("RESETDESK_SERVER__PUBLIC_URL", "https://desk.example")
        yield Desk(db, client, headers)
    db.dispose()


def _ready(desk: Desk, trigger: str, kind: str, login: str) -> str:
    if trigger != "callback_result":
        return desk.ticket(trigger, kind, login)
    tid = desk.ticket("request_callback", kind, login)  # a booked callback, whose call is recorded
    r = desk.client.post(f"/api/v1/tickets/{tid}/request_callback", json={},
                         headers=desk.headers["alice"])
    assert r.status_code == 200, r.text
    return tid


def test_the_staff_rows_are_generated() -> None:
    assert ROWS and {r.kind for r in ROWS} == set(STAFF_LOGINS)
    # the moves only staff are given, and those staff are given beside the system (reject)
    assert all(set(actors_of(r.trigger)) <= set(STAFF_LOGINS) or r.allowed for r in ROWS)
    assert {(r.kind, str(r.entry)) for r in ROWS if r.trigger == "reject"} == {
        (kind, entry) for kind in STAFF_LOGINS
        for entry in ("POST /api/v1/tickets/{ticket_id}/reject", "resetdesk tickets reject")}
    assert all(r.allowed for r in ROWS if r.trigger == "reject")


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in ROWS])
def test_staff_get_exactly_what_the_declaration_gives_them(desk: Desk, row: Row) -> None:
    login = STAFF_LOGINS[row.kind]
    actor = f"{row.kind}:{login}"
    tid = _ready(desk, row.trigger, row.kind, login)
    before = desk.snapshot(tid)
    done, answer = staff_try(desk.client, desk.headers[login], login, row, tid)
    assert done is row.allowed, answer
    if row.allowed:
        assert actor in desk.moves(tid, row.trigger)
        assert Actor.parse(actor).matches(actors_of(row.trigger))
        if row.trigger == "reject":
            assert desk.closed(tid) == ("rejected-attestation", "bus table: not the owner")
    else:
        assert desk.snapshot(tid) == before
