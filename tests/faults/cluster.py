"""Scale-out on a real cluster: the 3-node RabbitMQ cluster of ``deploy/rabbit_cluster.py`` (free
ports, node names of this run's own, torn down with SIGKILL) with the production users and vhost
loaded at boot, a PostgreSQL database of the test's own, 3 ``consume verification`` processes
and 2 ``scheduler`` processes.

Every process is given all three nodes as one failover URL (``amqp://n1;amqp://n2;amqp://n3``,
kombu's syntax: a lost or refused connection moves on to the next), each list starting at a
different node, so consumer *i* (and scheduler *i*) normally lives on node *i* and moves to node
*i+1* when its node goes. The topology is declared once every node has joined, so each quorum
queue has a member on every node: the consumers start while the nodes join (importing the app
takes them seconds) but may use the vhost only once the joins are done.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text

from deploy.rabbit_cluster import Cluster, ClusterError, Node, open_to_the_broker
from tests import services
from tests.faults.boot import declare_topology, new_users, write_definitions
from tests.faults.layout import settings
from tests.processes import CONSUMER_RIGHTS, Broker, Desk, Proc, Users, wait_for
from workflow.adapters import accounts
from workflow.adapters.db import open_database

AMQP_SOURCE = "urn:test:cluster-amqp-form"
LOCK_NAME = "resetdesk-scheduler"
CONSUMERS, SCHEDULERS = 3, 2
STARTUP = 120.0
FIRST_REPLY_HOURS = 0.001  # 3.6 s (at risk at 2.9 s): both alarms soon after the last ticket


class BootingCluster(threading.Thread):
    """Starts the cluster in the background (the database is made meanwhile); ``wait`` returns
    once every node has joined, or skips (fails under RESETDESK_REQUIRE_SERVICES=1)."""

    def __init__(self, cluster: Cluster, extra_conf: str) -> None:
        super().__init__(daemon=True)
        self.cluster, self.extra_conf, self.error = cluster, extra_conf, ""
        self.took: dict[str, float] = {}
        #: set once every node serves, before the joins
        self.booted = threading.Event()

    def run(self) -> None:
        try:
            self.took = self.cluster.start(self.extra_conf, on_booted=self.booted.set)
        except Exception as err:  # ClusterError, a time-out: the test says why
            self.error = f"{type(err).__name__}: {err}"
        finally:
            self.booted.set()

    def wait(self, timeout: float = 180) -> None:
        self.join(timeout)
        if self.is_alive() or self.error:
            services.unavailable("a 3-node RabbitMQ cluster",
                                 self.error or f"not joined after {timeout:g} s")
        print(f"cluster {', '.join(n.name for n in self.cluster.nodes)} up and joined in "
              f"{self.took['total']:.1f} s (boot {self.took['boot']:.1f} s, join "
              f"{self.took['join']:.1f} s)", flush=True)


@dataclass
class ClusterLayout:
    cluster: Cluster
    desk: Desk
    settings: dict[str, str]
    procs: dict[str, Proc] = field(default_factory=dict)

    def failover_url(self, who: str, first: int) -> str:
        """Every node's URL for ``who``, starting at node ``first`` (0-based)."""
        nodes = self.cluster.nodes[first:] + self.cluster.nodes[:first]
        return ";".join(self.desk.url(who, port=n.amqp_port) for n in nodes)

    def start_schedulers(self) -> None:
        """They need the database only (the broker for ops samples, which may fail a while)."""
        for i in range(SCHEDULERS):
            name = f"scheduler-{i + 1}"
            self.procs[name] = self.desk.start(name, "scheduler",
                                               broker_url=self.failover_url("consumer", i),
                                               **self.settings)

    def start_consumers(self) -> None:
        """Started while the nodes join (a process takes seconds to import the app); they may
        use the vhost only once :meth:`admit_consumers` ran."""
        for i in range(CONSUMERS):
            name = f"verification-{i + 1}"
            self.procs[name] = self.desk.start(name, "consume", "verification",
                                               broker_url=self.failover_url("consumer", i),
                                               **self.settings)

    def admit_consumers(self) -> None:
        """The consumer user's permissions, granted once every node has joined and the topology
        is declared: a quorum queue gets its members when declared, so a consumer that declared
        it before the joins would leave it on one node."""
        first = self.cluster.nodes[0]
        user, vhost = self.desk.users.consumer[0], quote(self.desk.vhost, safe="")
        answer = httpx.put(f"http://127.0.0.1:{first.management_port}/api/permissions/{vhost}/"
                           f"{quote(user, safe='')}", auth=("guest", "guest"), timeout=10,
                           json={"configure": CONSUMER_RIGHTS, "write": ".*", "read": ".*"})
        assert answer.status_code in (201, 204), answer.text

    def aim_at(self, node: Node) -> None:
        """Read queue figures (``rabbitmqctl``, passive declares) through ``node``."""
        self.desk.broker = Broker("127.0.0.1", node.amqp_port, node.ctl)

    def consumers(self) -> int:
        try:
            return self.desk.consumers_on("verification")
        except Exception:  # a node is stopping: the figure comes back
            return -1

    def leader_pid(self) -> int | None:
        with self.desk.db.reader.connect() as conn:
            name = conn.execute(text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE :n"),
                {"n": f"{LOCK_NAME}:%"}).scalar()
        return int(name.rsplit(":", 1)[1]) if name else None

    def queue_leader(self, queue: str, via: Node) -> str:
        """The node leading ``queue`` and its members, from ``via``'s management API."""
        vhost = httpx.URL(self.desk.url("guest")).path.lstrip("/")
        got = httpx.get(f"http://127.0.0.1:{via.management_port}/api/queues/{vhost}/{queue}",
                        auth=("guest", "guest"), timeout=10).json()
        assert sorted(got["members"]) == sorted(n.name for n in self.cluster.nodes), got
        return str(got["leader"])

    def node(self, name: str) -> Node:
        (node,) = [n for n in self.cluster.nodes if n.name == name]
        return node

    def wait_ready(self) -> None:
        t0 = time.monotonic()
        wait_for(f"{CONSUMERS} consumers on verification", lambda: self.consumers() == CONSUMERS,
                 STARTUP, every=0.3)
        wait_for("a scheduler leader", lambda: self.leader_pid() is not None, STARTUP, every=0.3)
        print(f"processes ready {time.monotonic() - t0:.1f} s after the cluster", flush=True)

    def dead_processes(self) -> list[str]:
        return [name for name, p in self.procs.items() if not p.alive]


