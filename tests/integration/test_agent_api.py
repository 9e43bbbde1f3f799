"""Agents' JSON API over a real database: sign-in, moves, conflicts, replies, notes."""

from __future__ import annotations

import json

from sqlalchemy import select

from tests.factories import make_ticket
from tests.web import agent_headers, web_client
from workflow.adapters.db import Database
from workflow.adapters.tables import OUTBOX
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.states import State


def _queued(db: Database) -> str:
    t = make_ticket(State.QUEUED)
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(t)
        uow.commit()
    return t.id


def test_requests_without_a_valid_token_are_401(db: Database) -> None:
    client = web_client(db)
    assert client.get("/api/v1/tickets").status_code == 401
    assert client.get("/api/v1/tickets", headers={"Authorization": "Bearer rda_x"}).status_code == 401
    assert client.post("/api/v1/auth/token", json={"login": "x", "password": "y"}).status_code == 401


def test_claim_then_second_agent_is_refused_with_reason(db: Database) -> None:
    client, tid = web_client(db), _queued(db)
    alice, bob = agent_headers(client, db, "alice"), agent_headers(client, db, "bob")
    r = client.post(f"/api/v1/tickets/{tid}/claim", json={"expected_version": 1}, headers=alice)
    assert r.status_code == 200 and r.json()["assignee"] == "alice"
    assert "reply" in r.json()["allowed"]
    r = client.post(f"/api/v1/tickets/{tid}/claim", json={"expected_version": 1}, headers=bob)
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    r = client.post(f"/api/v1/tickets/{tid}/claim", json={}, headers=bob)
    assert r.status_code == 409 and "already claimed by alice" in r.json()["reason"]


def test_illegal_move_names_state_and_allowed_moves(db: Database) -> None:
    client, tid = web_client(db), _queued(db)
    alice = agent_headers(client, db, "alice")
    r = client.post(f"/api/v1/tickets/{tid}/reopen", json={}, headers=alice)
    assert r.status_code == 409
    assert r.json()["state"] == "queued" and "claim" in r.json()["allowed"]
    r = client.post(f"/api/v1/tickets/{tid}/verify", json={}, headers=alice)
    assert r.status_code == 403 and r.json()["reason"] == "agent:alice may not verify; only: system"
    assert r.json()["allowed_actors"] == ["system"]


def test_reply_emails_the_customer_and_stops_the_first_reply_clock(db: Database) -> None:
    client, tid = web_client(db), _queued(db)
    alice = agent_headers(client, db, "alice")
    client.post(f"/api/v1/tickets/{tid}/claim", json={}, headers=alice)
    r = client.post(f"/api/v1/tickets/{tid}/reply", json={"message": "Please open SADP."},
                    headers=alice)
    assert r.status_code == 200, r.text
    with db.reader.begin() as conn:
        payloads = conn.execute(select(OUTBOX.c.payload).where(
            OUTBOX.c.ticket_id == tid, OUTBOX.c.type == "com.resetdesk.notification.email.v1")
        ).scalars().all()
    [email] = [json.loads(p)["data"] for p in payloads]
    assert email["template"] == "reply" and email["context"]["message"] == "Please open SADP."
    shown = client.get(f"/api/v1/tickets/{tid}", headers=alice).json()
    assert shown["first_reply_at"] is not None


def test_internal_notes_are_kept_for_agents(db: Database) -> None:
    client, tid = web_client(db), _queued(db)
    alice = agent_headers(client, db, "alice")
    assert client.post(f"/api/v1/tickets/{tid}/notes", json={"body": "called twice"},
                       headers=alice).status_code == 201
    notes = client.get(f"/api/v1/tickets/{tid}", headers=alice).json()["notes"]
    assert [(n["author"], n["body"]) for n in notes] == [("alice", "called twice")]


def test_unknown_ticket_is_404(db: Database) -> None:
    client = web_client(db)
    alice = agent_headers(client, db, "alice")
    assert client.post("/api/v1/tickets/nope/claim", json={}, headers=alice).status_code == 404


def test_moves_accept_the_reference_as_well_as_the_id(db: Database) -> None:
    client, tid = web_client(db), _queued(db)
    alice = agent_headers(client, db, "alice")
    reference = client.get(f"/api/v1/tickets/{tid}", headers=alice).json()["reference"]
    r = client.post(f"/api/v1/tickets/{reference.lower()}/claim", json={}, headers=alice)
    assert r.status_code == 200 and r.json()["id"] == tid
