"""The verification handler and the inbox queue, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from consumers.request_handling import Disposition, RequestHandler
from schemas.registry import decode_structured
from tests.e2e.requests import request, unique_serial
from workflow.adapters import inbox
from workflow.adapters.db import Database
from workflow.adapters.human_check import HumanCheckResult
from workflow.adapters.rules_file import load_rule_book
from workflow.adapters.tables import ATTACHMENT, AUDIT, INBOX, OUTBOX, TICKET
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.errors import StorageUnavailable
from workflow.domain.retry import RetryPolicy
from workflow.service.ports import SystemClock
from workflow.service.verification import ProcessRequest, process_request

RULES = load_rule_book()
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


@dataclass
class ScriptedVerifier:
    """Answers from a script, counting calls: the real verifiers are tested on their own."""

    answers: list[HumanCheckResult]
    calls: int = 0
    single_use: bool = True
    seen: list[str] = field(default_factory=list)

    def verify(self, token: str, remote_ip: str | None) -> HumanCheckResult:
        self.calls += 1
        self.seen.append(token)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _record(db: Database, event: dict, human: str | None = "passed") -> inbox.Recorded:  # type: ignore[type-arg]
    decoded = decode_structured(json.dumps(event).encode())
    return inbox.record(db, source=decoded.source, event_id=decoded.id, type_=decoded.type,
                        producer="test", digest=decoded.content_digest,
                        payload=json.dumps(event), now=NOW, human_check=human)


def _handler(db: Database, verifier: ScriptedVerifier, max_attempts: int = 3) -> RequestHandler:
    return RequestHandler(db=db, uow=lambda: SqlUnitOfWork(db), clock=SystemClock(), rules=RULES,
                          verifier=verifier, retry=RetryPolicy(max_attempts, (0, 0, 0)))


def _count(db: Database, table, *where) -> int:  # type: ignore[no-untyped-def]
    with db.reader.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _claim(db: Database) -> list[inbox.Claimed]:
    return inbox.claim(db, limit=10, lease=timedelta(seconds=30), now=datetime.now(UTC))


def test_valid_request_is_queued_with_audit_outbox_and_inbox_done(db: Database) -> None:
    event = request()
    recorded = _record(db, event)
    [claimed] = _claim(db)
    outcome = _handler(db, ScriptedVerifier([HumanCheckResult(True, "ok")])).handle_claimed(claimed)
    assert outcome.disposition is Disposition.DONE
    with SqlUnitOfWork(db, read_only=True) as uow:
        ticket = uow.tickets.by_reference(recorded.reference)
    assert ticket.state.value == "queued" and ticket.sla is not None
    assert _count(db, AUDIT, AUDIT.c.ticket_id == ticket.id) == 3
    types = _types(db, ticket.id)
    assert "com.resetdesk.ticket.queued.v1" in types
    assert "com.resetdesk.notification.email.v1" in types
    assert inbox.status(db, event["source"], event["id"]).status == "done"  # type: ignore[union-attr]


def _types(db: Database, ticket_id: str) -> list[str]:
    with db.reader.begin() as conn:
        return list(conn.execute(select(OUTBOX.c.type).where(OUTBOX.c.ticket_id == ticket_id)
                                 .order_by(OUTBOX.c.id)).scalars())


def test_processing_the_same_message_twice_applies_it_once(db: Database) -> None:
    event = request()
    recorded = _record(db, event)
    decoded = decode_structured(json.dumps(event).encode())
    cmd = ProcessRequest(event["source"], event["id"], recorded.reference, "test", True,
                         decoded.data, NOW)
    first = process_request(SqlUnitOfWork(db), SystemClock(), RULES, cmd)
    second = process_request(SqlUnitOfWork(db), SystemClock(), RULES, cmd)
    assert (first.applied, second.applied) == (True, False)
    assert _count(db, TICKET) == 1


def test_two_workers_racing_on_one_message_make_one_ticket(db: Database) -> None:
    event = request()
    recorded = _record(db, event)
    decoded = decode_structured(json.dumps(event).encode())
    cmd = ProcessRequest(event["source"], event["id"], recorded.reference, "test", True,
                         decoded.data, NOW)
    barrier = threading.Barrier(4)
    results: list[object] = []

    def work() -> None:
        barrier.wait(10)
        try:
            results.append(process_request(SqlUnitOfWork(db), SystemClock(), RULES, cmd).applied)
        except Exception as err:  # a unique violation on the reference is also a refusal
            results.append(type(err).__name__)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results.count(True) == 1
    assert _count(db, TICKET) == 1


def test_rejection_closes_with_its_outcome(db: Database) -> None:
    _record(db, request(data__requester__country="MX"))
    [claimed] = _claim(db)
    _handler(db, ScriptedVerifier([HumanCheckResult(True, "ok")])).handle_claimed(claimed)
    with db.reader.begin() as conn:
        row = conn.execute(select(TICKET.c.state, TICKET.c.outcome, TICKET.c.sla)).one()
    assert tuple(row) == ("closed", "rejected-region", None)


def test_second_open_request_for_a_serial_is_a_linked_duplicate(db: Database) -> None:
    serial = unique_serial()
    for _ in range(2):
        _record(db, request(data__device__serial_number=serial))
    handler = _handler(db, ScriptedVerifier([HumanCheckResult(True, "ok")]))
    for claimed in _claim(db):
        handler.handle_claimed(claimed)
    with db.reader.begin() as conn:
        rows = conn.execute(select(TICKET.c.id, TICKET.c.outcome, TICKET.c.linked_ticket_id)
                            .order_by(TICKET.c.created_at)).all()
    assert [r.outcome for r in rows] == [None, "duplicate"]
    assert rows[1].linked_ticket_id == rows[0].id


def test_human_check_result_is_stored_and_reused_on_redelivery(db: Database) -> None:
    _record(db, request(), human=None)
    verifier = ScriptedVerifier([HumanCheckResult(True, "ok")])
    [claimed] = _claim(db)
    handler = _handler(db, verifier)

    opened: list[int] = []

    def down_after_the_human_check() -> SqlUnitOfWork:  # its result commits; the ticket fails
        opened.append(1)
        if len(opened) > 1:
            raise StorageUnavailable("database unavailable (simulated)")
        return SqlUnitOfWork(db)

    handler.uow = down_after_the_human_check
    assert handler.handle_claimed(claimed).disposition is Disposition.RETRY
    assert _row(db).human_check == "passed"
    [again] = _claim(db)
    assert _handler(db, verifier).handle_claimed(again).disposition is Disposition.DONE
    assert verifier.calls == 1


def _row(db: Database):  # type: ignore[no-untyped-def]
    with db.reader.begin() as conn:
        return conn.execute(select(INBOX)).one()


def test_unavailable_human_check_is_retried_then_dead_lettered_with_reason(db: Database) -> None:
    _record(db, request(), human=None)
    verifier = ScriptedVerifier([HumanCheckResult(False, "timed out", transient=True)])
    handler = _handler(db, verifier, max_attempts=2)
    assert handler.handle_claimed(_claim(db)[0]).disposition is Disposition.RETRY
    assert handler.handle_claimed(_claim(db)[0]).disposition is Disposition.DEAD
    row = _row(db)
    assert row.status == "dead" and "human check unavailable" in row.last_error
    assert _count(db, TICKET) == 0


def test_expired_lease_makes_a_row_claimable_again(db: Database) -> None:
    _record(db, request())
    first = inbox.claim(db, limit=1, lease=timedelta(seconds=30), now=NOW)
    assert inbox.claim(db, limit=1, lease=timedelta(seconds=30), now=NOW) == []
    again = inbox.claim(db, limit=1, lease=timedelta(seconds=30), now=NOW + timedelta(seconds=31))
    assert [c.key for c in again] == [first[0].key] and again[0].attempts == 2


def test_export_is_stored_as_an_attachment(db: Database) -> None:
    from schemas.sample import sample_export

    _record(db, request(data__export=sample_export("xml")))
    _handler(db, ScriptedVerifier([HumanCheckResult(True, "ok")])).handle_claimed(_claim(db)[0])
    assert _count(db, ATTACHMENT, ATTACHMENT.c.media_type == "application/xml") == 1


@pytest.mark.parametrize("token", ["fail-robot"])
def test_failed_human_check_rejects(db: Database, token: str) -> None:
    _record(db, request(data__human_check_token=token), human="failed")
    _handler(db, ScriptedVerifier([HumanCheckResult(True, "ok")])).handle_claimed(_claim(db)[0])
    with db.reader.begin() as conn:
        assert conn.execute(select(TICKET.c.outcome)).scalar_one() == "rejected-human-check"
