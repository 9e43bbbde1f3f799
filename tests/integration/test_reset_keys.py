"""Reset-key delivery over a real database (SQLite and PostgreSQL), through the real web app:
the artifact is sealed at rest, the customer's links act only on POST and only once, a failure
puts the ticket back in the queue, a silent customer is reminded then closed, artifacts are
purged after close."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer import Typer
from typer.testing import CliRunner

from console.app import create_app
from console.deps import WebDeps
from console.routes import agent_key, customer_key
from consumers.mail_folder import MailFolderNotifier
from resetdesk.cli_keys import send_key_command
from schedulers.housekeeping import KEYS
from tests.factories import make_ticket
from tests.web import SECRET, agent_headers
from workflow.adapters import accounts, links
from workflow.adapters.artifact_store import AesGcmSealer, purge_artifacts
from workflow.adapters.bus_wiring import sql_bus
from workflow.adapters.db import Database
from workflow.adapters.human_check import LocalVerifier
from workflow.adapters.tables import AUDIT, OUTBOX
from workflow.adapters.tables_resolution import RESET_ARTIFACT
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.actors import CUSTOMER, Actor
from workflow.domain.calendar import BusinessCalendar, Window
from workflow.domain.policies import Policies
from workflow.domain.reset_keys import KeyPolicy, SilencePolicy, new_artifact
from workflow.domain.sla import DEFAULT_POLICIES
from workflow.domain.states import Outcome, State, WaitingOn
from workflow.domain.ticket import Ticket
from workflow.domain.ticket_sla import SlaBook
from workflow.service.bus import MessageBus
from workflow.service.commands import ReportKey, SendKey
from workflow.service.housekeeping_commands import RemindSilentKeys
from workflow.service.ports import Clock
from workflow.service.reset_keys import KeyAnswer, seal_context

PT = ZoneInfo("America/Los_Angeles")
T0 = datetime(2027, 1, 8, 10, 0, tzinfo=PT)  # a Friday
CODES = "2027-01-08 4711-0815-2342"
BOOK = SlaBook(BusinessCalendar({d: [Window(time(6), time(16, 30))] for d in range(5)},
                                closed_days=[datetime(2027, 1, 11).date()]), DEFAULT_POLICIES)


@dataclass
class MovableClock(Clock):
    at: datetime

    def now(self) -> datetime:
        return self.at


def web_client(db: Database, clock: Clock, policies: Policies | None = None) -> TestClient:
    """``tests.web.web_client`` with this part's routers, as the composition root adds them."""
    deps = WebDeps(db=db, clock=clock, verifier=LocalVerifier(), uow=lambda: SqlUnitOfWork(db),
                   secret_key=SECRET, policies=policies or Policies())
    return TestClient(create_app(deps, extra_routers=[agent_key.router, customer_key.router]))


def _claimed(db: Database, language: str = "fr") -> str:
    t = make_ticket(State.QUEUED, assignee="alice", language=language, created_at=T0,
                    updated_at=T0, accepted_at=T0,
                    data={"requester": {"name": "Test Person", "email": "test@example.com"}})
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(t)
        uow.commit()
    return t.id


def _ticket(db: Database, ticket_id: str) -> Ticket:
    with SqlUnitOfWork(db, read_only=True) as uow:
        return uow.tickets.get(ticket_id)


def _emails(db: Database, ticket_id: str) -> list[dict[str, Any]]:
    with db.reader.begin() as conn:
        payloads = conn.execute(select(OUTBOX.c.payload).where(
            OUTBOX.c.ticket_id == ticket_id, OUTBOX.c.type == "com.resetdesk.notification.email.v1")
            .order_by(OUTBOX.c.id)).scalars().all()
    return [json.loads(p)["data"] for p in payloads]


def _artifacts(db: Database, ticket_id: str) -> list[Any]:
    with db.reader.begin() as conn:
        return list(conn.execute(select(RESET_ARTIFACT).where(
            RESET_ARTIFACT.c.ticket_id == ticket_id).order_by(RESET_ARTIFACT.c.id)).all())


