"""`resetdesk consume verification` with RESETDESK_LOGGING__FORMAT=json, as a real process on a vhost
and a PostgreSQL database of this test: its lines are JSON objects naming the message and the
ticket, and a database failure whose text carries the request's personal data (the statement's
parameters) reaches the log masked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from schemas.client import RequestPublisher
from tests import processes
from tests.e2e.requests import request
from tests.processes import Desk, Proc, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]
amqp_users, desk = processes.amqp_users, processes.desk  # fixtures

SOURCE = "urn:test:logs-form"
EMAIL, PHONE = "dana.whitfield@example.com", "+15035550147"
REFUSE = """
CREATE FUNCTION refuse_tickets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'ticket inserts refused by the test'; END $$;
CREATE TRIGGER refuse_tickets BEFORE INSERT ON ticket FOR EACH ROW EXECUTE FUNCTION refuse_tickets();
"""


def entries(proc: Proc) -> list[dict[str, Any]]:
    """Every line but the harness's own start marker, parsed: each must be one JSON object."""
    lines = [line for line in proc.log().splitlines() if not line.startswith("=== start")]
    return [json.loads(line) for line in lines]


def test_consumer_logs_json_with_message_and_ticket_ids_and_masks_a_failure(desk: Desk) -> None:
    desk.register_producer(SOURCE)
    with desk.db.writer.begin() as conn:
        conn.execute(text(REFUSE))
    consumer = desk.start("consumer", "consume", "verification", RESETDESK_LOGGING__FORMAT="json",
                          RESETDESK_QUEUE__RETRY__DELAYS_SECONDS="[1]",
                          RESETDESK_QUEUE__RETRY__MAX_ATTEMPTS="5")
    wait_for("the consumer to subscribe", lambda: desk.consumers_on("verification"), 60)
    event = request(source=SOURCE)
    serial = event["data"]["device"]["serial_number"]
    with RequestPublisher(desk.url("producer")) as publisher:
        publisher.publish_request(event)
    wait_for("the refused insert in the log", lambda: "ticket inserts refused" in consumer.log(), 60)
    with desk.db.writer.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_tickets ON ticket"))
    row = desk.wait_done({event["id"]})[event["id"]]
    wait_for("the consumer's line for the handled message", lambda: any(
        "handled: ack" in e["msg"] for e in entries(consumer)), 30)

    logged = entries(consumer)
    assert logged and {e["role"] for e in logged} == {"consume:verification"}
    about = [e for e in logged if e["message_id"] == event["id"]]
    failures = [e for e in about if "exc" in e]
    assert failures, "the failed attempt logged its traceback"
    assert all(e["ticket_id"] for e in failures), "the refused insert names the ticket it tried"
    exc = "\n".join(e["exc"] for e in failures)
    assert "ticket inserts refused" in exc and "[parameters:" in exc
    assert "d***@example.com" in exc, "the email was in the parameters, masked"
    retried = [e for e in about if "retry in" in e["msg"]]
    assert retried and "ticket inserts refused" in retried[0]["msg"]
    acked = [e for e in about if "handled: ack" in e["msg"]]
    assert [e["ticket_id"] for e in acked] == [row.ticket_id]
    raw = consumer.log()
    for value in (EMAIL, PHONE, serial, serial[len("DS-7608NI-I2/8P"):], "Dana Whitfield"):
        assert value not in raw, f"{value!r} is in the consumer's log unmasked"
