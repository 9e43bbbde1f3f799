"""The production layout as separate OS processes on a private RabbitMQ node and a private
PostgreSQL cluster, both of which a fault test may stop and start without touching the shared
services: ``serve``, two ``consume verification``, ``consume notifications``, ``consume
escalation``, ``relay``, ``dlq archive`` and two ``scheduler`` copies (one leader).

One "system" broker user (Desk's consumer user, with the ``impersonator`` tag) runs every
process, so a copy the relay republishes carries the system's own ``user_id``; form producers
publish as their own user (Desk's producer user). Settings: a 24x7 UTC calendar and a
first-reply SLA of seconds, so alarms cross while the test watches; escalation to callbacks off
(an alarm is what is checked here, not the callback desk).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests import services
from tests.faults.boot import SLA_TAP, Booting, declare_topology, make_desk, register_producers
from tests.private_postgres import PrivatePostgres
from tests.private_rabbit import PrivateRabbit, free_port
from tests.processes import Desk, Proc, drain_queue, wait_for

AMQP_SOURCE = "urn:test:faults-amqp-form"
HTTP_SOURCE = "urn:test:faults-http-form"
HTTP_PRODUCER = "faults-http-form"
LOCK_NAME = "resetdesk-scheduler"  # SchedulerConfig's default; the cluster is ours alone
FIRST_REPLY_HOURS = 0.002  # 7.2 s; at risk at 80 %: 5.76 s
CALENDAR_24X7 = '[calendar]\ntimezone = "UTC"\n[hours]\n' + "".join(
    f'{day} = ["00:00-24:00"]\n' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
STARTUP = 120.0


@dataclass
class Layout:
    desk: Desk
    rabbit: PrivateRabbit
    pg: PrivatePostgres
    base: str
    http_token: str
    settings: dict[str, str]
    procs: dict[str, Proc] = field(default_factory=dict)

    @property
    def verification(self) -> list[Proc]:
        return [self.procs["verification-1"], self.procs["verification-2"]]

    @property
    def schedulers(self) -> list[Proc]:
        return [self.procs["scheduler-1"], self.procs["scheduler-2"]]

    def start(self, name: str, *args: str) -> Proc:
        self.procs[name] = self.desk.start(name, *args, RESETDESK_SERVER__PUBLIC_URL=self.base,
                                           **self.settings)
        return self.procs[name]

    # --- readiness ---------------------------------------------------------------------------

    def serving(self) -> bool:
        assert self.procs["serve"].alive, self.procs["serve"].log()[-3000:]
        try:
            return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def subscribed(self) -> bool:
        """Every consumer process has its subscription (the archiver on verification.dlq)."""
        want = {"verification": 2, "notifications": 1, "escalation": 1, "verification.dlq": 1}
        try:
            return all(self.desk.consumers_on(q) >= n for q, n in want.items())
        except Exception:  # the node is still starting
            return False

    def leader_pid(self) -> int | None:
        """The OS pid of the scheduler holding the advisory lock (application_name name:pid)."""
        try:
            with self.desk.db.reader.connect() as conn:
                name = conn.execute(text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                    "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE :n"),
                    {"n": f"{LOCK_NAME}:%"}).scalar()
        except Exception:  # the database is restarting
            return None
        return int(name.rsplit(":", 1)[1]) if name else None

    def scheduler_by_pid(self, pid: int) -> Proc:
        (proc,) = [p for p in self.schedulers if p.popen is not None and p.popen.pid == pid]
        return proc

    def start_all(self) -> None:
        port = self.base.rsplit(":", 1)[1]
        self.start("serve", "serve", "--port", port)
        for name in ("verification-1", "verification-2"):
            self.start(name, "consume", "verification")
        self.start("notifications", "consume", "notifications")
        self.start("escalation", "consume", "escalation")
        self.start("relay", "relay")
        self.start("archiver", "dlq", "archive")
        for name in ("scheduler-1", "scheduler-2"):
            self.start(name, "scheduler")

    def wait_ready(self) -> None:
        t0 = time.monotonic()
        wait_for("serve to answer /healthz", self.serving, STARTUP, every=0.2)
        t1 = time.monotonic()
        wait_for("every consumer to subscribe", self.subscribed, STARTUP, every=0.3)
        t2 = time.monotonic()
        wait_for("a scheduler leader", lambda: self.leader_pid() is not None, STARTUP, every=0.2)
        print(f"processes ready: serve {t1 - t0:.1f} s, consumers {t2 - t0:.1f} s, scheduler "
              f"leader {time.monotonic() - t0:.1f} s after the start", flush=True)

    def dead_processes(self) -> list[str]:
        return [name for name, p in self.procs.items() if not p.alive]

    # --- the SLA events tap --------------------------------------------------------------------

    def read_sla_tap(self, idle: float = 1.0) -> list[dict[str, Any]]:
        """Every sla.at_risk / sla.breached event the relay delivered (duplicates included)."""
        got = drain_queue(self.desk.url("guest"), SLA_TAP, prefetch=2000, idle=idle)
        return [{"type": m.delivery_info["routing_key"], **json.loads(m.body)} for m in got]


@pytest.fixture
def production(private_postgres: PrivatePostgres, tmp_path: Path) -> Iterator[Layout]:
    """The layout on a private node and cluster: the node boots in the background while the
    database is made and the processes start (they connect once it serves)."""
    for tool in ("rabbitmq-server", "rabbitmqctl"):
        if shutil.which(tool) is None:
            services.unavailable("a private RabbitMQ node", f"{tool} is not on PATH")
    t0 = time.monotonic()
    node = PrivateRabbit.create()
    booting = Booting(node)
    desk: Desk | None = None
    try:
        desk = make_desk(node, private_postgres, tmp_path)  # the node's definitions first
        booting.start()
        token = register_producers(desk, AMQP_SOURCE, HTTP_PRODUCER, HTTP_SOURCE)
        layout = Layout(desk, node, private_postgres, f"http://127.0.0.1:{free_port()}", token,
                        settings(tmp_path))
        layout.start_all()
        booting.wait()
        declare_topology(desk)
        layout.wait_ready()
        print(f"layout ready {time.monotonic() - t0:.1f} s after the fixture began", flush=True)
        yield layout
    finally:
        if desk is not None:
            desk.close()  # SIGTERM (then SIGKILL) every process, print their logs
        booting.finish()
        node.destroy()


def settings(data_dir: Path) -> dict[str, str]:
    calendar = data_dir / "calendar-24x7.toml"
    calendar.write_text(CALENDAR_24X7, encoding="utf-8")
    return {
        "RESETDESK_SECRET_KEY": secrets.token_urlsafe(48), "RESETDESK_DATA_DIR": str(data_dir),
        "RESETDESK_SLA__CALENDAR_PATH": str(calendar),
        "RESETDESK_SLA__FIRST_REPLY_HOURS": str(FIRST_REPLY_HOURS),
        "RESETDESK_SCHEDULER__INTERVAL_SECONDS": "0.5",
        "RESETDESK_CALLBACKS__ESCALATION": "none",
        # the same faults with group commit: RESETDESK_FAULTS_BATCH_SIZE=50 uv run pytest tests/faults
        **({"RESETDESK_AMQP__BATCH_SIZE": batch}
           if (batch := os.environ.get("RESETDESK_FAULTS_BATCH_SIZE")) else {}),
    }
