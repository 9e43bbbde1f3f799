"""Retention purge on SQLite and PostgreSQL: old closed tickets lose their personal data everywhere,
attachments go first, each purge is audited once, open and recent tickets are never touched."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from schemas.events_v1 import NOTIFICATION_EMAIL_V1
from schemas.sample import sample_request, sample_request_data
from tests.factories import make_ticket
from workflow.adapters import deliveries, inbox
from workflow.adapters import purge as purge_module
from workflow.adapters.db import Database
from workflow.adapters.purge import PurgeReport, purge, residue
from workflow.adapters.tables import ATTACHMENT, AUDIT, DELIVERY, INBOX, OUTBOX, TICKET
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.errors import ConcurrencyConflict
from workflow.domain.events import NotificationRequested
from workflow.domain.states import Outcome, State
from workflow.service.ports import Attachment

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RETENTION = 90 * DAY
ATTACHMENT_RETENTION = 30 * DAY
SUBSCRIBERS = {"notifications": {NOTIFICATION_EMAIL_V1}}
RESIDUE = {"requester": {"country": "US", "language": "en", "customer_type": "installer"},
           "device": {"model_number": "DS-7608NI-I2/8P", "kind": "nvr"}, "reset_method": "sadp"}


@dataclass(frozen=True)
class Stored:
    ticket_id: str
    reference: str
    source: str
    event_id: str
    personal: tuple[str, ...]  # strings that must not survive anywhere once purged


def _run(db: Database, now: datetime = NOW, **options: Any) -> PurgeReport:
    return purge(db, now=now, retention=RETENTION, attachment_retention=ATTACHMENT_RETENTION,
                 **options)


def _store(db: Database, *, closed_days_ago: float | None, state: State = State.CLOSED) -> Stored:
    """A ticket made from a real request: inbox row (with remote address), ticket, attachment,
    notification event (outbox and delivery rows)."""
    tag = secrets.token_hex(4).upper()
    name, email, phone = f"Dana Whit{tag}", f"dana.{tag.lower()}@example.com", f"+1503{tag}"
    serial = f"DS-7608NI-I2/8P0820200115CCRR{tag}WCVU"
    filename = f"Whit{tag}-{tag}.xml"
    request = sample_request(data=sample_request_data(
        requester__name=name, requester__email=email, requester__phone=phone,
        device__serial_number=serial))
    payload = inbox.canonical_payload(request)
    received = NOW - timedelta(days=closed_days_ago or 0) - DAY
    inbox.record(db, source=request["source"], event_id=request["id"], type_=request["type"],
                 producer="test", digest=secrets.token_hex(32), payload=payload, now=received,
                 remote_addr="203.0.113.77")
    data = {k: v for k, v in request["data"].items() if k != "human_check_token"}
    data["export"] = {"kind": "xml", "media_type": "application/xml", "filename": filename}
    closed = {} if closed_days_ago is None else {
        "closed_at": NOW - timedelta(days=closed_days_ago), "outcome": Outcome.RESOLVED}
    ticket = make_ticket(state, serial_key=serial, data=data, source=request["source"],
                         event_id=request["id"], created_at=received, updated_at=received,
                         **closed)
    ticket.raise_event(NotificationRequested(ticket.id, received, "acknowledgement", "en",
                                             {"reference": ticket.reference}))
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(ticket)
        uow.attachments.add(ticket.id, Attachment(
            "xml", "application/xml", filename, f"<Key serial='{serial}'/>".encode()), received)
        assert uow.inbox.complete(request["source"], request["id"], ticket.id, ticket.reference, received)
        uow.commit()
    deliveries.fan_out(db, SUBSCRIBERS, now=received)
    return Stored(ticket.id, ticket.reference, request["source"], request["id"],
                  (name, email, phone, serial, tag, "203.0.113.77", "Cascade Security",
                   "Northwest Security Supply", "Locked out"))


def _rows(db: Database, s: Stored) -> dict[str, list[dict[str, Any]]]:
    """Every row that belongs to the ticket, raw, table by table."""
    event_ids = select(OUTBOX.c.event_id).where(OUTBOX.c.ticket_id == s.ticket_id)
    queries = {
        "ticket": select(TICKET).where(TICKET.c.id == s.ticket_id),
        "inbox": select(INBOX).where(INBOX.c.source == s.source, INBOX.c.event_id == s.event_id),
        "attachment": select(ATTACHMENT).where(ATTACHMENT.c.ticket_id == s.ticket_id),
        "outbox": select(OUTBOX).where(OUTBOX.c.ticket_id == s.ticket_id),
        "delivery": select(DELIVERY).where(DELIVERY.c.event_id.in_(event_ids)),
        "audit": select(AUDIT).where(AUDIT.c.ticket_id == s.ticket_id).order_by(AUDIT.c.id),
    }
    with db.reader.begin() as conn:
        return {name: [dict(r._mapping) for r in conn.execute(q)] for name, q in queries.items()}


def _leaks(db: Database, s: Stored) -> list[str]:
    raw = repr(_rows(db, s))
    return [p for p in s.personal if p in raw]


def _audit(db: Database, s: Stored) -> list[tuple[Any, ...]]:
    return [(a["actor"], a["trigger"], a["from_state"], a["to_state"], a["outcome"], a["reason"])
            for a in _rows(db, s)["audit"] if a["trigger"].startswith("purge")]


def test_an_old_closed_ticket_keeps_no_personal_data_anywhere(db: Database) -> None:
    s = _store(db, closed_days_ago=100)
    assert _leaks(db, s)  # the check can see them before

    report = _run(db)

    assert report == PurgeReport(tickets_anonymised=1, inbox_rows_anonymised=1,
                                 attachments_purged=1)
    assert _leaks(db, s) == []
    rows = _rows(db, s)
    (ticket,), (row,), (attachment,) = rows["ticket"], rows["inbox"], rows["attachment"]
    assert json.loads(ticket["data"]) == RESIDUE
    assert ticket["serial_key"] is None and ticket["open_serial_key"] is None
    assert ticket["anonymised_at"] == NOW and ticket["version"] == 2
    assert ticket["reference"] == s.reference and ticket["outcome"] == "resolved"
    assert row["payload"] == "{}" and row["remote_addr"] is None and row["ticket_id"] == s.ticket_id
    assert attachment["content"] is None and attachment["purged_at"] == NOW
    assert (attachment["kind"], attachment["media_type"], attachment["size"]) == (
        "xml", "application/xml", len(f"<Key serial='{s.personal[3]}'/>"))


def test_each_purge_is_audited_once_and_a_second_run_changes_nothing(db: Database) -> None:
    s = _store(db, closed_days_ago=100)
    _run(db)
    assert _audit(db, s) == [
        ("system:purge", "purge_attachments", "closed", "closed", "resolved",
         "attachments purged after 30 days"),
        ("system:purge", "purge", "closed", "closed", "resolved",
         "personal data anonymised after 90 days"),
    ]
    after_first = _rows(db, s)

    assert _run(db) == PurgeReport()
    assert _run(db, NOW + 400 * DAY) == PurgeReport()
    assert _rows(db, s) == after_first


def test_open_and_recently_closed_tickets_are_untouched(db: Database) -> None:
    open_old = _store(db, closed_days_ago=None, state=State.QUEUED)
    with db.writer.begin() as conn:  # opened long ago, still open
        conn.execute(update(TICKET).where(TICKET.c.id == open_old.ticket_id)
                     .values(created_at=NOW - 400 * DAY))
    recent = _store(db, closed_days_ago=20)
    before = [_rows(db, open_old), _rows(db, recent)]

    assert _run(db) == PurgeReport()
    assert [_rows(db, open_old), _rows(db, recent)] == before
    assert _rows(db, open_old)["ticket"][0]["open_serial_key"] is not None


def test_attachments_are_purged_before_the_ticket_is_anonymised(db: Database) -> None:
    s = _store(db, closed_days_ago=45)

    assert _run(db) == PurgeReport(attachments_purged=1)
    rows = _rows(db, s)
    assert rows["attachment"][0]["content"] is None
    assert rows["ticket"][0]["anonymised_at"] is None and rows["inbox"][0]["payload"] != "{}"
    assert [a[1] for a in _audit(db, s)] == ["purge_attachments"]

    assert _run(db, NOW + 50 * DAY) == PurgeReport(tickets_anonymised=1, inbox_rows_anonymised=1)
    assert [a[1] for a in _audit(db, s)] == ["purge_attachments", "purge"]
    assert _leaks(db, s) == []


def test_attachments_never_outlive_the_ticket_data(db: Database) -> None:
    s = _store(db, closed_days_ago=100)
    report = purge(db, now=NOW, retention=RETENTION, attachment_retention=365 * DAY)
    assert report.attachments_purged == 1 and report.tickets_anonymised == 1
    assert _leaks(db, s) == []


def _agent_edits(db: Database, ticket_id: str) -> None:
    with SqlUnitOfWork(db) as uow:
        ticket = uow.tickets.get(ticket_id)
        ticket.assignee = "bob"
        uow.tickets.save(ticket)
        uow.commit()


def test_a_ticket_changed_after_it_was_read_is_left_for_the_next_run(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _store(db, closed_days_ago=100)
    real_pages = purge_module.closed_ticket_pages

    def racing(*args: Any, with_data: bool = False) -> Any:
        for page in real_pages(*args, with_data=with_data):
            if with_data:  # the ticket step: an agent saves between the read and the update
                _agent_edits(db, s.ticket_id)
            yield page

    monkeypatch.setattr(purge_module, "closed_ticket_pages", racing)
    report = _run(db)
    assert report.tickets_skipped == 1 and report.tickets_anonymised == 0
    ticket = _rows(db, s)["ticket"][0]
    assert ticket["anonymised_at"] is None and ticket["assignee"] == "bob"
    assert [a[1] for a in _audit(db, s)] == ["purge_attachments"]

    monkeypatch.setattr(purge_module, "closed_ticket_pages", real_pages)
    assert _run(db, NOW + DAY).tickets_anonymised == 1
    assert _leaks(db, s) == []


def test_a_stale_copy_cannot_write_personal_data_back(db: Database) -> None:
    s = _store(db, closed_days_ago=100)
    with SqlUnitOfWork(db) as uow:
        stale = uow.tickets.get(s.ticket_id)
    _run(db)
    with SqlUnitOfWork(db) as uow, pytest.raises(ConcurrencyConflict):
        uow.tickets.save(stale)
    assert _leaks(db, s) == []


def test_many_tickets_are_purged_in_batches(db: Database) -> None:
    stored = [_store(db, closed_days_ago=100 + i) for i in range(7)]
    report = _run(db, batch=3)
    assert report == PurgeReport(tickets_anonymised=7, inbox_rows_anonymised=7,
                                 attachments_purged=7)
    for s in stored:
        assert _leaks(db, s) == []
        assert [a[1] for a in _audit(db, s)] == ["purge_attachments", "purge"]


def test_dead_letters_are_anonymised_after_the_retention_period(db: Database) -> None:
    def dead(days_ago: int, status: str = "dead") -> inbox.InboxKey:
        request = sample_request()
        at = NOW - days_ago * DAY
        inbox.record(db, source=request["source"], event_id=request["id"], type_=request["type"],
                     producer="test", digest="d" * 64, payload=inbox.canonical_payload(request),
                     now=at, remote_addr="198.51.100.9")
        key = inbox.InboxKey(request["source"], request["id"])
        if status == "dead":
            inbox.park_dead(db, key, "contract: requester.email is not an email", at)
        return key

    old, recent, pending = dead(100), dead(10), dead(100, status="pending")

    assert _run(db, batch=1).inbox_rows_anonymised == 1

    def row(key: inbox.InboxKey) -> Any:
        with db.reader.begin() as conn:
            return conn.execute(select(INBOX.c.payload, INBOX.c.remote_addr, INBOX.c.status).where(
                INBOX.c.source == key.source, INBOX.c.event_id == key.event_id)).one()

    assert tuple(row(old)) == ("{}", None, "dead")
    assert "Dana Whitfield" in row(recent).payload and "Dana Whitfield" in row(pending).payload
    assert _run(db).inbox_rows_anonymised == 0


def test_a_recipient_address_in_a_notification_event_is_removed(db: Database) -> None:
    s = _store(db, closed_days_ago=100)
    email = s.personal[1]
    envelope = json.loads(_rows(db, s)["outbox"][0]["payload"])
    envelope["data"]["to"] = email
    envelope["id"] = envelope["id"][::-1]
    with db.writer.begin() as conn:  # an event a future producer might write
        conn.execute(insert(OUTBOX).values(
            event_id=envelope["id"], ticket_id=s.ticket_id, sequence=99, type=NOTIFICATION_EMAIL_V1,
            payload=json.dumps(envelope), created_at=NOW - 99 * DAY))
    deliveries.fan_out(db, SUBSCRIBERS, now=NOW - 99 * DAY)

    report = _run(db)

    assert (report.outbox_rows_cleared, report.deliveries_cleared) == (1, 1)
    assert _leaks(db, s) == []
    assert _run(db) == PurgeReport()


def test_residue_keeps_only_coarse_non_personal_facts() -> None:
    data = sample_request_data()
    assert residue(data) == RESIDUE
    assert residue({"requester": "Dana", "device": {"kind": 3}, "note": "x"}) == {}


def test_bad_arguments_are_refused(db: Database) -> None:
    with pytest.raises(ValueError):
        purge(db, now=NOW.replace(tzinfo=None), retention=RETENTION,
              attachment_retention=ATTACHMENT_RETENTION)
    with pytest.raises(ValueError):
        purge(db, now=NOW, retention=-DAY, attachment_retention=ATTACHMENT_RETENTION)
