"""``resetdesk`` commands import only what they use (issue 14): ``--help`` loads no database,
settings or transport library, and ``tickets list`` over a database with tickets reads through
SQLAlchemy alone, without the bus's transports, the web side or the scheduler. How long they
take is ``bench.cli_start``'s to say; this holds what they load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli_start import seed
from resetdesk.cli import COMMANDS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

#: what the transports, the web side and the scheduler bring in; no read command needs them
NEVER = {"kombu", "pika", "amqp", "fastapi", "starlette", "uvicorn", "apscheduler", "httpx",
         "alembic", "consumers", "schedulers", "console", "workflow.service.bus"}
#: ``--help`` needs none of these either: the settings, the database, the domain
NOT_FOR_HELP = {"pydantic_settings", "sqlalchemy", "sqlmodel", "holidays", "workflow.adapters",
                "workflow.domain", "resetdesk.settings", "resetdesk.bootstrap"}


#: runs ``python -m resetdesk ARGS`` and, at exit, writes the names in ``sys.modules`` to stderr
#: (``-X importtime`` misses what ``importlib.import_module`` loads: holidays' countries, the
#: read models of ``workflow.adapters.queries``)
PROBE = """
import atexit, runpy, sys
atexit.register(lambda: sys.stderr.write("\\nMODULES " + " ".join(sorted(sys.modules)) + "\\n"))
sys.argv = ["resetdesk", *sys.argv[1:]]
runpy.run_module("resetdesk", run_name="__main__", alter_sys=True)
"""


def _imports(*args: str) -> tuple[set[str], str]:
    """The modules a fresh ``python -m resetdesk ARGS`` has imported when it exits, and what it
    printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESETDESK_")}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    [line] = [ln for ln in done.stderr.splitlines() if ln.startswith("MODULES ")]
    names = set(line.split()[1:])
    assert "resetdesk.cli" in names  # the probe sees the command's imports
    return names, done.stdout


def _under(names: set[str], packages: set[str]) -> set[str]:
    return {n for n in names if any(n == p or n.startswith(p + ".") for p in packages)}


def test_help_lists_every_command_and_imports_no_heavy_module() -> None:
    names, out = _imports("--help")
    assert _under(names, NEVER | NOT_FOR_HELP) == set()
    listed = {line.split()[1] for line in out.splitlines() if line.startswith("│ ")}
    assert set(COMMANDS) <= listed


def test_tickets_list_reads_without_transports_web_or_scheduler(tmp_path: Path) -> None:
    seed(tmp_path, 20, migrated=False)
    names, out = _imports("--data-dir", str(tmp_path), "tickets", "list")
    assert _under(names, NEVER) == set()
    assert {"sqlalchemy", "workflow.adapters.queries.tickets"} <= names
    rows = [line for line in out.splitlines() if line.startswith("RD-")]
    assert len(rows) == 20
    assert any(line.rstrip().endswith(("AT RISK", "BREACHED")) for line in rows) or all(
        "closed" in line or "submitted" in line or "verified" in line for line in rows)
