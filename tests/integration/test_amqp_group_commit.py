"""Group commit (``RESETDESK_AMQP__BATCH_SIZE`` > 1) with a real ``resetdesk consume
verification`` process, RabbitMQ and PostgreSQL: a mixed batch (copies of one event, a poison
message, a duplicate open serial, a request whose ticket insert the database refuses) and a
SIGKILL mid-run. See docs/operations-amqp.md "Group commit"."""

from __future__ import annotations

import re
import threading
import time

import pika
import pytest
from sqlalchemy import text

from consumers.amqp.retry import ERROR_CODE, REASON
from schemas.client import RequestPublisher
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from tests import processes
from tests.e2e.requests import request
from tests.faults.checks import tickets_by_key
from tests.processes import Desk, drain_queue, wait_for
from workflow.adapters.tables import TICKET
from workflow.service.verification import serial_key

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]
amqp_users, desk = processes.amqp_users, processes.desk  # fixtures

SOURCE = "urn:test:group-commit"
BATCHING = {"RESETDESK_AMQP__BATCH_SIZE": "50", "RESETDESK_AMQP__BATCH_WINDOW_MS": "10",
            "RESETDESK_QUEUE__RETRY__MAX_ATTEMPTS": "2",
            "RESETDESK_QUEUE__RETRY__DELAYS_SECONDS": "[1]"}


def refuse_ticket_inserts_for(desk: Desk, serial: str) -> None:
    """A database error on one request's ticket insert, whatever transaction it is in."""
    with desk.db.writer.begin() as conn:
        conn.execute(text("CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                          "$$ BEGIN RAISE EXCEPTION 'ticket insert refused by the test'; END $$"))
        conn.execute(text(f"CREATE TRIGGER test_refuse BEFORE INSERT ON ticket FOR EACH ROW "
                          f"WHEN (NEW.serial_key = '{serial_key(serial)}') "
                          f"EXECUTE FUNCTION test_refuse()"))


def publish_poison(desk: Desk) -> None:
    with pika.BlockingConnection(pika.URLParameters(desk.url("producer"))) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish("resetdesk.requests", REQUEST_SUBMITTED_V1, b"{not json",
                              pika.BasicProperties(delivery_mode=2, user_id=desk.producer,
                                                   message_id="poison-1",
                                                   content_type="application/cloudevents+json"),
                              mandatory=True)


def test_a_mixed_batch_makes_one_ticket_per_valid_request_and_dead_letters_the_rest(
        desk: Desk) -> None:
    desk.register_producer(SOURCE)
    valid = [request(source=SOURCE) for _ in range(12)]
    twin = request(source=SOURCE, data__device__serial_number=valid[0]["data"]["device"][
        "serial_number"], data__device__model_number=valid[0]["data"]["device"]["model_number"])
    failing = request(source=SOURCE)
    refuse_ticket_inserts_for(desk, failing["data"]["device"]["serial_number"])
    with RequestPublisher(desk.url("producer")) as publisher:  # all queued before the consumer
        for event in [*valid[:6], valid[0], failing, twin, valid[0], *valid[6:]]:
            publisher.publish_request(event)
    publish_poison(desk)

    # batches of 8 over 17 queued requests: the first holds the failing one and is rolled back,
    # the next ones commit several requests each (with 50, one batch took all 17 on a quiet
    # machine, rolled back, and nothing was ever written in a batch)
    consumer = desk.start("consumer", "consume", "verification",
                          **{**BATCHING, "RESETDESK_AMQP__BATCH_SIZE": "8"})
    wanted = {e["id"] for e in [*valid, twin]}
    desk.wait_done(wanted, timeout=90)
    wait_for("the poison and the failing request in the DLQ",
             lambda: desk.dead_letter_queues()["verification.dlq"] == 2, 60, every=0.3)
    desk.wait_drained()

    tickets = tickets_by_key(desk)
    assert {k: len(v) for k, v in tickets.items()} == {(SOURCE, i): 1 for i in wanted}, \
        "one ticket per valid request, none for the failing one, none twice"
    by_id = {t.event_id: t for t in desk.tickets().values()}
    # one of the two requests for the same serial owns it, the other is its duplicate; which
    # one is not promised (batches run beside the requests a rolled-back batch replays alone)
    first, second = by_id[valid[0]["id"]], by_id[twin["id"]]
    owner, copy = (first, second) if second.outcome == "duplicate" else (second, first)
    assert (owner.state, owner.outcome) == ("queued", None)
    assert (copy.outcome, copy.linked_ticket_id) == ("duplicate", owner.id)
    assert all(by_id[e["id"]].state == "queued" for e in valid[1:])
    assert desk.count(TICKET) == len(wanted)
    assert desk.inbox()[failing["id"]].status == "dead"

    letters = {m.properties.get("message_id"): m.headers
               for m in drain_queue(desk.url("guest"), "verification.dlq")}
    assert set(letters) == {"poison-1", failing["id"]}
    assert letters["poison-1"][ERROR_CODE] not in ("", "transient")
    assert letters[failing["id"]][ERROR_CODE] == "retries_exhausted"
    assert "ticket insert refused by the test" in letters[failing["id"]][REASON]

    log = consumer.log()
    batches = [tuple(map(int, m)) for m in re.findall(
        r"batch of (\d+): (\d+) in one transaction, (\d+) refused, (\d+) alone", log)]
    assert any(written > 1 for _, written, _, _ in batches), log[-3000:]
    assert "rolled back" in log  # the failing request's batch, before it went alone
    print(f"batches (size, in one transaction, refused, alone): {batches}")


def test_a_consumer_killed_mid_run_with_batching_loses_and_duplicates_nothing(
        desk: Desk) -> None:
    desk.register_producer(SOURCE)
    consumer = desk.start("consumer", "consume", "verification", **BATCHING)
    wait_for("the consumer to subscribe", lambda: desk.consumers_on("verification"),
             processes.PROCESS_START)
    events = [request(source=SOURCE) for _ in range(240)]

    def publish() -> None:
        with RequestPublisher(desk.url("producer")) as publisher:
            for event in events:
                publisher.publish_request(event)

    producer = threading.Thread(target=publish)
    producer.start()
    wait_for("some tickets", lambda: desk.count(TICKET) >= 30, 60, every=0.05)
    consumer.kill()  # SIGKILL: batches in flight are neither committed nor acked, or not acked
    killed_at = desk.count(TICKET)
    producer.join(120)
    time.sleep(0.2)
    consumer.start()
    desk.wait_done({e["id"] for e in events}, timeout=120)
    desk.wait_drained()

    tickets = tickets_by_key(desk)
    lost = [e["id"] for e in events if not tickets.get((SOURCE, e["id"]))]
    duplicated = sum(len(ids) - 1 for ids in tickets.values())
    print(f"killed with {killed_at} tickets; lost={len(lost)} duplicated={duplicated}")
    assert (len(lost), duplicated) == (0, 0)
    assert killed_at < len(events), "the kill came mid-run"
    assert re.search(r"batch of \d+: ([2-9]|\d\d+) in one transaction", consumer.log())
    assert desk.dead_letter_queues()["verification.dlq"] == 0
