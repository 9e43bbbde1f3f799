"""End to end with real processes: ``python -m resetdesk consume verification``, ``relay`` and
``dlq archive`` against a vhost of this test on the local RabbitMQ and a fresh PostgreSQL
database; producers publish as a RabbitMQ user registered under the same name with
``resetdesk producers add``. What the in-process tests (test_amqp_consumers.py, test_relay.py,
test_dead_letters.py) cover is not repeated; see docs/amqp-tests.md."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pika
import pytest
from cloudevents.core.bindings import rabbitmq as ce_rabbitmq
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from consumers.amqp.dlq import AmqpRepublisher
from schemas.client import RequestPublisher
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from tests import processes
from tests.e2e.requests import request
from tests.processes import Desk, wait_for
from workflow.adapters import dead_letters
from workflow.adapters.tables import AUDIT, INBOX, TICKET

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]
amqp_users, desk = processes.amqp_users, processes.desk  # fixtures

SOURCE = "urn:test:e2e-form"
#: (trigger, to_state, actor) of a queued ticket; the first actor is the producer's RabbitMQ user
QUEUED_TRAIL = [("submit", "submitted", "producer:{}"), ("verify", "verified", "system:verification"),
                ("enqueue", "queued", "system:verification")]


def publish_with_sdk(desk: Desk, event: dict[str, Any], mode: str) -> None:
    """The CloudEvents SDK's RabbitMQ binding, published with pika as the producer's user."""
    attributes = {k: v for k, v in event.items() if k != "data"}
    attributes["time"] = datetime.fromisoformat(attributes["time"].replace("Z", "+00:00"))
    sdk_event = CloudEvent(attributes, event["data"])
    convert = ce_rabbitmq.to_binary if mode == "binary" else ce_rabbitmq.to_structured
    message = convert(sdk_event, JSONFormat())
    with pika.BlockingConnection(pika.URLParameters(desk.url("producer"))) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish("resetdesk.requests", REQUEST_SUBMITTED_V1, message.body,
                              pika.BasicProperties(delivery_mode=2, user_id=desk.producer,
                                                   message_id=event["id"],
                                                   content_type=message.content_type,
                                                   headers=dict(message.headers)),
                              mandatory=True)


def assert_queued_with_trail(desk: Desk, rows: dict[str, Any]) -> dict[str, Any]:
    """Each inbox row made a queued ticket whose audit trail is submitted (by the producer) →
    verified → queued; returns ticket id -> ticket."""
    tickets = desk.tickets()
    trails = desk.audit_trails()
    for row in rows.values():
        ticket = tickets[row.ticket_id]
        assert (ticket.state, ticket.source, ticket.event_id) == ("queued", SOURCE, row.event_id)
        trail = trails[ticket.id]
        assert trail == [(t, s, a.format(desk.producer)) for t, s, a in QUEUED_TRAIL]
    return {row.ticket_id: tickets[row.ticket_id] for row in rows.values()}


def test_requests_from_the_client_and_the_sdk_become_one_queued_ticket_each_with_an_event(
        desk: Desk) -> None:
    desk.register_producer(SOURCE)
    desk.start("consumer", "consume", "verification")
    desk.start("relay", "relay")
    wait_for("the consumer to subscribe", lambda: desk.consumers_on("verification"),
             processes.PROCESS_START)

    events = [request(source=SOURCE) for _ in range(4)]
    t0 = time.monotonic()
    with RequestPublisher(desk.url("producer")) as publisher:
        publisher.publish_request(events[0], mode="structured")
        publisher.publish_request(events[1], mode="binary")
    publish_with_sdk(desk, events[2], "binary")
    publish_with_sdk(desk, events[3], "structured")
    # the same messages again, each in another mode: one ticket each all the same
    with RequestPublisher(desk.url("producer")) as publisher:
        publisher.publish_request(events[0], mode="binary")
        publisher.publish_request(events[3], mode="structured")
    publish_with_sdk(desk, events[1], "structured")
    publish_with_sdk(desk, events[2], "binary")

    rows = desk.wait_done({e["id"] for e in events})
    tickets = assert_queued_with_trail(desk, rows)
    queued = desk.wait_queued_events(set(tickets))
    elapsed = time.monotonic() - t0
    desk.wait_drained()
    time.sleep(0.5)  # an outgoing duplicate, were there one, would be relayed by now
    desk.read_tap()

    assert len(tickets) == 4 and desk.count(TICKET) == 4 and desk.count(INBOX) == 4
    assert desk.count(AUDIT) == 12, "no audit row twice"
    assert sorted(e["subject"] for e in desk.queued_events) == sorted(tickets), \
        "one ticket.queued event per ticket, none twice"
    for event in queued:
        assert event["data"]["reference"] == tickets[event["subject"]].reference
        assert event["data"]["ticket_id"] == event["subject"]
    assert desk.dead_letter_queues() == {"verification.dlq": 0, "notifications.dlq": 0,
                                         "escalation.dlq": 0}
    assert desk.dead_letter_rows() == []
    print(f"8 publishes (4 requests x 2) -> 4 queued tickets and 4 ticket.queued events on "
          f"resetdesk.events in {elapsed:.2f} s")


def test_a_dead_letter_replayed_after_the_fix_makes_exactly_one_ticket(desk: Desk) -> None:
    desk.start("consumer", "consume", "verification")
    desk.start("archiver", "dlq", "archive")
    wait_for("the consumer and the archiver to subscribe",
             lambda: desk.consumers_on("verification") and desk.consumers_on("verification.dlq"),
             30)
    event = request(source=SOURCE)
    with RequestPublisher(desk.url("producer")) as publisher:  # not a ResetDesk producer yet
        publisher.publish_request(event)

    letter = wait_for("the dead letter in the table", desk.dead_letter_rows)[0]
    assert (letter.status, letter.queue, letter.message_id) == ("dead", "verification", event["id"])
    assert f"user {desk.producer!r} is not a registered producer" in letter.reason
    assert desk.count(INBOX) == 0 and desk.count(TICKET) == 0

    desk.register_producer(SOURCE)  # the fix
    held = desk.cli("dlq", "replay", str(letter.id), "--as", "ops", "--why",
                    "producer registered", "--url", desk.url("ops"), check=False)
    assert held.returncode == 1 and "permanent reason (unknown_producer)" in held.stderr
    replayed = desk.cli("dlq", "replay", str(letter.id), "--as", "ops", "--why",
                        "producer registered", "--url", desk.url("ops"), "--confirm-permanent")
    assert f"dead letter amqp:{letter.id}: retried" in replayed.stdout
    rows = desk.wait_done({event["id"]})
    [ticket] = assert_queued_with_trail(desk, rows).values()

    again = desk.cli("dlq", "replay", str(letter.id), "--as", "ops", "--why", "twice",
                     "--url", desk.url("ops"), check=False)
    assert again.returncode != 0 and "replayed by agent:ops" in again.stderr, again.stderr
    # a replay whose bookkeeping failed after its publish: the same message goes out again
    AmqpRepublisher(desk.url("ops"))(dead_letters.get(desk.db, letter.id))
    wait_for("the second copy to be consumed",
             lambda: desk.queue_messages().get("verification") == 0, 30, every=0.3)
    time.sleep(0.5)

    assert desk.count(TICKET) == 1 and desk.tickets()[ticket.id].state == "queued"
    assert desk.count(AUDIT, AUDIT.c.ticket_id == ticket.id) == 3
    stored = dead_letters.get(desk.db, letter.id)
    assert (stored.status, stored.acted_by, stored.act_reason) == (
        "replayed", "agent:ops", "producer registered")
    assert [(r.trigger, r.actor, r.reason) for r in desk.audit_rows(f"dlq:{letter.id}")] == [
        ("dlq_replay", "agent:ops", "producer registered")]
    assert len(desk.dead_letter_rows()) == 1, "the replays did not die again"
    assert sum(desk.dead_letter_queues().values()) == 0
