"""How long does a `resetdesk` command take from the shell, start-up included?

Workload: a fresh data directory whose SQLite database holds N tickets (default 200, the
lifelike mix of ``bench.queue_data``: open ones with running, paused and no clocks, closed ones
with stopped clocks). Each run starts a fresh process, interleaved: ``resetdesk --help``,
``resetdesk --data-dir D tickets list`` (100 rows with their SLA flags), and the baseline.

Baseline, measured in the same run: a plain script with no project code that imports typer and
sqlite3 (what any Python CLI over this database needs), runs the list's query and prints the
rows. The ratio is tickets list over baseline: what the project's own start-up adds.
Targets (issue 14): ``--help`` under 0.3 s and ``tickets list`` under 1.2 s, medians.

The processes run with a bytecode cache (a private ``PYTHONPYCACHEPREFIX``, filled by a warm-up
run), as an installed CLI does from its second run on. An environment with
``PYTHONDONTWRITEBYTECODE=1`` and no ``.pyc`` files compiles every module it imports on every run
instead: ``--cold N`` also times that (informational; it costs several times more).

Run: uv run python -m bench.cli_start [--runs 7] [--tickets 200]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.processes import process_env

HELP_TARGET, LIST_TARGET = 0.3, 1.2

BASELINE = """
import sqlite3, sys, typer

conn = sqlite3.connect(sys.argv[1])
rows = conn.execute(
    "SELECT id, reference, state, outcome, waiting_on, assignee, language, created_at, version,"
    " first_reply_due_at, sla FROM ticket ORDER BY created_at, id LIMIT 100").fetchall()
for r in rows:
    typer.echo(f"{r[1]:<13} {r[2]:<17} {r[3] or r[4] or '':<22} {r[5] or '':<12} {r[7]}")
"""


def seed(data_dir: Path, tickets: int, *, migrated: bool = True) -> Path:
    """A SQLite database in ``data_dir`` holding ``tickets`` lifelike tickets. ``migrated``:
    made by the migrations, as ``db upgrade`` does; else straight from the table metadata (a
    test's shortcut: no alembic)."""
    from sqlalchemy import insert
    from sqlmodel import SQLModel

    from bench import queue_data
    from workflow.adapters import migrate
    from workflow.adapters.db import open_database
    from workflow.adapters.sla_book import default_book
    from workflow.adapters.tables import TICKET

    path = data_dir / "resetdesk.db"
    if migrated:
        migrate.upgrade(f"sqlite:///{path}")
    db = open_database(f"sqlite:///{path}")
    try:
        if not migrated:
            SQLModel.metadata.create_all(db.writer)
        now = datetime.now(UTC)
        with db.writer.begin() as conn:
            conn.execute(insert(TICKET), list(queue_data.rows(tickets, now, default_book())))
    finally:
        db.dispose()
    return path


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _seconds(args: list[str], env: dict[str, str], cpu: list[float] | None = None) -> float:
    """Wall time of one fresh process; its CPU time (user + system) goes to ``cpu``."""
    began, cpu_before = time.perf_counter(), _cpu()
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - began
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    if cpu is not None:
        cpu.append(_cpu() - cpu_before)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--cold", type=int, default=0,
                        help="also time N runs of each without any bytecode cache")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cli_start-") as tmp:
        data_dir = Path(tmp)
        database = seed(data_dir, args.tickets)
        commands = {
            "help": [sys.executable, "-m", "resetdesk", "--help"],
            "list": [sys.executable, "-m", "resetdesk", "--data-dir", str(data_dir), "tickets",
                     "list"],
            "baseline": [sys.executable, "-c", BASELINE, str(database)],
        }
        base = {k: v for k, v in process_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached = base | {"PYTHONPYCACHEPREFIX": str(data_dir / "pycache")}
        for command in commands.values():  # warm the page cache and the bytecode cache
            _seconds(command, cached)
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(_seconds(command, cached, cpus[name]))
        cold = base | {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(data_dir / "none")}
        cold_times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.cold):
            for name, command in commands.items():
                cold_times[name].append(_seconds(command, cold))

    median = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"  {name:<9} median {median[name]:.3f} s  min {min(values):.3f}  "
              f"max {max(values):.3f}  ({args.runs} runs; CPU median "
              f"{statistics.median(cpus[name]):.3f} s)")
    if args.cold:
        print("  without a bytecode cache (every module compiled each run): " + ", ".join(
            f"{name} {statistics.median(values):.3f} s" for name, values in cold_times.items()))
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall time waits "
          "for a CPU when the machine is busy; CPU time does not)")
    ok = median["help"] < HELP_TARGET and median["list"] < LIST_TARGET
    print(f"  --help {'<' if median['help'] < HELP_TARGET else '>='} {HELP_TARGET} s, "
          f"tickets list {'<' if median['list'] < LIST_TARGET else '>='} {LIST_TARGET} s: "
          f"{'met' if ok else 'missed'}")
    print(f"cli_start: tickets list {median['list']:.2f} s (--help {median['help']:.2f} s) "
          f"vs baseline {median['baseline']:.2f} s = ratio {median['list'] / median['baseline']:.1f} "
          f"(target --help < {HELP_TARGET} s, tickets list < {LIST_TARGET} s)")


if __name__ == "__main__":
    main()
