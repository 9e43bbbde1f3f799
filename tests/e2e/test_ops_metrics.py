"""After N requests, each real process's ``/metrics`` counts them where they belong, in both
layouts; ``/readyz`` is 200 on each, and 503 for a process whose database does not answer.

Production: the three consumers, the relay, the archiver and a scheduler as separate OS
processes on the shared RabbitMQ (a vhost of this test) and a PostgreSQL database of its own,
each with its ops listener on a free port; N requests and M poison messages over AMQP.
Embedded: ``resetdesk up`` answers on its own port (the console's ``/metrics`` and ``/readyz``).
Either way the Grafana dashboard asks only for series the processes declare.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from kombu.connection import Connection

from consumers.topology import REQUESTS
from schemas.client import RequestPublisher
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from tests import processes
from tests.deploy_monitoring import dashboard_queries, names_in
from tests.e2e.requests import request
from tests.e2e.running import RunningDesk
from tests.processes import PROCESS_START, Desk, Proc, wait_answering, wait_for
from tests.scrape import Scrape, scrape
from tests.smtp_sink import free_port
from workflow.adapters import accounts

amqp_users, desk = processes.amqp_users, processes.desk  # fixtures
pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]

N = 12
POISON = 2
AMQP_SOURCE = "urn:test:ops-metrics-form"
CLOSED_PORT_DB = "postgresql+psycopg://postgres@127.0.0.1:{port}/nothing"


def _ops(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _ready(base: str) -> httpx.Response:
    return httpx.get(f"{base}/readyz", timeout=10)


def _until(what: str, base: str, check: Callable[[Scrape], bool], timeout: float = 60) -> Scrape:
    def met() -> Scrape | None:
        found = scrape(base)
        return found if check(found) else None
    return wait_for(what, met, timeout, every=0.3)  # type: ignore[no-any-return]


def _dashboard_is_covered(scrapes: list[Scrape]) -> None:
    declared = set().union(*(s.declared for s in scrapes))
    missing = names_in(dashboard_queries()) - declared
    assert not missing, f"the dashboard asks for series no process declares: {sorted(missing)}"


@pytest.fixture
def production(desk: Desk, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The processes, started at once; name -> its ops base URL. The escalation consumer's
    database is a closed port: it runs (it needs the database only for an escalation) but is
    not ready."""
    settings = {"RESETDESK_SECRET_KEY": "k" * 48, "RESETDESK_DATA_DIR": str(tmp_path),
                "RESETDESK_SERVER__PUBLIC_URL": "http://desk.example",
                "RESETDESK_SCHEDULER__INTERVAL_SECONDS": "0.5"}
    commands = {"verification": ["consume", "verification"],
                "notifications": ["consume", "notifications"], "relay": ["relay"],
                "archiver": ["dlq", "archive"], "scheduler": ["scheduler"],
                "escalation": ["consume", "escalation"]}
    bases: dict[str, str] = {}
    procs: dict[str, Proc] = {}
    for name, args in commands.items():
        port = free_port()
        bases[name] = _ops(port)
        env = {**desk.env(), **settings, "RESETDESK_OPS__PORT": str(port)}
        if name == "escalation":
            env["RESETDESK_DATABASE_URL"] = CLOSED_PORT_DB.format(port=free_port())
        procs[name] = Proc(name, args, env, tmp_path / f"{name}.log").start()
        desk.procs.append(procs[name])
    for name, proc in procs.items():  # six start at once: twice one process's allowance
        wait_answering(proc, bases[name], timeout=2 * PROCESS_START)
    yield bases


