"""The moves the declaration gives ``system`` (and ``producer``), generated from it and made by
the parts that make them: the embedded workers (in-process, SQLite), the AMQP consumers (real
RabbitMQ and PostgreSQL) and the scheduler's leader jobs (SQLite).

For every (trigger, system part) row of tests/bus_table.py: the part makes the move, audited as
the ``system:<process>`` the table names, an actor the declaration allows; and with the
declaration changed to withhold the move from ``system``, the same part is refused by the bus
(the worker keeps the refusal, nothing moves; a refused request goes through once the
declaration allows it again: nothing accepted is lost). The other actor kinds try these moves
through their own entries (the agents' API and CLI, a producer's intake token) and get exactly
what the declaration says; a producer's request is moved by the verification worker only.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kombu.connection import Connection
from sqlalchemy import select, text

from consumers.amqp import retry
from consumers.amqp.confirms import ConfirmingPublisher
from consumers.amqp.consumer import AmqpConsumer, run_consumer
from consumers.amqp.main import handler_factory_for
from consumers.amqp.relay import relay_once
from consumers.topology import ESCALATION, VERIFICATION, ConsumerQueue, declare_all
from resetdesk.bootstrap import App, bootstrap
from resetdesk.cli_run import _web
from resetdesk.settings import Settings
from schedulers.jobs import sla_tick
from schemas.client import RequestPublisher
from tests import services
from tests.bus_table import (
    PRODUCER_TOKEN,
    STAFF_BODIES,
    Row,
    SystemEntry,
    declared,
    refusal,
    rows_for,
    staff_http,
    staff_http_path,
    staff_try,
)
from tests.dialogue import always_open_calendar
from tests.e2e.requests import request, unique_serial
from tests.factories import satisfying
from tests.rabbit import Rabbit
from tests.waiting import wait_for
from tests.web import SECRET, agent_headers
from workflow.adapters import accounts, inbox, migrate
from workflow.adapters.tables import DELIVERY
from workflow.domain import states
from workflow.domain.actors import Actor
from workflow.domain.errors import ActorRefused
from workflow.domain.states import TRIGGERS, actors_of, moves_of
from workflow.domain.ticket import AuditEntry
from workflow.service.ports import Clock

SOURCE = "urn:test:bus-table"
ROWS = rows_for("workers")
#: every row of a part that makes moves as ``system:<process>``
PART_ROWS = [r for r in ROWS if isinstance(r.entry, SystemEntry)]
#: the other kinds' rows for the system's (and the producer's) moves
OTHER_ROWS = [r for r in ROWS if not isinstance(r.entry, SystemEntry)]
STAFF_LOGINS = {"agent": "sam", "supervisor": "sue"}


def _part(row: Row) -> SystemEntry:
    assert isinstance(row.entry, SystemEntry)
    return row.entry


#: the AMQP rows need the broker and PostgreSQL (``-m "not rabbitmq"`` leaves them out)
SERVICES = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]


def _params(rows_: list[Row], marks: Callable[[Row], list[Any]] = lambda r: []) -> list[Any]:
    return [pytest.param(r, id=r.id, marks=[*marks(r), *(
        SERVICES if isinstance(r.entry, SystemEntry) and r.entry.mode == "amqp" else [])])
        for r in rows_]


@dataclass
class MovableClock(Clock):
    at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        with self.lock:
            return self.at

    def advance(self, **delta: float) -> None:
        with self.lock:
            self.at += timedelta(**delta)


@dataclass
class Desk:
    """One mode's running parts over one database."""

    app: App
    clock: MovableClock
    #: send one request the producer's way in this mode
    send: Callable[[dict[str, Any]], None]
    #: carry the outbox's events to their consumers (embedded: the relay thread does)
    carry: Callable[[], None] = lambda: None
    client: TestClient | None = None
    rabbit: Rabbit | None = None

    signed_in: dict[str, tuple[datetime, dict[str, str]]] = field(default_factory=dict)

    def headers(self, login: str) -> dict[str, str]:
        """The agent's token, signed in again when the clock has moved on (by days, at
        times; tokens last hours)."""
        assert self.client is not None
        at, headers = self.signed_in.get(login, (None, {}))
        if at is None or self.clock.now() - at > timedelta(hours=1):
            headers = agent_headers(self.client, self.app.db, login)
            self.signed_in[login] = self.clock.now(), headers
        return headers

    def history(self, tid: str) -> list[AuditEntry]:
        with self.app.uow(read_only=True) as uow:
            return list(uow.tickets.history(tid))

    def state(self, tid: str) -> tuple[Any, ...]:
        with self.app.uow(read_only=True) as uow:
            t = uow.tickets.get(tid)
            return t.state, t.waiting_on, t.assignee, t.version

    def moves(self, tid: str, trigger: str, actor: str) -> list[AuditEntry]:
        return [e for e in self.history(tid) if (e.trigger, e.actor) == (trigger, actor)]

    def processed(self, event: dict[str, Any]) -> str:
        """The ticket the request became, once its inbox row is done."""
        def done() -> str | None:
            found = inbox.status(self.app.db, event["source"], event["id"])
            return found.ticket_id if found is not None and found.status == "done" else None
        return str(wait_for(f"request {event['id']} processed", done))

    def refused(self, event: dict[str, Any], why: str) -> inbox.InboxStatus:
        def seen() -> inbox.InboxStatus | None:
            found = inbox.status(self.app.db, event["source"], event["id"])
            return found if found is not None and why in (found.last_error or "") else None
        return wait_for(f"request {event['id']} refused: {why}", seen)  # type: ignore[no-any-return]