def plan_cluster(users: Users, vhost: str) -> tuple[Cluster, str]:
    """The cluster's plan and the first node's extra config (load the users and vhost)."""
    for tool in ("rabbitmq-server", "rabbitmqctl"):
        if shutil.which(tool) is None:
            services.unavailable("a 3-node RabbitMQ cluster", f"{tool} is not on PATH")
    base = Path(tempfile.mkdtemp(prefix="rd_cluster_"))  # outside pytest's private tmp
    open_to_the_broker(base)
    cluster = Cluster.plan(base, amqp_port=0, prefix=f"rd{services.RUN_ID}n")
    holder: Any = SimpleNamespace(base=base)
    write_definitions(holder, users, vhost)  # base/definitions.json (and a scratch conf line)
    path = base / "definitions.json"
    definitions = json.loads(path.read_text(encoding="utf-8"))
    definitions["permissions"] = [p for p in definitions["permissions"]
                                  if p["user"] != users.consumer[0]]  # see admit_consumers
    path.write_text(json.dumps(definitions), encoding="utf-8")
    return cluster, f"load_definitions = {path}\n"


@pytest.fixture
def booting_cluster() -> Iterator[tuple[BootingCluster, Users, str]]:
    users, vhost = new_users(services.RUN_ID), f"rd_cluster_{services.RUN_ID}"
    cluster, extra = plan_cluster(users, vhost)
    booting = BootingCluster(cluster, extra)
    booting.start()
    try:
        yield booting, users, vhost
    finally:
        booting.join(180)
        cluster.destroy(graceful=False)


@pytest.fixture
def cluster_layout(booting_cluster: tuple[BootingCluster, Users, str], pg_url: str,
                   tmp_path: Path) -> Iterator[ClusterLayout]:
    """Made while the cluster boots: the database, the producer; then the topology (through
    the first node) and the processes."""
    booting, users, vhost = booting_cluster
    first = booting.cluster.nodes[0]
    desk = Desk(Broker("127.0.0.1", first.amqp_port, first.ctl), users, vhost, pg_url, tmp_path)
    desk.db = open_database(pg_url)
    try:
        accounts.add_producer(desk.db, desk.producer, AMQP_SOURCE)
        layout = ClusterLayout(booting.cluster, desk, {
            **settings(tmp_path), "RESETDESK_AMQP__MANAGEMENT_URL": "off",
            "RESETDESK_SLA__FIRST_REPLY_HOURS": str(FIRST_REPLY_HOURS)})
        layout.start_schedulers()
        booting.booted.wait(180)
        layout.start_consumers()
        booting.wait()
        declare_topology(desk)
        layout.admit_consumers()
        layout.wait_ready()
        yield layout
    finally:
        for proc in desk.procs:
            if proc.alive and proc.popen is not None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in desk.procs:
            proc.stop(10)
            print(f"----- {proc.name} ({proc.starts} start(s)) -----\n{proc.log()[-3000:]}")
        desk.db.dispose()


__all__ = ["AMQP_SOURCE", "ClusterError", "ClusterLayout", "booting_cluster", "cluster_layout"]