def test_each_production_process_counts_the_requests_it_handled(
        desk: Desk, production: dict[str, str]) -> None:
    accounts.add_producer(desk.db, desk.producer, AMQP_SOURCE)
    wait_for("every consumer to subscribe", lambda: all(
        desk.consumers_on(q) >= 1 for q in ("verification", "notifications", "escalation",
                                            "verification.dlq")), 60, every=0.3)
    with RequestPublisher(desk.url("producer")) as publisher:
        for _ in range(N):
            publisher.publish_request(request(source=AMQP_SOURCE))
    with Connection(desk.url("producer")) as conn:
        for n in range(POISON):
            conn.Producer().publish(b"{not json", exchange=REQUESTS.name,
                                    routing_key=REQUEST_SUBMITTED_V1, message_id=f"poison-{n}",
                                    content_type="application/cloudevents+json",
                                    user_id=desk.producer, retry=True)

    verification = _until(f"{N} verified", production["verification"],
                          lambda s: s.value("resetdesk_verifications_total") >= N)
    assert verification.value("resetdesk_verifications_total", outcome="verified") == N
    assert verification.value("resetdesk_requests_received_total", transport="amqp") == N
    for moved in (("new", "submitted"), ("submitted", "verified"), ("verified", "queued")):
        assert verification.value("resetdesk_ticket_transitions_total", from_state=moved[0],
                                  to_state=moved[1]) == N
    notifications = _until(f"{N} emails", production["notifications"],
                           lambda s: s.value("resetdesk_email_sends_total") >= N)
    assert notifications.value("resetdesk_email_sends_total", result="sent") == N
    assert notifications.value("resetdesk_handler_duration_seconds_count",
                               queue="notifications", result="ack") == N
    archiver = _until(f"{POISON} dead letters archived", production["archiver"],
                      lambda s: s.value("resetdesk_dead_letters_archived_total") >= POISON)
    verification = scrape(production["verification"])
    assert verification.value("resetdesk_dead_letters_total", queue="verification") == POISON
    assert verification.value("resetdesk_handler_duration_seconds_count", queue="verification",
                              result="ack") == N
    assert archiver.value("resetdesk_dead_letters_archived_total", queue="verification") == POISON
    assert archiver.value("resetdesk_dead_letter_archive_messages", queue="verification",
                          status="dead") == POISON
    assert archiver.value("resetdesk_queue_consumers", queue="verification") >= 1
    relay = _until(f"{N} queued events relayed", production["relay"], lambda s: s.value(
        "resetdesk_outbox_published_total", kind="ticket.queued") >= N)
    assert relay.value("resetdesk_outbox_published_total", kind="notification.email") == N
    scheduler = _until(f"{N} queued tickets", production["scheduler"],
                       lambda s: s.value("resetdesk_tickets", state="queued") == N)
    assert scheduler.value("resetdesk_scheduler_leader") == 1

    for name, base in production.items():
        ready = _ready(base)
        if name == "escalation":
            assert ready.status_code == 503, ready.text
            checks = ready.json()["checks"]
            assert checks["database"] != "ok" and checks["broker"] == "ok", checks
            continue
        assert ready.status_code == 200, (name, ready.text)
        assert set(ready.json()["checks"]) == {"database", "migrations", "broker"}
    _dashboard_is_covered([scrape(base) for base in production.values()])


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[RunningDesk]:
    running = RunningDesk(tmp_path / "desk", smtp_port=0, env={"RESETDESK_SMTP__HOST": ""})
    yield running.start(timeout=60)
    running.kill()  # nothing here needs a clean stop (tests/e2e/test_up_command.py checks it)


def test_embedded_up_counts_the_requests_on_its_own_port(embedded: RunningDesk) -> None:
    ids = []
    for _ in range(N):
        event = request()
        assert embedded.post(event).status_code == 202
        ids.append(event["id"])
    for event_id in ids:
        embedded.wait_processed(event_id)
    found = _until(f"{N} emails", embedded.base,
                   lambda s: s.value("resetdesk_email_sends_total") >= N)
    assert found.value("resetdesk_requests_received_total", transport="http") == N
    assert found.value("resetdesk_verifications_total", outcome="verified") == N
    assert found.value("resetdesk_ticket_transitions_total", to_state="queued") == N
    assert found.value("resetdesk_handler_duration_seconds_count", queue="inbox",
                       result="ack") == N
    assert found.value("resetdesk_email_sends_total", result="sent") == N
    assert found.value("resetdesk_tickets", state="queued") == N
    assert found.value("resetdesk_scheduler_leader") == 1
    ready = _ready(embedded.base)
    assert ready.status_code == 200, ready.text
    assert json.loads(ready.text)["checks"] == {"database": "ok", "migrations": "ok"}