def _settings(directory: Path, *, workers: int = 2, **more: Any) -> Settings:
    return Settings(data_dir=directory, secret_key=SECRET.decode(),
                    sla={"calendar_path": always_open_calendar(directory)},
                    server={"public_url": "https://desk.example"}, throttle={"enabled": False},
                    queue={"workers": workers, "retry": {"delays_seconds": [1.0]}}, **more)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    directory = tmp_path_factory.mktemp("embedded-table")
    url = f"sqlite:///{directory / 'resetdesk.db'}"
    migrate.upgrade(url)
    clock = MovableClock()
    app = bootstrap(_settings(directory, database_url=url, workers=1), clock=clock)
    runtime = app.embedded_runtime(idle_seconds=0.2)
    client = TestClient(_web(app, runtime.wake))
    token = accounts.add_producer(app.db, "form", SOURCE)
    intake = {"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"}

    def send(event: dict[str, Any]) -> None:
        r = client.post("/events", content=json.dumps(event), headers=intake)
        assert r.status_code == 202, r.text

    desk = Desk(app, clock, send, client=client)
    for kind, login in STAFF_LOGINS.items():
        desk.headers(login)
        accounts.set_agent_role(app.db, login, kind)
    runtime.start()
    try:
        with pytest.MonkeyPatch.context() as env:  # for the CLI, run in-process
            env.setenv("RESETDESK_DATABASE_URL", url)
            env.setenv("RESETDESK_SECRET_KEY", SECRET.decode())
            env.setenv("RESETDESK_SERVER__PUBLIC_URL", "https://desk.example")
            yield desk
    finally:
        runtime.stop()
        app.close()


#: a retry a second, many of them: a refused request waits for the declaration to allow it
FAST_VERIFICATION = replace(VERIFICATION, retry_delays=(1,) * 15)
FAST_ESCALATION = replace(ESCALATION, retry_delays=(1,))


def _consume(queue: ConsumerQueue, app: App, url: str, stop: threading.Event) -> threading.Thread:
    """``resetdesk consume <queue>``'s handler, run in a thread of this process."""
    started: list[AmqpConsumer] = []
    thread = threading.Thread(target=run_consumer, args=(queue,), kwargs=dict(
        broker_url=url, handler_factory=handler_factory_for(app, queue), prefetch=4,
        heartbeat=10, stop_event=stop, grace_seconds=5, on_start=started.append), daemon=True)
    thread.start()
    wait_for(f"the {queue.name} consumer to connect",
             lambda: started and started[0].connections, timeout=30)
    return thread


@pytest.fixture(scope="module")
def amqp(tmp_path_factory: pytest.TempPathFactory, pg_admin: Any,
         pg_template: str) -> Iterator[Desk]:
    """The consumers on a vhost of their own. To keep the broker's user management (seconds
    per call) out of the way, ``guest`` plays every part: it is the registered producer (its
    ``user_id``), the consumers and the relay; the permissions themselves are
    test_amqp_consumers.py's business."""
    services.require_rabbitmq()
    engine, made = pg_admin
    name = f"rd_{services.RUN_ID}_bus_table"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    made.append(name)
    db_url = engine.url.set(database=name).render_as_string(hide_password=False)
    with services.temporary_vhost(f"rd_{services.RUN_ID}_bus_table") as vhost:
        yield from _amqp_desk(tmp_path_factory.mktemp("amqp-table"), Rabbit(vhost, "guest",
                                                                             "guest"), db_url)


