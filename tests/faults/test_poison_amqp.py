"""Poison messages over the real RabbitMQ and PostgreSQL: every consumer (verification,
notifications, escalation) and the dead-letter archiver, running as in production (in-process
threads), meet messages whose content used to break the connection loop — an empty body, a
``content_encoding``, a JSON body nested 100,000 deep, a header table nested 3,000 deep and as
deep as one frame holds, a 100 KiB header, a wrong content type, a body that is not UTF-8. Each
must end in the dead-letter archive with a reason within seconds, without one reconnect, while
200 valid requests published around them all become tickets."""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import amqp
import pytest
from kombu.connection import Connection
from sqlalchemy import func, select

from consumers.amqp.consumer import AmqpConsumer, MessageHandler, run_consumer
from consumers.amqp.dlq import run_archiver
from consumers.amqp.headers import REMOVED_HEADER
from consumers.amqp.notifications import NotificationConsumer
from consumers.amqp.requests import VerificationConsumer
from consumers.escalation import EscalationHandler
from consumers.mail_folder import MailFolderNotifier
from consumers.request_handling import RequestHandler
from consumers.topology import (
    DLX,
    ESCALATION,
    EVENTS,
    NOTIFICATIONS,
    REQUESTS,
    VERIFICATION,
    ConsumerQueue,
    declare_all,
)
from schemas.client import RequestPublisher
from schemas.events_v1 import NOTIFICATION_EMAIL_V1, SLA_BREACHED_V1
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from tests import services
from tests.e2e.requests import request
from tests.rabbit import Rabbit
from tests.waiting import wait_for
from workflow.adapters import accounts, dead_letters
from workflow.adapters.db import Database, open_database
from workflow.adapters.human_check import LocalVerifier
from workflow.adapters.rules_file import load_rule_book
from workflow.adapters.tables import TICKET
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.retry import RetryPolicy
from workflow.service.bus import HandlerContext
from workflow.service.command_handlers import build_bus
from workflow.service.ports import SystemClock

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]

SOURCE = "urn:test:poison-form"
VER = replace(VERIFICATION, retry_delays=(1,))
NOTE = replace(NOTIFICATIONS, retry_delays=(1,))
ESC = replace(ESCALATION, retry_delays=(1,))
QUEUES = (VER, NOTE, ESC)
VALID = 200
CE_JSON = "application/cloudevents+json"
NOT_UTF8 = {"$bytes": base64.b64encode(b"\xff\xfe").decode()}  # see poison_publish.py


def nested_arrays(levels: int) -> dict[str, int]:
    """``levels`` arrays, each holding the next, innermost empty (5 bytes a level): built by
    :mod:`tests.faults.poison_publish` in its own process."""
    return {"$nested": levels}


def deepest_in_one_frame(frame_max: int, props: dict[str, Any]) -> int:
    """Arrays one content-header frame holds beside the other ``props``, under one empty key:
    the frame's payload (frame_max - 8) holds class, weight and body size (12 bytes), then the
    properties; each array level costs 5 bytes."""
    one = amqp.Message(b"", **{**props, "application_headers": {"": []}})  # one level
    room = frame_max - 8 - 12 - len(one._serialize_properties())
    return 1 + room // 5


def with_deepest_header(frame_max: int, props: dict[str, Any]) -> dict[str, Any]:
    levels = deepest_in_one_frame(frame_max, props)
    return {**props, "application_headers": {"": nested_arrays(levels)}}


@dataclass(frozen=True)
class Poison:
    kind: str
    body: bytes
    props: dict[str, Any]
    #: the error code the consumer must give ("" = whatever the contract says, with a reason)
    code: str = ""