def _audit_count(db: Database, ticket_id: str) -> int:
    with db.reader.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(AUDIT)
                                .where(AUDIT.c.ticket_id == ticket_id)).scalar_one())


def _path(url: object) -> str:
    return re.sub(r"^https?://[^/]+", "", str(url))


def _send_codes(client: TestClient, db: Database, tid: str) -> dict[str, Any]:
    r = client.post(f"/api/v1/tickets/{tid}/send_key", json={"kind": "security_codes",
                                                              "text": CODES},
                    headers=agent_headers(client, db, "alice"))
    assert r.status_code == 200, r.text
    context: dict[str, Any] = _emails(db, tid)[-1]["context"]
    return context


def _clocks_paused(ticket: Ticket) -> bool:
    assert ticket.sla is not None
    clocks = ticket.sla.clocks
    return clocks["resolution"].is_paused and all(c.is_paused for c in clocks.values())


def test_codes_are_sealed_at_rest_and_mailed_in_the_customers_language(db: Database) -> None:
    client, tid = web_client(db, MovableClock(T0)), _claimed(db, "fr")
    _send_codes(client, db, tid)
    [email] = _emails(db, tid)
    assert (email["template"], email["language"]) == ("reset_key", "fr")
    ctx = email["context"]
    assert ctx["kind"] == "security_codes" and ctx["valid_hours"] == 24
    assert ctx["valid_until"] == "2027-01-09 18:00 UTC"
    assert {"key_url", "confirm_url", "report_url"} <= set(ctx)
    [row] = _artifacts(db, tid)
    assert CODES.encode() not in row.ciphertext and row.outcome is None
    assert AesGcmSealer(SECRET).open(row.ciphertext, seal_context(tid, "security_codes")) \
        == CODES.encode()
    with db.reader.begin() as conn:  # neither the outbox nor the audit trail holds the codes
        assert CODES not in "".join(conn.execute(select(OUTBOX.c.payload)).scalars())
        assert CODES not in "".join(r or "" for r in conn.execute(select(AUDIT.c.reason)).scalars())
    ticket = _ticket(db, tid)
    assert ticket.waiting_on is WaitingOn.KEY_CONFIRMATION and _clocks_paused(ticket)
    page = client.get(_path(ctx["key_url"]))
    assert page.status_code == 200 and CODES in page.text and "redémarrez" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_the_encrypted_file_is_uploaded_and_downloaded_behind_its_link(db: Database) -> None:
    small = Policies(keys=KeyPolicy(max_file_bytes=1000))
    client, tid = web_client(db, MovableClock(T0), small), _claimed(db, "en")
    alice = agent_headers(client, db, "alice")
    blob = bytes(range(256)) * 3
    r = client.post(f"/api/v1/tickets/{tid}/send_key", data={"kind": "encrypted_file"},
                    files={"file": ("reset.dat", blob, "application/octet-stream")}, headers=alice)
    assert r.status_code == 200, r.text
    [row] = _artifacts(db, tid)
    assert blob not in row.ciphertext and row.filename == "reset.dat"
    ctx = _emails(db, tid)[-1]["context"]
    assert ctx["kind"] == "encrypted_file" and ctx["valid_hours"] == 48
    download = client.get(_path(ctx["key_url"]))
    assert download.status_code == 200 and download.content == blob
    assert "attachment" in download.headers["content-disposition"]
    too_big = client.post(f"/api/v1/tickets/{tid}/send_key", data={"kind": "encrypted_file"},
                          files={"file": ("x", b"0" * 1001, "application/octet-stream")},
                          headers=alice)
    assert too_big.status_code == 422 and len(_artifacts(db, tid)) == 1


def test_only_the_assignee_can_send_a_key(db: Database) -> None:
    client, tid = web_client(db, MovableClock(T0)), _claimed(db)
    r = client.post(f"/api/v1/tickets/{tid}/send_key", json={"kind": "key", "text": "K"},
                    headers=agent_headers(client, db, "bob"))
    assert r.status_code == 409 and "claimed by alice" in r.json()["reason"]
    assert _artifacts(db, tid) == []


