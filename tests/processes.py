"""ResetDesk as real OS processes (``python -m resetdesk …``) against a RabbitMQ vhost and a
PostgreSQL database of their own, with each process's output kept in a log file.

- :class:`Proc`: one long-running command (``consume verification``, ``relay``, ``dlq
  archive``); ``start`` (again after a kill), ``kill`` (SIGKILL), ``stop`` (SIGTERM), ``log``.
- :class:`Desk`: what one test runs in: a fresh vhost on a broker (the shared one, or a private
  node), the users production has (a consumer user with the ``impersonator`` tag, an ops user
  with it too for replays, a form producer allowed to write to ``resetdesk.requests`` only),
  the topology, a tap queue on ``resetdesk.events`` for the ``ticket.queued`` events, the
  processes, and read-only views of the database and the queues.

A process's log holds what it prints and its log lines (``resetdesk/logs.py``: INFO and above,
human-readable unless ``RESETDESK_LOGGING__FORMAT=json``): reconnects are logged at WARNING.

Use from a test module: ``from tests.processes import amqp_users, desk  # noqa: F401``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from kombu.connection import Connection
from sqlalchemy import func, select

from consumers.topology import CONSUMER_QUEUES, EVENTS, declare_all
from schemas.events_v1 import TICKET_QUEUED_V1
from tests import services
from tests.waiting import wait_for as wait_for  # the one polling helper, re-exported
from workflow.adapters.db import Database, open_database
from workflow.adapters.tables import AUDIT, DEAD_LETTER, INBOX, OUTBOX, TICKET

ROOT = Path(__file__).resolve().parents[1]
TAP = "e2e.tap"
CONSUMER_RIGHTS = r"^(resetdesk\..*|events\.unrouted|verification.*|notifications.*|escalation.*)$"
Ctl = Callable[..., "subprocess.CompletedProcess[str]"]


#: how long a ResetDesk process may take to come up: each imports the whole app (seconds of CPU),
#: which on a loaded 2-core machine can take far longer than on a quiet one
PROCESS_START = 90.0


class Proc:
    """``python -m resetdesk ARGS`` (or another ``module``) with ``env``; stdout and stderr go
    to ``log_path``."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path,
                 module: str = "resetdesk") -> None:
        self.name, self.args, self.env, self.log_path = name, args, env, log_path
        self.module = module
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Proc:
        assert not self.alive, f"{self.name} is running already"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"=== start #{self.starts}: {self.module} {' '.join(self.args)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen([sys.executable, "-m", self.module, *self.args],
                                          cwd=ROOT, env=self.env, stdout=log,
                                          stderr=subprocess.STDOUT)
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or acked."""
        assert self.popen is not None and self.alive, f"{self.name} is not running:\n{self.log()}"
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, and SIGKILL after ``timeout``; the exit code (None if it had to be killed)."""
        if self.popen is None or not self.alive:
            return None if self.popen is None else self.popen.returncode
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)
            return None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


def wait_answering(proc: Proc, base: str, timeout: float = PROCESS_START) -> None:
    """Until ``base``/healthz answers 200; fails at once with the log if ``proc`` died."""
    import httpx

    def answering() -> bool:
        assert proc.alive, proc.log()
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
    wait_for(f"{proc.name} to answer /healthz", answering, timeout, every=0.1)


def drain_queue(url: str, queue: str, *, prefetch: int = 1000, idle: float = 0.5) -> list[Any]:
    """Take (no-ack) every message in ``queue`` until none arrives for ``idle`` seconds."""
    got: list[Any] = []
    with Connection(url) as conn:
        ch = conn.channel()
        ch.basic_qos(0, prefetch, False)
        ch.basic_consume(queue, no_ack=True, callback=got.append)
        with contextlib.suppress(TimeoutError):
            while True:
                conn.drain_events(timeout=idle)
    return got


