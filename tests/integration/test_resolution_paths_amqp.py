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

import json
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text as sql

from schemas.client import RequestPublisher
from schemas.events_v1 import SLA_BREACHED_V1
from tests.e2e.requests import request
from tests.e2e.test_resolution_paths import ALWAYS_OPEN, SUBJECTS, subject, text
from tests.processes import ROOT, Desk, amqp_users, desk, wait_answering, wait_for  # noqa: F401  (fixtures)
from tests.smtp_sink import SmtpSink, free_port
from workflow.adapters.tables import OUTBOX

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]

SOURCE = "urn:test:resolution-form"
AGENT, PASSWORD = "alice", "alice-password-123"
DEADLINE = 30.0
#: the consumers' queues, each with a ``resetdesk consume`` process of its own
QUEUES = ("verification", "notifications", "escalation")


# --- the running system ---------------------------------------------------------------------

@dataclass
class Production:
    """The desk's processes, sharing one set of settings; ``base`` is ``serve``'s URL."""

    desk: Desk
    base: str
    settings: dict[str, str]

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """``resetdesk ARGS`` with the processes' settings (secret key, public URL …)."""
        done = subprocess.run([sys.executable, "-m", "resetdesk", *args], cwd=ROOT,
                              env=self.desk.env(**self.settings), input=stdin,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def show(self, reference: str) -> dict[str, Any]:
        """The ticket and its audit trail as ``resetdesk tickets show --json`` prints them."""
        return json.loads(self.cli("tickets", "show", reference, "--json"))  # type: ignore[no-any-return]

    def publish(self, event: dict[str, Any]) -> None:
        """As the form producer's RabbitMQ user, with the producers' own client."""
        with RequestPublisher(self.desk.url("producer")) as publisher:
            publisher.publish_request(event)


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def run_production(desk: Desk, smtp: SmtpSink, tmp_path: Path, **overrides: str) -> Production:  # noqa: F811
    """Every production process on the test's vhost and database, SMTP at ``smtp``, 24x7 UTC."""
    calendar = tmp_path / "calendar.toml"
    calendar.write_text(f'[calendar]\ntimezone = "UTC"\n[hours]\n{ALWAYS_OPEN}\n')
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = {
        "RESETDESK_SECRET_KEY": secrets.token_urlsafe(48), "RESETDESK_PUBLIC_URL": base,
        "RESETDESK_SMTP_HOST": "127.0.0.1", "RESETDESK_SMTP_PORT": str(smtp.port),
        "RESETDESK_CALENDAR_PATH": str(calendar), "RESETDESK_SCHEDULER_INTERVAL_SECONDS": "0.3",
        "RESETDESK_RETRY_DELAYS_SECONDS": "[1]", "RESETDESK_DATA_DIR": str(tmp_path),
        **overrides}
    made = Production(desk, base, settings)
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


# --- helpers --------------------------------------------------------------------------------

def mails(smtp: SmtpSink, reference: str) -> list[EmailMessage]:
    return [m for m in smtp.messages if subject(m).endswith(f"({reference})")]


def wait_mail(smtp: SmtpSink, reference: str, template: str, language: str) -> EmailMessage:
    """The one email of ``template`` for ``reference``, in ``language`` (subject and header)."""
    def found() -> list[EmailMessage]:
        return [m for m in mails(smtp, reference)
                if any(subject(m).startswith(s) for s in SUBJECTS[template].values())]
    matched: list[EmailMessage] = wait_for(f"the {template} email for {reference}", found,
                                           DEADLINE)
    [mail] = matched
    assert subject(mail).startswith(SUBJECTS[template][language]), subject(mail)
    assert mail["Content-Language"] == language
    return mail


def links_in(mail: EmailMessage, base: str) -> list[str]:
    return re.findall(re.escape(base) + r"/customer/\S+", str(mail.get_content()))


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else {}  # type: ignore[no-any-return]


def state(agent: httpx.Client, reference: str) -> dict[str, Any]:
    return ok(agent.get(f"/api/v1/tickets/{reference}"))


@contextmanager
def sign_in(base: str) -> Iterator[httpx.Client]:
    """The agent's HTTP client, signed in over the JSON API."""
    with httpx.Client(base_url=base, timeout=30) as client:
        token = ok(client.post("/api/v1/auth/token", json={"login": AGENT, "password": PASSWORD}))
        client.headers["Authorization"] = f"Bearer {token['token']}"
        yield client


def submit(prod: Production, language: str) -> str:
    """Publish one request over AMQP; its reference once the ticket is queued."""
    event = request(source=SOURCE, data__requester__language=language)
    prod.publish(event)
    [row] = prod.desk.wait_done({event["id"]}).values()
    reference = str(prod.desk.tickets()[row.ticket_id].reference)
    wait_for(f"{reference} queued", lambda: prod.desk.tickets()[row.ticket_id].state in
             ("queued", "awaiting-callback"), DEADLINE)
    return reference


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


# --- 1. callback and remote session ---------------------------------------------------------

@pytest.mark.parametrize("language", ["fr"])
def test_breach_callback_and_remote_session_close_the_ticket_resolved_over_amqp(
        desk: Desk, smtp: SmtpSink, tmp_path: Path, language: str) -> None:  # noqa: F811
    prod = run_production(desk, smtp, tmp_path, RESETDESK_FIRST_REPLY_HOURS="0.0005",
                          RESETDESK_CALLBACK_ESCALATION="first_reply")
    with sign_in(prod.base) as agent:
        reference = submit(prod, language)
        wait_mail(smtp, reference, "acknowledgement", language)

        # the scheduler sees the first reply overdue; the relay carries sla.breached to the
        # escalation consumer, which books a phone callback
        wait_for("awaiting-callback after the breach",
                 lambda: state(agent, reference)["state"] == "awaiting-callback", DEADLINE)
        booked = wait_mail(smtp, reference, "callback_booked", language)
        slot_text = subject(booked).split(":", 1)[1].rsplit("(", 1)[0].strip()
        assert slot_text in text(booked)
        [move_url] = links_in(booked, prod.base)
        assert move_url.startswith(f"{prod.base}/customer/callback/")

        ticket_id = state(agent, reference)["id"]
        callback = ok(agent.get(f"/api/v1/tickets/{ticket_id}/callback"))
        assert callback["state"] == "awaiting-callback"
        assert callback["booking"]["status"] == "booked"
        start = datetime.fromisoformat(callback["booking"]["slot_start"])
        assert f"{start:%H:%M}" in slot_text.replace(" h ", ":")  # 24x7 calendar in UTC
        ok(agent.post(f"/api/v1/tickets/{ticket_id}/claim", json={}))
        answered = ok(agent.post(f"/api/v1/tickets/{ticket_id}/callback_result",
                                 json={"result": "answered", "note": "reached on the phone"}))
        assert answered["state"] == "queued"

        offer = agent.post(f"/api/v1/tickets/{ticket_id}/offer_remote_session", json={})
        assert offer.headers["Cache-Control"] == "no-store"
        code = ok(offer, 201)["code"]
        assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code)
        assert state(agent, reference)["waiting_on"] == "session-code"

        # the customer: no agent token, only the reference and the code read over the phone
        with httpx.Client(base_url=prod.base, timeout=30) as customer:
            verified = ok(customer.post("/api/v1/customer/session/verify",
                                        json={"reference": reference,
                                              "code": code.replace("-", " ").lower()}))
            terms = verified["terms"]
            assert terms["language"] == language and terms["text"].strip()
            agreed = ok(customer.post("/api/v1/customer/session/agree", json={
                "consent_token": verified["consent_token"], "terms_version": terms["version"]}))
            assert agreed["state"] == "remote-session" and agreed["reference"] == reference
            customer.headers["X-Session-Token"] = agreed["session_token"]
            assert state(agent, reference)["state"] == "remote-session"

            change = "Forward TCP port 8000 on the router to the recorder (192.168.1.64)"
            step = ok(agent.post(f"/api/v1/tickets/{ticket_id}/session/steps",
                                 json={"kind": "network", "description": change}), 201)
            shown = ok(customer.get("/api/v1/customer/session"))
            assert [(s["id"], s["decision"]) for s in shown["steps"]] == [(step["id"], "pending")]
            declined = ok(customer.post(f"/api/v1/customer/session/steps/{step['id']}",
                                        json={"decision": "declined"}))
            assert declined["decision"] == "declined"
            network = wait_mail(smtp, reference, "network_changes", language)
            assert change in text(network)

            ended = ok(agent.post(f"/api/v1/tickets/{ticket_id}/end_remote_session",
                                  json={"resolved": True, "reason": "reset through SADP"}))
            assert (ended["state"], ended["outcome"]) == ("closed", "resolved")
            assert customer.get("/api/v1/customer/session").status_code == 409

    wait_mail(smtp, reference, "session_ended", language)
    final = prod.show(reference)
    assert (final["state"], final["outcome"]) == ("closed", "resolved")
    trail = [(h["trigger"], h["to"], h["actor"]) for h in final["history"]]
    assert trail == [
        ("submit", "submitted", f"producer:{desk.producer}"),
        ("verify", "verified", "system:verification"),
        ("enqueue", "queued", "system:verification"),
        ("request_callback", "awaiting-callback", "system:escalation"),
        ("claim", "awaiting-callback", f"agent:{AGENT}"),
        ("callback_result", "queued", f"agent:{AGENT}"),
        ("offer_remote_session", "queued", f"agent:{AGENT}"),
        ("start_remote_session", "remote-session", "customer"),
        ("end_remote_session", "closed", f"agent:{AGENT}"),
    ], trail
    assert terms["version"] in next(h["reason"] for h in final["history"]
                                    if h["trigger"] == "start_remote_session")
    with desk.db.reader.begin() as conn:
        consent = conn.execute(sql("SELECT terms_version, language FROM consent "
                                   "WHERE ticket_id = :t"), {"t": final["id"]}).all()
    assert [tuple(r) for r in consent] == [(terms["version"], language)]
    assert {m["Content-Language"] for m in mails(smtp, reference)} == {language}
    assert len(mails(smtp, reference)) == 4  # ack, callback, network changes, session ended
    assert desk.outbox_types()[final["id"]].count(SLA_BREACHED_V1) == 1
    assert_all_relayed_nothing_dead(desk)