def test_get_on_the_confirm_link_changes_nothing_and_post_confirms_once(db: Database) -> None:
    client, tid = web_client(db, MovableClock(T0)), _claimed(db, "en")
    confirm = _path(_send_codes(client, db, tid)["confirm_url"])
    version, audits = _ticket(db, tid).version, _audit_count(db, tid)
    page = client.get(confirm)
    assert page.status_code == 200 and f'<form method="post" action="{confirm}"' in page.text
    assert _ticket(db, tid).version == version and _audit_count(db, tid) == audits
    done = client.post(confirm)
    assert done.status_code == 200 and "closed" in done.text
    ticket = _ticket(db, tid)
    assert (ticket.state, ticket.outcome) == (State.CLOSED, Outcome.RESOLVED)
    assert _artifacts(db, tid)[0].outcome == "confirmed"
    again = client.post(confirm)
    assert again.status_code == 200 and "already recorded" in again.text
    assert _ticket(db, tid).version == ticket.version and _audit_count(db, tid) == audits + 1
    with SqlUnitOfWork(db, read_only=True) as uow:
        assert uow.tickets.history(tid)[-1].actor == "customer"


def test_a_failure_report_requeues_resumes_the_clock_and_asks_for_a_new_export(
        db: Database) -> None:
    clock = MovableClock(T0)
    client, tid = web_client(db, clock), _claimed(db, "fr")
    report = _path(_send_codes(client, db, tid)["report_url"])
    clock.at = T0 + timedelta(hours=2)
    assert client.get(report).status_code == 200 and _ticket(db, tid).waiting_on is not None
    assert client.post(report).status_code == 200
    ticket = _ticket(db, tid)
    assert ticket.state is State.QUEUED and ticket.waiting_on is None
    assert ticket.sla is not None
    assert all(c.is_running for c in ticket.sla.clocks.values())
    email = _emails(db, tid)[-1]
    assert (email["template"], email["language"], email["context"]["why"]) == \
        ("reexport_needed", "fr", "failed")
    assert "déjà" in client.post(report).text and len(_emails(db, tid)) == 2


def test_a_report_after_the_validity_is_recorded_as_expired(db: Database) -> None:
    clock = MovableClock(T0)
    client, tid = web_client(db, clock), _claimed(db, "en")
    ctx = _send_codes(client, db, tid)
    clock.at = T0 + timedelta(hours=25)
    assert "expired" in client.get(_path(ctx["key_url"])).text  # the key link itself expired
    client.post(_path(ctx["report_url"]))
    assert _artifacts(db, tid)[0].outcome == "expired"
    assert _emails(db, tid)[-1]["context"]["why"] == "expired"


def test_expired_tampered_or_misdirected_links_are_refused(db: Database) -> None:
    clock = MovableClock(T0)
    client, tid = web_client(db, clock), _claimed(db, "en")
    ctx = _send_codes(client, db, tid)
    confirm, report = _path(ctx["confirm_url"]), _path(ctx["report_url"])
    token = confirm.rsplit("/", 1)[1]
    version = _ticket(db, tid).version
    foreign = links.sign(b"another-secret-entirely", tid, "confirm_key", T0 + timedelta(days=1))
    for bad in (confirm[:-2] + ("AA" if not confirm.endswith("AA") else "BB"),
                f"/customer/key/report/{token}", f"/customer/key/confirm/{foreign}",
                "/customer/key/confirm/garbage"):
        assert client.get(bad).status_code == 403
        assert client.post(bad).status_code == 403
    clock.at = T0 + timedelta(days=15)  # past the links' 14-day lifetime
    assert client.post(confirm).status_code == 403 and client.post(report).status_code == 403
    assert _ticket(db, tid).version == version


def _bus(db: Database, clock: Clock) -> MessageBus:
    """The bus as bootstrap builds it, over this part's business calendar."""
    return sql_bus(db, lambda: SqlUnitOfWork(db, sla=BOOK), clock, secret_key=SECRET,
                   public_url="https://desk.example", policies=Policies())


