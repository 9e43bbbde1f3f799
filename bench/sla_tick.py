"""How long does one scheduler tick take with 1,000,000 open tickets, ~100 of them due?

Workload: N open tickets (default 1,000,000) bulk-loaded into a throwaway database (PostgreSQL:
``rd_bench_<random>`` created and dropped here, loaded with COPY; SQLite: a temporary file, loaded
with SQLAlchemy core executemany), both migrated with ``workflow.adapters.migrate.upgrade``.
Almost all have their next SLA alarm far ahead; groups of ``--due`` tickets (default 100) cross
their first-reply at-risk instant one minute apart, and each measurement runs at a fixed instant
just after one group crossed, so exactly that group is due.

Measured: ``raise_due_alarms(limit=100)``, the real tick (one indexed query, per-ticket domain
work, a savepoint per ticket, alarm + outbox + ticket UPDATE, one commit).
Baseline, measured in the same run on the same data (other groups, interleaved with the real
ticks): the same query, then the same rows written with SQLAlchemy core in one transaction: an
executemany INSERT into ``sla_alarm``, one into ``outbox`` (a hand-built CloudEvent JSON), and
an executemany ``UPDATE ticket … WHERE id AND version`` of the sla JSON, next alarm, version.
Target: the tick within 1.5x of the baseline and under 50 ms, on both backends. Medians are
printed per backend; the last line names the worse backend (highest ratio). A third, what-if
variant (``batched_tick``: the service's domain and codec code with batched writes) shows what
the tick would cost if ``raise_due_alarms`` wrote its rows in bulk; see docs/scheduler.md.

Run: uv run python -m bench.sla_tick [--rows N] [--due N] [--reps N] [--backend pg|sqlite|both]
     [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url

from tests.services import PG_ADMIN_URL
from workflow.adapters import migrate, outbox_codec
from workflow.adapters.db import Database, open_database
from workflow.adapters.repository import _ticket_from_row
from workflow.adapters.sla_book import default_book
from workflow.adapters.tables import OUTBOX, SLA_ALARM, TICKET
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.events import SlaRaised
from workflow.domain.sla import SlaClock
from workflow.domain.ticket_sla import TicketSla, due_alarms, to_dict
from workflow.service.ports import Clock
from workflow.service.sla_service import raise_due_alarms

TARGET_RATIO = 1.5
TARGET_MS = 50.0
BASE = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # group g crosses at BASE + g minutes
FAR = datetime(2031, 1, 1, tzinfo=UTC)  # breach instants: never due during the run
COLUMNS = ("id", "reference", "state", "language", "source", "event_id", "created_at",
           "updated_at", "version", "event_seq", "data", "accepted_at", "sla",
           "sla_next_alarm_at", "first_reply_due_at", "resolution_due_at")
AT_RISK = "com.resetdesk.sla.at_risk.v1"


class FixedClock(Clock):
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def crossing(group: int) -> datetime:
    return BASE + timedelta(minutes=group)


def sla_json(at_risk: datetime) -> str:
    started = at_risk - timedelta(minutes=48)
    clocks = {name: SlaClock(name, 1, started, timedelta(0), started, FAR, at_risk if
                             name == "first_reply" else FAR - timedelta(hours=6))
              for name in ("first_reply", "resolution")}
    return json.dumps(to_dict(TicketSla(1, clocks)), separators=(",", ":"))


def ticket_rows(rows: int, groups: int, due: int) -> Iterator[tuple[Any, ...]]:
    """Group tickets first (ids 0..groups*due-1), then the filler, whose next alarm is a day
    or more after the last group."""
    data = json.dumps({"requester": {"country": "US", "language": "en"}, "reset_method": "key"})
    filler_sla = sla_json(FAR - timedelta(days=1))
    last = crossing(groups)
    for i in range(rows):
        group = i // due
        if group < groups:
            at_risk, sla = crossing(group), None
        else:
            at_risk, sla = last + timedelta(days=1, seconds=i % 86_400), filler_sla
        created = at_risk - timedelta(minutes=48)
        yield (f"{i:032x}", f"RD-{i:012d}", "queued", "en", "urn:bench", f"ev-{i}", created,
               created, 1, 2, data, created, sla or sla_json(at_risk), at_risk, FAR,
               FAR + timedelta(days=2))


def load_postgres(url: str, rows: int, groups: int, due: int) -> None:
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        with conn.cursor() as cur, cur.copy(f"COPY ticket ({', '.join(COLUMNS)}) FROM STDIN") as cp:
            for row in ticket_rows(rows, groups, due):
                cp.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE ticket")
    finally:
        raw.close()
        engine.dispose()


def load_sqlite(url: str, rows: int, groups: int, due: int, chunk: int = 50_000) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        batch: list[dict[str, Any]] = []
        for row in ticket_rows(rows, groups, due):
            batch.append(dict(zip(COLUMNS, row, strict=True)))
            if len(batch) == chunk:
                conn.execute(insert(TICKET), batch)
                batch = []
        if batch:
            conn.execute(insert(TICKET), batch)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def real_tick(db: Database, now: datetime) -> int:
    return raise_due_alarms(SqlUnitOfWork(db, sla=default_book()), FixedClock(now), limit=100)


def baseline_tick(db: Database, now: datetime) -> int:
    """The same query and the same rows, written lean with SQLAlchemy core."""
    with db.writer.begin() as conn:
        found = conn.execute(select(TICKET).where(TICKET.c.sla_next_alarm_at <= now)
                             .order_by(TICKET.c.sla_next_alarm_at).limit(100)).all()
        alarms, events, changes = [], [], []
        for t in found:
            sla = json.loads(t.sla)
            sla["raised"] = sorted({*sla["raised"], "first_reply:at_risk"})
            due_at = sla["clocks"]["first_reply"]["due_at"]
            alarms.append({"ticket_id": t.id, "clock": "first_reply", "cycle": 1,
                           "level": "at_risk", "due_at": FAR, "raised_at": now})
            event_id = uuid.uuid4().hex
            events.append({"event_id": event_id, "ticket_id": t.id, "sequence": t.event_seq,
                           "type": AT_RISK, "created_at": now, "payload": json.dumps({
                               "specversion": "1.0", "id": event_id, "source": "urn:resetdesk",
                               "type": AT_RISK, "subject": t.id, "time": now.isoformat(),
                               "sequence": f"{t.event_seq:020d}",
                               "data": {"ticket_id": t.id, "clock": "first_reply", "cycle": 1,
                                        "due_at": due_at, "raised_at": now.isoformat()}},
                               separators=(",", ":"), sort_keys=True)})
            changes.append({"b_id": t.id, "b_version": t.version, "version": t.version + 1,
                            "event_seq": t.event_seq + 1, "sla": json.dumps(sla),
                            "sla_next_alarm_at": FAR, "updated_at": now})
        if found:
            conn.execute(insert(SLA_ALARM), alarms)
            conn.execute(insert(OUTBOX), events)
            conn.execute(update(TICKET).where(TICKET.c.id == bindparam("b_id"),
                                              TICKET.c.version == bindparam("b_version"))
                         .values(version=bindparam("version"), event_seq=bindparam("event_seq"),
                                 sla=bindparam("sla"),
                                 sla_next_alarm_at=bindparam("sla_next_alarm_at"),
                                 updated_at=bindparam("updated_at")), changes)
    return len(found)


def batched_tick(db: Database, now: datetime) -> int:
    """What-if, not the product: the service's own domain and codec code (row decoding,
    ``due_alarms``, ``outbox_codec.encode``, ``to_dict``) with the writes batched: one
    INSERT … ON CONFLICT DO NOTHING RETURNING for the alarms, one outbox INSERT, one
    executemany UPDATE of the SLA columns only, no savepoints."""
    insert_alarm = sqlite_insert if db.is_sqlite else pg_insert
    with db.writer.begin() as conn:
        rows = conn.execute(select(TICKET).where(TICKET.c.sla_next_alarm_at <= now)
                            .order_by(TICKET.c.sla_next_alarm_at).limit(100)).all()
        plan = [(t, due_alarms(t.sla, now)) for t in map(_ticket_from_row, rows) if t.sla]
        wanted = [{"ticket_id": t.id, "clock": a.clock, "cycle": a.cycle, "level": a.level,
                   "due_at": a.due_at, "raised_at": now} for t, alarms in plan for a in alarms]
        new = set()
        if wanted:
            new = {tuple(r) for r in conn.execute(
                insert_alarm(SLA_ALARM).on_conflict_do_nothing(
                    index_elements=["ticket_id", "clock", "cycle", "level"])
                .returning(SLA_ALARM.c.ticket_id, SLA_ALARM.c.clock, SLA_ALARM.c.level), wanted)}
        events, changes = [], []
        for t, alarms in plan:
            assert t.sla is not None
            seq = t.event_seq
            for a in alarms:
                if (t.id, a.clock, a.level) in new:
                    event_id, etype, payload = outbox_codec.encode(
                        SlaRaised(t.id, now, a.clock, a.cycle, a.level, a.due_at), seq)
                    events.append({"event_id": event_id, "ticket_id": t.id, "sequence": seq,
                                   "type": etype, "payload": payload, "created_at": now})
                    seq += 1
            sla = replace(t.sla, raised=t.sla.raised | {(a.clock, a.level) for a in alarms})
            changes.append({"b_id": t.id, "b_version": t.version, "version": t.version + 1,
                            "event_seq": seq, "sla_next_alarm_at": sla.next_alarm_at(),
                            "sla": json.dumps(to_dict(sla), separators=(",", ":"))})
        if events:
            conn.execute(insert(OUTBOX), events)
        if changes:
            conn.execute(update(TICKET).where(TICKET.c.id == bindparam("b_id"),
                                              TICKET.c.version == bindparam("b_version"))
                         .values(version=bindparam("version"), event_seq=bindparam("event_seq"),
                                 sla=bindparam("sla"),
                                 sla_next_alarm_at=bindparam("sla_next_alarm_at")), changes)
    return len(new)


@dataclass
class Result:
    backend: str
    tick_ms: float
    baseline_ms: float
    query_ms: float
    batched_ms: float

    @property
    def ratio(self) -> float:
        return self.tick_ms / self.baseline_ms


def timed(kind: str, fn: Callable[[], int], expect: int) -> float:
    began = time.perf_counter()
    got = fn()
    elapsed = (time.perf_counter() - began) * 1000
    if got != expect:
        raise SystemExit(f"{kind}: {got} alarm(s) raised where {expect} were due; nothing to time")
    return elapsed


def query_ms(db: Database, now: datetime) -> float:
    """The indexed due query alone (ids only), for scale."""
    with db.reader.begin() as conn:
        began = time.perf_counter()
        conn.execute(select(TICKET.c.id).where(TICKET.c.sla_next_alarm_at <= now)
                     .order_by(TICKET.c.sla_next_alarm_at).limit(100)).all()
        return (time.perf_counter() - began) * 1000


def measure(backend: str, db: Database, due: int, reps: int, profile: bool) -> Result:
    group = 0
    times: dict[str, list[float]] = {"tick": [], "baseline": [], "batched": [], "query": []}
    for rep in range(reps + 1):  # rep 0 warms caches and connections up
        order = [("tick", real_tick), ("baseline", baseline_tick), ("batched", batched_tick)]
        for kind, fn in order[rep % 3:] + order[:rep % 3]:
            now = crossing(group) + timedelta(seconds=1)
            if rep and kind == "tick":
                times["query"].append(query_ms(db, now))
            ms = timed(kind, lambda fn=fn, now=now: fn(db, now), due)  # type: ignore[misc]
            group += 1
            if rep:
                times[kind].append(ms)
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(3):
            real_tick(db, crossing(group) + timedelta(seconds=1))
            group += 1
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
        print(f"  profile of 3 ticks ({backend}):\n{out.getvalue()}")
    ticks, baselines = times["tick"], times["baseline"]
    result = Result(backend, statistics.median(ticks), statistics.median(baselines),
                    statistics.median(times["query"]), statistics.median(times["batched"]))
    print(f"  {backend}: tick {result.tick_ms:.1f} ms (min {min(ticks):.1f}) vs baseline "
          f"{result.baseline_ms:.1f} ms (min {min(baselines):.1f}) = ratio {result.ratio:.2f}; "
          f"due query alone {result.query_ms:.2f} ms; medians of {reps}")
    print(f"  {backend}: what-if batched writes with the same domain code: "
          f"{result.batched_ms:.1f} ms = ratio {result.batched_ms / result.baseline_ms:.2f}")
    return result


def run_postgres(rows: int, due: int, reps: int, profile: bool) -> Result:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"rd_bench_{uuid.uuid4().hex[:8]}"
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db: Database | None = None
    try:
        migrate.upgrade(url)
        began = time.perf_counter()
        load_postgres(url, rows, groups(reps, profile), due)
        print(f"  postgres: {rows:,} tickets loaded in {time.perf_counter() - began:.1f} s ({name})")
        db = open_database(url)
        return measure("postgres", db, due, reps, profile)
    finally:
        if db is not None:
            db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_sqlite(rows: int, due: int, reps: int, profile: bool) -> Result:
    with tempfile.TemporaryDirectory(prefix="rd_bench_") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        began = time.perf_counter()
        load_sqlite(url, rows, groups(reps, profile), due)
        print(f"  sqlite: {rows:,} tickets loaded in {time.perf_counter() - began:.1f} s")
        db = open_database(url)
        try:
            return measure("sqlite", db, due, reps, profile)
        finally:
            db.dispose()


def groups(reps: int, profile: bool) -> int:
    return 3 * (reps + 1) + (3 if profile else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100, help="tickets due per tick (<= 100)")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--backend", choices=("pg", "sqlite", "both"), default="both")
    parser.add_argument("--profile", action="store_true", help="cProfile three more real ticks")
    args = parser.parse_args()
    if not 1 <= args.due <= 100 or args.rows < groups(args.reps, args.profile) * args.due:
        parser.error("--due must be 1..100 and --rows at least (3*reps+3)*due")

    results = []
    if args.backend in ("pg", "both"):
        results.append(run_postgres(args.rows, args.due, args.reps, args.profile))
    if args.backend in ("sqlite", "both"):
        results.append(run_sqlite(args.rows, args.due, args.reps, args.profile))
    worst = max(results, key=lambda r: r.ratio)
    for r in results:
        verdict = "meets" if r.ratio <= TARGET_RATIO and r.tick_ms < TARGET_MS else "MISSES"
        print(f"  {r.backend}: {verdict} the target ({TARGET_RATIO}x and < {TARGET_MS:.0f} ms)")
    print(f"sla_tick: {worst.tick_ms:.1f} ms vs baseline {worst.baseline_ms:.1f} ms"
          f" = ratio {worst.ratio:.2f} (target {TARGET_RATIO})")


if __name__ == "__main__":
    main()
