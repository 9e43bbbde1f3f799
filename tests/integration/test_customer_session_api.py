"""The remote session over HTTP, as the agent and the customer use it: code, terms, Agree,
steps, end; and verify's one answer to every kind of failure."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from console.app import create_app
from console.deps import WebDeps
from tests.fake_bus import MovableClock
from tests.integration.test_remote_sessions import claimed_ticket, emails
from tests.web import SECRET, agent_headers
from workflow.adapters.db import Database
from workflow.adapters.human_check import LocalVerifier
from workflow.adapters.session_store import load_terms
from workflow.adapters.tables_resolution import CONSENT
from workflow.adapters.unit_of_work import SqlUnitOfWork

VERIFY = "/api/v1/customer/session/verify"
CUSTOMER_ADDR = "203.0.113.9"


def session_client(db: Database, clock: MovableClock, addr: str = CUSTOMER_ADDR) -> TestClient:
    deps = WebDeps(db=db, clock=clock, verifier=LocalVerifier(), uow=lambda: SqlUnitOfWork(db),
                   secret_key=SECRET)
    return TestClient(create_app(deps), client=(addr, 50000))  # like tests.web, from an address


def offered(db: Database, client: TestClient, language: str = "en") -> tuple[str, str, str, dict[str, str]]:
    tid, ref = claimed_ticket(db, language)
    alice = agent_headers(client, db, "alice")
    r = client.post(f"/api/v1/tickets/{tid}/offer_remote_session", json={}, headers=alice)
    assert r.status_code == 201, r.text
    assert r.json()["ticket"]["waiting_on"] == "session-code"
    assert r.headers["cache-control"] == "no-store"
    return tid, ref, r.json()["code"], alice


def started(db: Database, client: TestClient) -> tuple[str, dict[str, str], dict[str, str]]:
    tid, ref, code, alice = offered(db, client)
    terms = client.post(VERIFY, json={"reference": ref, "code": code}).json()
    r = client.post("/api/v1/customer/session/agree", json={
        "consent_token": terms["consent_token"], "terms_version": terms["terms"]["version"]})
    assert r.status_code == 200, r.text
    return tid, alice, {"X-Session-Token": r.json()["session_token"]}


def test_customer_reads_the_terms_in_the_ticket_language_and_agrees(db: Database) -> None:
    client = session_client(db, MovableClock())
    tid, ref, code, _ = offered(db, client, language="fr")
    r = client.post(VERIFY, json={"reference": ref.lower(), "code": code.lower()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["terms"]["language"] == "fr" and "Conditions" in body["terms"]["text"]
    assert body["terms"]["version"] == load_terms("fr").version
    english = client.post(f"{VERIFY}?lang=en", json={"reference": ref, "code": code}).json()
    assert english["terms"]["language"] == "en" and "Remote support" in english["terms"]["text"]
    r = client.post("/api/v1/customer/session/agree", json={
        "consent_token": body["consent_token"], "terms_version": body["terms"]["version"]})
    assert r.status_code == 200 and r.json()["state"] == "remote-session"
    with db.reader.begin() as conn:
        consent = conn.execute(select(CONSENT).where(CONSENT.c.ticket_id == tid)).one()
    assert (consent.language, consent.source_addr) == ("fr", CUSTOMER_ADDR)


def test_agreeing_to_other_terms_than_those_in_force_is_refused(db: Database) -> None:
    client = session_client(db, MovableClock())
    _, ref, code, _ = offered(db, client)
    token = client.post(VERIFY, json={"reference": ref, "code": code}).json()["consent_token"]
    r = client.post("/api/v1/customer/session/agree",
                    json={"consent_token": token, "terms_version": "2020-01-01"})
    assert r.status_code == 409 and "terms changed" in r.json()["reason"]
    r = client.post("/api/v1/customer/session/agree",
                    json={"consent_token": token + "x", "terms_version": "2020-01-01"})
    assert r.status_code == 403


def test_every_failed_verify_gets_the_same_bytes(db: Database) -> None:
    clock = MovableClock()
    client = session_client(db, clock)
    answers: dict[str, tuple[int, bytes]] = {}

    def attempt(label: str, reference: str, code: str) -> None:
        # each from its own address, so that only the locked case is refused for being locked
        via = session_client(db, clock, addr=f"192.0.2.{len(answers) + 1}")
        r = via.post(VERIFY, json={"reference": reference, "code": code})
        answers[label] = (r.status_code, r.content)

    _, ref, code, _ = offered(db, client)
    attempt("wrong", ref, "ABCDE-FGHJK")
    attempt("malformed", ref, "12345")
    attempt("unknown reference", "RD-ZZZZ-ZZZZ", code)
    _, ref2, code2, alice = offered(db, client)
    clock.advance(minutes=16)
    attempt("expired", ref2, code2)
    _, ref3, code3, _ = offered(db, client)
    first = client.post(VERIFY, json={"reference": ref3, "code": code3}).json()
    client.post("/api/v1/customer/session/agree", json={
        "consent_token": first["consent_token"], "terms_version": first["terms"]["version"]})
    attempt("used", ref3, code3)
    _, ref4, code4, _ = offered(db, client)
    replaced = code4
    offered_again = client.post(f"/api/v1/tickets/{_ticket_id(db, ref4)}/offer_remote_session",
                                json={}, headers=alice)
    assert offered_again.status_code == 201
    attempt("replaced", ref4, replaced)
    guesser = session_client(db, clock, addr="198.51.100.50")
    for _ in range(5):
        guesser.post(VERIFY, json={"reference": ref4, "code": "ABCDE-FGHJK"})
    attempt("locked", ref4, offered_again.json()["code"])
    assert len(set(answers.values())) == 1, answers
    status, content = answers["wrong"]
    assert status == 403 and b"code_refused" in content


def _ticket_id(db: Database, reference: str) -> str:
    with SqlUnitOfWork(db) as uow:
        return uow.tickets.by_reference(reference).id


def test_steps_are_answered_by_the_customer_and_a_declined_network_change_is_emailed(
        db: Database) -> None:
    client = session_client(db, MovableClock())
    tid, alice, session = started(db, client)
    r = client.post(f"/api/v1/tickets/{tid}/session/steps",
                    json={"kind": "network", "description": "Forward TCP 443 to the recorder"},
                    headers=alice)
    assert r.status_code == 201, r.text
    step = r.json()["id"]
    shown = client.get("/api/v1/customer/session", headers=session).json()
    assert [(s["id"], s["decision"]) for s in shown["steps"]] == [(step, "pending")]
    r = client.post(f"/api/v1/customer/session/steps/{step}", json={"decision": "declined"},
                    headers=session)
    assert r.status_code == 200 and r.json()["decision"] == "declined"
    [mail] = [m for m in emails(db, tid) if m["template"] == "network_changes"]
    assert "Forward TCP 443" in mail["context"]["changes"]
    agent_view = client.get(f"/api/v1/tickets/{tid}/session", headers=alice).json()
    assert agent_view["steps"][0]["decision"] == "declined"
    assert client.get("/api/v1/customer/session", headers={"X-Session-Token": "x.y"}
                      ).status_code == 403


def test_customer_ends_the_session_and_its_token_stops_working(db: Database) -> None:
    client = session_client(db, MovableClock())
    tid, _, session = started(db, client)
    assert client.post("/api/v1/customer/session/ping", headers=session).status_code == 204
    r = client.post("/api/v1/customer/session/end", headers=session)
    assert r.status_code == 200 and r.json()["state"] == "queued"
    assert client.post("/api/v1/customer/session/ping", headers=session).status_code == 409
    assert [m["template"] for m in emails(db, tid)][-1] == "session_ended"


def test_agent_ends_the_session_resolved_with_a_reason(db: Database) -> None:
    client = session_client(db, MovableClock())
    tid, alice, _ = started(db, client)
    r = client.post(f"/api/v1/tickets/{tid}/end_remote_session",
                    json={"resolved": True, "reason": "reset done"}, headers=alice)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["outcome"]) == ("closed", "resolved")
    shown = client.get(f"/api/v1/tickets/{tid}", headers=alice).json()
    assert shown["history"][-1]["reason"] == "reset done"
