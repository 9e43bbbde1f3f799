"""The ops overview over a real database (SQLite and PostgreSQL) and a real RabbitMQ: the figures
it shows are the rows' and the broker's, the history the sampler writes comes back as sparklines
and charts, and only a supervisor may open it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from kombu.connection import Connection
from sqlalchemy import func, insert, select

from console.app import create_app
from console.deps import WebDeps
from consumers.amqp.queue_stats import broker_report
from consumers.topology import declare_all
from tests import services
from tests.factories import make_ticket
from tests.waiting import wait_for
from tests.web import SECRET, page_sign_in
from workflow.adapters import accounts
from workflow.adapters.bus_wiring import sql_bus
from workflow.adapters.db import Database
from workflow.adapters.human_check import LocalVerifier
from workflow.adapters.tables import AUDIT, INBOX
from workflow.adapters.tables_ops import OPS_SAMPLE
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.actors import Actor
from workflow.domain.policies import Policies
from workflow.domain.states import State
from workflow.service.ops_handlers import RecordJobRun, RecordOpsSample
from workflow.service.ops_ports import BrokerReport
from workflow.service.ports import SystemClock

SUE, ADA = ("sue", "sue-password-123"), ("ada", "ada-password-123")
SYSTEM = Actor.system("ops-sampler")


def client_for(db: Database, broker: BrokerReport | None = None) -> TestClient:
    deps = WebDeps(db=db, clock=SystemClock(), verifier=LocalVerifier(),
                   uow=lambda: SqlUnitOfWork(db), secret_key=SECRET, policies=Policies(),
                   broker=(lambda: broker) if broker else None, workers=2)
    return TestClient(create_app(deps))


def signed_in(db: Database, who: tuple[str, str], role: str,
              broker: BrokerReport | None = None) -> TestClient:
    accounts.add_agent(db, who[0], who[1], role=role)
    client = client_for(db, broker)
    page_sign_in(client, *who)
    return client


def inbox_row(status: str, received: datetime, **extra: object) -> dict[str, object]:
    return {"source": "urn:test", "event_id": uuid.uuid4().hex, "type": "t", "producer": "p",
            "content_digest": "d", "payload": "{}", "received_at": received, "status": status,
            "attempts": 0, "available_at": received, "reference": uuid.uuid4().hex[:16],
            **extra}


def cell(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">(.*?)</dd>', html, re.S)
    assert found, element_id
    return re.sub(r"<[^>]+>", "", found[1]).strip()


def test_the_overview_shows_the_desk_the_embedded_queue_and_its_history(db: Database) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=2)
    with SqlUnitOfWork(db) as uow:
        for state in (State.QUEUED, State.QUEUED, State.AWAITING_CALLBACK):
            uow.tickets.add(make_ticket(state, created_at=now - timedelta(minutes=5)))
        oldest = make_ticket(State.QUEUED, created_at=old)
        uow.tickets.add(oldest)
        uow.commit()
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    with db.writer.begin() as conn:
        conn.execute(insert(INBOX), [
            inbox_row("pending", now - timedelta(minutes=3)), inbox_row("pending", now),
            inbox_row("dead", now, last_error="the human-check service is down")])
        conn.execute(insert(AUDIT), [  # 20 minutes queued, then into a callback
            {"ticket_id": oldest.id, "at": hour + timedelta(minutes=5), "actor": "system:x",
             "trigger": "enqueue", "from_state": "verified", "to_state": "queued"},
            {"ticket_id": oldest.id, "at": hour + timedelta(minutes=25), "actor": "agent:ada",
             "trigger": "request_callback", "from_state": "queued",
             "to_state": "awaiting-callback"}])
    bus = sql_bus(db, lambda: SqlUnitOfWork(db), SystemClock(), secret_key=SECRET,
                  public_url=None, policies=Policies())
    bus.handle(RecordJobRun(actor=SYSTEM, job="sla-tick", at=now, seconds=0.01,
                            detail="0 alarm(s) raised"))
    for _ in range(2):
        assert bus.handle(RecordOpsSample(actor=SYSTEM)) >= 2
    with db.reader.begin() as conn:
        rollups = conn.execute(select(func.count()).where(OPS_SAMPLE.c.series == "hour")).scalar()
    assert rollups == 24 * 7  # every complete hour of the week, written once

    html = signed_in(db, SUE, "supervisor").get("/ops").text
    assert cell(html, "ops-open") == "4"
    assert re.search(r'data-state="queued"><dt>queued</dt><dd>3</dd>', html)
    assert oldest.reference in cell(html, "ops-oldest-waiting")
    assert "2 d" in cell(html, "ops-oldest-waiting")
    assert "alarm(s) raised" in cell(html, "ops-sla-last-run")
    row = re.search(r'<tr data-queue="verification".*?</tr>', html, re.S)
    assert row, html
    assert re.search(r'class="depth">2<', row[0]) and re.search(r'class="consumers">2<', row[0])
    assert re.search(r'class="oldest">3 min<', row[0]), row[0]  # known: a row's age
    assert ">1</a>" in row[0]  # one dead row, linked to the dead-letter page
    assert "<polyline" in row[0]  # two samples: a sparkline
    # 20 minutes in queued, in the time-in-state chart's bar titles
    assert "queued: 24 h 20 min" in html and "queued: 7 d 20 min" in html


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_agent_is_refused_the_ops_pages(db: Database) -> None:
    client = signed_in(db, ADA, "agent")
    for path in ("/ops", "/ops/panel"):
        answer = client.get(path)
        assert answer.status_code == 403 and "for supervisors" in answer.text
    assert 'href="/ops"' not in client.get("/queue").text
    sue = signed_in(db, SUE, "supervisor")
    assert 'href="/ops"' in sue.get("/queue").text
    assert sue.get("/ops/panel").status_code == 200


@pytest.fixture
def vhost() -> Iterator[str]:
    """A vhost of its own, made through the management API (rabbitmqctl takes seconds)."""
    services.require_rabbitmq()
    name = f"rd_ops_{services.RUN_ID}_{uuid.uuid4().hex[:6]}"
    api = httpx.Client(base_url=f"http://{services.AMQP_HOST}:15672/api", auth=("guest", "guest"))
    try:
        api.put(f"/vhosts/{name}").raise_for_status()
    except httpx.HTTPError as err:
        services.unavailable("RabbitMQ's management API", str(err))
    try:
        api.put(f"/permissions/{name}/guest",
                json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        yield f"amqp://guest:guest@{services.AMQP_HOST}:{services.AMQP_PORT}/{name}"
    finally:
        api.delete(f"/vhosts/{name}")
        api.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_broker_figures_come_from_the_management_api_or_passive_declares(
        vhost: str, db: Database) -> None:
    with Connection(vhost) as conn:
        declare_all(conn)
        producer = conn.Producer()
        for i in range(3):
            producer.publish({"n": i}, exchange="", routing_key="verification")
        for i in range(2):
            producer.publish({"n": i}, exchange="", routing_key="verification.dlq")
    passive = broker_report(vhost, "off")
    verification = {q.name: q for q in passive.queues}["verification"]
    assert passive.source == "passive declare" and verification.ready == 3
    assert verification.unacked is None and verification.dead_letters == 2

    def counted() -> BrokerReport | None:  # the management API refreshes every 5 s
        report = broker_report(vhost)
        q = {q.name: q for q in report.queues}.get("verification")
        return report if q and q.depth == 3 and q.dead_letters == 2 else None
    wait_for("the management API to count the messages", lambda: counted() is not None, 30)
    report = counted()
    assert report is not None and report.source == "management API"
    sue = signed_in(db, SUE, "supervisor", broker=report)
    html = sue.get("/ops").text
    assert "figures from the management API" in html
    row = re.search(r'<tr data-queue="verification".*?</tr>', html, re.S)
    assert row and re.search(r'class="oldest">n/a<', row[0]) and re.search(r'class="depth">3<', row[0])
    down = broker_report("amqp://guest:guest@127.0.0.1:1/none", "off")
    assert down.error and "unreachable" in down.error
    sue.app.state.deps.broker = lambda: down  # type: ignore[attr-defined]
    assert 'id="ops-broker-error">broker unreachable' in sue.get("/ops/panel").text
