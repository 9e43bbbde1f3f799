"""The outbox relay against the real RabbitMQ (a vhost of its own) and the test databases.

Time-outs are tested with local fakes, never with a memory alarm (alarms are node-wide and the
broker is shared): tests/fault_proxy.py in front of the real broker, paused both ways (a broker
that accepts and never answers), paused towards the client (confirms never come) or injecting
``connection.blocked``.
"""

from __future__ import annotations

import json
import random
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kombu.connection import Connection
from sqlalchemy import func, insert, select

from consumers.amqp.confirms import (
    BatchResult,
    BrokerBlocked,
    ConfirmingPublisher,
    ConfirmTimeout,
    NotConfirmed,
    Outgoing,
)
from consumers.amqp.relay import relay_once, run_relay
from consumers.topology import EVENTS, declare_all
from tests import services
from tests.fault_proxy import FaultProxy
from tests.processes import process_env
from tests.waiting import wait_for
from workflow.adapters.db import Database, open_database
from workflow.adapters.tables import OUTBOX

ROOT = Path(__file__).resolve().parents[2]
TAP = "relay.tap"
TICKET_EVENTS = "com.resetdesk.ticket.#"
NOBODY_TYPE = "com.resetdesk.audit.exported.v1"


# --- broker fixtures ----------------------------------------------------------------------------


def amqp_url(vhost: str, port: int | None = None) -> str:
    return services.amqp_url(vhost, port)


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    services.require_rabbitmq()
    name = f"rd_relay_{services.RUN_ID}_{uuid.uuid4().hex[:6]}"
    services.rabbitmqctl("add_vhost", name)
    try:
        services.rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        with Connection(amqp_url(name)) as conn:
            declare_all(conn)
            ch = conn.default_channel
            ch.queue_declare(TAP, durable=True, auto_delete=False)
            ch.queue_bind(TAP, EVENTS.name, TICKET_EVENTS)
        yield name
    finally:
        services.rabbitmqctl("delete_vhost", name, check=False)


@pytest.fixture
def url(vhost: str) -> str:
    with Connection(amqp_url(vhost)) as conn:
        for q in (TAP, "events.unrouted"):
            conn.default_channel.queue_purge(q)
    return amqp_url(vhost)


def consume_all(url: str, queue: str, *, idle: float = 1.5) -> list[Any]:
    """Every message in ``queue`` (removed), in queue order; stops after ``idle`` quiet seconds."""
    got: list[Any] = []
    with Connection(url) as conn:
        ch = conn.channel()
        ch.basic_qos(0, 2000, False)
        ch.basic_consume(queue, no_ack=True, callback=got.append)
        while True:
            try:
                conn.drain_events(timeout=idle)
            except TimeoutError:
                return got


def queue_depth(url: str, queue: str) -> int:
    with Connection(url) as conn:
        return int(conn.default_channel.queue_declare(queue, passive=True).message_count)


# --- outbox data --------------------------------------------------------------------------------


def fill_outbox(db: Database, tickets: int, per_ticket: int, *, etype: str = "") -> list[str]:
    """``tickets * per_ticket`` rows, tickets randomly interleaved, each ticket's sequence rising
    with the outbox id."""
    now = datetime.now(UTC)
    names = [f"t{uuid.uuid4().hex[:10]}" for _ in range(tickets)]
    rng = random.Random(4711)
    left = dict.fromkeys(names, per_ticket)
    rows: list[tuple[str, int]] = []
    while left:
        ticket = rng.choice(list(left))
        rows.append((ticket, per_ticket - left[ticket] + 1))
        left[ticket] -= 1
        if not left[ticket]:
            del left[ticket]
    values = []
    for ticket, seq in rows:
        event_id = uuid.uuid4().hex
        kind = etype or "com.resetdesk.ticket.transitioned.v1"
        payload = json.dumps({"specversion": "1.0", "id": event_id, "source": "urn:resetdesk",
                              "type": kind, "subject": ticket, "sequence": f"{seq:010d}",
                              "datacontenttype": "application/json", "data": {"n": seq}},
                             separators=(",", ":"), sort_keys=True)
        values.append({"event_id": event_id, "ticket_id": ticket, "sequence": seq, "type": kind,
                       "payload": payload, "created_at": now})
    with db.writer.begin() as conn:
        conn.execute(insert(OUTBOX), values)
    return names