def poison_kinds(event: dict[str, Any]) -> list[Poison]:
    valid = json.dumps(event).encode()
    return [
        Poison("empty-body", b"", {"content_type": CE_JSON}),
        Poison("gzip", valid, {"content_type": CE_JSON, "content_encoding": "gzip"}, "invalid"),
        Poison("deep-json", b"[" * 100_000 + b"]" * 100_000, {"content_type": CE_JSON}),
        Poison("deep-header-3000", valid, {"content_type": CE_JSON,
                                           "application_headers": {"x-deep": nested_arrays(3000)}},
               "invalid"),
        Poison("deep-header-frame", valid, {"content_type": CE_JSON}, "invalid"),  # see fit()
        Poison("huge-header", valid, {"content_type": CE_JSON,
                                      "application_headers": {"x-huge": "h" * 100 * 1024}},
               "invalid"),
        Poison("wrong-content-type", b"hello, not an event", {"content_type": "text/plain"}),
        Poison("not-utf8", b'{"id": "\xff\xfe"}', {"content_type": CE_JSON}),
        Poison("property-not-utf8", valid, {"content_type": CE_JSON, "app_id": NOT_UTF8},
               "invalid"),
        Poison("utf8-declared-not-utf8", b'{"id": "\xff"}',
               {"content_type": CE_JSON, "content_encoding": "utf-8"}, "invalid"),
    ]


def publish_poison(url: str, messages: list[tuple[str, str, bytes, dict[str, Any]]]) -> None:
    """Publish with py-amqp (confirmed, mandatory) from another process: see
    tests/faults/poison_publish.py for why."""
    spec = [{"exchange": e, "key": k, "body_b64": base64.b64encode(b).decode(), "props": p}
            for e, k, b, p in messages]
    done = subprocess.run([sys.executable, "-m", "tests.faults.poison_publish", url],
                          input=json.dumps(spec), text=True, capture_output=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]


@dataclass
class Desk:
    rabbit: Rabbit
    db: Database
    producer: str
    password: str
    consumers: dict[str, AmqpConsumer] = field(default_factory=dict)
    archiver_connections: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def producer_url(self) -> str:
        return self.rabbit.url(self.producer, self.password)

    def start_consumer(self, queue: ConsumerQueue, handler: MessageHandler) -> None:
        def on_start(consumer: AmqpConsumer) -> None:
            self.consumers[queue.name] = consumer

        thread = threading.Thread(target=run_consumer, args=(queue,), kwargs=dict(
            broker_url=self.rabbit.consumer_url, handler_factory=lambda: handler, prefetch=10,
            heartbeat=10, stop_event=self.stop, grace_seconds=5, workers=2, on_start=on_start),
            daemon=True)
        thread.start()
        self.threads.append(thread)
        wait_for(f"consumer {queue.name} to connect",
                 lambda: queue.name in self.consumers and self.consumers[queue.name].connections,
                 timeout=10)

    def start_archiver(self) -> None:
        thread = threading.Thread(target=run_archiver, kwargs=dict(
            db=self.db, broker_url=self.rabbit.admin_url, stop_event=self.stop, queues=list(QUEUES),
            timeout=5.0, on_connect=lambda: self.archiver_connections.append(time.monotonic())),
            daemon=True)
        thread.start()
        self.threads.append(thread)
        wait_for("the archiver to connect", lambda: self.archiver_connections, timeout=10)

    def tickets(self) -> int:
        with self.db.reader.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(TICKET)).scalar_one())

    def letters(self) -> dict[str, dead_letters.DeadLetter]:
        return {str(d.message_id): d for d in dead_letters.list_dead_letters(self.db, limit=500)}


@pytest.fixture(scope="module")
def rabbit() -> Iterator[Rabbit]:
    """A vhost and users of this module's own (tests.rabbit's session fixture, imported by a
    second module, would be set up twice under the same names)."""
    services.require_rabbitmq()
    with services.temporary_vhost(f"rd_{services.RUN_ID}_poison") as vhost:
        made = Rabbit(vhost, f"rd_{services.RUN_ID}_poison_consumer", "")
        try:
            made.consumer_password = made.add_user("poison_consumer", tags="impersonator",
                                                   configure=".*", write=".*", read=".*")
            yield made
        finally:
            for user in made.users:
                services.rabbitmqctl("delete_user", user, check=False)