def _job(db: Database, clock: Clock) -> tuple[int, int]:
    """The scheduler's reset-key job, as its leader hands it to the bus."""
    return _bus(db, clock).handle(RemindSilentKeys(actor=KEYS, silence=SilencePolicy(2, 5)))


def test_a_silent_customer_is_reminded_then_closed_after_business_days(db: Database) -> None:
    clock = MovableClock(T0)
    tid = _claimed(db, "en")
    _bus(db, clock).handle(SendKey(actor=Actor("agent", "alice"), ticket_id=tid,
                                   artifact=new_artifact("key", text="KEY-1")))
    # Friday 10:00 + 2 business days, Monday the 11th being a holiday: Wednesday 10:00
    for at, expected in ((datetime(2027, 1, 12, 11, tzinfo=PT), (0, 0)),
                         (datetime(2027, 1, 13, 9, 59, tzinfo=PT), (0, 0)),
                         (datetime(2027, 1, 13, 10, tzinfo=PT), (1, 0)),
                         (datetime(2027, 1, 14, 10, tzinfo=PT), (0, 0)),
                         (datetime(2027, 1, 16, 12, tzinfo=PT), (0, 0)),
                         (datetime(2027, 1, 18, 10, tzinfo=PT), (0, 1)),
                         (datetime(2027, 1, 19, 10, tzinfo=PT), (0, 0))):
        clock.at = at
        assert _job(db, clock) == expected, at
    ticket = _ticket(db, tid)
    assert (ticket.state, ticket.outcome) == (State.CLOSED, Outcome.ABANDONED)
    with SqlUnitOfWork(db, read_only=True) as uow:
        last = uow.tickets.history(tid)[-1]
    assert (last.trigger, last.actor, last.reason) == \
        ("abandon", "system:key-jobs", "no answer after key sent")
    assert [e["template"] for e in _emails(db, tid)] == \
        ["reset_key", "key_reminder", "key_closed_silent"]
    assert _artifacts(db, tid)[0].outcome == "silent"


def test_a_customer_who_answered_is_never_reminded(db: Database) -> None:
    clock = MovableClock(T0)
    client, tid = web_client(db, clock), _claimed(db, "en")
    client.post(_path(_send_codes(client, db, tid)["report_url"]))
    clock.at = T0 + timedelta(days=30)
    assert _job(db, clock) == (0, 0)
    assert _ticket(db, tid).state is State.QUEUED


def test_a_new_key_supersedes_the_one_still_pending(db: Database) -> None:
    client, tid = web_client(db, MovableClock(T0)), _claimed(db, "en")
    _send_codes(client, db, tid)
    _send_codes(client, db, tid)
    assert [r.outcome for r in _artifacts(db, tid)] == ["superseded", None]


def test_artifacts_are_purged_after_close_and_audited_once(db: Database) -> None:
    clock = MovableClock(T0)
    client = web_client(db, clock)
    closed, still_open = _claimed(db, "en"), _claimed(db, "en")
    client.post(_path(_send_codes(client, db, closed)["confirm_url"]))
    _send_codes(client, db, still_open)
    retention = timedelta(days=30)
    assert purge_artifacts(db, T0 + timedelta(days=29), retention) == 0
    audits = _audit_count(db, closed)
    assert purge_artifacts(db, T0 + timedelta(days=31), retention) == 1
    [row] = _artifacts(db, closed)
    assert row.ciphertext is None and row.filename is None and row.purged_at is not None
    assert _artifacts(db, still_open)[0].ciphertext is not None
    assert purge_artifacts(db, T0 + timedelta(days=32), retention) == 0
    with SqlUnitOfWork(db, read_only=True) as uow:
        trail = uow.tickets.history(closed)
    assert len(trail) == audits + 1 and trail[-1].trigger == "purge_artifacts"


