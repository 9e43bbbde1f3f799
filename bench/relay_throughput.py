"""Outbox relay throughput: the project's relay vs a bare batched-confirm relay in plain code.

Workload: outbox rows (structured CloudEvents of ~400 bytes, 200 tickets interleaved) in a
throwaway PostgreSQL database ``rd_bench_<random>`` (created, migrated and dropped here),
relayed to a throwaway RabbitMQ vhost (topology of consumers/topology.py; the events land in the
quorum queue ``events.unrouted``, purged between runs).

Measured: ``relay_once`` in a loop until the outbox is empty, batches of ``--batch`` rows (one
claiming transaction, publish all, then await all confirms, mark sent, commit).
Baseline, in the same run, interleaved, same rows, queue and batch size: bench/relay_bare.py, the
same pipeline written with plain psycopg and a plain AMQP client only (raw py-amqp, the same
with a batch's frames in one write, or pika's ``SelectConnection``; ``--bare`` picks, default
pika: the least client CPU per message here, 23 µs against 46 / 34 µs for py-amqp plain /
gathered), publishing a batch then waiting for all its confirms, one ``UPDATE`` per batch.
Medians of rows per second (and of each rep's ratio: the machine's load drifts between reps).
Target: the relay at least half the bare pipeline (issue 14).

Run: uv run python -m bench.relay_throughput [--rows N] [--batch N] [--reps N]
     [--bare amqp|amqp-gathered|pika]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import quote

from kombu.connection import Connection
from sqlalchemy import create_engine, delete, insert, text
from sqlalchemy.engine import make_url

from bench.relay_bare import BARE, timed
from consumers.amqp.confirms import ConfirmingPublisher
from consumers.amqp.relay import relay_once
from consumers.topology import UNROUTED, declare_all
from tests import services
from workflow.adapters import migrate
from workflow.adapters.db import Database, open_database
from workflow.adapters.tables import OUTBOX

TARGET_RATIO = 0.5
TICKETS = 200


@contextmanager
def database() -> Iterator[tuple[Database, str]]:
    admin = create_engine(services.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"rd_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(services.PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        db = open_database(url)
        try:
            yield db, url
        finally:
            db.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def vhost() -> Iterator[str]:
    name = f"rd_bench_{uuid.uuid4().hex[:8]}"
    services.rabbitmqctl("add_vhost", name)
    try:
        services.rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        url = f"amqp://guest:guest@{services.AMQP_HOST}:{services.AMQP_PORT}/{quote(name, safe='')}"
        with Connection(url) as conn:
            declare_all(conn)
        yield url
    finally:
        services.rabbitmqctl("delete_vhost", name, check=False)


def fill(db: Database, rows: int) -> None:
    now = datetime.now(UTC)
    values = []
    sequences = [0] * TICKETS
    for i in range(rows):
        t = (i * 7919) % TICKETS
        sequences[t] += 1
        event_id = uuid.uuid4().hex
        payload = json.dumps({
            "specversion": "1.0", "id": event_id, "source": "urn:resetdesk",
            "type": "com.resetdesk.ticket.transitioned.v1", "subject": f"bench{t:05d}",
            "time": now.isoformat(), "datacontenttype": "application/json",
            "sequence": f"{sequences[t]:010d}",
            "data": {"ticket_id": f"bench{t:05d}", "reference": "RD-BNCH-0001",
                     "from_state": "queued", "to_state": "awaiting-callback",
                     "trigger": "request_callback", "actor": "agent:bench", "at": now.isoformat()}},
            separators=(",", ":"), sort_keys=True)
        values.append({"event_id": event_id, "ticket_id": f"bench{t:05d}",
                       "sequence": sequences[t],
                       "type": "com.resetdesk.ticket.transitioned.v1", "payload": payload,
                       "created_at": now})
    with db.writer.begin() as conn:
        conn.execute(delete(OUTBOX))
        conn.execute(insert(OUTBOX), values)


def purge(url: str) -> None:
    with Connection(url) as conn:
        UNROUTED(conn.default_channel).purge()


def run_relay(db: Database, url: str, rows: int, batch: int) -> float:
    fill(db, rows)
    purge(url)
    sent = 0
    started = time.perf_counter()
    with ConfirmingPublisher(url) as publisher:
        while True:
            n = relay_once(db, publisher, batch=batch)
            if not n:
                break
            sent += n
    elapsed = time.perf_counter() - started
    if sent != rows:
        raise SystemExit(f"relayed {sent} of {rows} rows")
    return rows / elapsed


def run_bare(db: Database, db_url: str, url: str, bare: str, rows: int, batch: int) -> float:
    fill(db, rows)
    purge(url)
    sent, elapsed = timed(BARE[bare], db_url, url, batch)
    if sent != rows:
        raise SystemExit(f"bare {bare} relayed {sent} of {rows} rows")
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--bare", choices=sorted(BARE), default="pika")
    args = parser.parse_args()

    relay: list[float] = []
    bare: list[float] = []
    with database() as (db, db_url), vhost() as url:
        run_relay(db, url, 2_000, args.batch)  # warm-up, both
        run_bare(db, db_url, url, args.bare, 2_000, args.batch)
        for rep in range(args.reps):
            first_bare = rep % 2 == 1  # alternate which goes first
            if first_bare:
                bare.append(run_bare(db, db_url, url, args.bare, args.rows, args.batch))
            relay.append(run_relay(db, url, args.rows, args.batch))
            if not first_bare:
                bare.append(run_bare(db, db_url, url, args.bare, args.rows, args.batch))
            print(f"rep {rep + 1}: relay {relay[-1]:,.0f} rows/s, bare {args.bare} "
                  f"{bare[-1]:,.0f} rows/s", flush=True)
    ours, base = statistics.median(relay), statistics.median(bare)
    paired = statistics.median(r / b for r, b in zip(relay, bare, strict=True))
    print(f"PostgreSQL, batch {args.batch}, {args.rows:,} rows each, bare publisher "
          f"{args.bare}, median of {args.reps}; median of each rep's ratio {paired:.2f}")
    print(f"relay_throughput: {ours:.0f} msg/s vs baseline {base:.0f} msg/s = ratio "
          f"{ours / base:.2f} (target {TARGET_RATIO:g})")


if __name__ == "__main__":
    main()
