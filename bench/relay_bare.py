"""The bare relay pipelines the relay bench compares against: plain client libraries only.

Each claims a batch of outbox rows with plain psycopg (``SELECT … FOR UPDATE SKIP LOCKED`` in a
transaction held through the confirms, like the relay), publishes them ``mandatory`` and
persistent with the same properties, waits for every confirm of the batch, marks the batch sent
with one ``UPDATE`` and commits. Two publishers, both batched confirms:

- ``amqp``: raw py-amqp (no kombu), ``basic_publish`` for the whole batch, then ``drain_events``
  until the acks cover every delivery tag;
- ``amqp-gathered``: the same, with the batch's frames gathered by py-amqp's own
  ``frame_writer`` into a list and sent in one ``sendall`` (what the relay does since issue 14);
- ``pika``: pika's ``SelectConnection`` (its ``BlockingChannel`` waits for a confirm after each
  publish), the batch published from the ioloop, the next claimed once its last ack arrives.

No retries, no per-ticket ordering checks, no metrics: the least a correct relay must do.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote, urlsplit

import amqp
import pika
import psycopg
from amqp.method_framing import frame_writer
from pika.adapters.select_connection import SelectConnection

CLAIM = ("SELECT id, event_id, type, payload FROM outbox WHERE sent_at IS NULL ORDER BY id "
         "LIMIT %s FOR UPDATE SKIP LOCKED")
MARK = "UPDATE outbox SET sent_at = now() WHERE id = ANY(%s)"
EXCHANGE = "resetdesk.events"


def _vhost(url: str) -> str:
    return unquote(urlsplit(url).path[1:]) or "/"


def _dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


class _Frames:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def write(self, frame: Any) -> None:
        self.frames.append(bytes(frame))


def run_amqp(db_url: str, broker_url: str, batch: int, *, gather: bool = False) -> int:
    """Raw py-amqp: publish a batch, drain its acks, one UPDATE, commit. Returns rows sent."""
    parts = urlsplit(broker_url)
    conn = amqp.Connection(host=f"{parts.hostname}:{parts.port or 5672}",
                           userid=unquote(parts.username or "guest"),
                           password=unquote(parts.password or "guest"),
                           virtual_host=_vhost(broker_url))
    conn.connect()
    channel = conn.channel()
    channel.confirm_select()
    state = {"acked": 0, "nacked": 0}

    def on_ack(delivery_tag: int, multiple: bool) -> None:
        state["acked"] = delivery_tag

    def on_nack(delivery_tag: int, multiple: bool) -> None:
        state["nacked"] += 1

    channel.events["basic_ack"].add(on_ack)
    channel.events["basic_nack"].add(on_nack)
    direct, gathered = conn.frame_writer, _Frames()
    gathering = frame_writer(conn, gathered)
    sent = tag = 0
    try:
        with psycopg.connect(_dsn(db_url)) as pg:
            while True:
                with pg.transaction():
                    rows = pg.execute(CLAIM, (batch,)).fetchall()
                    if not rows:
                        return sent
                    if gather:
                        conn.frame_writer = gathering
                    for _id, event_id, type_, payload in rows:
                        channel.basic_publish(
                            amqp.Message(payload.encode(),
                                         content_type="application/cloudevents+json",
                                         delivery_mode=2, message_id=event_id),
                            exchange=EXCHANGE, routing_key=type_, mandatory=True)
                    if gather:
                        conn.frame_writer = direct
                        conn.transport.write(b"".join(gathered.frames))
                        gathered.frames.clear()
                    tag += len(rows)
                    while state["acked"] < tag:
                        conn.drain_events(timeout=10)
                    if state["nacked"]:
                        raise SystemExit("bare amqp publisher: nacked")
                    pg.execute(MARK, ([r[0] for r in rows],))
                sent += len(rows)
    finally:
        conn.close()


class _PikaRelay:
    """The pika pipeline as an ioloop state machine: claim → publish all → last ack → mark."""

    def __init__(self, db_url: str, broker_url: str, batch: int) -> None:
        self.batch = batch
        self.pg = psycopg.connect(_dsn(db_url))
        self.sent = self.tag = self.acked = 0
        self.rows: list[Any] = []
        self.error: str | None = None
        params = pika.URLParameters(broker_url)
        self.conn = SelectConnection(params, on_open_callback=self._opened,
                                     on_open_error_callback=self._failed)
        self.channel: Any = None

    def _failed(self, _conn: Any, err: Any) -> None:
        self.error = repr(err)
        self.conn.ioloop.stop()

    def _opened(self, conn: Any) -> None:
        conn.channel(on_open_callback=self._channel_open)

    def _channel_open(self, channel: Any) -> None:
        self.channel = channel
        channel.add_on_return_callback(self._returned)
        channel.confirm_delivery(self._confirm)
        self._next_batch()

    def _returned(self, *_: Any) -> None:
        self.error = "returned"

    def _next_batch(self) -> None:
        self.rows = self.pg.execute(CLAIM, (self.batch,)).fetchall()
        if not self.rows:
            self.pg.rollback()
            self.conn.close()
            return
        for _id, event_id, type_, payload in self.rows:
            self.channel.basic_publish(
                EXCHANGE, type_, payload.encode(),
                pika.BasicProperties(content_type="application/cloudevents+json",
                                     delivery_mode=2, message_id=event_id),
                mandatory=True)
        self.tag += len(self.rows)

    def _confirm(self, frame: Any) -> None:
        method = frame.method
        if isinstance(method, pika.spec.Basic.Nack):
            self.error = "nacked"
        self.acked = method.delivery_tag
        if self.acked >= self.tag and self.rows:
            self.pg.execute(MARK, ([r[0] for r in self.rows],))
            self.pg.commit()
            self.sent += len(self.rows)
            self.rows = []
            self.conn.ioloop.add_callback_threadsafe(self._next_batch)

    def run(self) -> int:
        self.conn.add_on_close_callback(lambda *_: self.conn.ioloop.stop())
        try:
            self.conn.ioloop.start()
        finally:
            self.pg.close()
        if self.error:
            raise SystemExit(f"bare pika publisher: {self.error}")
        return self.sent


def run_pika(db_url: str, broker_url: str, batch: int) -> int:
    """pika SelectConnection: publish a batch, wait for its acks, one UPDATE, commit."""
    return _PikaRelay(db_url, broker_url, batch).run()


def run_amqp_gathered(db_url: str, broker_url: str, batch: int) -> int:
    """Raw py-amqp, a batch's frames written in one ``sendall``."""
    return run_amqp(db_url, broker_url, batch, gather=True)


BARE = {"amqp": run_amqp, "amqp-gathered": run_amqp_gathered, "pika": run_pika}


def timed(run: Any, db_url: str, broker_url: str, batch: int) -> tuple[int, float]:
    started = time.perf_counter()
    sent = run(db_url, broker_url, batch)
    return sent, time.perf_counter() - started