def _amqp_desk(directory: Path, rabbit: Rabbit, db_url: str) -> Iterator[Desk]:
    with Connection(rabbit.admin_url) as conn:
        declare_all(conn, [FAST_VERIFICATION, FAST_ESCALATION])
    clock = MovableClock()
    app = bootstrap(_settings(directory, database_url=db_url, broker_url=rabbit.consumer_url,
                              amqp={"system_user": "resetdesk-relay-unused"}), clock=clock)
    accounts.add_producer(app.db, "guest", SOURCE)
    publisher = RequestPublisher(rabbit.admin_url)
    relay = ConfirmingPublisher(rabbit.admin_url)

    def carry() -> None:  # what `resetdesk relay` does, until the outbox is empty
        while relay_once(app.db, relay):
            pass

    stop = threading.Event()
    threads = [_consume(q, app, rabbit.consumer_url, stop)
               for q in (FAST_VERIFICATION, FAST_ESCALATION)]
    try:
        yield Desk(app, clock, publisher.publish_request, carry, rabbit=rabbit)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
        publisher.close()
        relay.close()
        app.close()


# --- each part's scene: what the move needs, and the step that makes it -----------------------


@dataclass
class Scene:
    #: the step that makes the move
    act: Callable[[], object]
    #: the ticket it moves (for a request: known once the request was processed)
    ticket: Callable[[], str]
    #: the request ``act`` sends, for the intake's moves
    event: dict[str, Any] | None = None


def _stored(desk: Desk, trigger: str, holder: str = "alice") -> str:
    """A ticket on which ``trigger``'s first row can be taken by ``holder``."""
    move = moves_of(trigger)[0]
    ticket, _ = satisfying(move, move.source[0])
    if ticket.assignee == "alice":  # an is_assignee guard
        ticket.assignee = holder
    ticket.data = {"requester": {"name": "Test Person", "email": "t@example.com"}}
    with desk.app.uow() as uow:
        uow.tickets.add(ticket)
        uow.commit()
    return ticket.id


def _intake(desk: Desk, trigger: str) -> Scene:
    serial = unique_serial()
    if trigger == "mark_duplicate":  # an open ticket for the serial first
        first = request(source=SOURCE, data__device__serial_number=serial)
        desk.send(first)
        desk.processed(first)
    extra = {"data__requester__country": "DE"} if trigger == "reject" else {}
    event = request(source=SOURCE, data__device__serial_number=serial, **extra)
    return Scene(lambda: desk.send(event), lambda: desk.processed(event), event)


def _breach(desk: Desk) -> Scene:
    event = request(source=SOURCE)
    desk.send(event)
    tid = desk.processed(event)

    def act() -> None:
        desk.clock.advance(hours=2)  # past the first-reply deadline (1 h, always open)
        sla_tick(desk.app.bus)
        desk.carry()
    return Scene(act, lambda: tid)


def _job(desk: Desk, name: str) -> Callable[[], object]:
    [job] = [j for j in desk.app.leader_jobs() if j.name == name]
    return lambda: desk.app.bus.handle(job.command())


def _idle_session(desk: Desk, job: str) -> Scene:
    assert desk.client is not None
    tid = _stored(desk, "offer_remote_session")
    offer = desk.client.post(f"/api/v1/tickets/{tid}/offer_remote_session", json={},
                             headers=desk.headers("alice")).json()
    terms = desk.client.post("/api/v1/customer/session/verify", json={
        "reference": offer["ticket"]["reference"], "code": offer["code"]}).json()
    r = desk.client.post("/api/v1/customer/session/agree", json={
        "consent_token": terms["consent_token"], "terms_version": terms["terms"]["version"]})
    assert r.status_code == 200, r.text
    idle, run = desk.app.settings.sessions.idle_minutes, _job(desk, job)

    def act() -> None:
        desk.clock.advance(minutes=idle + 1)
        run()
    return Scene(act, lambda: tid)


def _silent_key(desk: Desk, job: str) -> Scene:
    assert desk.client is not None
    tid = _stored(desk, "send_key")
    r = desk.client.post(f"/api/v1/tickets/{tid}/send_key", json=STAFF_BODIES["send_key"],
                         headers=desk.headers("alice"))
    assert r.status_code == 200, r.text
    s, run = desk.app.settings, _job(desk, job)
    remind, close = s.keys.remind_after_business_days, s.keys.close_after_business_days

    def act() -> None:  # a reminder first; the close waits its own days after the reminder
        desk.clock.advance(days=remind + 1)
        run()
        desk.clock.advance(days=close - remind + 1)
        run()
    return Scene(act, lambda: tid)


def _scene(desk: Desk, part: SystemEntry, trigger: str) -> Scene:
    if part.part == "verification":
        return _intake(desk, trigger)
    if part.part == "escalation":
        return _breach(desk)
    if part.part == "remote-session-idle":
        return _idle_session(desk, part.part)
    if part.part == "reset-key-silence":
        return _silent_key(desk, part.part)
    raise AssertionError(f"no scene for {part}: add one")


