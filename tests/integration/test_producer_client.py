"""The producers' publish client against the real local RabbitMQ, in a vhost of its own.

Timeouts are tested against small fake brokers on localhost, never by raising a memory alarm:
alarms are node-wide and other test runs share the broker.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pika
import pytest
from pika import frame, spec

from schemas.client import (
    Mode,
    NotConfirmed,
    PublishError,
    PublishTimeout,
    RequestPublisher,
    Unroutable,
    publish_request,
)
from schemas.errors import Code, ContractError
from schemas.registry import decode_amqp, decode_structured
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from schemas.sample import sample_request
from tests import services
from tests.waiting import wait_for

EXCHANGE = "resetdesk.requests"
QUEUE = "verification"
UNBOUND_EXCHANGE = "resetdesk.requests.nobinding"


# --- the real broker ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    services.require_rabbitmq()
    with services.temporary_vhost(f"rd_client_{services.RUN_ID}_{uuid.uuid4().hex[:6]}") as name:
        _declare_topology(_url(name))
        yield name


def _url(vhost: str) -> str:
    return services.amqp_url(vhost)


def _declare_topology(url: str) -> None:
    """What consumers/topology.py declares for this path, minimally: no alternate exchange."""
    with pika.BlockingConnection(pika.URLParameters(url)) as conn:
        ch = conn.channel()
        ch.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
        ch.exchange_declare(UNBOUND_EXCHANGE, exchange_type="topic", durable=True)
        ch.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        ch.queue_bind(QUEUE, EXCHANGE, routing_key=REQUEST_SUBMITTED_V1)


@pytest.fixture
def url(vhost: str) -> str:
    url = _url(vhost)
    with pika.BlockingConnection(pika.URLParameters(url)) as conn:
        conn.channel().queue_purge(QUEUE)
    return url


def _drain(url: str) -> list[tuple[Any, bytes]]:
    """Every message now in the verification queue, as (properties, body)."""
    got: list[tuple[Any, bytes]] = []
    with pika.BlockingConnection(pika.URLParameters(url)) as conn:
        ch = conn.channel()
        while True:
            method, props, body = ch.basic_get(QUEUE, auto_ack=True)
            if method is None:
                return got
            got.append((props, body))


def _same_event(event: dict[str, Any]) -> dict[str, Any]:
    return decode_structured(json.dumps(event).encode()).model_dump()


@pytest.mark.rabbitmq
def test_structured_publish_arrives_persistent_with_ids_and_decodes(url: str) -> None:
    event = sample_request()
    with RequestPublisher(url) as publisher:
        publisher.publish_request(event)

    [(props, body)] = _drain(url)
    assert props.delivery_mode == 2
    assert props.message_id == event["id"]
    assert props.user_id == "guest"
    assert props.content_type == "application/cloudevents+json"
    decoded = decode_amqp(props.headers, body, props.content_type)
    assert decoded.model_dump() == _same_event(event)


@pytest.mark.rabbitmq
@pytest.mark.parametrize("mode", ["structured", "binary"])
def test_reserved_headers_are_refused_before_anything_is_sent(url: str, mode: Mode) -> None:
    """A producer cannot forge ResetDesk's own headers (a replay marker) nor a ce-* attribute;
    its own headers (tracing) travel."""
    with RequestPublisher(url) as publisher:
        for name in ("x-resetdesk-replay-of", "X-ResetDesk-Reason", "ce-source"):
            with pytest.raises(ContractError) as refused:
                publisher.publish_request(sample_request(), mode=mode, headers={name: "1"})
            assert refused.value.code == Code.RESERVED_HEADER
        with pytest.raises(ContractError) as oversize:
            publisher.publish_request(sample_request(), mode=mode,
                                      headers={"x-note": "a" * 100 * 1024})
        assert oversize.value.code == Code.OVERSIZE
        assert _drain(url) == []
        event = sample_request()
        publisher.publish_request(event, mode=mode, headers={"x-trace": "abc"})
    [(props, _)] = _drain(url)
    assert props.message_id == event["id"] and props.headers["x-trace"] == "abc"


@pytest.mark.rabbitmq
def test_binary_publish_carries_ce_headers_and_data_body(url: str) -> None:
    event = sample_request(subject="form-4711", traceparent="00-abc-def-01", retried=False)
    publish_request(url, event, mode="binary")

    [(props, body)] = _drain(url)
    assert props.delivery_mode == 2
    assert props.message_id == event["id"]
    assert props.user_id == "guest"
    assert props.content_type == "application/json"
    assert json.loads(body) == event["data"]
    assert props.headers["ce-id"] == event["id"]
    assert props.headers["ce-type"] == REQUEST_SUBMITTED_V1
    assert props.headers["ce-specversion"] == "1.0"
    assert props.headers["ce-source"] == event["source"]
    assert props.headers["ce-time"] == event["time"]
    assert props.headers["ce-subject"] == "form-4711"
    assert "ce-datacontenttype" not in props.headers and "ce-data" not in props.headers
    decoded = decode_amqp(props.headers, body, props.content_type)
    assert decoded.model_dump() == _same_event(event)
    assert decoded.extensions == {"traceparent": "00-abc-def-01", "retried": False}


@pytest.mark.rabbitmq
def test_key_without_binding_raises_unroutable(url: str) -> None:
    with (
        RequestPublisher(url, exchange=UNBOUND_EXCHANGE) as publisher,
        pytest.raises(Unroutable, match="unroutable"),
    ):
        publisher.publish_request(sample_request())
    assert _drain(url) == []


@pytest.mark.rabbitmq
def test_invalid_event_is_refused_before_anything_is_sent(url: str) -> None:
    bad = sample_request(data__requester__email="not an address")
    with RequestPublisher(url) as publisher:
        with pytest.raises(ContractError) as refused:
            publisher.publish_request(bad)
        assert refused.value.path == "data.requester.email"
        with pytest.raises(ContractError) as unknown:
            publisher.publish_request(sample_request(type="com.resetdesk.request.submitted.v2"))
        assert unknown.value.code == Code.UNKNOWN_VERSION
        assert publisher._connection is None  # never even connected
    assert _drain(url) == []


@pytest.mark.rabbitmq
def test_user_id_of_another_user_is_refused_by_the_broker(url: str) -> None:
    with pytest.raises(PublishError, match="refused"):
        publish_request(url, sample_request(), user_id="someone-else", retries=0)


@pytest.mark.rabbitmq
def test_publish_after_broker_closed_the_connection_reconnects(url: str, vhost: str) -> None:
    first, second = sample_request(), sample_request()
    with RequestPublisher(url, retries=0) as publisher:
        publisher.publish_request(first)
        old = publisher._connection
        services.rabbitmqctl("close_all_connections", "-p", vhost, "test")
        wait_for("the broker to close it", lambda: "running" not in _connection_states(vhost), 10,
                 every=0.1)
        publisher.publish_request(second)
        assert publisher._connection is not old
    assert [props.message_id for props, _ in _drain(url)] == [first["id"], second["id"]]


def _connection_states(vhost: str) -> list[str]:
    out = services.rabbitmqctl("list_connections", "-q", "-p", vhost, "state").stdout
    return [line.strip() for line in out.splitlines()[1:] if line.strip()]


# --- fake brokers for the failure paths ----------------------------------------------------------


class FakeBroker:
    """Speaks just enough AMQP 0-9-1 to open a confirm channel, then misbehaves on purpose.

    behaviour: "mute" accepts TCP and never answers; "silent" never confirms; "blocked" sends
    connection.blocked (a memory alarm) with confirm.select-ok; "drop_first" drops the
    first connection on its first publish and acks on later ones; "nack" nacks every publish;
    "no_close_ok" acks publishes but never answers a close.
    """

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.publishes = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(sock, self.connections), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        sock.settimeout(0.2)
        buffer = b""
        with sock:
            while not self._stop.is_set():
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while True:
                    used, parsed = frame.decode_frame(buffer)
                    if not used:
                        break
                    buffer = buffer[used:]
                    if self.behaviour != "mute" and not self._answer(sock, parsed, number):
                        return

    def _answer(self, sock: socket.socket, parsed: Any, number: int) -> bool:
        def send(channel: int, method: Any) -> None:
            sock.sendall(frame.Method(channel, method).marshal())

        if isinstance(parsed, frame.ProtocolHeader):
            capabilities = {"publisher_confirms": True, "connection.blocked": True, "basic.nack": True}
            send(0, spec.Connection.Start(server_properties={"capabilities": capabilities}))
            return True
        method = getattr(parsed, "method", None)
        channel = getattr(parsed, "channel_number", 0)
        if isinstance(method, spec.Connection.StartOk):
            send(0, spec.Connection.Tune(channel_max=16, frame_max=131072, heartbeat=0))
        elif isinstance(method, spec.Connection.Open):
            send(0, spec.Connection.OpenOk())
        elif isinstance(method, spec.Channel.Open):
            send(channel, spec.Channel.OpenOk())
        elif isinstance(method, spec.Confirm.Select):
            selected = frame.Method(channel, spec.Confirm.SelectOk()).marshal()
            if self.behaviour == "blocked":  # one segment: blocked before the publish starts
                selected += frame.Method(0, spec.Connection.Blocked(reason="low on memory")).marshal()
            sock.sendall(selected)
        elif isinstance(method, spec.Basic.Publish):
            self.publishes += 1
            if self.behaviour == "drop_first" and number == 1:
                return False
            if self.behaviour in ("drop_first", "no_close_ok"):
                send(channel, spec.Basic.Ack(delivery_tag=self.publishes if number == 1 else 1))
            elif self.behaviour == "nack":
                send(channel, spec.Basic.Nack(delivery_tag=1))
        elif self.behaviour == "no_close_ok":
            pass
        elif isinstance(method, spec.Channel.Close):
            send(channel, spec.Channel.CloseOk())
        elif isinstance(method, spec.Connection.Close):
            send(0, spec.Connection.CloseOk())
            return False
        return True


@pytest.fixture
def fake_broker() -> Iterator[Callable[[str], FakeBroker]]:
    made: list[FakeBroker] = []

    def start(behaviour: str) -> FakeBroker:
        made.append(FakeBroker(behaviour))
        return made[-1]

    yield start
    for broker in made:
        broker.close()


def test_broker_that_never_answers_the_handshake_times_out(fake_broker: Any) -> None:
    broker = fake_broker("mute")
    with pytest.raises(PublishTimeout, match="connection"):
        publish_request(broker.url, sample_request(), connect_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(PublishTimeout):
        publish_request(broker.url, sample_request(), connect_timeout=1.0, retries=5)
    assert time.monotonic() - started < 3.0, "a timeout is not retried: the bound stays one timeout"


def test_confirm_that_never_comes_times_out(fake_broker: Any) -> None:
    broker = fake_broker("silent")
    started = time.monotonic()
    with pytest.raises(PublishTimeout, match="confirm"):
        publish_request(broker.url, sample_request(), confirm_timeout=1.0)
    assert 0.9 < time.monotonic() - started < 3.0
    assert broker.publishes == 1


def test_blocked_connection_times_out_instead_of_hanging(fake_broker: Any) -> None:
    broker = fake_broker("blocked")
    started = time.monotonic()
    with pytest.raises(PublishTimeout) as timed_out:
        publish_request(broker.url, sample_request(), confirm_timeout=1.0)
    assert time.monotonic() - started < 3.0
    assert isinstance(timed_out.value.__cause__, pika.exceptions.ConnectionBlockedTimeout)


def test_connection_lost_during_publish_is_retried_on_a_new_connection(fake_broker: Any) -> None:
    broker = fake_broker("drop_first")
    publish_request(broker.url, sample_request(), retries=1)
    assert (broker.connections, broker.publishes) == (2, 2)


def test_retries_exhausted_raise_publish_error(fake_broker: Any) -> None:
    broker = fake_broker("drop_first")
    with pytest.raises(PublishError, match="no connection, 1 attempt") as failed:
        publish_request(broker.url, sample_request(), retries=0)
    assert type(failed.value) is PublishError


def test_nack_raises_not_confirmed(fake_broker: Any) -> None:
    broker = fake_broker("nack")
    with pytest.raises(NotConfirmed):
        publish_request(broker.url, sample_request())


def test_closing_against_a_peer_that_never_answers_is_bounded(fake_broker: Any) -> None:
    broker = fake_broker("no_close_ok")
    started = time.monotonic()
    with RequestPublisher(broker.url, confirm_timeout=1.0) as publisher:
        publisher.publish_request(sample_request())
        publisher.publish_request(sample_request())
    assert broker.publishes == 2
    assert time.monotonic() - started < 3.0


def test_nothing_listening_is_a_publish_error_after_retries() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(PublishError, match="2 attempt"):
            publish_request(f"amqp://guest:guest@127.0.0.1:{port}/", sample_request(), retries=1)