# --- 2. a reset key, confirmed --------------------------------------------------------------

def test_confirm_link_get_changes_nothing_post_closes_resolved_once_over_amqp(
        desk: Desk, smtp: SmtpSink, tmp_path: Path) -> None:  # noqa: F811
    prod = run_production(desk, smtp, tmp_path, RESETDESK_CALLBACK_ESCALATION="none")
    with sign_in(prod.base) as agent:
        reference = submit(prod, "en")
        assert "claimed by alice" in prod.cli("tickets", "claim", reference, "--as", AGENT)
        sent = prod.cli("tickets", "send-key", reference, "--as", AGENT, "--kind",
                        "security_codes", "--text", "2024-05-01 8421 9930\n2024-05-02 1177 0452")
        assert "waiting on key-confirmation" in sent

        mail = wait_mail(smtp, reference, "reset_key", "en")
        links = {url.split("/customer/key/", 1)[1].split("/", 1)[0]: url
                 for url in links_in(mail, prod.base)}
        assert set(links) == {"get", "confirm", "report"}, links
        assert "8421" not in text(mail)  # the codes travel behind the link, not in the mail

        with httpx.Client(timeout=30) as customer:
            page = customer.get(links["get"])
            assert page.status_code == 200 and "8421 9930" in page.text
            before = state(agent, reference)
            opened = customer.get(links["confirm"])  # what a mail scanner does
            assert opened.status_code == 200 and "<form method=\"post\">" in opened.text
            after = state(agent, reference)
            assert (after["state"], after["waiting_on"]) == ("queued", "key-confirmation")
            assert (after["version"], after["history"]) == (before["version"], before["history"])

            confirmed = customer.post(links["confirm"])
            assert confirmed.status_code == 200 and "now closed" in confirmed.text
            closed = state(agent, reference)
            assert (closed["state"], closed["outcome"]) == ("closed", "resolved")
            again = customer.post(links["confirm"])
            assert again.status_code == 200 and "already recorded" in again.text

    unchanged = prod.show(reference)
    assert (unchanged["version"], unchanged["history"]) == (closed["version"], closed["history"])
    trail = [(h["trigger"], h["to"], h["actor"]) for h in unchanged["history"]]
    assert trail == [
        ("submit", "submitted", f"producer:{desk.producer}"),
        ("verify", "verified", "system:verification"),
        ("enqueue", "queued", "system:verification"),
        ("claim", "queued", f"agent:{AGENT}"),
        ("send_key", "queued", f"agent:{AGENT}"),
        ("resolve", "closed", "customer"),
    ], trail
    assert sorted(subject(m).split(" (")[0] for m in mails(smtp, reference)) == sorted([
        SUBJECTS["acknowledgement"]["en"], SUBJECTS["reset_key"]["en"]])
    assert_all_relayed_nothing_dead(desk)
