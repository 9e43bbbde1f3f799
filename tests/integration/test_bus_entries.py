"""The declaration decides who may act, through the entries that carry the moves: the CLI
(``resetdesk tickets …`` in-process) and the agents' HTTP API, over a real database.

Generated over the declaration's plain moves for agent and supervisor; the dedicated moves are
represented by ``send-key`` (refused through ``tickets act``, naming its command).
"""

from __future__ import annotations

import contextlib

import pytest
from typer.testing import CliRunner, Result

from resetdesk.cli import app as cli
from tests.factories import satisfying
from tests.web import SECRET, agent_headers, web_client
from workflow.adapters import accounts
from workflow.adapters.db import Database
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.errors import AlreadyExists
from workflow.domain.states import TRIGGERS, State, actors_of, command_of, moves_of

#: moves an agent or supervisor makes through the generic command, with the row to set up
PLAIN = [t for t in TRIGGERS if command_of(t) is None
         and ({"agent", "supervisor"} & set(actors_of(t)))]
STAFF_PAIRS = [pytest.param(t, role, id=f"{t}-{role}") for t in PLAIN
               for role in ("agent", "supervisor")]


@pytest.fixture
def run(db: Database, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RESETDESK_DATABASE_URL", db.url)
    monkeypatch.setenv("RESETDESK_SECRET_KEY", SECRET.decode())
    monkeypatch.setenv("RESETDESK_SERVER__PUBLIC_URL", "https://desk.example")

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args))

    return invoke


def _staff(db: Database, login: str, role: str = "agent") -> None:
    with contextlib.suppress(AlreadyExists):
        accounts.add_agent(db, login, f"{login}-password-123")
    accounts.set_agent_role(db, login, role)


def _ticket(db: Database, trigger: str, holder: str) -> str:
    """A stored ticket on which ``trigger``'s first row can be taken by ``holder``."""
    ticket, _ = satisfying(moves_of(trigger)[0], moves_of(trigger)[0].source[0])
    if ticket.assignee == "alice":
        ticket.assignee = holder
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(ticket)
        uow.commit()
    return ticket.id


def _state(db: Database, tid: str) -> tuple[str, str | None, int]:
    with SqlUnitOfWork(db, read_only=True) as uow:
        t = uow.tickets.get(tid)
    return t.state.value, t.assignee, t.version


@pytest.mark.parametrize(("trigger", "role"), STAFF_PAIRS)
def test_cli_act_allows_exactly_the_declared_staff(db: Database, run, trigger: str,
                                                   role: str) -> None:
    _staff(db, "sam", role)
    tid = _ticket(db, trigger, "sam")
    before = _state(db, tid)
    result = run("tickets", "act", tid, trigger, "--as", "sam")
    if role in actors_of(trigger):
        assert result.exit_code == 0, result.output
        assert _state(db, tid)[2] == before[2] + 1
    else:
        assert result.exit_code == 1
        assert f"{role}:sam may not {trigger}" in result.output
        assert _state(db, tid) == before


@pytest.mark.parametrize(("trigger", "role"), STAFF_PAIRS)
def test_http_allows_exactly_the_declared_staff(db: Database, trigger: str, role: str) -> None:
    client = web_client(db)
    headers = agent_headers(client, db, "sam")
    _staff(db, "sam", role)
    tid = _ticket(db, trigger, "sam")
    before = _state(db, tid)
    r = client.post(f"/api/v1/tickets/{tid}/{trigger}", json={}, headers=headers)
    if role in actors_of(trigger):
        assert r.status_code == 200, r.text
        assert _state(db, tid)[2] == before[2] + 1
        assert all(role in actors_of(t) for t in r.json()["allowed"])
    else:
        assert r.status_code == 403 and r.json()["allowed_actors"] == list(actors_of(trigger))
        assert _state(db, tid) == before