def outbox_events(db: Database) -> dict[str, tuple[str, int]]:
    with db.reader.begin() as conn:
        return {r.event_id: (r.ticket_id, r.sequence)
                for r in conn.execute(select(OUTBOX.c.event_id, OUTBOX.c.ticket_id,
                                             OUTBOX.c.sequence))}


def sent_ids(db: Database) -> set[str]:
    with db.reader.begin() as conn:
        return set(conn.execute(select(OUTBOX.c.event_id).where(OUTBOX.c.sent_at.is_not(None)))
                   .scalars())


def unsent_count(db: Database) -> int:
    with db.reader.begin() as conn:
        return int(conn.execute(select(func.count()).where(OUTBOX.c.sent_at.is_(None))
                                .select_from(OUTBOX)).scalar_one())


def assert_ordered_per_ticket(messages: list[Any], expected: dict[str, tuple[str, int]]) -> Counter[str]:
    """Every outbox row arrived, and each ticket's first copies arrive in sequence order."""
    seen: Counter[str] = Counter()
    firsts: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        event = json.loads(m.body)
        assert m.properties["message_id"] == event["id"]
        assert m.properties["content_type"] == "application/cloudevents+json"
        assert m.properties["delivery_mode"] == 2
        assert m.delivery_info["routing_key"] == event["type"]
        if not seen[event["id"]]:
            firsts[event["subject"]].append(int(event["sequence"]))
        seen[event["id"]] += 1
    assert set(seen) == set(expected), "every outbox row arrives at least once"
    for subject, sequences in firsts.items():
        assert sequences == sorted(sequences), f"ticket {subject} out of order"
    return seen


def drain_relay(db: Database, url: str, *, batch: int = 500) -> None:
    with ConfirmingPublisher(url, timeout=10) as publisher:
        while relay_once(db, publisher, batch=batch):
            pass


# --- the relay ----------------------------------------------------------------------------------


@pytest.mark.rabbitmq
def test_relay_publishes_every_row_in_order_per_ticket(db: Database, url: str) -> None:
    fill_outbox(db, tickets=12, per_ticket=40)
    drain_relay(db, url, batch=50)

    expected = outbox_events(db)
    seen = assert_ordered_per_ticket(consume_all(url, TAP), expected)
    assert set(seen.values()) == {1}
    assert sent_ids(db) == set(expected)


class InspectingPublisher(ConfirmingPublisher):
    """Checks, from another connection, what the database says while the relay publishes."""

    def __init__(self, url: str, db: Database, vhost_url: str) -> None:
        super().__init__(url, timeout=10)
        self.db = db
        self.vhost_url = vhost_url
        self.checked = 0

    def publish(self, messages: Any) -> BatchResult:
        ids = {m.properties["message_id"] for m in messages}
        assert not ids & sent_ids(self.db)
        result = super().publish(messages)
        assert result.all_confirmed
        assert queue_depth(self.vhost_url, TAP) >= len(messages), "confirmed = in the queue"
        assert not ids & sent_ids(self.db), "marked sent only after the confirm, on commit"
        self.checked += 1
        return result


@pytest.mark.rabbitmq
def test_rows_are_marked_sent_only_after_their_confirm(db: Database, url: str) -> None:
    fill_outbox(db, tickets=3, per_ticket=10)
    publisher = InspectingPublisher(url, db, url)
    with publisher:
        assert relay_once(db, publisher, batch=500) == 30
    assert publisher.checked == 1
    assert unsent_count(db) == 0


