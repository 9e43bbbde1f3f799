"""End-to-end AMQP intake on RabbitMQ + PostgreSQL: publish → queued ticket, with real processes.

Workload: valid requests (unique serials, structured mode) published by a registered producer's
RabbitMQ user with the producer client (``schemas.client.RequestPublisher``) to a throwaway vhost;
a throwaway PostgreSQL database per configuration (migrated template, copied), all dropped here.

Measured, per configuration, with ``k`` OS processes consuming the ``verification`` queue:
- throughput: once all ``k`` processes are subscribed, ``--messages`` requests are published
  in confirmed batches of 500 (the producer's user, ``user_id`` set); the rate runs from the
  first publish to the last request done (inbox ``processed_at``);
- latency: then ``--latency-messages`` requests are published at one pace for every
  configuration (half the 1-consumer throughput); latency = inbox ``processed_at`` (stamped in the
  ticket's transaction) − the moment the publish call began; p50 and p99.

Configurations: ``resetdesk consume verification`` × 1 and × 2 (prefetch from settings,
``RESETDESK_AMQP__PREFETCH``), × 1 with group commit (``consume-x1-batch``: batches of
``BATCH_SIZE``, prefetch raised to a batch per worker thread; its latency is measured at half its
own throughput), and the baseline × 1 and × 2: a raw kombu consumer process
(``python -m bench.amqp_e2e --baseline-worker …``, same prefetch) that per message parses the JSON,
writes the same rows a queued ticket makes (inbox row done, ticket, 3 audit rows, 4 outbox rows;
copied from a ticket the real consumer made, new keys) in ONE transaction with plain psycopg on one
connection, then acks with kombu's channel: no project code, engine or pool on its path (a
baseline that shared the project's engine, pre-ping included, hid the gap). The last line
compares 1 consumer process with group commit with 1 baseline process; the target (issue #14)
is 1.5x, which only group commit (several messages per transaction) can reach.

Run: uv run python -m bench.amqp_e2e [--messages N] [--latency-messages M]
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from kombu.connection import Connection
from psycopg.types.json import Jsonb
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from consumers.amqp.confirms import ConfirmingPublisher, Outgoing
from consumers.topology import REQUESTS, VERIFICATION, declare_all
from resetdesk.settings import load_settings
from schemas.client import RequestPublisher
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from tests import services
from tests.e2e.requests import request
from tests.processes import Proc, process_env
from workflow.adapters import accounts, migrate
from workflow.adapters.db import open_database
from workflow.adapters.tables import AUDIT, INBOX, OUTBOX, TICKET
from workflow.domain.ticket import new_reference

TARGET_RATIO = 1.5
#: consume-x1-batch's group commit (RESETDESK_AMQP__BATCH_SIZE, __BATCH_WINDOW_MS)
BATCH_SIZE = 50
BATCH_WINDOW_MS = 5
SOURCE = "urn:bench:amqp-e2e"


@dataclass
class Result:
    label: str
    throughput: float
    p50_ms: float
    p99_ms: float
    pace: float


class Stack:
    """The throwaway vhost, producer user and databases of one bench run."""

    def __init__(self, log_dir: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.vhost, self.producer = f"rd_bench_{tag}", f"rd_bench_form_{tag}"
        self.password = secrets.token_hex(12)
        self.log_dir = log_dir
        self.admin = create_engine(services.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.databases: list[str] = []
        self.template = self._create_database(f"rd_bench_{tag}_tpl")
        migrate.upgrade(self.db_url(self.template))

    def amqp_url(self, user: str = "guest", password: str = "guest") -> str:
        return (f"amqp://{user}:{password}@{services.AMQP_HOST}:{services.AMQP_PORT}/"
                f"{quote(self.vhost, safe='')}")

    def db_url(self, name: str) -> str:
        return make_url(services.PG_ADMIN_URL).set(database=name).render_as_string(
            hide_password=False)

    def _create_database(self, name: str, template: str | None = None) -> str:
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'
                              + (f' TEMPLATE "{template}"' if template else "")))
        self.databases.append(name)
        return name

    def new_database(self) -> str:
        """A migrated database knowing the producer; its URL."""
        url = self.db_url(self._create_database(f"{self.template[:-4]}_{len(self.databases)}",
                                                self.template))
        db = open_database(url)
        accounts.add_producer(db, self.producer, SOURCE)
        db.dispose()
        return url

    def open(self) -> None:
        services.rabbitmqctl("add_vhost", self.vhost)
        services.rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        services.rabbitmqctl("add_user", self.producer, self.password)
        services.rabbitmqctl("set_permissions", "-p", self.vhost, self.producer, "^$",
                             r"^resetdesk\.requests$", "^$")
        with Connection(self.amqp_url()) as conn:
            declare_all(conn)

    def close(self) -> None:
        services.rabbitmqctl("delete_vhost", self.vhost, check=False)
        services.rabbitmqctl("delete_user", self.producer, check=False)
        with self.admin.connect() as conn:
            for name in reversed(self.databases):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@contextmanager
def stack() -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="rd_bench_") as tmp:
        made = Stack(Path(tmp))
        try:
            made.open()
            yield made
        finally:
            made.close()


# --- measuring ----------------------------------------------------------------------------------


def publish(url: str, events: list[dict[str, Any]], pace: float = 0.0) -> dict[str, float]:
    """Publish (confirmed); ``pace`` messages per second if set; event id -> publish start."""
    sent: dict[str, float] = {}
    start = time.monotonic()
    with RequestPublisher(url) as publisher:
        for i, event in enumerate(events):
            if pace:
                time.sleep(max(0.0, start + i / pace - time.monotonic()))
            sent[event["id"]] = time.time()
            publisher.publish_request(event)
    return sent


def consumers_on(url: str) -> int:
    with Connection(url) as conn:
        return int(conn.default_channel.queue_declare(VERIFICATION.name, passive=True)
                   .consumer_count)


def processed(db_url: str, ids: set[str] | None = None) -> dict[str, float]:
    """event id -> processed_at (epoch seconds) of the done inbox rows."""
    engine = create_engine(db_url)
    query = select(INBOX.c.event_id, INBOX.c.processed_at).where(INBOX.c.status == "done")
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    engine.dispose()
    return {r.event_id: r.processed_at.timestamp() for r in rows
            if ids is None or r.event_id in ids}


def wait_done(db_url: str, total: int, timeout: float) -> None:
    engine = create_engine(db_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                done = conn.execute(select(func.count()).select_from(INBOX)
                                    .where(INBOX.c.status == "done")).scalar_one()
            if done >= total:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"only {done} of {total} requests done after {timeout:g} s")
            time.sleep(0.1)
    finally:
        engine.dispose()


def publish_fast(url: str, user: str, events: list[dict[str, Any]]) -> None:
    """The throughput runs' load: structured requests in confirmed batches of 500 (what
    ``RequestPublisher`` sends, but without waiting for a confirm per message)."""
    with ConfirmingPublisher(url, timeout=30, name="bench-publisher") as publisher:
        for i in range(0, len(events), 500):
            batch = [Outgoing(REQUESTS.name, REQUEST_SUBMITTED_V1,
                              json.dumps(e, separators=(",", ":")).encode(),
                              {"content_type": "application/cloudevents+json", "delivery_mode": 2,
                               "message_id": e["id"], "user_id": user})
                     for e in events[i:i + 500]]
            if not publisher.publish(batch).all_confirmed:
                raise SystemExit("the broker did not confirm the load")


def measure(s: Stack, label: str, procs: int, *, baseline: str | None, n: int, m: int,
            pace: float | None, prefetch: int, cap: float = 300.0,
            **settings: str) -> tuple[Result, str, float]:
    """One configuration; ``pace`` None: half this run's throughput (at most ``cap``/s);
    ``settings``: more ``RESETDESK_*`` variables. Returns the result, the database URL and the
    pace used."""
    db_url = s.new_database()
    env = process_env(RESETDESK_DATABASE_URL=db_url, RESETDESK_BROKER_URL=s.amqp_url(),
                      RESETDESK_AMQP__PREFETCH=str(prefetch), **settings)
    args, module = ((["consume", "verification"], "resetdesk") if baseline is None else
                    (["--baseline-worker", db_url, s.amqp_url(), baseline, str(prefetch)],
                     "bench.amqp_e2e"))
    running = [Proc(f"{label}-{i}", args, env, s.log_dir / f"{label}-{i}.log", module).start()
               for i in range(procs)]
    producer_url = s.amqp_url(s.producer, s.password)
    try:
        while consumers_on(s.amqp_url()) < procs:
            if not all(p.alive for p in running):
                raise SystemExit("a consumer died:\n" + "\n".join(p.log() for p in running))
            time.sleep(0.05)
        bulk = [request(source=SOURCE) for _ in range(n)]
        started = time.time()
        publish_fast(producer_url, s.producer, bulk)
        wait_done(db_url, n, timeout=max(120, n / 5))
        throughput = n / (max(processed(db_url).values()) - started)

        pace = pace or min(cap, throughput / 2)
        paced = [request(source=SOURCE) for _ in range(m)]
        sent = publish(producer_url, paced, pace)
        wait_done(db_url, n + m, timeout=120)
        at = processed(db_url, set(sent))
        latencies = sorted((at[k] - sent[k]) * 1000 for k in sent)
    finally:
        for p in running:
            p.stop(30)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Result(label, throughput, statistics.median(latencies), p99, pace), db_url, pace


# --- the baseline -------------------------------------------------------------------------------


def dump_templates(db_url: str, path: Path) -> None:
    """One queued ticket's rows (ticket, audit, outbox) as JSON, for the baseline to copy."""
    engine = create_engine(db_url)
    with engine.connect() as conn:
        ticket = conn.execute(select(TICKET).limit(1)).mappings().one()
        audit = conn.execute(select(AUDIT).where(AUDIT.c.ticket_id == ticket["id"])
                             .order_by(AUDIT.c.id)).mappings().all()
        outbox = conn.execute(select(OUTBOX).where(OUTBOX.c.ticket_id == ticket["id"])
                              .order_by(OUTBOX.c.id)).mappings().all()
    engine.dispose()

    def plain(row: Any, drop: tuple[str, ...] = ("id",)) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()
                if k not in drop}

    path.write_text(json.dumps({"ticket": plain(ticket, ()), "audit": [plain(a) for a in audit],
                                "outbox": [plain(o) for o in outbox]}))


