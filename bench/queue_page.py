"""How fast is the agents' queue read model with 100,000 tickets in PostgreSQL?

Workload: N tickets (default 100,000; ``bench.queue_data``: 80 % closed, 20 % open, of those
70 % with a running clock) COPYed into a scratch database ``resetdesk_bench_queue`` (dropped and
created here, migrated with ``workflow.adapters.migrate``, VACUUM ANALYZEd, dropped at the end
unless ``--keep``).

Measured, each ``--runs`` times after a warm-up, interleaved: ``queries.queue.queue_page`` for
four shapes (the default queue; a filter, "mine"; a search by email prefix; page 2 of the
default queue through its cursor), each beside its baseline: the same SQL statements written
by hand and run with plain psycopg on one connection (no SQLAlchemy, no pool, no row objects,
no countdowns). The baseline also checks that it returns the model's rows.

Targets: p99 under 100 ms for every shape (the issue's), and the model within 5x of the bare SQL
at p99. Why 5x: the SQL is sub-millisecond (an ordered index range of 51 rows), so the model's
fixed costs dominate the ratio: a pooled connection's checkout and transaction, SQLAlchemy's
compiled-statement cache and result rows, and per row the business-time countdown (one walk of
the calendar's windows) and, for paused rows, the clocks' JSON. A few hundred microseconds of
that is ~2-4x; 5x leaves room for a loaded machine without hiding a query that lost its index
(that shows as 10-100x).

Run: uv run python -m bench.queue_page [--rows N] [--runs N] [--keep]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import queue_data
from tests.services import PG_ADMIN_URL
from workflow.adapters import migrate
from workflow.adapters.db import Database, open_database
from workflow.adapters.queries import QueueFilters, queue_page
from workflow.adapters.sla_book import default_book

DATABASE = "resetdesk_bench_queue"
TARGET_MS = 100.0
TARGET_RATIO = 5.0
NOW = datetime(2027, 3, 2, 18, 0, tzinfo=UTC)  # a Tuesday, 10:00 at the desk
LIMIT = 50
COLUMNS = ("id, reference, state, waiting_on, assignee, language, method, created_at, version, "
           "sla_due_at, first_reply_due_at, resolution_due_at, sla")
RUNNING = f"SELECT {COLUMNS} FROM ticket WHERE {{}} sla_due_at IS NOT NULL {{}}" \
          " ORDER BY sla_due_at, id LIMIT %s"
PARKED = f"SELECT {COLUMNS} FROM ticket WHERE {{}} state != 'closed' AND sla_due_at IS NULL" \
         " ORDER BY sla_due_at, id LIMIT %s"
SEARCH = ("(search_email LIKE %s OR serial_key = %s OR search_serial LIKE %s) AND "
          "sla_due_at {} ORDER BY sla_due_at, id LIMIT %s")


@dataclass(frozen=True)
class Shape:
    name: str
    model: Callable[[], list[str]]
    baseline: Callable[[psycopg.Connection[Any]], list[str]]


def _ids(cur: psycopg.Cursor[Any]) -> list[str]:
    return [row[0] for row in cur.fetchall()]


def _two_halves(conn: psycopg.Connection[Any], running: tuple[str, tuple[Any, ...]],
                parked: tuple[str, tuple[Any, ...]]) -> list[str]:
    """As the model reads: the running half, then the parked half if the page is not full."""
    ids = _ids(conn.execute(running[0], (*running[1], LIMIT + 1)))
    if len(ids) <= LIMIT:
        ids += _ids(conn.execute(parked[0], (*parked[1], LIMIT + 1 - len(ids))))
    return ids[:LIMIT]


def shapes(db: Database, conn: psycopg.Connection[Any]) -> list[Shape]:
    book = default_book()

    def model(filters: QueueFilters, after: str | None = None) -> Callable[[], list[str]]:
        return lambda: [r.id for r in queue_page(db, filters, book=book, now=NOW, after=after,
                                                 limit=LIMIT).rows]

    first = queue_page(db, QueueFilters(), book=book, now=NOW, limit=LIMIT)
    assert first.next_cursor and first.rows[-1].sla_due_at
    last_due, last_id = first.rows[-1].sla_due_at, first.rows[-1].id
    email = "customer.123"
    search_args = (email + "%", email.upper(), email.upper() + "%")
    return [
        Shape("default", model(QueueFilters()), lambda c: _two_halves(
            c, (RUNNING.format("", ""), ()), (PARKED.format(""), ()))),
        Shape("mine", model(QueueFilters(assignee="agent07")), lambda c: _two_halves(
            c, (RUNNING.format("assignee = %s AND", ""), ("agent07",)),
            (PARKED.format("assignee = %s AND"), ("agent07",)))),
        Shape("search", model(QueueFilters(search=email)), lambda c: _two_halves(
            c, (f"SELECT {COLUMNS} FROM ticket WHERE " + SEARCH.format("IS NOT NULL"),
                search_args),
            (f"SELECT {COLUMNS} FROM ticket WHERE " + SEARCH.format("IS NULL"), search_args))),
        Shape("page 2", model(QueueFilters(), first.next_cursor), lambda c: _two_halves(
            c, (RUNNING.format("", "AND sla_due_at >= %s AND (sla_due_at > %s OR id > %s)"),
                (last_due, last_due, last_id)), (PARKED.format(""), ()))),
    ]


def load(url: str, rows: int, now: datetime = NOW) -> None:
    """COPY the population (as of ``now``) in, then VACUUM ANALYZE (statistics and the
    visibility map)."""
    generated = queue_data.rows(rows, now, default_book())
    first = next(generated)
    columns = list(first)
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur, cur.copy(
                f"COPY ticket ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write_row([first[c] for c in columns])
            for row in generated:
                copy.write_row([row[c] for c in columns])
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE ticket")


def _ms(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def measure(shape: Shape, conn: psycopg.Connection[Any], runs: int) -> tuple[float, ...]:
    assert shape.model() == shape.baseline(conn), f"{shape.name}: baseline rows differ"
    for _ in range(20):  # warm up: caches, prepared statements
        shape.model()
        shape.baseline(conn)
    model: list[float] = []
    bare: list[float] = []
    for i in range(runs):
        pair = [(model, shape.model), (bare, lambda: shape.baseline(conn))]
        for times, fn in pair if i % 2 else pair[::-1]:
            times.append(_ms(fn))
    return statistics.median(model), p99(model), statistics.median(bare), p99(bare)


@contextmanager
def scratch_database(name: str, *, keep: bool = False) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database, migrated: (the project's URL, the bare psycopg URL);
    dropped afterwards unless ``keep``."""
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    bare_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        migrate.upgrade(url)
        yield url, bare_url
    finally:
        if not keep:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help=f"keep {DATABASE} afterwards")
    args = parser.parse_args()
    db: Database | None = None
    with scratch_database(DATABASE, keep=args.keep) as (url, bare_url):
        try:
            began = time.perf_counter()
            load(bare_url, args.rows)
            print(f"  {args.rows:,} tickets loaded in {time.perf_counter() - began:.1f} s ({DATABASE})")
            db = open_database(url)
            results = []
            with psycopg.connect(bare_url, autocommit=True) as conn:
                for shape in shapes(db, conn):
                    m50, m99, b50, b99 = measure(shape, conn, args.runs)
                    results.append((m99, b99))
                    print(f"  {shape.name:8} model p50 {m50:6.2f} ms  p99 {m99:6.2f} ms | bare SQL "
                          f"p50 {b50:6.2f} ms  p99 {b99:6.2f} ms | p99 ratio {m99 / b99:5.2f}")
            m99, b99 = max(results, key=lambda r: r[0] / r[1])  # the worst ratio
            meets = all(m < TARGET_MS for m, _ in results) and m99 / b99 <= TARGET_RATIO
            print(f"  {'meets' if meets else 'MISSES'} the target (p99 < {TARGET_MS:.0f} ms, "
                  f"within {TARGET_RATIO}x); {args.runs} runs per shape; the worst ratio below")
            print(f"queue_page: {m99:.2f} ms vs baseline {b99:.2f} ms = ratio {m99 / b99:.2f}"
                  f" (target {TARGET_RATIO})")
        finally:
            if db is not None:
                db.dispose()


if __name__ == "__main__":
    main()