@pytest.fixture
def desk(rabbit: Rabbit, pg_url: str, tmp_path: Path) -> Iterator[Desk]:
    with Connection(rabbit.admin_url) as conn:
        declare_all(conn, list(QUEUES))
    rabbit.purge(*(name for q in QUEUES
                   for name in (q.name, q.dlq_name, *(r.name for r in q.retry_queues()))))
    db = open_database(pg_url)
    user, password = rabbit.producer("poison_form")
    accounts.add_producer(db, user, SOURCE)
    made = Desk(rabbit, db, user, password)
    made.start_consumer(VER, VerificationConsumer(RequestHandler(
        db=db, uow=lambda: SqlUnitOfWork(db), clock=SystemClock(), rules=load_rule_book(),
        verifier=LocalVerifier(), retry=RetryPolicy(2, (1,)))))
    made.start_consumer(NOTE, NotificationConsumer(MailFolderNotifier(
        db, tmp_path / "mail", sender="desk@example.com", public_url="http://desk.test")))
    made.start_consumer(ESC, NotificationConsumer(EscalationHandler(build_bus(HandlerContext(
        uow=lambda: SqlUnitOfWork(db), clock=SystemClock())))))
    made.start_archiver()
    yield made
    made.stop.set()
    for thread in made.threads:
        thread.join(15)
    assert not any(t.is_alive() for t in made.threads), "a consumer or the archiver did not stop"
    db.dispose()


def _event_for(queue: ConsumerQueue, n: int) -> dict[str, Any]:
    if queue is VER:
        return request(source=SOURCE)
    etype = NOTIFICATION_EMAIL_V1 if queue is NOTE else SLA_BREACHED_V1
    return {"specversion": "1.0", "id": f"ev-{n}", "source": "urn:resetdesk", "type": etype,
            "subject": "t-none", "data": {"ticket_id": "t-none", "template": "acknowledgement",
                                          "language": "en", "context": {}}}