def test_act_send_key_is_refused_naming_its_command(db: Database, run) -> None:
    _staff(db, "alice")
    tid = _ticket(db, "send_key", "alice")
    result = run("tickets", "act", tid, "send_key", "--as", "alice")
    assert result.exit_code == 1
    assert "send_key has its own command: resetdesk tickets send-key" in result.output
    assert _state(db, tid) == (State.QUEUED.value, "alice", 1)
    sent = run("tickets", "send-key", tid, "--as", "alice", "--kind", "key", "--text", "K-42")
    assert sent.exit_code == 0 and "waiting on key-confirmation" in sent.output


def test_as_nobody_is_refused_in_one_line(db: Database, run) -> None:
    tid = _ticket(db, "claim", "-")
    for args in (("tickets", "claim", tid), ("tickets", "act", tid, "claim"),
                 ("tickets", "note", tid, "--body", "x")):
        result = run(*args, "--as", "nobody")
        assert result.exit_code == 1, result.output
        assert result.output.strip().count("\n") == 0 and "--as nobody" in result.output
    assert _state(db, tid) == (State.QUEUED.value, None, 1)


def test_a_disabled_agent_cannot_act(db: Database, run) -> None:
    from sqlalchemy import update

    from workflow.adapters.tables import AGENT

    _staff(db, "gone")
    with db.writer.begin() as conn:
        conn.execute(update(AGENT).where(AGENT.c.login == "gone").values(active=False))
    tid = _ticket(db, "claim", "-")
    assert run("tickets", "claim", tid, "--as", "gone").exit_code == 1


def test_cli_agent_cannot_take_over_supervisor_can_and_reassigns(db: Database, run) -> None:
    _staff(db, "alice")
    _staff(db, "bob")
    _staff(db, "sue")
    assert run("agents", "role", "sue", "supervisor").exit_code == 0
    assert run("agents", "role", "sue", "boss").exit_code == 1
    tid = _ticket(db, "claim", "-")
    assert run("tickets", "claim", tid, "--as", "alice").exit_code == 0
    refused = run("tickets", "claim", tid, "--as", "bob", "--take-over")
    assert refused.exit_code == 1 and "agent:bob may not take_over" in refused.output
    assert _state(db, tid)[1] == "alice"
    taken = run("tickets", "claim", tid, "--as", "sue", "--take-over")
    assert taken.exit_code == 0 and _state(db, tid)[1] == "sue"
    assert run("tickets", "reassign", tid, "--as", "bob", "--to", "alice").exit_code == 1
    assert run("tickets", "reassign", tid, "--as", "sue", "--to", "nobody").exit_code == 1
    moved = run("tickets", "reassign", tid, "--as", "sue", "--to", "bob")
    assert moved.exit_code == 0 and _state(db, tid)[1] == "bob"


def test_http_agent_cannot_take_over_supervisor_can(db: Database) -> None:
    client = web_client(db)
    alice, bob = agent_headers(client, db, "alice"), agent_headers(client, db, "bob")
    sue = agent_headers(client, db, "sue")
    _staff(db, "sue", "supervisor")
    tid = _ticket(db, "claim", "-")
    assert client.post(f"/api/v1/tickets/{tid}/claim", json={}, headers=alice).status_code == 200
    r = client.post(f"/api/v1/tickets/{tid}/claim", json={"take_over": True}, headers=bob)
    assert r.status_code == 403 and "agent:bob may not take_over" in r.json()["reason"]
    r = client.post(f"/api/v1/tickets/{tid}/claim", json={"take_over": True}, headers=sue)
    assert r.status_code == 200 and r.json()["assignee"] == "sue"
    r = client.post(f"/api/v1/tickets/{tid}/reassign", json={"to": "bob"}, headers=alice)
    assert r.status_code == 403
    r = client.post(f"/api/v1/tickets/{tid}/reassign", json={"to": "bob"}, headers=sue)
    assert r.status_code == 200 and r.json()["assignee"] == "bob"
    # the actor comes from the token only: a body naming someone else changes nothing
    r = client.post(f"/api/v1/tickets/{tid}/take_over", json={"actor": "supervisor:sue"},
                    headers=alice)
    assert r.status_code in (403, 422)