class FailingPublisher(ConfirmingPublisher):
    """Confirms every message except those of the given event ids (as a nack or return would)."""

    def __init__(self, refuse: set[str]) -> None:
        super().__init__("amqp://unused", timeout=1)
        self.refuse = refuse

    def publish(self, messages: Any) -> BatchResult:
        ok = [m.properties["message_id"] not in self.refuse for m in messages]
        return BatchResult(ok, None if all(ok) else NotConfirmed("refused"))


def test_an_unconfirmed_row_holds_back_its_ticket_only(db: Database) -> None:
    a, b = fill_outbox(db, tickets=2, per_ticket=4)
    events = outbox_events(db)
    second_of_a = next(e for e, (t, s) in events.items() if t == a and s == 2)

    with pytest.raises(NotConfirmed):
        relay_once(db, FailingPublisher({second_of_a}))

    sent = {events[e] for e in sent_ids(db)}
    assert sent == {(a, 1)} | {(b, s) for s in range(1, 5)}


@pytest.mark.rabbitmq
def test_an_event_nobody_consumes_lands_in_events_unrouted(db: Database, url: str) -> None:
    fill_outbox(db, tickets=1, per_ticket=1, etype=NOBODY_TYPE)
    drain_relay(db, url)

    [message] = consume_all(url, "events.unrouted")
    assert json.loads(message.body)["type"] == NOBODY_TYPE
    assert consume_all(url, TAP, idle=0.3) == []
    assert unsent_count(db) == 0


@pytest.mark.rabbitmq
def test_a_returned_message_is_not_confirmed(vhost: str) -> None:
    """``mandatory`` to an exchange with no binding and no alternate exchange: returned."""
    with Connection(amqp_url(vhost)) as conn:
        conn.default_channel.exchange_declare("rd.test.nowhere", "topic", durable=False,
                                              auto_delete=False)
    messages = [Outgoing(ex, "k", b"{}", {"message_id": str(i), "delivery_mode": 2})
                for i, ex in enumerate((EVENTS.name, "rd.test.nowhere", EVENTS.name))]
    with ConfirmingPublisher(amqp_url(vhost), timeout=5) as publisher:
        result = publisher.publish(messages)
        assert result.confirmed == [True, False, True]
        assert isinstance(result.error, NotConfirmed)
        assert publisher.publish(messages[:1]).all_confirmed, "the connection stays usable"


@pytest.mark.rabbitmq
@pytest.mark.postgres
@pytest.mark.parametrize("relays", [2, 3])
def test_several_relays_on_postgres_keep_each_ticket_in_order(pg_url: str, url: str,
                                                               relays: int) -> None:
    db = open_database(pg_url)
    try:
        fill_outbox(db, tickets=30, per_ticket=60)
        stop = threading.Event()
        threads = [threading.Thread(target=run_relay, kwargs={
            "db": db, "broker_url": url, "stop_event": stop, "batch": 40, "poll_seconds": 0.05})
            for _ in range(relays)]
        for t in threads:
            t.start()
        wait_for("the relays to send every row", lambda: not unsent_count(db), 60, every=0.1)
        stop.set()
        for t in threads:
            t.join(15)
        assert unsent_count(db) == 0
        seen = assert_ordered_per_ticket(consume_all(url, TAP), outbox_events(db))
        assert set(seen.values()) == {1}
    finally:
        db.dispose()


# --- crash ------------------------------------------------------------------------------------