def test_poison_on_every_consumer_is_dead_lettered_with_a_reason_without_a_reconnect(
        desk: Desk) -> None:
    started = time.monotonic()
    with amqp.Connection(host=f"{services.AMQP_HOST}:{services.AMQP_PORT}", userid="guest",
                         password="guest", virtual_host=desk.rabbit.vhost) as probe:
        frame_max = probe.frame_max

    deepest: list[int] = []

    def fit(p: Poison, props: dict[str, Any]) -> dict[str, Any]:
        if p.kind != "deep-header-frame":
            return props
        deepest.append(deepest_in_one_frame(frame_max, props))
        return with_deepest_header(frame_max, props)
    counter = itertools.count()
    expected: dict[str, Poison] = {}
    by_producer: list[tuple[str, str, bytes, dict[str, Any]]] = []
    by_relay: list[tuple[str, str, bytes, dict[str, Any]]] = []
    for queue in QUEUES:
        for p in poison_kinds(_event_for(queue, next(counter))):
            message_id = f"poison-{queue.name}-{p.kind}"
            expected[message_id] = p
            props = {**p.props, "message_id": message_id}
            if queue is VER:  # a real producer user, as a form would publish
                by_producer.append((REQUESTS.name, REQUEST_SUBMITTED_V1, p.body,
                                    fit(p, {**props, "user_id": desk.producer})))
            else:  # events come from the relay: the consumers' exchange, the event type as key
                by_relay.append((EVENTS.name, queue.routing_keys[0], p.body, fit(p, props)))
    archive_only = [Poison(p.kind, p.body, p.props) for p in poison_kinds(_event_for(
        VER, 0)) if p.kind in {"empty-body", "gzip", "deep-json", "deep-header-frame",
                               "huge-header", "not-utf8", "property-not-utf8"}]
    archive_only.append(Poison("nul-and-bytes-headers", b"{}", {"application_headers": {
        "x-nul": "a\x00b", "x-bytes": NOT_UTF8,
        "x-table": {"k": [1, 2.5, None, True]}}}))
    to_dlx = []
    for p in archive_only:
        message_id = f"dlx-{p.kind}"
        expected[message_id] = p
        to_dlx.append((DLX.name, VER.name, p.body, fit(p, {**p.props, "message_id": message_id})))


    valid = [request(source=SOURCE) for _ in range(VALID)]
    utf8_declared = request(source=SOURCE)
    with RequestPublisher(desk.producer_url) as publisher:
        for event in valid[: VALID // 2]:
            publisher.publish_request(event)
        # a quorum queue takes ~2.5 s to confirm a table nested ~26,000 deep (measured)
        publish_poison(desk.producer_url, by_producer)
        publish_poison(desk.rabbit.admin_url, by_relay + to_dlx)
        publish_poison(desk.producer_url, [(REQUESTS.name, REQUEST_SUBMITTED_V1,
                                          json.dumps(utf8_declared).encode(),
                                          {"content_type": CE_JSON, "content_encoding": "utf-8",
                                           "user_id": desk.producer, "message_id": "utf8"})])
        for event in valid[VALID // 2:]:
            publisher.publish_request(event)
    published = time.monotonic()

    wait_for(f"{VALID + 1} tickets", lambda: desk.tickets() >= VALID + 1, timeout=60)
    letters = wait_for(f"{len(expected)} dead letters archived",
                       lambda: (got := desk.letters()).keys() >= expected.keys() and got,
                       timeout=30)
    settled = time.monotonic()

    missing_reason = [mid for mid in expected if not letters[mid].reason]
    assert not missing_reason, missing_reason
    for mid, p in expected.items():
        letter = letters[mid]
        if mid.startswith("poison-"):
            code = letter.headers.get("x-resetdesk-error-code")
            assert code, (mid, letter.reason)
            if p.code:
                assert code == p.code, (mid, code, letter.reason)
        if "header" in p.kind and "nul" not in p.kind:
            assert REMOVED_HEADER in letter.headers, (mid, letter.headers.keys())
            assert not {"x-deep", "", "x-huge"} & letter.headers.keys(), mid
        assert letter.body == p.body, mid  # the message as it came, for a replay
    assert "unsupported content-encoding 'gzip'" in letters["poison-verification-gzip"].reason
    assert "nested 3000 deep" in letters["poison-notifications-deep-header-3000"].reason
    assert "nested too deeply" in letters["poison-escalation-deep-json"].reason
    nul = letters["dlx-nul-and-bytes-headers"].headers
    assert nul["x-nul"] == "a\x00b" and nul["x-table"] == {"k": [1, 2.5, None, True]}
    assert nul["x-bytes"] == NOT_UTF8  # as the archive tags bytes
    assert letters["dlx-property-not-utf8"].properties["app_id"] == NOT_UTF8
    assert "app_id not UTF-8" in letters["poison-verification-property-not-utf8"].reason
    assert letters["dlx-deep-header-frame"].reason  # no reason header: "unknown: …", still one

    unexpected = {mid: d.reason for mid, d in letters.items() if mid not in expected}
    assert not unexpected, unexpected  # no valid request was dead-lettered
    assert desk.tickets() == VALID + 1
    reconnects = {name: c.reconnects for name, c in desk.consumers.items()}
    assert reconnects == {"verification": 0, "notifications": 0, "escalation": 0}
    assert len(desk.archiver_connections) == 1
    for q in QUEUES:
        assert desk.rabbit.depth(q.name) == 0 and desk.rabbit.depth(q.dlq_name) == 0
    print(f"\npoison: {len(expected)} dead-lettered with reasons ({len(expected) - len(to_dlx)} "
          f"by 3 consumers, {len(to_dlx)} straight to the archiver), {desk.tickets() - 1}/{VALID} "
          f"valid -> tickets (+1 sent with content_encoding utf-8), reconnects={reconnects}, "
          f"archiver connections={len(desk.archiver_connections)}, deepest header "
          f"{min(deepest)}-{max(deepest)} levels (frame_max {frame_max}); published in "
          f"{published - started:.1f} s, settled {settled - published:.1f} s later")
