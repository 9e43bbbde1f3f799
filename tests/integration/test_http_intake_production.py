"""The production HTTP path end to end, as separate OS processes: ``resetdesk serve`` accepts
``POST /events`` (202 only once the inbox row and its outbox row are committed), ``resetdesk
relay`` republishes the request to ``resetdesk.requests`` as the system's own RabbitMQ user, and
``resetdesk consume verification`` makes the ticket. Also: the consumer trusts such a copy only
under the relay's ``user_id``, and producers cannot set the reserved ``x-resetdesk-*`` headers."""

from __future__ import annotations

import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pika
import pytest

from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from tests import processes
from tests.e2e.requests import request
from tests.processes import Desk, Proc, wait_answering, wait_for
from tests.smtp_sink import free_port
from workflow.adapters.tables import AUDIT, INBOX, OUTBOX, TICKET

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]
amqp_users, desk = processes.amqp_users, processes.desk  # fixtures

SOURCE = "urn:test:http-form"
QUEUED_TRAIL = [("submit", "submitted"), ("verify", "verified"), ("enqueue", "queued")]


def start_serve(desk: Desk) -> tuple[Proc, str, str]:
    """``serve`` on a free port; returns it, its base URL and a producer token."""
    token = desk.cli("producers", "add", "http-form", "--source", SOURCE).stdout.split()[0]
    port = free_port()
    serve = desk.start("serve", "serve", "--port", str(port),
                       RESETDESK_SECRET_KEY=secrets.token_urlsafe(48))
    base = f"http://127.0.0.1:{port}"
    wait_answering(serve, base)
    return serve, base, token


def post(base: str, token: str, event: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{base}/events", json=event, timeout=30, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"})


def test_requests_posted_to_serve_become_one_ticket_each_through_relay_and_consumer(
        desk: Desk) -> None:
    _, base, token = start_serve(desk)
    events = [request(source=SOURCE) for _ in range(40)]
    t0 = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda e: post(base, token, e), events))
    assert [a.status_code for a in answers] == [202] * 40, answers[0].text
    # accepted but nothing processes it yet: no consumer, no relay
    time.sleep(0.5)
    assert desk.count(TICKET) == 0 and desk.count(OUTBOX, OUTBOX.c.sent_at.is_(None)) == 40

    desk.start("consumer", "consume", "verification")
    desk.start("relay", "relay")
    rows = desk.wait_done({e["id"] for e in events}, timeout=60)
    elapsed = time.monotonic() - t0
    # the same requests posted again are answered as before and make nothing new
    again = [post(base, token, e) for e in events[:5]]
    assert [a.status_code for a in again] == [202] * 5
    assert [a.json()["reference"] for a in again] == [a.json()["reference"] for a in answers[:5]]
    desk.wait_drained()
    time.sleep(0.5)

    tickets, trails = desk.tickets(), desk.audit_trails()
    assert len(rows) == 40 and desk.count(TICKET) == 40 and desk.count(INBOX) == 40
    for answer, event in zip(answers, events, strict=True):
        row = rows[event["id"]]
        ticket = tickets[row.ticket_id]
        assert (ticket.state, ticket.source, ticket.reference) == (
            "queued", SOURCE, answer.json()["reference"])
        assert [(t, s) for t, s, _ in trails[ticket.id]] == QUEUED_TRAIL
        assert trails[ticket.id][0][2] == "producer:http-form"
    assert desk.count(AUDIT) == 120, "no transition twice"
    relayed = desk.db.reader.connect().execute(
        OUTBOX.select().where(OUTBOX.c.type == REQUEST_SUBMITTED_V1)).all()
    assert len(relayed) == 40 and all(r.sent_at and r.payload == "{}" for r in relayed), \
        "the relayed copy keeps no personal data once sent"
    status = httpx.get(f"{base}/events/{events[0]['id']}", timeout=5,
                       headers={"Authorization": f"Bearer {token}"}).json()
    assert status["status"] == "done" and status["ticket"]["state"] == "queued"
    assert desk.dead_letter_queues() == {"verification.dlq": 0, "notifications.dlq": 0,
                                         "escalation.dlq": 0}
    print(f"40 POST /events on serve -> 40 queued tickets via relay + consumer in {elapsed:.2f} s")


def _publish(desk: Desk, event: dict[str, Any], headers: dict[str, Any], who: str = "producer",
             ) -> None:
    user = {"producer": desk.producer, "consumer": desk.users.consumer[0]}[who]
    with pika.BlockingConnection(pika.URLParameters(desk.url(who))) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish("resetdesk.requests", REQUEST_SUBMITTED_V1, json.dumps(event).encode(),
                              pika.BasicProperties(delivery_mode=2, user_id=user,
                                                   content_type="application/cloudevents+json",
                                                   message_id=event["id"], headers=headers),
                              mandatory=True)


def test_reserved_headers_and_forged_replays_from_a_producer_are_dead_lettered(desk: Desk) -> None:
    desk.register_producer(SOURCE)
    desk.start("consumer", "consume", "verification")
    desk.start("archiver", "dlq", "archive")
    wait_for("the consumer to subscribe", lambda: desk.consumers_on("verification"),
             processes.PROCESS_START)
    forged_replay, reserved, fine = (request(source=SOURCE) for _ in range(3))
    _publish(desk, forged_replay, {"x-resetdesk-replay-of": 1})
    _publish(desk, reserved, {"x-resetdesk-reason": "looks official"})
    _publish(desk, fine, {"x-other": "ok"})

    letters = wait_for("two dead letters", lambda: len(desk.dead_letter_rows()) == 2
                       and desk.dead_letter_rows(), 30)
    reasons = {letter.message_id: letter.reason for letter in letters}
    assert "names no dead letter replayed" in reasons[forged_replay["id"]]
    assert "reserved header(s) x-resetdesk-reason" in reasons[reserved["id"]]
    rows = desk.wait_done({fine["id"]})
    assert desk.count(TICKET) == 1 and rows[fine["id"]].status == "done"


def test_a_system_user_copy_without_an_inbox_row_is_not_taken_as_accepted(desk: Desk) -> None:
    """The relay's user_id marks a copy of an HTTP-accepted request; with no inbox row behind
    it the message is judged like any producer's: here the system user is no producer."""
    desk.start("consumer", "consume", "verification")
    desk.start("archiver", "dlq", "archive")
    wait_for("the consumer to subscribe", lambda: desk.consumers_on("verification"),
             processes.PROCESS_START)
    event = request(source=SOURCE)
    _publish(desk, event, {}, who="consumer")
    [letter] = wait_for("the dead letter", desk.dead_letter_rows, 30)
    assert "is not a registered producer" in letter.reason
    assert desk.count(TICKET) == 0
