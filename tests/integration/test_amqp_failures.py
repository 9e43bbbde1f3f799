"""Failures with real processes (``python -m resetdesk consume verification``, ``relay``, ``dlq
archive``): a consumer SIGKILLed between its commit and its ack, connections closed by the
broker, and a broker node restarted mid-traffic — a private node this test starts itself, so the
shared broker is never touched. In every case: each request makes exactly one ticket, no audit
row is written twice, outgoing events all arrive, and nothing ends in a dead-letter queue."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu.connection import Connection

from schemas.client import PublishError, RequestPublisher
from tests import private_rabbit as private_node
from tests import processes, services
from tests.e2e.requests import request
from tests.fault_proxy import FaultProxy
from tests.integration.test_amqp_end_to_end import SOURCE, assert_queued_with_trail
from tests.private_rabbit import PrivateRabbit
from tests.processes import Broker, Desk, assert_log, make_users
from tests.waiting import wait_for
from workflow.adapters.tables import AUDIT, INBOX, TICKET

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]
amqp_users, desk = processes.amqp_users, processes.desk  # fixtures
private_rabbit = private_node.private_rabbit  # fixture

NO_DEAD_LETTERS = {"verification.dlq": 0, "notifications.dlq": 0, "escalation.dlq": 0}
#: the outbox rows of one queued ticket, in order
QUEUED_OUTBOX = ("com.resetdesk.ticket.transitioned.v1", "com.resetdesk.ticket.transitioned.v1",
                 "com.resetdesk.ticket.queued.v1", "com.resetdesk.notification.email.v1")


def waiting_message_ids(desk: Desk, queue: str = "verification") -> set[str]:
    """The ids of the messages in ``queue``: taken without an ack, so all go back on close."""
    ids: set[str] = set()
    with Connection(desk.url("guest")) as conn:
        ch = conn.channel()
        ch.basic_qos(0, 1000, False)
        ch.basic_consume(queue, no_ack=False,
                         callback=lambda m: ids.add(str(m.properties["message_id"])))
        with contextlib.suppress(TimeoutError):
            while True:
                conn.drain_events(timeout=0.5)
    return ids


def assert_exactly_once(desk: Desk, ids: set[str]) -> dict[str, Any]:
    """One done inbox row and one queued ticket per event id; every ticket with its 3 audit
    rows and the same outbox rows (none twice); returns ticket id -> ticket."""
    rows = desk.inbox()
    assert set(rows) == ids and {r.status for r in rows.values()} == {"done"}
    tickets = assert_queued_with_trail(desk, rows)
    assert desk.count(TICKET) == len(ids) and desk.count(AUDIT) == 3 * len(ids)
    outbox = desk.outbox_types()
    assert set(outbox) == set(tickets)
    assert {tuple(types) for types in outbox.values()} == {QUEUED_OUTBOX}, "no event twice"
    return tickets


# --- SIGKILL between commit and ack -------------------------------------------------------------

ROUNDS, BATCH, ACK_DELAY = 3, 30, 1.5


def test_a_consumer_killed_between_commit_and_ack_makes_no_duplicate(desk: Desk) -> None:
    """The consumer reaches the broker through a :class:`FaultProxy`. While a batch is handled,
    what the consumer sends (its acks) is held ``ACK_DELAY`` seconds, so a SIGKILL soon after the
    commit lands inside the commit→ack window, held open on purpose with no hook in the
    consumer: the held acks die with the connection."""
    desk.register_producer(SOURCE)
    proxy = FaultProxy((desk.broker.host, desk.broker.port))
    consumer = desk.start("consumer", "consume", "verification",
                          broker_url=desk.url("consumer", port=proxy.port),
                          RESETDESK_AMQP__PREFETCH=str(BATCH + 20))
    rng = random.Random()
    published: set[str] = set()
    in_window: list[int] = []
    try:
        with RequestPublisher(desk.url("producer")) as publisher:
            for _ in range(ROUNDS):
                wait_for("the consumer to subscribe", lambda: desk.consumers_on("verification"),
                         processes.PROCESS_START)
                desk.wait_drained()  # what the last kill returned is acked (as already done)
                proxy.delay(ACK_DELAY * 1000, "to_upstream")
                batch = [request(source=SOURCE) for _ in range(BATCH)]
                for event in batch:
                    publisher.publish_request(event)
                ids = {e["id"] for e in batch}
                published |= ids
                desk.wait_done(ids)  # committed, acks on their way
                time.sleep(rng.uniform(0, ACK_DELAY / 4))  # a random moment inside the window
                consumer.kill()
                proxy.delay(0)
                wait_for("the broker to drop the consumer",
                         lambda: not desk.consumers_on("verification"), 15)
                in_window.append(len(waiting_message_ids(desk) & ids))
                consumer.start()
        wait_for("the consumer to subscribe", lambda: desk.consumers_on("verification"),
                 processes.PROCESS_START)
        desk.wait_drained()
    finally:
        consumer.stop()
        proxy.close()
    print(f"{ROUNDS} SIGKILLs; committed but unacked when killed: {in_window} of {BATCH} each; "
          f"{proxy.dropped_bytes} bytes of acks dropped with the dead consumers")

    assert all(n >= 1 for n in in_window), f"a kill missed the commit→ack window: {in_window}"
    assert_exactly_once(desk, published)
    assert {r.attempts for r in desk.inbox().values()} == {1}, "no message was handled twice"
    assert desk.dead_letter_queues() == NO_DEAD_LETTERS, "the delivery limit dead-lettered one"


# --- connections closed by the broker -----------------------------------------------------------


def publish_round(desk: Desk, n: int) -> tuple[set[str], str]:
    """``n`` valid requests and one from the wrong source (a dead letter); their ids."""
    events = [request(source=SOURCE) for _ in range(n)]
    poison = request(source="urn:test:someone-else")
    with RequestPublisher(desk.url("producer")) as publisher:
        for event in [*events, poison]:
            publisher.publish_request(event)
    return {e["id"] for e in events}, poison["id"]


def settled(desk: Desk, ids: set[str], poison: str) -> None:
    rows = desk.wait_done(ids)
    desk.wait_queued_events({r.ticket_id for r in rows.values()})
    wait_for("the dead letter archived",
             lambda: poison in {r.message_id for r in desk.dead_letter_rows()})


def test_connections_closed_by_the_broker_are_reopened_by_every_process(desk: Desk) -> None:
    desk.register_producer(SOURCE)
    procs = [desk.start("consumer", "consume", "verification"), desk.start("relay", "relay"),
             desk.start("archiver", "dlq", "archive")]
    names = ["resetdesk-consumer-verification", "resetdesk-dlq-archiver", "resetdesk-relay"]
    first, poison_1 = publish_round(desk, 5)
    settled(desk, first, poison_1)
    assert desk.connection_names() == names

    t0 = time.monotonic()
    desk.broker.ctl("close_all_connections", "-p", desk.vhost, "test: closed by the broker")
    wait_for("the consumer and the archiver to reconnect",
             lambda: desk.consumers_on("verification") and desk.consumers_on("verification.dlq"),
             30)
    back = time.monotonic() - t0
    second, poison_2 = publish_round(desk, 5)
    settled(desk, second, poison_2)
    desk.wait_drained()
    print(f"consumer and archiver subscribed again {back:.1f} s after close_all_connections")

    lines = [assert_log(procs[0], r"consumer verification: connection lost \(.*\); reconnecting"),
             assert_log(procs[1], r"publisher connection lost while idle .*|relay: ConnectionLost.*"),
             assert_log(procs[2], r"dlq archiver: broker: .*; retrying")]
    assert all("closed by the broker" in line or "CONNECTION_FORCED" in line or "320" in line
               for line in lines), lines
    assert all(p.alive for p in procs) and desk.connection_names() == names
    tickets = assert_exactly_once(desk, first | second)
    assert sorted(e["subject"] for e in desk.queued_events) == sorted(tickets)
    letters = desk.dead_letter_rows()
    assert sorted(r.message_id for r in letters) == sorted([poison_1, poison_2])
    assert all("may only send events with source" in r.reason for r in letters)
    assert desk.dead_letter_queues() == NO_DEAD_LETTERS


# --- a broker node restarted mid-traffic -------------------------------------------------------


@pytest.fixture
def private_desk(private_rabbit: PrivateRabbit, pg_url: str, tmp_path: Path) -> Iterator[Desk]:
    broker = Broker(private_rabbit.host, private_rabbit.port, private_rabbit.ctl)
    made = Desk.open(broker, make_users(broker, services.RUN_ID), pg_url, tmp_path)
    try:
        yield made
    finally:
        made.close()


class Traffic(threading.Thread):
    """A producer publishing ``total`` requests, one every ``gap`` seconds; each is published
    again (same id) until the broker confirms it, as a producer must."""

    def __init__(self, url: str, total: int, gap: float) -> None:
        super().__init__(daemon=True)
        self.url, self.total, self.gap = url, total, gap
        self.confirmed: list[str] = []
        self.failures = 0

    def run(self) -> None:
        with RequestPublisher(self.url, confirm_timeout=5, connect_timeout=2) as publisher:
            for _ in range(self.total):
                event = request(source=SOURCE)
                while True:
                    try:
                        publisher.publish_request(event)
                        break
                    except PublishError:
                        self.failures += 1
                        time.sleep(0.3)
                self.confirmed.append(event["id"])
                time.sleep(self.gap)


def _shared_node_pid() -> str:
    return services.rabbitmqctl("eval", "os:getpid().").stdout.strip()


def test_a_broker_restarted_mid_traffic_loses_and_duplicates_nothing(
        private_rabbit: PrivateRabbit, private_desk: Desk) -> None:
    desk = private_desk
    shared_before = _shared_node_pid()
    desk.register_producer(SOURCE)
    procs = [desk.start("consumer", "consume", "verification"), desk.start("relay", "relay")]
    wait_for("the consumer to subscribe", lambda: desk.consumers_on("verification"),
             processes.PROCESS_START)

    traffic = Traffic(desk.url("producer"), total=60, gap=0.05)
    traffic.start()
    wait_for("20 requests confirmed", lambda: len(traffic.confirmed) >= 20, 30)
    stopped = private_rabbit.stop()
    time.sleep(1)
    started = private_rabbit.start()
    traffic.join(120)
    assert not traffic.is_alive() and len(traffic.confirmed) == 60

    rows = desk.wait_done(set(traffic.confirmed), timeout=120)
    desk.wait_queued_events({r.ticket_id for r in rows.values()}, timeout=120)
    desk.wait_drained()
    print(f"node stopped in {stopped:.1f} s, started again in {started:.1f} s; producer retries "
          f"during the outage: {traffic.failures}; ticket.queued events received "
          f"{len(desk.queued_events)} for 60 tickets")

    assert traffic.failures > 0, "the restart happened mid-traffic"
    assert_log(procs[0], r"consumer verification: connection lost")
    assert_log(procs[1], r"publisher connection lost|relay: ")
    assert all(p.alive for p in procs)
    tickets = assert_exactly_once(desk, set(traffic.confirmed))
    assert {e["subject"] for e in desk.queued_events} == set(tickets), "every event arrived"
    assert desk.count(INBOX) == 60
    assert desk.dead_letter_queues() == NO_DEAD_LETTERS
    assert _shared_node_pid() == shared_before, "the shared broker was not touched"