@pytest.mark.rabbitmq
@pytest.mark.postgres
@pytest.mark.slow
def test_a_relay_killed_mid_batch_loses_and_reorders_nothing(pg_url: str, url: str) -> None:
    db = open_database(pg_url)
    batch = 500
    try:
        fill_outbox(db, tickets=50, per_ticket=400)
        total = unsent_count(db)
        env = process_env(RESETDESK_DATABASE_URL=pg_url, RESETDESK_BROKER_URL=url,
                          RESETDESK_AMQP__RELAY_BATCH=str(batch), PYTHONPATH=str(ROOT))
        proc = subprocess.Popen([sys.executable, "-m", "resetdesk", "relay"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for("a quarter of the rows sent", lambda: len(sent_ids(db)) >= total // 4, 60,
                     every=0.01)
            time.sleep(0.037)  # somewhere inside a batch
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        sent_before = sent_ids(db)
        assert 0 < len(sent_before) < total, "killed while relaying"

        def drained() -> bool:  # the killed session's row locks go with its backend
            drain_relay(db, url, batch=batch)
            return not unsent_count(db)
        wait_for("the rest relayed after the kill", drained, 60, every=0.1)

        expected = outbox_events(db)
        seen = assert_ordered_per_ticket(consume_all(url, TAP), expected)
        duplicated = {e for e, n in seen.items() if n > 1}
        assert not duplicated & sent_before, "a row confirmed and marked sent is never re-sent"
        assert len(duplicated) <= batch, "only the unconfirmed tail (one batch) is sent twice"
        assert max(seen.values()) <= 2
    finally:
        db.dispose()


# --- time-outs ----------------------------------------------------------------------------------


def _blocked_frame(reason: bytes = b"low on memory") -> bytes:
    payload = struct.pack(">HHB", 10, 60, len(reason)) + reason
    return struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce"


@pytest.mark.rabbitmq
def test_a_broker_that_never_answers_times_out_and_leaves_rows_unsent(db: Database) -> None:
    server = FaultProxy()
    server.pause()  # a broker that accepts the connection and never says a word
    try:
        fill_outbox(db, tickets=2, per_ticket=3)
        with ConfirmingPublisher(amqp_url("/", server.port), timeout=1.0) as publisher:
            started = time.monotonic()
            with pytest.raises(ConfirmTimeout):
                relay_once(db, publisher)
            assert time.monotonic() - started < 5
        assert unsent_count(db) == 6

        stop = threading.Event()  # the loop keeps trying, and stops when told
        thread = threading.Thread(target=run_relay, kwargs={
            "db": db, "broker_url": amqp_url("/", server.port), "stop_event": stop,
            "confirm_timeout": 0.5, "backoff_max": 0.5})
        thread.start()
        time.sleep(2.5)
        stop.set()
        thread.join(5)
        assert not thread.is_alive()
        assert unsent_count(db) == 6
    finally:
        server.close()


@pytest.mark.rabbitmq
def test_confirms_that_never_come_time_out_then_a_reconnect_resends(db: Database, url: str,
                                                                    vhost: str) -> None:
    proxy = FaultProxy()
    try:
        fill_outbox(db, tickets=4, per_ticket=5)
        with ConfirmingPublisher(amqp_url(vhost, proxy.port), timeout=1.5) as publisher:
            publisher.open()
            proxy.pause("to_client")  # the client's frames still reach the broker
            started = time.monotonic()
            with pytest.raises(ConfirmTimeout):
                relay_once(db, publisher)
            assert 1.4 < time.monotonic() - started < 5
        assert unsent_count(db) == 20, "published but not confirmed: not marked sent"

        drain_relay(db, url)
        seen = assert_ordered_per_ticket(consume_all(url, TAP), outbox_events(db))
        assert set(seen.values()) == {2}, "the unconfirmed batch was sent again"
    finally:
        proxy.close()


@pytest.mark.rabbitmq
def test_connection_blocked_stops_the_batch_at_once(db: Database, vhost: str) -> None:
    proxy = FaultProxy()
    try:
        fill_outbox(db, tickets=2, per_ticket=5)
        with ConfirmingPublisher(amqp_url(vhost, proxy.port), timeout=8) as publisher:
            publisher.open()
            proxy.pause("to_client")  # idle after open: the stream is at a frame boundary
            proxy.inject(_blocked_frame())
            time.sleep(0.2)
            started = time.monotonic()
            with pytest.raises(BrokerBlocked):
                relay_once(db, publisher)
            assert time.monotonic() - started < 4, "well before the confirm timeout"
            assert not publisher.connected, "dropped: the next batch reconnects"
        assert unsent_count(db) == 10
    finally:
        proxy.close()