def process_env(**settings: str) -> dict[str, str]:
    """The caller's environment without any RESETDESK_* setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESETDESK_")}
    return {**env, "PYTHONUNBUFFERED": "1", **settings}


# --- brokers and their users ------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    ctl: Ctl  # rabbitmqctl aimed at this node

    def url(self, vhost: str, user: str, password: str, port: int | None = None) -> str:
        return (f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:"
                f"{port or self.port}/{quote(vhost, safe='')}")


SHARED = Broker(services.AMQP_HOST, services.AMQP_PORT, services.rabbitmqctl)


@dataclass(frozen=True)
class Users:
    """name -> password; ``consumer`` and ``ops`` carry the ``impersonator`` tag."""

    consumer: tuple[str, str]
    ops: tuple[str, str]
    producer: tuple[str, str]

    def all(self) -> list[str]:
        return [self.consumer[0], self.ops[0], self.producer[0]]


def make_users(broker: Broker, run: str) -> Users:
    made = Users(*((f"rd_{role}_{run}", secrets.token_hex(12))
                   for role in ("consumer", "replayer", "form")))
    for user, password in (made.consumer, made.ops, made.producer):
        broker.ctl("add_user", user, password)
    for user in (made.consumer[0], made.ops[0]):
        broker.ctl("set_user_tags", user, "impersonator")
    return made


def drop_users(broker: Broker, users: Users) -> None:
    for user in users.all():
        broker.ctl("delete_user", user, check=False)


# --- one test's world -------------------------------------------------------------------------


@dataclass
class Desk:
    broker: Broker
    users: Users
    vhost: str
    db_url: str
    log_dir: Path
    db: Database = field(init=False)
    procs: list[Proc] = field(default_factory=list)
    #: ticket.queued events read from the tap so far, in arrival order
    queued_events: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def open(cls, broker: Broker, users: Users, db_url: str, log_dir: Path) -> Desk:
        vhost = f"rd_e2e_{services.RUN_ID}_{uuid.uuid4().hex[:6]}"
        broker.ctl("add_vhost", vhost)
        rights = {"guest": (".*", ".*", ".*"), users.consumer[0]: (CONSUMER_RIGHTS, ".*", ".*"),
                  users.ops[0]: ("^$", r"^resetdesk\.(requests|events)$", "^$"),
                  users.producer[0]: ("^$", r"^resetdesk\.requests$", "^$")}
        for user, (conf, write, read) in rights.items():
            broker.ctl("set_permissions", "-p", vhost, user, conf, write, read)
        desk = cls(broker, users, vhost, db_url, log_dir)
        desk.db = open_database(db_url)
        with Connection(desk.url("guest")) as conn:
            declare_all(conn)
            ch = conn.default_channel
            ch.queue_declare(TAP, durable=True, auto_delete=False,
                             arguments={"x-queue-type": "quorum"})
            ch.queue_bind(TAP, EVENTS.name, TICKET_QUEUED_V1)
        return desk

    def close(self) -> None:
        for proc in self.procs:
            if proc.alive:
                proc.popen.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        for proc in self.procs:
            proc.stop(10)
            print(f"----- {proc.name} ({proc.starts} start(s)) -----\n{proc.log()[-4000:]}")
        self.db.dispose()
        self.broker.ctl("delete_vhost", self.vhost, check=False)

    # urls and processes

    def url(self, who: str, port: int | None = None) -> str:
        user, password = {"guest": ("guest", "guest"), "consumer": self.users.consumer,
                          "ops": self.users.ops, "producer": self.users.producer}[who]
        return self.broker.url(self.vhost, user, password, port)

    @property
    def producer(self) -> str:
        return self.users.producer[0]

    def env(self, broker_url: str | None = None, **settings: str) -> dict[str, str]:
        return process_env(RESETDESK_DATABASE_URL=self.db_url,
                           RESETDESK_BROKER_URL=broker_url or self.url("consumer"), **settings)

    def start(self, name: str, *args: str, broker_url: str | None = None,
              **settings: str) -> Proc:
        proc = Proc(name, list(args), self.env(broker_url, **settings),
                    self.log_dir / f"{name}.log")
        self.procs.append(proc)
        return proc.start()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "resetdesk", *args], cwd=ROOT,
                              env=self.env(), capture_output=True, text=True, timeout=60)
        if check and done.returncode:
            raise AssertionError(f"resetdesk {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout}{done.stderr}")
        return done

    def register_producer(self, source: str) -> None:
        """``resetdesk producers add`` with the producer's RabbitMQ user name."""
        self.cli("producers", "add", self.producer, "--source", source)

    # the broker's side

    def consumers_on(self, queue: str) -> int:
        with Connection(self.url("guest")) as conn:
            return int(conn.default_channel.queue_declare(queue, passive=True).consumer_count)

    def queue_messages(self) -> dict[str, int]:
        """Every queue of the vhost: ready + unacknowledged + (quorum) pending dead-lettering."""
        out = self.broker.ctl("list_queues", "-p", self.vhost, "name", "messages",
                              "--formatter", "json").stdout
        return {q["name"]: int(q["messages"]) for q in json.loads(out or "[]")}

    def dead_letter_queues(self) -> dict[str, int]:
        counts = self.queue_messages()
        return {q.dlq_name: counts.get(q.dlq_name, 0) for q in CONSUMER_QUEUES.values()}

    def wait_drained(self, queue: str = "verification", timeout: float = 60) -> None:
        wait_for(f"{queue} to be empty (nothing ready or unacked)",
                 lambda: self.queue_messages().get(queue, 0) == 0, timeout, every=0.3)

    def connection_names(self) -> list[str]:
        out = self.broker.ctl("list_connections", "vhost", "client_properties",
                              "--formatter", "json").stdout
        names = []
        for conn in json.loads(out or "[]"):
            if conn["vhost"] == self.vhost:
                props = {p[0]: p[2] for p in conn["client_properties"]}
                names.append(str(props.get("connection_name", "?")))
        return sorted(names)

    def read_tap(self, idle: float = 0.5) -> list[dict[str, Any]]:
        """Take what reached the tap since the last call; all of it stays in ``queued_events``."""
        events = []
        for m in drain_queue(self.url("guest"), TAP, idle=idle):
            assert m.delivery_info["routing_key"] == TICKET_QUEUED_V1
            event = json.loads(m.body)
            assert m.properties["message_id"] == event["id"]
            events.append(event)
        self.queued_events += events
        return events

    def wait_queued_events(self, tickets: set[str], timeout: float = 60) -> list[dict[str, Any]]:
        """Read the tap until a ticket.queued event arrived for each of ``tickets``."""
        def arrived() -> bool:
            self.read_tap(idle=0.2)
            return tickets <= {e["subject"] for e in self.queued_events}
        wait_for(f"ticket.queued events for {len(tickets)} tickets", arrived, timeout, every=0)
        return [e for e in self.queued_events if e["subject"] in tickets]

    # the database's side

    def count(self, table: Any, *where: Any) -> int:
        with self.db.reader.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(table).where(*where))
                       .scalar_one())

    def inbox(self) -> dict[str, Any]:
        """event id -> inbox row."""
        with self.db.reader.begin() as conn:
            return {r.event_id: r for r in conn.execute(select(INBOX))}

    def done_ids(self, ids: set[str]) -> set[str]:
        with self.db.reader.begin() as conn:
            return set(conn.execute(select(INBOX.c.event_id).where(
                INBOX.c.status == "done", INBOX.c.event_id.in_(ids))).scalars())

    def wait_done(self, ids: set[str], timeout: float = 60) -> dict[str, Any]:
        wait_for(f"{len(ids)} inbox rows done",
                 lambda: len(self.done_ids(ids)) == len(ids), timeout)
        return {k: v for k, v in self.inbox().items() if k in ids}

    def tickets(self) -> dict[str, Any]:
        with self.db.reader.begin() as conn:
            return {r.id: r for r in conn.execute(select(TICKET))}

    def audit_trails(self) -> dict[str, list[tuple[str, str, str]]]:
        """ticket id -> [(trigger, to_state, actor)] in order."""
        trails: dict[str, list[tuple[str, str, str]]] = {}
        with self.db.reader.begin() as conn:
            for r in conn.execute(select(AUDIT).order_by(AUDIT.c.id)):
                trails.setdefault(r.ticket_id, []).append((r.trigger, r.to_state, r.actor))
        return trails

    def audit_rows(self, ticket_id: str) -> list[Any]:
        with self.db.reader.begin() as conn:
            return list(conn.execute(select(AUDIT).where(AUDIT.c.ticket_id == ticket_id)
                                     .order_by(AUDIT.c.id)))

    def outbox_types(self) -> dict[str, list[str]]:
        types: dict[str, list[str]] = {}
        with self.db.reader.begin() as conn:
            for r in conn.execute(select(OUTBOX.c.ticket_id, OUTBOX.c.type).order_by(OUTBOX.c.id)):
                types.setdefault(r.ticket_id, []).append(r.type)
        return types

    def dead_letter_rows(self) -> list[Any]:
        with self.db.reader.begin() as conn:
            return list(conn.execute(select(DEAD_LETTER).order_by(DEAD_LETTER.c.id)))


def assert_log(proc: Proc, pattern: str) -> str:
    found = re.search(pattern, proc.log())
    assert found, f"{proc.name}'s log does not match {pattern!r}:\n{proc.log()[-3000:]}"
    return found.group(0)


@pytest.fixture(scope="session")
def amqp_users() -> Iterator[Users]:
    """The shared broker's users for this run (RabbitMQ users are node-wide, vhosts are not).
    Each test module importing this fixture gets its own set, hence the random suffix."""
    services.require_rabbitmq()
    users = make_users(SHARED, f"{services.RUN_ID}{uuid.uuid4().hex[:4]}")
    try:
        yield users
    finally:
        drop_users(SHARED, users)


@pytest.fixture
def desk(amqp_users: Users, pg_url: str, tmp_path: Path) -> Iterator[Desk]:
    made = Desk.open(SHARED, amqp_users, pg_url, tmp_path)
    try:
        yield made
    finally:
        made.close()
