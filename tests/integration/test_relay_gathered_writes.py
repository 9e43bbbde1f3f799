"""The publisher writes a batch's frames together (consumers/amqp/gathered_writes.py): a batch
several write-chunks long reaches the real broker whole, in order, each message intact and
confirmed, and the next batch on the same connection does too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kombu.connection import Connection

from consumers.amqp.confirms import ConfirmingPublisher, Outgoing
from consumers.amqp.gathered_writes import WRITE_CHUNK
from tests import services

QUEUE = "gathered"


@pytest.fixture(scope="module")
def vhost_url() -> Iterator[str]:
    services.require_rabbitmq()
    name = f"rd_gather_{services.RUN_ID}_{uuid.uuid4().hex[:6]}"
    services.rabbitmqctl("add_vhost", name)
    try:
        services.rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        url = services.amqp_url(name)
        with Connection(url) as conn:
            conn.default_channel.queue_declare(QUEUE, durable=True, auto_delete=False,
                                               arguments={"x-queue-type": "quorum"})
        yield url
    finally:
        services.rabbitmqctl("delete_vhost", name, check=False)


@pytest.fixture
def url(vhost_url: str) -> str:
    with Connection(vhost_url) as conn:
        conn.default_channel.queue_purge(QUEUE)
    return vhost_url


def drain(url: str, expected: int) -> list[tuple[str, bytes]]:
    got: list[tuple[str, bytes]] = []
    with Connection(url) as conn:
        ch = conn.channel()
        while len(got) < expected:
            message = ch.basic_get(QUEUE, no_ack=True)
            if message is None:
                break
            got.append((message.properties["message_id"], bytes(message.body)))
    return got


def batch(start: int, count: int) -> list[Outgoing]:
    """Bodies of varied sizes (some larger than an AMQP frame), each naming its message."""
    out = []
    for i in range(start, start + count):
        body = (f"{i:06d}:".encode() + bytes([65 + i % 26]) * (300 + (i * 7919) % 9000))
        out.append(Outgoing("", QUEUE, body, {"message_id": f"m{i:06d}", "delivery_mode": 2}))
    return out


@pytest.mark.rabbitmq
def test_a_batch_many_writes_long_arrives_whole_in_order_and_confirmed(url: str) -> None:
    first, second = batch(0, 150), batch(150, 40)
    assert sum(len(m.body) for m in first) > 2 * WRITE_CHUNK, "several flushes in one batch"
    with ConfirmingPublisher(url, timeout=10) as publisher:
        result = publisher.publish(first)
        assert result.all_confirmed, result
        again = publisher.publish(second)  # same connection: tags go on from the first batch
        assert again.all_confirmed, again
    got = drain(url, len(first) + len(second))
    assert got == [(m.properties["message_id"], m.body) for m in first + second]


@pytest.mark.rabbitmq
def test_an_unroutable_message_in_a_gathered_batch_is_the_only_one_not_confirmed(
        url: str) -> None:
    messages = batch(0, 60)
    messages[37] = Outgoing("", "no-such-queue", b"lost", {"message_id": "stray"})
    with ConfirmingPublisher(url, timeout=10) as publisher:
        result = publisher.publish(messages)
    assert result.confirmed == [i != 37 for i in range(60)]
    assert len(drain(url, 60)) == 59
