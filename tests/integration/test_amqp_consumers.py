"""The kombu consumers on the real local RabbitMQ and PostgreSQL (a vhost and databases of their
own): intake in every content mode, dedup, poison messages, retries measured against their
configured delays, restarts, heartbeats under a slow handler, and a clean stop."""

from __future__ import annotations

import itertools
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pika
import pytest
from cloudevents.core.bindings import rabbitmq as ce_rabbitmq
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from kombu.connection import Connection
from sqlalchemy import func, select

from consumers.amqp import retry
from consumers.amqp.consumer import (
    AmqpConsumer,
    Delivery,
    MessageHandler,
    Verdict,
    run_consumer,
)
from consumers.amqp.dlq import AmqpRepublisher
from consumers.amqp.main import ConsumerConfig, consume_main
from consumers.amqp.notifications import NotificationConsumer
from consumers.amqp.requests import VerificationConsumer
from consumers.notifications import NotificationFailed
from consumers.request_handling import RequestHandler
from consumers.topology import NOTIFICATIONS, VERIFICATION, ConsumerQueue, declare_all
from schemas.client import RequestPublisher
from schemas.events_v1 import NOTIFICATION_EMAIL_V1
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from tests import services
from tests.e2e.requests import request
from tests.rabbit import Rabbit, rabbit  # noqa: F401  (fixture)
from tests.waiting import wait_for
from workflow.adapters import accounts, dead_letters, inbox
from workflow.adapters.db import Database, open_database
from workflow.adapters.human_check import HumanCheckResult, LocalVerifier
from workflow.adapters.rules_file import load_rule_book
from workflow.adapters.tables import AUDIT, TICKET
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.retry import RetryPolicy
from workflow.service.ports import SystemClock

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]

SOURCE = "urn:test:amqp-form"
FAST = replace(VERIFICATION, retry_delays=(1, 2))
FAST_NOTIFY = replace(NOTIFICATIONS, retry_delays=(1,))
RULES = load_rule_book()
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FlakyVerifier:
    """Transient failures for the first ``failures`` calls, then the local verifier's answer."""

    failures: int
    calls: list[float] = field(default_factory=list)

    def verify(self, token: str, remote_ip: str | None) -> HumanCheckResult:
        self.calls.append(time.monotonic())
        if len(self.calls) <= self.failures:
            return HumanCheckResult(False, "provider down", transient=True)
        return LocalVerifier().verify(token, remote_ip)


@dataclass
class Env:
    rabbit: Rabbit
    db: Database
    producer: str
    producer_password: str

    @property
    def producer_url(self) -> str:
        return self.rabbit.url(self.producer, self.producer_password)

    def handler(self, verifier: Any = None, *, slow: float = 0) -> MessageHandler:
        core = VerificationConsumer(RequestHandler(
            db=self.db, uow=lambda: SqlUnitOfWork(self.db), clock=SystemClock(), rules=RULES,
            verifier=verifier or LocalVerifier(), retry=RetryPolicy(5, (1,))))
        if not slow:
            return core

        def slow_handler(delivery: Delivery) -> Verdict:
            time.sleep(slow)
            return core(delivery)

        return slow_handler

    def publish_raw(self, body: bytes, *, url: str | None = None, exchange: str = "resetdesk.requests",
                    routing_key: str = REQUEST_SUBMITTED_V1, **props: Any) -> None:
        params = pika.URLParameters(url or self.producer_url)
        with pika.BlockingConnection(params) as conn:
            channel = conn.channel()
            channel.confirm_delivery()
            channel.basic_publish(exchange, routing_key, body, pika.BasicProperties(
                delivery_mode=2, **props), mandatory=True)

    def status(self, event: dict[str, Any]) -> inbox.InboxStatus | None:
        return inbox.status(self.db, event["source"], event["id"])

    def done(self, event: dict[str, Any]) -> inbox.InboxStatus:
        return wait_for(f"event {event['id']} done",  # type: ignore[no-any-return]
                        lambda: (s := self.status(event)) is not None and s.status == "done" and s)

    def count(self, table: Any) -> int:
        with self.db.reader.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture(scope="module")
