"""The resolution paths in production mode: the same happy paths tests/e2e/test_resolution_paths.py
proves on ``resetdesk up``, here on RabbitMQ + PostgreSQL with every part its own OS process —
``serve``, ``consume verification|notifications|escalation``, ``relay`` and ``scheduler`` — a
real SMTP server, a request published over AMQP by a registered producer's RabbitMQ user, an
agent made with the CLI and signed in over the JSON API.

1. submitted → queued → first-reply breach (scheduler) → ``sla.breached`` relayed → callback
   booked (escalation consumer) → answered → remote-session code → terms, Agree → a declined
   network change → session ended resolved → closed;
2. a reset key: the confirm link's GET changes nothing, its POST closes the ticket, once.

Every email goes outbox → relay → ``notifications`` → SMTP; at the end no dead-letter queue
holds anything.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text as sql

from schemas.client import RequestPublisher
from schemas.events_v1 import SLA_BREACHED_V1
from tests import dialogue
from tests.dialogue import AGENT, DEADLINE, PASSWORD, always_open_calendar
from tests.e2e.requests import request
from tests.processes import ROOT, Desk, amqp_users, desk, wait_answering  # noqa: F401  (fixtures)
from tests.smtp_sink import SmtpSink, free_port
from tests.waiting import wait_for
from workflow.adapters.tables import OUTBOX

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]

SOURCE = "urn:test:resolution-form"
#: the consumers' queues, each with a ``resetdesk consume`` process of its own
QUEUES = ("verification", "notifications", "escalation")
#: who moves a ticket through intake here: the form's RabbitMQ user, then the consumer
INTAKE_ACTORS = ["producer:{producer}", "system:verification", "system:verification"]


# --- the running system ---------------------------------------------------------------------

@dataclass
class Production:
    """:class:`tests.dialogue.DeskDriver` on the production processes, sharing one set of
    settings: requests published over AMQP by the form producer, consent read from PostgreSQL;
    ``base`` is ``serve``'s URL."""

    desk: Desk
    base: str
    smtp: SmtpSink
    settings: dict[str, str]

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """``resetdesk ARGS`` with the processes' settings (secret key, public URL …)."""
        done = subprocess.run([sys.executable, "-m", "resetdesk", *args], cwd=ROOT,
                              env=self.desk.env(**self.settings), input=stdin,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def submit(self, language: str) -> str:
        """Publish one request over AMQP as the form producer's RabbitMQ user, with the
        producers' own client; its reference once the ticket is queued."""
        event = request(source=SOURCE, data__requester__language=language)
        with RequestPublisher(self.desk.url("producer")) as publisher:
            publisher.publish_request(event)
        [row] = self.desk.wait_done({event["id"]}).values()
        reference = str(self.desk.tickets()[row.ticket_id].reference)
        wait_for(f"{reference} queued", lambda: self.desk.tickets()[row.ticket_id].state in
                 ("queued", "awaiting-callback"), DEADLINE)
        return reference

    def consent(self, ticket_id: str) -> list[tuple[str, str]]:
        with self.desk.db.reader.begin() as conn:
            rows = conn.execute(sql("SELECT terms_version, language FROM consent "
                                    "WHERE ticket_id = :t"), {"t": ticket_id}).all()
        return [(r[0], r[1]) for r in rows]


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def run_production(desk: Desk, smtp: SmtpSink, tmp_path: Path, **overrides: str) -> Production:  # noqa: F811
    """Every production process on the test's vhost and database, SMTP at ``smtp``, 24x7 UTC."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = {
        "RESETDESK_SECRET_KEY": secrets.token_urlsafe(48), "RESETDESK_SERVER__PUBLIC_URL": base,
        "RESETDESK_SMTP__HOST": "127.0.0.1", "RESETDESK_SMTP__PORT": str(smtp.port),
        "RESETDESK_SLA__CALENDAR_PATH": str(always_open_calendar(tmp_path)),
        "RESETDESK_SCHEDULER__INTERVAL_SECONDS": "0.3",
        "RESETDESK_QUEUE__RETRY__DELAYS_SECONDS": "[1]", "RESETDESK_DATA_DIR": str(tmp_path),
        **overrides}
    made = Production(desk, base, smtp, settings)
    serve = desk.start("serve", "serve", "--port", str(port), **settings)
    for queue in QUEUES:
        desk.start(queue, "consume", queue, **settings)
    desk.start("relay", "relay", **settings)
    desk.start("scheduler", "scheduler", **settings)
    desk.register_producer(SOURCE)  # while the processes start: nothing is published yet
    made.cli("agents", "add", AGENT, "--password-stdin", stdin=PASSWORD + "\n")

    wait_answering(serve, base, DEADLINE)
    wait_for("every consumer to subscribe",
             lambda: all(desk.consumers_on(q) for q in QUEUES), DEADLINE, every=0.2)
    return made


def assert_intake_actors(desk: Desk, ticket: dict[str, Any]) -> None:  # noqa: F811
    """The intake moves were made by the form's RabbitMQ user and the verification consumer."""
    actors = [h["actor"] for h in ticket["history"][:3]]
    assert actors == [a.format(producer=desk.producer) for a in INTAKE_ACTORS], actors


def assert_all_relayed_nothing_dead(desk: Desk) -> None:  # noqa: F811
    """Every outbox row published, every consumer's queue empty, no dead letter, no crash."""
    wait_for("the relay to send every outbox row",
             lambda: desk.count(OUTBOX, OUTBOX.c.sent_at.is_(None)) == 0, DEADLINE)
    for queue in QUEUES:
        desk.wait_drained(queue, DEADLINE)
    assert desk.dead_letter_queues() == {f"{q}.dlq": 0 for q in QUEUES}
    for proc in desk.procs:
        assert proc.alive, f"{proc.name} exited:\n{proc.log()}"
        assert "Traceback" not in proc.log(), f"{proc.name}:\n{proc.log()}"


# --- the dialogue (tests/dialogue.py), with what only this mode shows -------------------------

@pytest.mark.parametrize("language", ["fr"])
def test_breach_callback_and_remote_session_close_the_ticket_resolved_over_amqp(
        desk: Desk, smtp: SmtpSink, tmp_path: Path, language: str) -> None:  # noqa: F811
    prod = run_production(desk, smtp, tmp_path, RESETDESK_SLA__FIRST_REPLY_HOURS="0.0005",
                          RESETDESK_CALLBACKS__ESCALATION="first_reply")
    # the scheduler sees the first reply overdue; the relay carries sla.breached to the
    # escalation consumer, which books the phone callback
    final = dialogue.breach_callback_and_remote_session(prod, language)
    assert_intake_actors(desk, final)
    assert final["history"][3]["actor"] == "system:escalation"  # request_callback
    assert desk.outbox_types()[final["id"]].count(SLA_BREACHED_V1) == 1
    assert_all_relayed_nothing_dead(desk)


def test_confirm_link_get_changes_nothing_post_closes_resolved_once_over_amqp(
        desk: Desk, smtp: SmtpSink, tmp_path: Path) -> None:  # noqa: F811
    prod = run_production(desk, smtp, tmp_path, RESETDESK_CALLBACKS__ESCALATION="none")
    ticket = dialogue.confirm_key_once(prod)
    assert_intake_actors(desk, ticket)
    assert_all_relayed_nothing_dead(desk)
