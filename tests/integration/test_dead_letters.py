"""Dead letters on the real RabbitMQ (a vhost per module) and the test databases: archived once,
listed and shown without personal data, replayed (confirmed, with the producer's user_id) or
discarded, both audited; with the dead-letter queue unbound, at-least-once dead-lettering keeps
the message in its source queue until the binding is back."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kombu.connection import Connection
from sqlalchemy import select
from typer.testing import CliRunner

from consumers.amqp.confirms import ConfirmingPublisher, Outgoing, PublishError
from consumers.amqp.dlq import (
    DEAD_AT_HEADER,
    REASON_HEADER,
    REPLAY_HEADER,
    AmqpRepublisher,
    archive_message,
    run_archiver,
)
from consumers.topology import DLX, REQUESTS, VERIFICATION, ConsumerQueue, declare_all
from resetdesk.cli_dlq import dlq
from schemas.events_v1 import NOTIFICATION_EMAIL_V1
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from schemas.sample import sample_export, sample_request, sample_request_data
from tests import services
from tests.factories import make_ticket
from tests.integration.test_relay import amqp_url, consume_all
from workflow.adapters import dead_letters
from workflow.adapters.db import Database, open_database
from workflow.adapters.tables import AUDIT, DEAD_LETTER
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.errors import NotFound

NOW = datetime(2026, 11, 25, 18, 30, tzinfo=UTC)
PASSWORD = "dlq-test-" + secrets.token_hex(6)
TAG = secrets.token_hex(3).upper()
PERSONAL = (f"Dana Whit{TAG}", f"dana.{TAG.lower()}@example.com", f"+1503555{TAG[:4]}",
            f"Cascade {TAG} LLC", f"Seller {TAG}", f"DS-7608NI-I2/8P0820200115CCRR{TAG}WCVU",
            f"note {TAG}", f"token-{TAG}")


# --- broker fixtures ----------------------------------------------------------------------------


def _need_rabbitmq() -> None:
    services.require_rabbitmq()


def _new_vhost(prefix: str, users: tuple[str, ...] = ()) -> str:
    name = f"{prefix}_{services.RUN_ID}_{uuid.uuid4().hex[:6]}"
    services.rabbitmqctl("add_vhost", name)
    for user in ("guest", *users):
        services.rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
    with Connection(amqp_url(name)) as conn:
        declare_all(conn)
    return name


@pytest.fixture(scope="module")
def users() -> Iterator[dict[str, str]]:
    """An ops user with the impersonator tag and one without."""
    _need_rabbitmq()
    made = {"ops": f"rd_ops_{services.RUN_ID}", "plain": f"rd_plain_{services.RUN_ID}"}
    try:
        for user in made.values():
            services.rabbitmqctl("add_user", user, PASSWORD)
        services.rabbitmqctl("set_user_tags", made["ops"], "impersonator")
        yield made
    finally:
        for user in made.values():
            services.rabbitmqctl("delete_user", user, check=False)


@pytest.fixture(scope="module")
def vhost(users: dict[str, str]) -> Iterator[str]:
    name = _new_vhost("rd_dlq", tuple(users.values()))
    try:
        yield name
    finally:
        services.rabbitmqctl("delete_vhost", name, check=False)


@pytest.fixture
def url(vhost: str) -> str:
    with Connection(amqp_url(vhost)) as conn:
        for q in (VERIFICATION.name, VERIFICATION.dlq_name):
            conn.default_channel.queue_purge(q)
    return amqp_url(vhost)


def user_url(vhost: str, user: str) -> str:
    return amqp_url(vhost).replace("guest:guest@", f"{user}:{PASSWORD}@")


def publish(url: str, exchange: str, key: str, body: bytes, **props: Any) -> None:
    props.setdefault("delivery_mode", 2)
    with ConfirmingPublisher(url, timeout=5) as publisher:
        assert publisher.publish([Outgoing(exchange, key, body, props)]).all_confirmed


def personal_request(**overrides: Any) -> dict[str, Any]:
    name, email, phone, company, seller, serial, note, token = PERSONAL
    data = sample_request_data(
        requester__name=name, requester__email=email, requester__phone=phone,
        requester__company=company, requester__purchased_from=seller,
        device__serial_number=serial, note=note, human_check_token=token,
        export=sample_export("xml"))
    return sample_request(data=data, **overrides)


def dead_letter_from_consumer(url: str, event: dict[str, Any], reason: str) -> bytes:
    """What a consumer publishes when it gives up: the message, with our reason headers."""
    body = json.dumps(event).encode()
    publish(url, DLX.name, VERIFICATION.name, body, content_type="application/cloudevents+json",
            message_id=event["id"], user_id="guest",
            application_headers={REASON_HEADER: reason, DEAD_AT_HEADER: NOW.isoformat(),
                                 "x-resetdesk-error-code": "contract"})
    return body


def archive_until(db: Database, url: str, count: int, queues: list[ConsumerQueue] | None = None,
                  timeout: float = 20) -> list[dead_letters.DeadLetter]:
    stop = threading.Event()
    thread = threading.Thread(target=run_archiver, kwargs={
        "db": db, "broker_url": url, "stop_event": stop, "queues": queues or [VERIFICATION],
        "timeout": 5.0, "clock": lambda: NOW})
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            letters = dead_letters.list_dead_letters(db)
            if len(letters) >= count:
                time.sleep(0.3)  # a duplicate, were it to come, comes now
                return dead_letters.list_dead_letters(db)
            time.sleep(0.05)
        return dead_letters.list_dead_letters(db)
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive()


def queue_depth(url: str, queue: str) -> int:
    with Connection(url) as conn:
        return int(conn.default_channel.queue_declare(queue, passive=True).message_count)


def audit_rows(db: Database) -> list[Any]:
    with db.reader.begin() as conn:
        return list(conn.execute(select(AUDIT).order_by(AUDIT.c.id)).all())


# --- archiving ----------------------------------------------------------------------------------


@pytest.mark.rabbitmq
def test_a_dead_letter_is_archived_once_even_when_redelivered(db: Database, url: str) -> None:
    event = personal_request()
    body = dead_letter_from_consumer(url, event, "contract: data.device.serial_number too short")

    # the archiver committed, then died before its ack: the queue delivers the message again
    with Connection(url) as conn:
        ch = conn.default_channel
        message = None
        while message is None:
            message = ch.basic_get(VERIFICATION.dlq_name)
        assert archive_message(db, VERIFICATION.name, message, now=NOW)
    [letter] = archive_until(db, url, 1)
    assert queue_depth(url, VERIFICATION.dlq_name) == 0, "acked after the (no-op) insert"

    assert (letter.queue, letter.status, letter.event_type, letter.message_id) == (
        "verification", "dead", REQUEST_SUBMITTED_V1, event["id"])
    assert letter.reason == "contract: data.device.serial_number too short"
    assert letter.dead_at == NOW
    assert letter.body == body
    assert letter.properties["user_id"] == "guest"
    assert "x-delivery-count" not in letter.headers


def test_list_filters_by_queue_and_status_newest_first(db: Database) -> None:
    for i, queue in enumerate(("verification", "notifications", "verification")):
        assert dead_letters.archive(db, queue=queue, body=f"m{i}".encode(), headers={},
                                    properties={}, reason="rejected", message_id=None,
                                    event_type=None, content_type=None, dead_at=None, now=NOW)
    assert not dead_letters.archive(db, queue="verification", body=b"m0", headers={},
                                    properties={}, reason="again", message_id=None,
                                    event_type=None, content_type=None, dead_at=None, now=NOW)
    newest = dead_letters.list_dead_letters(db)
    assert [r.body for r in newest] == [b"m2", b"m1", b"m0"]
    assert [r.body for r in dead_letters.list_dead_letters(db, queue="verification")] == [b"m2", b"m0"]
    dead_letters.discard(db, newest[0].id, actor="system:ops:root", why="test data", now=NOW)
    assert [r.body for r in dead_letters.list_dead_letters(db, status="dead")] == [b"m1", b"m0"]
    assert [r.body for r in dead_letters.list_dead_letters(db, status="discarded")] == [b"m2"]
    with pytest.raises(ValueError, match="unknown status"):
        dead_letters.list_dead_letters(db, status="gone")


def _archive(db: Database, body: bytes, *, content_type: str | None, headers: dict[str, Any],
             queue: str = "verification", event_type: str | None = REQUEST_SUBMITTED_V1) -> int:
    assert dead_letters.archive(db, queue=queue, body=body, headers=headers, properties={},
                                reason="contract: bad", message_id="m", event_type=event_type,
                                content_type=content_type, dead_at=NOW, now=NOW)
    return dead_letters.list_dead_letters(db, limit=1)[0].id


def test_show_masks_personal_data_in_structured_binary_and_opaque_bodies(db: Database,
                                                                        monkeypatch: Any) -> None:
    event = personal_request(subject="form-4711")
    structured = _archive(db, json.dumps(event).encode(),
                          content_type="application/cloudevents+json", headers={})
    binary = _archive(db, json.dumps(event["data"]).encode(), content_type="application/json",
                      headers={"ce-id": event["id"], "ce-type": event["type"]})
    opaque = _archive(db, f"<not json {PERSONAL[0]}>".encode(), content_type="text/plain",
                      headers={})

    shown = dead_letters.show(db, structured)
    text = json.dumps(shown)
    for secret in (*PERSONAL, sample_export("xml")["content_base64"]):
        assert secret not in text
    data = shown["payload"]["event"]["data"]
    assert data["requester"]["country"] == "US"
    assert data["requester"]["email"] == dead_letters.MASK
    assert data["device"]["model_number"] == "DS-7608NI-I2/8P"
    assert data["export"]["content_base64"] == dead_letters.MASK
    assert shown["payload"]["event"]["id"] == event["id"]

    shown_binary = dead_letters.show(db, binary)
    assert shown_binary["payload"]["mode"] == "binary"
    assert not any(s in json.dumps(shown_binary) for s in PERSONAL)
    shown_opaque = dead_letters.show(db, opaque)
    assert shown_opaque["payload"]["mode"] == "opaque"
    assert set(shown_opaque["payload"]) == {"mode", "length", "sha256"}
    assert PERSONAL[0] not in json.dumps(shown_opaque)

    monkeypatch.setenv("RESETDESK_DATABASE_URL", db.url)
    result = CliRunner().invoke(dlq, ["show", str(structured)])
    assert result.exit_code == 0, result.output
    assert "form-4711" in result.output and not any(s in result.output for s in PERSONAL)
    listed = CliRunner().invoke(dlq, ["list", "--json", "--queue", "verification"])
    assert [r["id"] for r in json.loads(listed.stdout)] == [opaque, binary, structured]
    with pytest.raises(NotFound):
        dead_letters.show(db, 999_999)


# --- replay and discard -------------------------------------------------------------------------


@pytest.mark.rabbitmq
def test_replay_republishes_the_original_once_with_its_user_id_and_is_audited(
        db: Database, url: str, vhost: str, users: dict[str, str]) -> None:
    event = personal_request()
    body = dead_letter_from_consumer(url, event, "verification failed 5 times")
    [letter] = archive_until(db, url, 1)

    replayed = dead_letters.replay(
        db, letter.id, republish=AmqpRepublisher(user_url(vhost, users["ops"])),
        actor="agent:alice", why="serial rules fixed in 1.4.2", now=NOW)

    [message] = consume_all(url, VERIFICATION.name, idle=0.5)
    assert message.body == body
    assert message.delivery_info["exchange"] == REQUESTS.name
    assert message.delivery_info["routing_key"] == REQUEST_SUBMITTED_V1
    assert message.properties["user_id"] == "guest", "the producer's, kept (impersonator tag)"
    assert message.properties["message_id"] == event["id"]
    assert message.properties["content_type"] == "application/cloudevents+json"
    headers = message.properties["application_headers"]
    assert headers[REPLAY_HEADER] == letter.id
    assert not {k for k in headers if k.startswith("x-death") or k.startswith("x-first")}
    assert REASON_HEADER not in headers and "x-resetdesk-error-code" not in headers

    assert (replayed.status, replayed.acted_by, replayed.act_reason) == (
        "replayed", "agent:alice", "serial rules fixed in 1.4.2")
    [audit] = audit_rows(db)
    assert (audit.ticket_id, audit.actor, audit.trigger, audit.from_state, audit.to_state,
            audit.reason) == (f"dlq:{letter.id}", "agent:alice", "dlq_replay", "dead-letter",
                              "replayed", "serial rules fixed in 1.4.2")

    with pytest.raises(dead_letters.DeadLetterSettled, match="replayed by agent:alice"):
        dead_letters.replay(db, letter.id, republish=AmqpRepublisher(url),
                            actor="agent:bob", why="again", now=NOW)
    assert consume_all(url, VERIFICATION.name, idle=0.3) == []
    assert len(audit_rows(db)) == 1


@pytest.mark.rabbitmq
def test_replay_by_a_user_without_the_impersonator_tag_fails_and_changes_nothing(
        db: Database, url: str, vhost: str, users: dict[str, str]) -> None:
    dead_letter_from_consumer(url, personal_request(), "rejected by rules")
    [letter] = archive_until(db, url, 1)

    with pytest.raises(PublishError, match="impersonator"):
        dead_letters.replay(db, letter.id, republish=AmqpRepublisher(user_url(vhost, users["plain"])),
                            actor="agent:alice", why="try", now=NOW)
    assert dead_letters.get(db, letter.id).status == "dead"
    assert audit_rows(db) == []
    assert consume_all(url, VERIFICATION.name, idle=0.3) == []


def test_discard_is_audited_and_needs_a_reason_and_a_known_actor(db: Database) -> None:
    letter_id = _archive(db, b"{}", content_type="application/json", headers={})
    with pytest.raises(ValueError, match="reason"):
        dead_letters.discard(db, letter_id, actor="agent:alice", why="  ", now=NOW)
    with pytest.raises(ValueError, match="actor"):
        dead_letters.discard(db, letter_id, actor="alice", why="spam", now=NOW)
    assert audit_rows(db) == []

    letter = dead_letters.discard(db, letter_id, actor="system:ops:root", why="test spam", now=NOW)
    assert (letter.status, letter.acted_by, letter.acted_at) == ("discarded", "system:ops:root", NOW)
    [audit] = audit_rows(db)
    assert (audit.ticket_id, audit.trigger, audit.to_state, audit.reason) == (
        f"dlq:{letter_id}", "dlq_discard", "discarded", "test spam")
    with pytest.raises(dead_letters.DeadLetterSettled):
        dead_letters.replay(db, letter_id, republish=_never, actor="agent:alice", why="x", now=NOW)
    with db.reader.begin() as conn:
        assert conn.execute(select(DEAD_LETTER.c.body)).scalar_one() == b"{}", "nothing deleted"


def _never(letter: dead_letters.DeadLetter) -> None:
    raise AssertionError("must not publish")


def test_the_audit_row_names_the_ticket_when_the_subject_is_one(db: Database,
                                                                monkeypatch: Any) -> None:
    ticket = make_ticket()
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(ticket)
        uow.commit()
    event = {"specversion": "1.0", "id": "e1", "source": "urn:resetdesk", "subject": ticket.id,
             "type": NOTIFICATION_EMAIL_V1, "data": {"ticket_id": ticket.id, "to": PERSONAL[1]}}
    letter_id = _archive(db, json.dumps(event).encode(), queue="notifications",
                         content_type="application/cloudevents+json", headers={},
                         event_type=NOTIFICATION_EMAIL_V1)
    assert PERSONAL[1] not in json.dumps(dead_letters.show(db, letter_id))

    monkeypatch.setenv("RESETDESK_DATABASE_URL", db.url)
    result = CliRunner().invoke(dlq, ["discard", str(letter_id), "--as", "alice", "--why",
                                      "address bounced for good"])
    assert result.exit_code == 0, result.output
    audits = [a for a in audit_rows(db) if a.trigger == "dlq_discard"]
    assert [(a.ticket_id, a.actor) for a in audits] == [(ticket.id, "agent:alice")]


# --- the broker's own dead-lettering ------------------------------------------------------------


def _take_and_reject(url: str, queue: str, *, requeue: bool) -> None:
    with Connection(url) as conn:
        ch = conn.default_channel
        deadline = time.monotonic() + 10
        message = None
        while message is None and time.monotonic() < deadline:
            message = ch.basic_get(queue)
        assert message is not None
        ch.basic_reject(message.delivery_tag, requeue=requeue)


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


@pytest.mark.rabbitmq
def test_broker_dead_letters_carry_their_reason_from_x_death(db: Database, url: str) -> None:
    limited = ConsumerQueue(f"dltest_{uuid.uuid4().hex[:6]}", REQUESTS, ("rd.test.limited",),
                            retry_delays=(), delivery_limit=1)
    rejected = ConsumerQueue(f"dltest_{uuid.uuid4().hex[:6]}", REQUESTS, ("rd.test.rejected",),
                             retry_delays=())
    with Connection(url) as conn:
        for q in (limited, rejected):
            q.declare(conn.default_channel)
    publish(url, REQUESTS.name, "rd.test.rejected", b"not json at all")
    _take_and_reject(url, rejected.name, requeue=False)
    publish(url, REQUESTS.name, "rd.test.limited", json.dumps(sample_request()).encode(),
            content_type="application/cloudevents+json")
    with Connection(url) as conn:  # returned until the delivery limit dead-letters it
        ch = conn.default_channel
        deadline = time.monotonic() + 20
        while not queue_depth(url, limited.dlq_name) and time.monotonic() < deadline:
            message = ch.basic_get(limited.name)
            if message is None:
                time.sleep(0.1)
            else:
                ch.basic_reject(message.delivery_tag, requeue=True)

    letters = archive_until(db, url, 2, queues=[limited, rejected])
    reasons = {r.queue: r.reason for r in letters}
    assert reasons == {rejected.name: "rejected", limited.name: "delivery limit exceeded"}
    assert all(r.dead_at is not None for r in letters)
    by_queue = {r.queue: r for r in letters}
    assert by_queue[limited.name].event_type == REQUEST_SUBMITTED_V1
    assert dead_letters.show(db, by_queue[rejected.name].id)["payload"]["mode"] == "opaque"


def _held_in_queue(vhost: str, queue: str) -> int:
    """Messages a quorum queue holds, dead-lettering pending included (``queue_declare`` counts
    ready messages only): the queue's own overview, read on the node."""
    expr = (f'{{ok, Q}} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"{vhost}">>, queue, '
            f'<<"{queue}">>)), ra:local_query(amqqueue:get_pid(Q), fun rabbit_fifo:overview/1).')
    out = services.rabbitmqctl("eval", expr).stdout
    found = re.search(r"num_messages => (\d+)", out)
    assert found, out
    return int(found.group(1))


