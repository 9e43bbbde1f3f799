"""Group commit in-process on PostgreSQL: ``BatchVerification.handle_batch`` with deliveries
built by hand (no broker), so each guarantee is looked at directly: one verdict per delivery,
one ticket per request, a failing request rolls the batch back without failing the others, and
a redelivered batch changes nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, text

from consumers.amqp.delivery import Delivery
from consumers.amqp.request_batch import BatchVerification
from consumers.amqp.requests import VerificationConsumer
from consumers.topology import VERIFICATION
from resetdesk.bootstrap import App, bootstrap
from resetdesk.settings import load_settings
from tests.e2e.requests import request
from workflow.adapters import accounts
from workflow.adapters.tables import AUDIT, INBOX, OUTBOX, TICKET
from workflow.service.verification import serial_key

pytestmark = pytest.mark.postgres

SOURCE = "urn:test:batch"
PRODUCER = "batch-form"


@pytest.fixture
def app(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setenv("RESETDESK_DATABASE_URL", pg_url)
    monkeypatch.setenv("RESETDESK_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/unused")
    made = bootstrap(load_settings())
    accounts.add_producer(made.db, PRODUCER, SOURCE)
    yield made
    made.close()


def delivery(event: dict[str, Any] | None, user: str = PRODUCER) -> Delivery:
    body = b"{not json" if event is None else json.dumps(event).encode()
    return Delivery(VERIFICATION, body, "application/cloudevents+json", {},
                    {"user_id": user, "message_id": event["id"] if event else "poison"}, 1, 5)


def counts(app: App) -> tuple[int, ...]:
    with app.db.reader.begin() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (TICKET, INBOX, AUDIT, OUTBOX))


def test_one_batch_makes_one_ticket_per_request_and_a_redelivery_changes_nothing(
        app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "consumers.amqp.consumer")
    batch = BatchVerification(VerificationConsumer(app.request_handler), app.batch_transactions())
    events = [request(source=SOURCE) for _ in range(5)]
    twin = request(source=SOURCE, data__device__serial_number=events[1]["data"]["device"][
        "serial_number"])
    deliveries = [*map(delivery, events), delivery(events[0]), delivery(None), delivery(twin),
                  delivery(request(source=SOURCE), user="stranger")]

    verdicts = batch.handle_batch(deliveries)

    assert [v.action for v in verdicts] == ["ack"] * 6 + ["dead", "ack", "dead"]
    assert verdicts[5].reason.startswith("replay of ")  # the copy went alone, after the commit
    assert verdicts[8].code == "unknown_producer"
    assert "batch of 9: 6 in one transaction, 2 refused, 1 alone" in caplog.text
    tickets, inbox, audit, _ = counts(app)
    assert (tickets, inbox, audit) == (6, 6, 5 * 3 + 2)  # queued: 3 audit rows; duplicate: 2
    with app.db.reader.begin() as conn:
        outcomes: dict[str, str | None] = {
            r.event_id: r.outcome for r in conn.execute(select(TICKET.c.event_id, TICKET.c.outcome))}
    assert outcomes[twin["id"]] == "duplicate"
    before = counts(app)

    again = batch.handle_batch(deliveries)  # the whole batch redelivered (a crash before acks)
    assert [v.action for v in again] == [v.action for v in verdicts]
    assert counts(app) == before
    assert "batch of 9: 0 in one transaction, 2 refused, 7 alone" in caplog.text  # all replays


def test_a_failing_request_rolls_the_batch_back_and_fails_no_other(
        app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "consumers.amqp.consumer")
    batch = BatchVerification(VerificationConsumer(app.request_handler), app.batch_transactions())
    events = [request(source=SOURCE) for _ in range(4)]
    failing = events[2]
    with app.db.writer.begin() as conn:
        conn.execute(text("CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                          "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"))
        conn.execute(text(
            "CREATE TRIGGER test_refuse BEFORE INSERT ON ticket FOR EACH ROW WHEN "
            f"(NEW.serial_key = '{serial_key(failing['data']['device']['serial_number'])}') "
            "EXECUTE FUNCTION test_refuse()"))

    verdicts = batch.handle_batch([delivery(e) for e in events])

    assert [v.action for v in verdicts] == ["ack", "ack", "retry", "ack"]
    assert "refused by the test" in verdicts[2].reason
    assert "batch of 4 rolled back" in caplog.text
    assert "batch of 4: 0 in one transaction, 0 refused, 4 alone" in caplog.text
    with app.db.reader.begin() as conn:
        made = set(conn.execute(select(TICKET.c.event_id)).scalars())
        status = conn.execute(select(INBOX.c.status).where(
            INBOX.c.event_id == failing["id"])).scalar_one()
    assert made == {e["id"] for e in events} - {failing["id"]}
    assert status == "pending"  # recorded alone, waiting for its retry
