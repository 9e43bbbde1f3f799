"""Bringing up the fault tests' private services quickly: the RabbitMQ node boots in the
background with its users, vhost and permissions loaded from a definitions file (each
``rabbitmqctl`` call starts an Erlang VM: a dozen of them cost longer than the node's own boot on
a busy machine), while the database is made, migrated and the producers registered; since every
URL is known before the node is up, the processes can start at once and connect when it is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import threading
from contextlib import suppress
from pathlib import Path

from kombu.connection import Connection

from consumers.topology import EVENTS, declare_all
from schemas.events_v1 import SLA_AT_RISK_V1, SLA_BREACHED_V1, TICKET_QUEUED_V1
from tests import services
from tests.private_postgres import PrivatePostgres
from tests.private_rabbit import PrivateRabbit, PrivateRabbitError
from tests.processes import CONSUMER_RIGHTS, TAP, Broker, Desk, Users
from workflow.adapters import accounts, migrate
from workflow.adapters.db import open_database

SLA_TAP = "faults.sla.tap"


def password_hash(password: str) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def new_users(run: str) -> Users:
    return Users(*((f"rd_{role}_{run}", secrets.token_hex(12))
                   for role in ("consumer", "replayer", "form")))


def write_definitions(node: PrivateRabbit, users: Users, vhost: str) -> None:
    """Users (guest too: a node that loads definitions makes no default user), the vhost and
    the same permissions :meth:`tests.processes.Desk.open` grants, loaded at boot."""
    tags = {"guest": ["administrator"], users.consumer[0]: ["impersonator"],
            users.ops[0]: ["impersonator"], users.producer[0]: []}
    passwords = dict([("guest", "guest"), users.consumer, users.ops, users.producer])
    rights = {"guest": (".*", ".*", ".*"), users.consumer[0]: (CONSUMER_RIGHTS, ".*", ".*"),
              users.ops[0]: ("^$", r"^resetdesk\.(requests|events)$", "^$"),
              users.producer[0]: ("^$", r"^resetdesk\.requests$", "^$")}
    definitions = {
        "users": [{"name": name, "password_hash": password_hash(passwords[name]),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": tags[name],
                   "limits": {}} for name in tags],
        "vhosts": [{"name": "/"}, {"name": vhost}],
        "permissions": [{"user": "guest", "vhost": "/", "configure": ".*", "write": ".*",
                         "read": ".*"}] + [
            {"user": user, "vhost": vhost, "configure": c, "write": w, "read": r}
            for user, (c, w, r) in rights.items()],
    }
    path = node.base / "definitions.json"
    path.write_text(json.dumps(definitions), encoding="utf-8")
    path.chmod(0o644)
    with open(node.base / "rabbitmq.conf", "a", encoding="utf-8") as conf:
        conf.write(f"load_definitions = {path}\n")


def declare_topology(desk: Desk) -> None:
    """The topology, Desk's ticket.queued tap and a tap for both SLA events."""
    with Connection(desk.url("guest")) as conn:
        declare_all(conn)
        ch = conn.default_channel
        for queue, keys in ((TAP, [TICKET_QUEUED_V1]), (SLA_TAP, [SLA_AT_RISK_V1, SLA_BREACHED_V1])):
            ch.queue_declare(queue, durable=True, auto_delete=False,
                             arguments={"x-queue-type": "quorum"})
            for key in keys:
                ch.queue_bind(queue, EVENTS.name, key)


def make_desk(node: PrivateRabbit, pg: PrivatePostgres, log_dir: Path) -> Desk:
    """A Desk on the node (not started yet) and a migrated database on the cluster."""
    users = new_users(services.RUN_ID)
    vhost = f"rd_faults_{services.RUN_ID}"
    write_definitions(node, users, vhost)
    db_url = pg.create_database("resetdesk")
    migrate.upgrade(db_url)
    desk = Desk(Broker(node.host, node.port, node.ctl), users, vhost, db_url, log_dir)
    desk.db = open_database(db_url)
    return desk


def register_producers(desk: Desk, amqp_source: str, http_name: str, http_source: str) -> str:
    """The AMQP producer (named after its broker user) and the HTTP one; the HTTP producer's
    bearer token."""
    accounts.add_producer(desk.db, desk.producer, amqp_source)
    return accounts.add_producer(desk.db, http_name, http_source)


class Booting(threading.Thread):
    """Starts the node in the background; ``wait`` returns once it serves, or makes the test
    skip (fail under RESETDESK_REQUIRE_SERVICES=1) with the node's own reason."""

    def __init__(self, node: PrivateRabbit) -> None:
        super().__init__(daemon=True)
        self.node, self.took, self.error = node, 0.0, ""

    def run(self) -> None:
        try:
            self.took = self.node.start()
        except (PrivateRabbitError, subprocess.SubprocessError) as err:
            self.error = str(err)

    def wait(self, timeout: float = 180) -> None:
        self.join(timeout)
        if self.is_alive() or self.error:
            services.unavailable("a private RabbitMQ node",
                                 self.error or f"not started after {timeout:g} s")
        print(f"private node {self.node.node} on port {self.node.port} started in "
              f"{self.took:.1f} s", flush=True)

    def finish(self) -> None:
        with suppress(RuntimeError):
            self.join(180)
