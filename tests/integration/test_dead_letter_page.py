"""The dead-letter page and its read model over PostgreSQL (embedded mode's SQLite runs the same
queries in tests/e2e/test_dead_letters_embedded.py): one
list for the AMQP archive and embedded mode's dead inbox and delivery rows, filters, a letter
with its x-death and masked payload, a bulk retry that refuses permanent reasons unless told,
discard with a reason, every action audited with the supervisor's login and shown on the page,
and ``GET /events/{id}`` telling a producer its AMQP message was refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from console.app import create_app
from console.deps import WebDeps
from resetdesk.cli_dlq import dlq
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from tests.e2e.requests import request
from tests.fake_bus import MovableClock
from tests.web import SECRET, page_sign_in
from workflow.adapters import accounts, dead_letters, inbox
from workflow.adapters.db import Database, open_database
from workflow.adapters.dead_letter_ops import SqlDeadLetterActions
from workflow.adapters.human_check import LocalVerifier
from workflow.adapters.queries import dead_letter_view as view
from workflow.adapters.tables import AUDIT, DELIVERY, INBOX
from workflow.adapters.unit_of_work import SqlUnitOfWork

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PERSON = "Dana Whitfield"
SOURCE = "urn:test:forms"


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = open_database(pg_url)
    yield database
    database.dispose()


def _seed(db: Database) -> dict[str, str]:
    """One letter of each kind; their keys by name."""
    event = request(source=SOURCE, data__requester__name=PERSON)
    refused = dict(event, id="refused-1", source="urn:someone:else")
    assert dead_letters.archive(
        db, queue="verification", body=json.dumps(refused).encode(), properties={"user_id": "forms"},
        headers={"x-resetdesk-error-code": "wrong_source",
                 "x-resetdesk-reason": "producer forms may only send events with source " + SOURCE},
        reason="producer forms may only send events with source " + SOURCE, message_id="refused-1",
        event_type=REQUEST_SUBMITTED_V1, content_type="application/cloudevents+json",
        dead_at=NOW - timedelta(minutes=3), now=NOW)
    assert dead_letters.archive(
        db, queue="verification", body=json.dumps(dict(event, id="tired-1")).encode(),
        properties={"user_id": "forms"},
        headers={"x-resetdesk-error-code": "retries_exhausted",
                 "x-death": [{"queue": "verification", "reason": "rejected", "count": 4}]},
        reason="gave up after 5 attempts; last error: human check unavailable",
        message_id="tired-1", event_type=REQUEST_SUBMITTED_V1,
        content_type="application/cloudevents+json", dead_at=NOW - timedelta(minutes=2), now=NOW)
    amqp = {x.message_id: x.id for x in dead_letters.list_dead_letters(db)}
    payload = json.dumps(dict(event, id="embedded-1"))
    rec = inbox.record(db, source=SOURCE, event_id="embedded-1", type_=REQUEST_SUBMITTED_V1,
                       producer="forms", digest="d" * 64, payload=payload, now=NOW)
    inbox.park_dead(db, inbox.InboxKey(SOURCE, "embedded-1"),
                    "gave up after 5 attempts; last error: human check unavailable",
                    NOW - timedelta(minutes=1))
    with db.writer.begin() as conn:
        conn.execute(update(INBOX).where(INBOX.c.reference == rec.reference).values(attempts=5))
        delivery = conn.execute(insert(DELIVERY).values(
            subscriber="notifications", event_id="mail-1", type="com.resetdesk.notification.v1",
            payload=json.dumps({"specversion": "1.0", "id": "mail-1", "data": {"to": "d@x.org"}}),
            status="dead", attempts=5, available_at=NOW, created_at=NOW, processed_at=NOW,
            last_error="smtp: connection refused").returning(DELIVERY.c.id)).scalar_one()
    return {"refused": f"amqp:{amqp['refused-1']}", "tired": f"amqp:{amqp['tired-1']}",
            "inbox": f"inbox:{rec.reference}", "delivery": f"delivery:{delivery}"}


def test_one_list_for_both_transports_with_filters(db: Database) -> None:
    keys = _seed(db)
    assert {x.key for x in view.list_letters(db)} == set(keys.values())
    assert [x.key for x in view.list_letters(db, view.Filter(transport="embedded"))] == [
        keys["delivery"], keys["inbox"]]
    permanent = view.list_letters(db, view.Filter(permanence="permanent"))
    assert [(x.key, x.code) for x in permanent] == [(keys["refused"], "wrong_source")]
    assert {x.key for x in view.list_letters(db, view.Filter(cause="HUMAN check"))} == {
        keys["tired"], keys["inbox"]}
    assert [x.key for x in view.list_letters(db, view.Filter(queue="notifications"))] == [
        keys["delivery"]]
    assert view.list_letters(db, view.Filter(since=(NOW + timedelta(days=1)).date())) == []
    with pytest.raises(ValueError, match="transport"):
        view.Filter(transport="carrier-pigeon").check()


def _client(db: Database, republished: list[Any]) -> TestClient:
    deps = WebDeps(db=db, clock=MovableClock(NOW), verifier=LocalVerifier(),
                   uow=lambda: SqlUnitOfWork(db), secret_key=SECRET,
                   dead_letters=SqlDeadLetterActions(db, republished.append))
    return TestClient(create_app(deps))


def _sign_in(db: Database, client: TestClient, login: str, role: str) -> str:
    accounts.add_agent(db, login, f"{login}-password-123", role=role)
    return page_sign_in(client, login, f"{login}-password-123")


def test_supervisor_retries_all_matching_permanent_ones_only_when_confirmed(db: Database) -> None:
    keys = _seed(db)
    republished: list[Any] = []
    agent = _client(db, republished)
    _sign_in(db, agent, "ada", "agent")
    assert agent.get("/ops/dead-letters").status_code == 403
    boss = _client(db, republished)
    csrf = _sign_in(db, boss, "boss", "supervisor")

    listed = boss.get("/ops/dead-letters").text
    assert all(k in listed for k in keys.values()) and PERSON not in listed
    assert "4 dead letters" in listed and 'href="/queue"' in listed
    shown = boss.get(f"/ops/dead-letters/{keys['tired']}").text
    assert "x-death history" in shown and "&#34;count&#34;: 4" in shown
    assert "&lt;masked&gt;" in shown and PERSON not in shown
    assert PERSON not in boss.get(f"/ops/dead-letters/{keys['inbox']}").text

    confirm = boss.get("/ops/dead-letters/bulk?action=retry&scope=filter").text
    assert "<strong>4</strong> dead letters will be retried" in confirm
    assert "1 of them died for a permanent reason" in confirm and "wrong_source" in confirm
    no_reason = boss.post("/ops/dead-letters/bulk", data={
        "csrf_token": csrf, "action": "retry", "scope": "filter", "expected": "4"})
    assert no_reason.status_code == 400 and "Give a reason" in no_reason.text
    done = boss.post("/ops/dead-letters/bulk", data={
        "csrf_token": csrf, "action": "retry", "scope": "filter", "expected": "4",
        "reason": "human check is back"})
    assert "3 retried, 1 died for a permanent reason (wrong_source)" in done.text, done.text

    assert [x.message_id for x in republished] == ["tired-1"]
    with db.reader.begin() as conn:
        row = conn.execute(select(INBOX).where(INBOX.c.event_id == "embedded-1")).one()
        mail = conn.execute(select(DELIVERY).where(DELIVERY.c.event_id == "mail-1")).one()
        audit = conn.execute(select(AUDIT.c.actor, AUDIT.c.outcome, AUDIT.c.reason)
                             .where(AUDIT.c.trigger == "dlq_replay")).all()
    assert (row.status, row.attempts, mail.status, mail.attempts) == ("pending", 0, "pending", 0)
    assert sorted(audit) == sorted(("agent:boss", k, "human check is back")
                                    for k in (keys["tired"], keys["inbox"], keys["delivery"]))
    assert [x.key for x in view.list_letters(db)] == [keys["refused"]]

    # the permanent one, explicitly confirmed from its own page's action, then nothing is left
    one = boss.get(f"/ops/dead-letters/bulk?action=discard&scope=selected&key={keys['refused']}")
    assert "<strong>1</strong> dead letter will be discarded" in one.text
    boss.post("/ops/dead-letters/bulk", data={
        "csrf_token": csrf, "action": "discard", "scope": "selected", "key": keys["refused"],
        "expected": "1", "reason": "sent under another brand's source"})
    page = boss.get("/ops/dead-letters").text
    assert "No dead letters." in page
    assert page.count("agent:boss") == 4 and "sent under another brand" in page
    settled = boss.get("/ops/dead-letters?status=discarded").text
    assert keys["refused"] in settled and "discarded by agent:boss" in settled


def test_a_producer_reads_why_its_amqp_message_was_refused(db: Database) -> None:
    token = accounts.add_producer(db, "forms", SOURCE)
    _seed(db)
    client = _client(db, [])
    auth = {"Authorization": f"Bearer {token}"}
    answer = client.get("/events/refused-1", headers=auth)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["error"]) == ("refused", "wrong_source")
    assert "may only send events with source" in body["reason"]
    assert client.get("/events/embedded-1", headers=auth).json()["status"] == "dead"
    assert client.get("/events/never-sent", headers=auth).status_code == 404
    other = accounts.add_producer(db, "other", "urn:test:other")
    assert client.get("/events/refused-1",
                      headers={"Authorization": f"Bearer {other}"}).status_code == 404


def test_dlq_commands_take_the_same_filters_and_act_on_all_matching(db: Database,
                                                                    monkeypatch: Any) -> None:
    keys = _seed(db)
    monkeypatch.setenv("RESETDESK_DATABASE_URL", db.url)
    monkeypatch.delenv("RESETDESK_BROKER_URL", raising=False)
    run = CliRunner().invoke

    listed = json.loads(run(dlq, ["list", "--json", "--permanence", "retryable"]).stdout)
    assert {x["key"] for x in listed} == {keys["tired"], keys["inbox"], keys["delivery"]}
    both = run(dlq, ["retry", keys["tired"], "--all-matching", "--as", "ops", "--reason", "x"])
    assert both.exit_code == 1 and "not both" in both.output
    no_broker = run(dlq, ["retry", keys["tired"], "--as", "ops", "--reason", "fixed"])
    assert no_broker.exit_code == 1 and "no broker is configured" in no_broker.output
    held = run(dlq, ["retry", keys["refused"], "--as", "ops", "--reason", "fixed"])
    assert held.exit_code == 1 and "permanent reason (wrong_source)" in held.output

    embedded = run(dlq, ["retry", "--all-matching", "--transport", "embedded", "--as", "ops",
                         "--reason", "smtp and human check are back"])
    assert embedded.exit_code == 0 and "2 of 2 dead letter(s) retried" in embedded.output
    gone = run(dlq, ["discard", "--all-matching", "--permanence", "permanent", "--as", "ops",
                     "--why", "old spelling still works"])
    assert gone.exit_code == 0 and "1 of 1 dead letter(s) discarded" in gone.output
    shown = run(dlq, ["show", keys["refused"]]).output
    assert "discarded by agent:ops" in shown and "old spelling still works" in shown
    assert PERSON not in shown
    assert [x.key for x in view.list_letters(db)] == [keys["tired"]]
