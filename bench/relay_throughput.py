"""Outbox relay throughput: confirms taken per batch vs a confirm awaited after every message.

Workload: outbox rows (structured CloudEvents of ~400 bytes, 200 tickets interleaved) in a
throwaway database (PostgreSQL ``rd_bench_<random>``, created, migrated and dropped here; SQLite
in a temporary file with ``--backend sqlite``), relayed to a throwaway RabbitMQ vhost (topology of
consumers/topology.py; the events land in the quorum queue ``events.unrouted``, purged between
runs).

Measured: ``relay_once`` in a loop until the outbox is empty, batches of ``--batch`` rows (one
claiming transaction, publish all, then await all confirms, mark sent, commit).
Baseline, in the same run, same code and library (py-amqp), same batch transactions: the
publisher waits for each message's confirm before publishing the next. Runs alternate; medians of
rows per second are reported. Target: batched at least 3x the baseline (DESIGN.md measured
~1,380 msg/s for a confirm per message and 10-20k for batched confirms on the bare broker).

Run: uv run python -m bench.relay_throughput [--rows N] [--baseline-rows N] [--batch N]
     [--reps N] [--backend pg|sqlite]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from kombu.connection import Connection
from sqlalchemy import create_engine, delete, insert, text
from sqlalchemy.engine import make_url

from consumers.amqp.confirms import BatchResult, ConfirmingPublisher, Outgoing
from consumers.amqp.relay import relay_once
from consumers.topology import UNROUTED, declare_all
from tests import services
from workflow.adapters import migrate
from workflow.adapters.db import Database, open_database
from workflow.adapters.tables import OUTBOX

TARGET_RATIO = 3.0
TICKETS = 200


class PerMessagePublisher(ConfirmingPublisher):
    """The baseline: publish one message, wait for its confirm, then the next."""

    def publish(self, messages: Sequence[Outgoing]) -> BatchResult:
        confirmed: list[bool] = []
        for m in messages:
            result = super().publish([m])
            confirmed += result.confirmed
            if result.error is not None:
                return BatchResult(confirmed + [False] * (len(messages) - len(confirmed)),
                                   result.error)
        return BatchResult(confirmed)


@contextmanager
def database(backend: str) -> Iterator[Database]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            migrate.upgrade(url)
            db = open_database(url)
            try:
                yield db
            finally:
                db.dispose()
        return
    admin = create_engine(services.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"rd_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(services.PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        db = open_database(url)
        try:
            yield db
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


def run(db: Database, url: str, publisher: ConfirmingPublisher, rows: int, batch: int) -> float:
    fill(db, rows)
    with Connection(url) as conn:
        UNROUTED(conn.default_channel).purge()
    sent = 0
    started = time.perf_counter()
    with publisher:
        while True:
            n = relay_once(db, publisher, batch=batch)
            if not n:
                break
            sent += n
    elapsed = time.perf_counter() - started
    if sent != rows:
        raise SystemExit(f"relayed {sent} of {rows} rows")
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--baseline-rows", type=int, default=4_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--backend", choices=("pg", "sqlite"), default="pg")
    args = parser.parse_args()

    batched: list[float] = []
    baseline: list[float] = []
    with database(args.backend) as db, vhost() as url:
        run(db, url, ConfirmingPublisher(url), 2_000, args.batch)  # warm-up
        for rep in range(args.reps):
            batched.append(run(db, url, ConfirmingPublisher(url), args.rows, args.batch))
            baseline.append(run(db, url, PerMessagePublisher(url), args.baseline_rows, args.batch))
            print(f"rep {rep + 1}: batched confirms {batched[-1]:,.0f} rows/s, "
                  f"a confirm per message {baseline[-1]:,.0f} rows/s", flush=True)
    fast, slow = statistics.median(batched), statistics.median(baseline)
    print(f"backend {args.backend}, batch {args.batch}, {args.rows:,} rows batched / "
          f"{args.baseline_rows:,} baseline, median of {args.reps}")
    print(f"relay_throughput: {fast:.0f} msg/s vs baseline {slow:.0f} msg/s = ratio "
          f"{fast / slow:.1f} (target {TARGET_RATIO:g})")


if __name__ == "__main__":
    main()