@pytest.mark.rabbitmq
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_with_the_dlq_unbound_a_dead_letter_stays_in_its_source_queue_until_rebound(
        pg_url: str) -> None:
    """At-least-once dead-lettering: nothing routes the message, so the quorum queue keeps it and
    retries every ``dead_letter_worker_publisher_confirm_timeout`` (3 minutes by default). The test
    lowers it for the dead-letter workers its own queues start (workers read it when they start;
    those of other vhosts keep theirs) and puts the default back afterwards."""
    _need_rabbitmq()
    previous = _dlx_retry_ms()
    _set_dlx_retry_ms(3000)
    try:
        _unbound_dlq_scenario(pg_url)
    finally:
        _set_dlx_retry_ms(previous)


def _dlx_retry_ms() -> int:
    out = services.rabbitmqctl(
        "eval", "application:get_env(rabbit, dead_letter_worker_publisher_confirm_timeout).")
    text = out.stdout.strip()
    return int(text.removeprefix("{ok,").removesuffix("}")) if text.startswith("{ok,") else 180000


def _set_dlx_retry_ms(ms: int) -> None:
    services.rabbitmqctl(
        "eval", f"application:set_env(rabbit, dead_letter_worker_publisher_confirm_timeout, {ms}).")


def _unbound_dlq_scenario(pg_url: str) -> None:
    vhost = _new_vhost("rd_dlq_unbound")
    db = open_database(pg_url)
    try:
        url = amqp_url(vhost)
        with Connection(url) as conn:
            conn.default_channel.queue_unbind(VERIFICATION.dlq_name, DLX.name, VERIFICATION.name)
        event = sample_request()
        publish(url, REQUESTS.name, REQUEST_SUBMITTED_V1, json.dumps(event).encode(),
                content_type="application/cloudevents+json", message_id=event["id"])
        _take_and_reject(url, VERIFICATION.name, requeue=False)

        time.sleep(2)
        assert queue_depth(url, VERIFICATION.name) == 0, "not ready: held for dead-lettering"
        assert queue_depth(url, VERIFICATION.dlq_name) == 0
        assert _held_in_queue(vhost, VERIFICATION.name) == 1, "still in its source queue"

        with Connection(url) as conn:
            conn.default_channel.queue_bind(VERIFICATION.dlq_name, DLX.name, VERIFICATION.name)
        assert _wait(lambda: queue_depth(url, VERIFICATION.dlq_name) == 1, 240)
        assert _held_in_queue(vhost, VERIFICATION.name) == 0

        [letter] = archive_until(db, url, 1)
        assert (letter.reason, letter.message_id, letter.event_type) == (
            "rejected", event["id"], REQUEST_SUBMITTED_V1)
    finally:
        db.dispose()
        services.rabbitmqctl("delete_vhost", vhost, check=False)