def _closed(db: Database, tid: str) -> tuple[str, str | None, str | None]:
    with SqlUnitOfWork(db, read_only=True) as uow:
        t, history = uow.tickets.get(tid), uow.tickets.history(tid)
    return t.state.value, t.outcome.value if t.outcome else None, history[-1].reason


def test_cli_reject_closes_a_held_ticket_and_act_reject_names_it(db: Database, run) -> None:
    _staff(db, "alice")
    tid = _ticket(db, "claim", "-")
    assert run("tickets", "claim", tid, "--as", "alice").exit_code == 0
    generic = run("tickets", "act", tid, "reject", "--as", "alice", "--reason", "spam")
    assert generic.exit_code == 1
    assert "reject has its own command: resetdesk tickets reject" in generic.output
    bad = run("tickets", "reject", tid, "--as", "alice", "--outcome", "resolved",
              "--reason", "spam")
    assert bad.exit_code == 1 and "--outcome must be one of: rejected-region" in bad.output
    blank = run("tickets", "reject", tid, "--as", "alice", "--outcome", "rejected-other",
                "--reason", " ")
    assert blank.exit_code == 1 and "a rejection needs a reason" in blank.output
    assert _state(db, tid) == (State.QUEUED.value, "alice", 2)
    stale = run("tickets", "reject", tid, "--as", "alice", "--outcome", "rejected-other",
                "--reason", "spam", "--expected-version", "1")
    assert stale.exit_code != 0 and _state(db, tid)[2] == 2
    done = run("tickets", "reject", tid, "--as", "alice", "--outcome", "rejected-serial",
               "--reason", "a demo unit", "--expected-version", "2")
    assert done.exit_code == 0, done.output
    assert "closed rejected-serial" in done.output
    assert _closed(db, tid) == ("closed", "rejected-serial", "a demo unit")


def test_cli_staff_cannot_reject_a_request_before_it_is_queued(db: Database, run) -> None:
    _staff(db, "sue", "supervisor")
    ticket, _ = satisfying(moves_of("reject")[0], State.SUBMITTED)
    ticket.assignee = "sue"
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(ticket)
        uow.commit()
    refused = run("tickets", "reject", ticket.id, "--as", "sue", "--outcome", "rejected-other",
                  "--reason", "spam")
    assert refused.exit_code == 1
    assert "only the verification worker rejects a request that is not queued yet" in \
        refused.output
    assert _state(db, ticket.id)[0] == State.SUBMITTED.value


def test_http_reject_closes_a_held_ticket_with_the_outcome_and_reason(db: Database) -> None:
    client = web_client(db)
    sam, bob = agent_headers(client, db, "sam"), agent_headers(client, db, "bob")
    _staff(db, "sam", "supervisor")
    tid = _ticket(db, "claim", "-")
    assert client.post(f"/api/v1/tickets/{tid}/claim", json={}, headers=sam).status_code == 200
    path = f"/api/v1/tickets/{tid}/reject"
    for body in ({"outcome": "resolved", "reason": "spam"}, {"outcome": "rejected-other"},
                 {"outcome": "rejected-nope", "reason": "spam"}, {"reason": "spam"}):
        r = client.post(path, json=body, headers=sam)
        assert r.status_code == 422 and r.json()["error"] == "invalid_request", (body, r.text)
    theirs = client.post(path, json={"outcome": "rejected-other", "reason": "spam"},
                         headers=bob)
    assert theirs.status_code == 409 and "claimed by sam" in theirs.json()["reason"]
    stale = client.post(path, json={"outcome": "rejected-other", "reason": "spam",
                                    "expected_version": 1}, headers=sam)
    assert stale.status_code == 409 and _state(db, tid) == (State.QUEUED.value, "sam", 2)
    r = client.post(path, json={"outcome": "rejected-region", "reason": "sold in Germany",
                                "expected_version": 2}, headers=sam)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["outcome"]) == ("closed", "rejected-region")
    assert _closed(db, tid) == ("closed", "rejected-region", "sold in Germany")
    with SqlUnitOfWork(db, read_only=True) as uow:
        assert uow.tickets.history(tid)[-1].actor == "supervisor:sam"