def form_user(rabbit: Rabbit) -> tuple[str, str]:  # noqa: F811
    return rabbit.producer("form")


@pytest.fixture
def env(rabbit: Rabbit, pg_url: str, form_user: tuple[str, str]) -> Iterator[Env]:  # noqa: F811
    with Connection(rabbit.admin_url) as conn:
        declare_all(conn, [FAST, FAST_NOTIFY])
    queues = [FAST.name, FAST.dlq_name, *(q.name for q in FAST.retry_queues()),
              FAST_NOTIFY.name, FAST_NOTIFY.dlq_name, *(q.name for q in FAST_NOTIFY.retry_queues())]
    rabbit.purge(*queues)
    db = open_database(pg_url)
    user, password = form_user
    accounts.add_producer(db, user, SOURCE)
    yield Env(rabbit, db, user, password)
    db.dispose()


class Running:
    """``run_consumer`` in a thread; ``stop()`` sets its stop event and joins it."""

    def __init__(self, env: Env, handler: MessageHandler, *, queue: ConsumerQueue = FAST,
                 heartbeat: int = 10, grace: float = 10.0) -> None:
        self.stop_event = threading.Event()
        self.consumer: AmqpConsumer | None = None
        started = threading.Event()

        def on_start(consumer: AmqpConsumer) -> None:
            self.consumer = consumer
            started.set()

        self.thread = threading.Thread(target=run_consumer, args=(queue,), kwargs=dict(
            broker_url=env.rabbit.consumer_url, handler_factory=lambda: handler, prefetch=4,
            heartbeat=heartbeat, stop_event=self.stop_event, grace_seconds=grace,
            on_start=on_start), daemon=True)
        self.thread.start()
        started.wait(5)
        wait_for("the consumer to connect", lambda: self.consumer and self.consumer.connections)

    def stop(self, timeout: float = 15.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the consumer did not stop"


@pytest.fixture
def running(env: Env) -> Iterator[Callable[..., Running]]:
    made: list[Running] = []

    def start(handler: MessageHandler | None = None, **kw: Any) -> Running:
        made.append(Running(env, handler or env.handler(), **kw))
        return made[-1]

    yield start
    for r in made:
        if r.thread.is_alive():
            r.stop()


def _queued_with_audit(env: Env, status: inbox.InboxStatus) -> None:
    with SqlUnitOfWork(env.db, read_only=True) as uow:
        ticket = uow.tickets.by_reference(status.reference)
    assert ticket.state.value == "queued"
    with env.db.reader.begin() as conn:
        audit = conn.execute(select(AUDIT.c.to_state, AUDIT.c.actor)
                             .where(AUDIT.c.ticket_id == ticket.id).order_by(AUDIT.c.id)).all()
    assert [a.to_state for a in audit] == ["submitted", "verified", "queued"], audit
    assert audit[0].actor == f"producer:{env.producer}"


def _sdk_event() -> CloudEvent:
    event = request(source=SOURCE)
    return CloudEvent({"type": REQUEST_SUBMITTED_V1, "source": SOURCE, "id": event["id"],
                       "datacontenttype": "application/json"}, event["data"])


def test_every_content_mode_becomes_a_queued_ticket_with_its_audit_trail(env: Env, running) -> None:
    running()
    sent = [request(source=SOURCE) for _ in range(2)]
    with RequestPublisher(env.producer_url) as publisher:
        publisher.publish_request(sent[0], mode="structured")
        publisher.publish_request(sent[1], mode="binary")
    for convert in (ce_rabbitmq.to_binary, ce_rabbitmq.to_structured):
        sdk_event = _sdk_event()
        message = convert(sdk_event, JSONFormat())
        env.publish_raw(message.body, content_type=message.content_type, headers=message.headers,
                        user_id=env.producer, message_id=sdk_event.get_id())
        sent.append({"source": SOURCE, "id": sdk_event.get_id()})
    for event in sent:
        _queued_with_audit(env, env.done(event))
    assert env.count(TICKET) == 4


def test_the_same_message_twice_makes_one_ticket(env: Env, running) -> None:
    running()
    event = request(source=SOURCE)
    with RequestPublisher(env.producer_url) as publisher:
        publisher.publish_request(event, mode="structured")
        publisher.publish_request(event, mode="binary")
    env.done(event)
    wait_for("both copies acked", lambda: env.rabbit.depth(FAST.name) == 0)
    time.sleep(0.5)
    assert env.count(TICKET) == 1
    assert env.rabbit.depth(FAST.dlq_name) == 0


def test_refused_messages_are_dead_lettered_with_their_reason_and_consuming_goes_on(
        env: Env, running) -> None:
    running()
    admin = env.rabbit.admin_url
    env.publish_raw(b"{not json", content_type="application/cloudevents+json",
                    user_id=env.producer, message_id="poison-1")
    good = request(source=SOURCE)
    env.publish_raw(json.dumps(good).encode(), url=admin,  # no user_id: who sent it?
                    content_type="application/cloudevents+json")
    env.publish_raw(json.dumps(request(source="urn:someone-else")).encode(),
                    content_type="application/cloudevents+json", user_id=env.producer)
    codes = {}
    for _ in range(3):
        props, body = env.rabbit.get(FAST.dlq_name)
        headers = props.headers
        assert headers[retry.QUEUE] == FAST.name and headers[retry.DEAD_AT]
        codes[headers[retry.ERROR_CODE]] = (headers[retry.REASON], body)
    assert set(codes) == {"not_json", "missing_user_id", "wrong_source"}
    assert codes["not_json"][1] == b"{not json"  # the message as it came, for a replay
    assert "user_id" in codes["missing_user_id"][0]
    with RequestPublisher(env.producer_url) as publisher:
        publisher.publish_request(good)
    _queued_with_audit(env, env.done(good))
    assert env.rabbit.depth(FAST.name) == 0


def _gaps(calls: list[float]) -> list[float]:
    return [round(b - a, 2) for a, b in itertools.pairwise(calls)]


def test_transient_failures_are_retried_after_the_configured_delays_across_a_restart(
        env: Env, running) -> None:
    verifier = FlakyVerifier(failures=2)
    first = running(env.handler(verifier))
    event = request(source=SOURCE)
    with RequestPublisher(env.producer_url) as publisher:
        publisher.publish_request(event)
    wait_for("the first failure", lambda: verifier.calls)
    wait_for("the retry copy", lambda: env.rabbit.depth(FAST.retry_key(1)) == 1)
    first.stop()  # the message now lives in the retry queue only
    running(env.handler(verifier))
    _queued_with_audit(env, env.done(event))
    gaps = _gaps(verifier.calls)
    print("measured retry delays (configured 1 s, 2 s):", gaps)
    assert len(gaps) == 2
    assert 0.9 <= gaps[0] <= 1.8 and 1.9 <= gaps[1] <= 2.8, gaps
    assert env.count(TICKET) == 1


def test_a_message_failing_every_time_is_dead_lettered_after_the_limit(env: Env, running) -> None:
    verifier = FlakyVerifier(failures=99)
    running(env.handler(verifier))
    event = request(source=SOURCE)
    with RequestPublisher(env.producer_url) as publisher:
        publisher.publish_request(event)
    props, _ = env.rabbit.get(FAST.dlq_name, timeout=15)
    assert len(verifier.calls) == 3  # the first attempt and one per configured delay
    assert props.headers[retry.ERROR_CODE] == "retries_exhausted"
    assert "gave up after 3 attempts" in props.headers[retry.REASON]
    assert "provider down" in props.headers[retry.REASON]
    assert retry.retries_so_far(props.headers, FAST) == 2
    assert props.user_id == env.producer  # kept through the retries
    status = env.status(event)
    assert status is not None and status.status == "dead"
    assert env.count(TICKET) == 0

    verifier.failures = 0  # the provider is back
    body = json.dumps(event).encode()
    again = dict(content_type="application/cloudevents+json", user_id=env.producer)
    env.publish_raw(body, **again)  # the producer sends it again: still dead, and says why
    props, _ = env.rabbit.get(FAST.dlq_name)
    assert props.headers[retry.ERROR_CODE] == "dead_before"
    assert "gave up after 3 attempts" in props.headers[retry.REASON]
    # a replay header that names no replayed dead letter is refused, even from an operator
    env.publish_raw(body, url=env.rabbit.consumer_url, headers={"x-resetdesk-replay-of": 1},
                    **again)
    props, _ = env.rabbit.get(FAST.dlq_name)
    assert props.headers[retry.ERROR_CODE] == "forged"
    # an operator replays the archived dead letter (`resetdesk dlq replay`)
    dead_letters.archive(env.db, queue=FAST.name, body=body, headers={}, properties={
        "user_id": env.producer, "content_type": "application/cloudevents+json"},
        reason="gave up", message_id=event["id"], event_type=REQUEST_SUBMITTED_V1,
        content_type="application/cloudevents+json", dead_at=None, now=SystemClock().now())
    [letter] = dead_letters.list_dead_letters(env.db)
    dead_letters.replay(env.db, letter.id, republish=AmqpRepublisher(env.rabbit.consumer_url),
                        actor="agent:ops", why="provider back", now=SystemClock().now())
    _queued_with_audit(env, env.done(event))


def test_a_slow_handler_keeps_the_connection_through_missed_heartbeat_intervals(
        env: Env, running) -> None:
    r = running(env.handler(slow=8), heartbeat=2)  # a mute peer is cut after ~6 s
    event = request(source=SOURCE)
    with RequestPublisher(env.producer_url) as publisher:
        publisher.publish_request(event)
    env.done(event)
    wait_for("the ack", lambda: env.rabbit.depth(FAST.name) == 0)
    assert r.consumer is not None and r.consumer.connections == 1


def test_a_dropped_connection_is_reopened_and_consuming_resumes(env: Env, running) -> None:
    r = running()
    services.rabbitmqctl("close_all_connections", "-p", env.rabbit.vhost, "test: drop")
    wait_for("a second connection", lambda: r.consumer and r.consumer.connections >= 2)
    event = request(source=SOURCE)
    with RequestPublisher(env.producer_url) as publisher:
        publisher.publish_request(event)
    _queued_with_audit(env, env.done(event))


def test_stop_finishes_the_message_in_progress_within_the_grace_period(env: Env, running) -> None:
    r = running(env.handler(slow=1.5), grace=10)
    event = request(source=SOURCE)
    with RequestPublisher(env.producer_url) as publisher:
        publisher.publish_request(event)
    time.sleep(0.5)
    r.stop()
    assert env.status(event).status == "done"  # type: ignore[union-attr]
    assert env.rabbit.depth(FAST.name) == 0


def test_stop_returns_a_message_that_cannot_finish_within_the_grace_period(
        env: Env, running) -> None:
    r = running(env.handler(slow=3), grace=0.5)
    event = request(source=SOURCE)
    with RequestPublisher(env.producer_url) as publisher:
        publisher.publish_request(event)
    time.sleep(0.5)
    r.stop()
    assert env.rabbit.depth(FAST.name) == 1  # back in the queue for the next consumer


@dataclass
class ScriptedNotifier:
    errors: list[Exception]
    seen: list[str] = field(default_factory=list)

    def handle(self, envelope: dict[str, Any]) -> str:
        self.seen.append(envelope["id"])
        if self.errors:
            raise self.errors.pop(0)
        return "sent"


def _notification(event_id: str) -> bytes:
    return json.dumps({"specversion": "1.0", "id": event_id, "source": "urn:resetdesk",
                       "type": NOTIFICATION_EMAIL_V1, "subject": "t1",
                       "data": {"ticket_id": "t1", "template": "acknowledgement",
                                "language": "en", "context": {}}}).encode()


def test_notifications_retry_transient_failures_and_dead_letter_permanent_ones(
        env: Env, running) -> None:
    notifier = ScriptedNotifier([NotificationFailed("SMTP server answered 451", transient=True),
                                 NotificationFailed("recipient refused: SMTP 550", transient=False)])
    running(NotificationConsumer(notifier), queue=FAST_NOTIFY)
    for event_id in ("n-1", "n-2"):
        env.publish_raw(_notification(event_id), url=env.rabbit.admin_url,
                        exchange="resetdesk.events", routing_key=NOTIFICATION_EMAIL_V1,
                        content_type="application/cloudevents+json", message_id=event_id)
    props, _ = env.rabbit.get(FAST_NOTIFY.dlq_name)
    assert "550" in props.headers[retry.REASON]
    assert props.headers[retry.ERROR_CODE] == "notification_failed"
    wait_for("the retried notification", lambda: notifier.seen.count("n-1") == 2 or
             notifier.seen.count("n-2") == 2)
    assert sorted(notifier.seen) == ["n-1", "n-1", "n-2"] or sorted(notifier.seen) == [
        "n-1", "n-2", "n-2"]


def test_retries_are_counted_from_this_consumers_retry_queues_only() -> None:
    deaths = [{"queue": "verification.retry.2s", "reason": "expired", "count": 1},
              {"queue": "verification.retry.1s", "reason": "expired", "count": 2},
              {"queue": "verification", "reason": "delivery_limit", "count": 1},
              {"queue": "notifications.retry.1s", "reason": "expired", "count": 5}]
    assert retry.retries_so_far({"x-death": deaths}, VERIFICATION) == 3
    assert retry.retries_so_far({}, VERIFICATION) == 0
    assert retry.next_delay(FAST, 0) == 1 and retry.next_delay(FAST, 2) is None


def consumer_child(broker_url: str, db_url: str) -> None:
    """``consume_main`` as ``resetdesk consume verification`` runs it (in a subprocess)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    db = open_database(db_url)

    class SlowVerifier:
        single_use = True

        def verify(self, token: str, remote_ip: str | None) -> HumanCheckResult:
            print("verifying", flush=True)
            time.sleep(2)
            return LocalVerifier().verify(token, remote_ip)

    config = ConsumerConfig(broker_url=broker_url, prefetch=4, heartbeat=5, workers=1,
                            system_user=None, retry=RetryPolicy(3, (1.0, 2.0)))
    handler = RequestHandler(db=db, uow=lambda: SqlUnitOfWork(db), clock=SystemClock(),
                             rules=RULES, verifier=SlowVerifier(), retry=RetryPolicy(5, (1,)))
    consume_main(SimpleNamespace(consumer_config=lambda: config, request_handler=handler,
                                 subscribers=lambda: []), "verification")
    print("stopped", flush=True)


def test_sigterm_stops_consume_main_after_the_message_in_progress_is_acked(
        env: Env, pg_url: str) -> None:
    code = (f"from tests.integration.test_amqp_consumers import consumer_child; "
            f"consumer_child({env.rabbit.consumer_url!r}, {pg_url!r})")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(child.stdout.readline, "")),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    try:
        wait_for("the child to consume", lambda: any("consuming" in x for x in lines), 20)
        event = request(source=SOURCE)
        with RequestPublisher(env.producer_url) as publisher:
            publisher.publish_request(event)
        wait_for("the handler to start", lambda: "verifying\n" in lines)
        child.send_signal(signal.SIGTERM)
        assert child.wait(15) == 0, "".join(lines)
    finally:
        if child.poll() is None:
            child.kill()
    reader.join(5)
    assert "stopped\n" in lines, "".join(lines)
    assert env.status(event).status == "done"  # type: ignore[union-attr]
    assert env.rabbit.depth(FAST.name) == 0