def test_the_cli_sends_a_key(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESETDESK_DATABASE_URL", db.url)
    monkeypatch.setenv("RESETDESK_SECRET_KEY", SECRET.decode())
    monkeypatch.setenv("RESETDESK_SERVER__PUBLIC_URL", "https://desk.example")
    tid = _claimed(db, "en")
    accounts.add_agent(db, "alice", "alice-password-123")
    cli = Typer()
    cli.command("send-key")(send_key_command)
    cli.command("noop")(lambda: None)  # two commands: Typer keeps the sub-command name
    result = CliRunner().invoke(cli, ["send-key", tid, "--as", "alice", "--kind", "key",
                                      "--text", "KEY-42"])
    assert result.exit_code == 0, result.output
    assert "waiting on key-confirmation" in result.output
    assert _emails(db, tid)[-1]["context"]["key_url"].startswith(
        "https://desk.example/customer/key/get/")
    refused = CliRunner().invoke(cli, ["send-key", tid, "--as", "alice", "--text", "x"])
    assert refused.exit_code != 0


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_key_email_renders_through_the_real_notifier(db: Database, tmp_path: Path,
                                                          language: str) -> None:
    clock = MovableClock(T0)
    client, silent, failing = web_client(db, clock), _claimed(db, language), _claimed(db, language)
    _send_codes(client, db, silent)
    client.post(_path(_send_codes(client, db, failing)["report_url"]))
    for day in (13, 18):
        clock.at = datetime(2027, 1, day, 10, tzinfo=PT)
        _job(db, clock)
    notifier = MailFolderNotifier(db, tmp_path, sender="Support <support@example.com>",
                                  public_url="https://desk.example/reset")
    with db.reader.begin() as conn:
        envelopes = [json.loads(p) for p in conn.execute(select(OUTBOX.c.payload).where(
            OUTBOX.c.type == "com.resetdesk.notification.email.v1")).scalars()]
    templates = sorted(e["data"]["template"] for e in envelopes)
    assert templates == sorted(["reset_key", "reset_key", "reexport_needed", "key_reminder",
                                "key_closed_silent"])
    for envelope in envelopes:
        assert notifier.handle(envelope) == "sent", envelope["data"]["template"]
    bodies = {}
    for path in tmp_path.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage) and message["Content-Language"] == language
        part = message.get_body()
        assert part is not None
        bodies[str(message["Subject"])] = str(part.get_content())
    first = next(b for s, b in bodies.items() if "codes" in s and "?" not in s)
    until = {"en": "Saturday, January 9, 2027 at 10:00 PST",  # 18:00 UTC, in Pacific time
             "fr": "samedi 9 janvier 2027 à 10 h 00 (heure du Pacifique)"}[language]
    assert until in first and "24" in first
    assert ("do not reboot" if language == "en" else "ne redémarrez pas") in first


def test_two_simultaneous_confirmations_move_the_ticket_once(db: Database) -> None:
    clock = MovableClock(T0)
    client, tid = web_client(db, clock), _claimed(db, "en")
    _send_codes(client, db, tid)
    audits = _audit_count(db, tid)
    barrier = threading.Barrier(2)

    def confirm() -> KeyAnswer:
        barrier.wait()
        return _bus(db, clock).handle(ReportKey(actor=CUSTOMER, ticket_id=tid, worked=True)).answer

    with ThreadPoolExecutor(2) as pool:
        answers = sorted(a.value for a in pool.map(lambda _: confirm(), range(2)))
    assert answers == ["already-recorded", "recorded"]
    assert _audit_count(db, tid) == audits + 1
    assert _ticket(db, tid).outcome is Outcome.RESOLVED


def test_the_json_api_confirms_and_reports_like_the_pages(db: Database) -> None:
    client, tid = web_client(db, MovableClock(T0)), _claimed(db, "en")
    confirm = "/api/v1" + _path(_send_codes(client, db, tid)["confirm_url"])
    assert client.post(confirm + "x").status_code == 403
    first, second = client.post(confirm), client.post(confirm)
    assert (first.status_code, first.json()["answer"]) == (200, "recorded")
    assert second.json()["answer"] == "already-recorded"
    assert (_ticket(db, tid).state, _ticket(db, tid).outcome) == (State.CLOSED, Outcome.RESOLVED)