def _dates(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """``row`` with every timestamp set to ``now`` (``sent_at`` to NULL: not relayed yet)."""
    return {k: (None if k == "sent_at" else now if (k == "at" or k.endswith("_at")) and v else v)
            for k, v in row.items()}


def _insert(table: str, row: dict[str, Any]) -> tuple[str, list[Any]]:
    """A plain INSERT for psycopg: JSON-shaped values (dicts, lists) go as ``Jsonb``."""
    values = [Jsonb(v) if isinstance(v, (dict, list)) else v for v in row.values()]
    marks = ", ".join(["%s"] * len(row))
    return f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", values


def baseline_worker(db_url: str, broker_url: str, templates: str, prefetch: str) -> None:
    """Raw consume → one transaction writing a queued ticket's rows → ack, with the plain client
    libraries only: psycopg on one connection (no SQLAlchemy, no pool, no pre-ping) and kombu's
    channel (no project code on the path)."""
    tpl = json.loads(Path(templates).read_text())
    dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    pg = psycopg.connect(dsn)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def on_message(message: Any) -> None:
        event = json.loads(message.body)
        now = datetime.now(UTC)
        ticket_id, reference = uuid.uuid4().hex, new_reference()
        serial = event["data"]["device"]["serial_number"][:128]
        ticket = _dates(tpl["ticket"], now) | {
            "id": ticket_id, "reference": reference, "source": event["source"],
            "event_id": event["id"], "serial_key": serial, "open_serial_key": serial,
            "data": event["data"]}
        for k in ("sla_next_alarm_at", "first_reply_due_at", "resolution_due_at",
                  "first_reply_at", "closed_at", "anonymised_at"):
            ticket[k] = now if tpl["ticket"].get(k) else None
        inbox = {"source": event["source"], "event_id": event["id"], "type": event["type"],
                 "producer": "bench", "content_digest": uuid.uuid4().hex,
                 "payload": json.dumps(event, separators=(",", ":"), sort_keys=True),
                 "received_at": now, "status": "done", "attempts": 1, "available_at": now,
                 "reference": reference, "human_check": "passed", "ticket_id": ticket_id,
                 "processed_at": now}
        audit = [_dates(a, now) | {"ticket_id": ticket_id} for a in tpl["audit"]]
        outbox = [_dates(o, now) | {"ticket_id": ticket_id, "event_id": uuid.uuid4().hex}
                  for o in tpl["outbox"]]
        with pg.transaction(), pg.cursor() as cur:
            cur.execute(*_insert("inbox", inbox))
            cur.execute(*_insert("ticket", ticket))
            cur.executemany(_insert("audit", audit[0])[0],
                            [_insert("audit", a)[1] for a in audit])
            cur.executemany(_insert("outbox", outbox[0])[0],
                            [_insert("outbox", o)[1] for o in outbox])
        message.channel.basic_ack(message.delivery_tag)

    with Connection(broker_url) as conn:
        conn.connect()
        channel = conn.channel()
        channel.basic_qos(0, int(prefetch), False)
        channel.basic_consume(VERIFICATION.name, callback=on_message)
        while not stop.is_set():
            with suppress(TimeoutError):
                conn.drain_events(timeout=0.5)
    pg.close()


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--latency-messages", type=int, default=0,
                        help="default: a quarter of --messages, at most 400")
    parser.add_argument("--baseline-worker", nargs=4, metavar=("DB", "BROKER", "TPL", "PREFETCH"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_worker:
        baseline_worker(*args.baseline_worker)
        return
    n, m = args.messages, args.latency_messages or min(400, max(20, args.messages // 4))
    prefetch = load_settings().amqp.prefetch
    results: list[Result] = []
    with stack() as s:
        one, first_db, pace = measure(s, "consume-x1", 1, baseline=None, n=n, m=m, pace=None,
                                      prefetch=prefetch)
        results.append(one)
        results.append(measure(s, "consume-x1-batch", 1, baseline=None, n=n, m=m, pace=None,
                               prefetch=prefetch, cap=1000.0,
                               RESETDESK_AMQP__BATCH_SIZE=str(BATCH_SIZE),
                               RESETDESK_AMQP__BATCH_WINDOW_MS=str(BATCH_WINDOW_MS))[0])
        results.append(measure(s, "consume-x2", 2, baseline=None, n=n, m=m, pace=pace,
                               prefetch=prefetch)[0])
        templates = s.log_dir / "templates.json"
        dump_templates(first_db, templates)
        for procs in (1, 2):
            results.append(measure(s, f"baseline-x{procs}", procs, baseline=str(templates), n=n,
                                   m=m, pace=pace, prefetch=prefetch)[0])
    print(f"{n} requests per throughput run, {m} more paced for latency (half the run's own "
          f"rate for consume-x1-batch, {pace:.0f}/s for the others); prefetch {prefetch} (batch: "
          f"{BATCH_SIZE} per transaction, window {BATCH_WINDOW_MS} ms); "
          f"RabbitMQ {services.AMQP_HOST}:{services.AMQP_PORT}, "
          f"PostgreSQL {make_url(services.PG_ADMIN_URL).host}")
    for r in results:
        print(f"  {r.label:<16} {r.throughput:8.0f} msg/s   latency at {r.pace:4.0f}/s: "
              f"p50 {r.p50_ms:7.1f} ms   p99 {r.p99_ms:7.1f} ms")
    fast = next(r for r in results if r.label == "consume-x1-batch").throughput
    base = next(r for r in results if r.label == "baseline-x1").throughput
    print(f"amqp_e2e: {fast:.0f} msg/s vs baseline {base:.0f} msg/s = ratio {fast / base:.2f} "
          f"(target {TARGET_RATIO})")


if __name__ == "__main__":
    main()