def _desk(request: pytest.FixtureRequest, part: SystemEntry) -> Desk:
    return request.getfixturevalue("amqp" if part.mode == "amqp" else "embedded")  # type: ignore[no-any-return]


def _withhold(monkeypatch: pytest.MonkeyPatch, trigger: str) -> None:
    """The declaration, with ``trigger`` given to nobody of the system kind."""
    patched = tuple(
        replace(m, actors=tuple(a for a in m.actors if a.partition(":")[0] != "system"))
        if m.trigger == trigger else m for m in states.TRANSITIONS)
    monkeypatch.setattr(states, "TRANSITIONS", patched)
    assert not declared(trigger, "system")


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("row", _params([r for r in PART_ROWS if r.allowed]))
def test_the_part_makes_the_move_as_a_system_actor_the_declaration_allows(
        request: pytest.FixtureRequest, row: Row) -> None:
    part = _part(row)
    desk, actor = _desk(request, part), f"system:{part.process}"
    scene = _scene(desk, part, row.trigger)
    scene.act()
    tid = scene.ticket()
    wait_for(f"{row.trigger} by {actor}", lambda: desk.moves(tid, row.trigger, actor))
    assert Actor.parse(actor).matches(actors_of(row.trigger))
    for e in desk.history(tid):  # whatever else moved it (a producer never does), was allowed
        if e.trigger in TRIGGERS:
            assert Actor.parse(e.actor).matches(actors_of(e.trigger)), e


@pytest.mark.parametrize("row", _params(PART_ROWS))
def test_the_part_is_refused_a_move_the_declaration_withholds(
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, row: Row) -> None:
    part = _part(row)
    desk, actor = _desk(request, part), f"system:{part.process}"
    scene = _scene(desk, part, row.trigger)
    if row.allowed:
        _withhold(monkeypatch, row.trigger)
    why = refusal(row.trigger, actor)
    if scene.event is not None:  # the intake: the request is kept, and retried
        scene.act()
        status = desk.refused(scene.event, why)
        assert status.status == "pending" and status.ticket_id is None
        if not row.allowed:
            return
        monkeypatch.undo()  # the declaration allows it again: the request goes through
        desk.clock.advance(seconds=2)  # the embedded retry is due (AMQP: the broker's 1 s)
        tid = desk.processed(scene.event)
        wait_for(f"{row.trigger} once allowed", lambda: desk.moves(tid, row.trigger, actor))
        return
    tid = scene.ticket()
    before = desk.state(tid)
    with contextlib.suppress(ActorRefused):  # a job may let the refusal out
        scene.act()
    if part.part == "escalation":
        assert why in _dead_breach(desk, part, tid)
    assert not desk.moves(tid, row.trigger, actor)
    assert desk.state(tid)[0] == before[0]


def _dead_breach(desk: Desk, part: SystemEntry, tid: str) -> str:
    """Why the breach of ``tid`` was dead-lettered (a refusal is not retried: it will not
    change by itself)."""
    if part.mode == "embedded":
        def dead() -> str | None:
            with desk.app.db.reader.begin() as conn:
                return conn.execute(select(DELIVERY.c.last_error).where(
                    DELIVERY.c.subscriber == "escalation", DELIVERY.c.status == "dead",
                    DELIVERY.c.payload.contains(tid))).scalar()
        return str(wait_for(f"the breach of {tid} dead", dead))
    assert desk.rabbit is not None
    rabbit = desk.rabbit
    while True:  # other tickets' breaches may be there too
        props, body = rabbit.get(FAST_ESCALATION.dlq_name)
        if tid.encode() in body:
            return str(props.headers[retry.REASON])


@pytest.mark.parametrize("row", _params(OTHER_ROWS))
def test_the_other_kinds_get_exactly_what_the_declaration_says(embedded: Desk, row: Row) -> None:
    desk = embedded
    assert desk.client is not None
    tid = _stored(desk, row.trigger, STAFF_LOGINS.get(row.kind, "alice"))
    before = desk.state(tid)
    if row.entry == PRODUCER_TOKEN:
        assert not row.allowed
        token = accounts.add_producer(desk.app.db, f"form-{tid[:8]}", f"urn:test:{tid}")
        entry = staff_http(row.trigger, allowed=False)  # where staff would try it
        assert entry is not None
        r = desk.client.post(staff_http_path(entry, row.trigger, tid),
                             json=STAFF_BODIES.get(row.trigger, {}),
                             headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, r.text
    else:
        login = STAFF_LOGINS[row.kind]
        done, answer = staff_try(desk.client, desk.headers(login), login, row, tid)
        assert done is row.allowed, answer
        if row.allowed:
            assert desk.moves(tid, row.trigger, f"{row.kind}:{login}")
            return
    assert desk.state(tid) == before
