"""The SQL unit of work on SQLite and PostgreSQL: nothing half-applied, every move audited."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.factories import make_ticket
from workflow.adapters.db import Database, open_database
from workflow.adapters.tables import AUDIT, OUTBOX
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.errors import ConcurrencyConflict, IllegalTransition, TicketNotFound
from workflow.domain.guards import TriggerContext
from workflow.domain.machine import fire
from workflow.domain.states import State
from workflow.service.handlers import ActOnTicket, act
from workflow.service.ports import OpenSerialTaken, SystemClock

NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def _store(db: Database, state: State = State.QUEUED, **fields) -> str:
    ticket = make_ticket(state, **fields)
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(ticket)
        uow.commit()
    return ticket.id


def _audit(db: Database, ticket_id: str) -> list[tuple[str, str, str]]:
    with db.reader.begin() as conn:
        rows = conn.execute(select(AUDIT.c.trigger, AUDIT.c.from_state, AUDIT.c.to_state)
                            .where(AUDIT.c.ticket_id == ticket_id).order_by(AUDIT.c.id))
        return [tuple(r) for r in rows]


def test_ticket_round_trips_with_aware_utc_times(db: Database) -> None:
    tid = _store(db, State.SUBMITTED, data={"requester": {"name": "Zoë"}})
    with SqlUnitOfWork(db, read_only=True) as uow:
        loaded = uow.tickets.get(tid)
    assert loaded.state is State.SUBMITTED and loaded.version == 1
    assert loaded.created_at == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    assert loaded.data == {"requester": {"name": "Zoë"}}


def test_each_move_is_audited_and_leaves_an_outbox_event_in_order(db: Database) -> None:
    tid = _store(db, State.SUBMITTED)
    clock = SystemClock()
    with SqlUnitOfWork(db) as uow:
        ticket = uow.tickets.get(tid)
        fire(ticket, "verify", TriggerContext("system:verification", NOW, verdict_ok=True))
        fire(ticket, "enqueue", TriggerContext("system:verification", NOW))
        uow.tickets.save(ticket)
        uow.commit()
    act(SqlUnitOfWork(db), clock, ActOnTicket(tid, "claim", "agent:alice"))
    assert _audit(db, tid) == [("verify", "submitted", "verified"),
                               ("enqueue", "verified", "queued"), ("claim", "queued", "queued")]
    with db.reader.begin() as conn:
        rows = conn.execute(select(OUTBOX.c.sequence, OUTBOX.c.type, OUTBOX.c.payload)
                            .where(OUTBOX.c.ticket_id == tid).order_by(OUTBOX.c.id)).all()
    assert [r.sequence for r in rows] == [1, 2, 3, 4]
    assert [r.type for r in rows] == [
        "com.resetdesk.ticket.transitioned.v1", "com.resetdesk.ticket.transitioned.v1",
        "com.resetdesk.ticket.queued.v1", "com.resetdesk.ticket.transitioned.v1"]
    envelope = json.loads(rows[2].payload)
    assert envelope["subject"] == tid and int(envelope["sequence"]) == 3
    assert "Test Person" not in rows[2].payload  # events carry no personal data


def test_illegal_move_changes_nothing_stored(db: Database) -> None:
    tid = _store(db, State.QUEUED)
    with pytest.raises(IllegalTransition):
        act(SqlUnitOfWork(db), SystemClock(), ActOnTicket(tid, "verify", "agent:alice"))
    with SqlUnitOfWork(db, read_only=True) as uow:
        again = uow.tickets.get(tid)
    assert (again.state, again.version) == (State.QUEUED, 1)
    assert _audit(db, tid) == [] and _outbox_count(db, tid) == 0


def _outbox_count(db: Database, tid: str) -> int:
    with db.reader.begin() as conn:
        return len(conn.execute(select(OUTBOX.c.id).where(OUTBOX.c.ticket_id == tid)).all())


def test_version_conflict_between_two_connections_leaves_the_winner_alone(db: Database) -> None:
    tid = _store(db, State.QUEUED)
    first, second = SqlUnitOfWork(db, read_only=True), SqlUnitOfWork(db, read_only=True)
    with first:
        mine = first.tickets.get(tid)
    with second:
        theirs = second.tickets.get(tid)
    fire(mine, "claim", TriggerContext("agent:alice", NOW))
    fire(theirs, "claim", TriggerContext("agent:bob", NOW))
    with SqlUnitOfWork(db) as uow:
        uow.tickets.save(mine)
        uow.commit()
    with pytest.raises(ConcurrencyConflict), SqlUnitOfWork(db) as uow:
        uow.tickets.save(theirs)
        uow.commit()
    with SqlUnitOfWork(db, read_only=True) as uow:
        stored = uow.tickets.get(tid)
    assert (stored.assignee, stored.version) == ("alice", 2)
    assert _audit(db, tid) == [("claim", "queued", "queued")]
    assert _outbox_count(db, tid) == 1


def test_stale_expected_version_is_refused(db: Database) -> None:
    tid = _store(db, State.QUEUED)
    act(SqlUnitOfWork(db), SystemClock(), ActOnTicket(tid, "claim", "agent:alice", 1))
    with pytest.raises(ConcurrencyConflict, match="reload"):
        act(SqlUnitOfWork(db), SystemClock(),
            ActOnTicket(tid, "take_over", "supervisor:bob", 1))


def test_second_open_ticket_for_a_serial_is_refused_by_the_database(db: Database) -> None:
    serial = "DS-7208HUHI-F2/N0820160816CCRR123456789WCVU"
    first = _store(db, State.QUEUED, serial_key=serial)
    with pytest.raises(OpenSerialTaken) as info, SqlUnitOfWork(db) as uow:
        uow.tickets.add(make_ticket(State.SUBMITTED, serial_key=serial))
    assert info.value.open_ticket_id == first
    # once the first is closed, the serial is free again
    with SqlUnitOfWork(db) as uow:
        t = uow.tickets.get(first)
        t.assignee = "alice"
        fire(t, "resolve", TriggerContext("agent:alice", NOW))
        uow.tickets.save(t)
        uow.commit()
    _store(db, State.SUBMITTED, serial_key=serial)


def test_missing_ticket_is_a_clear_error(db: Database) -> None:
    with pytest.raises(TicketNotFound), SqlUnitOfWork(db, read_only=True) as uow:
        uow.tickets.get("nope")


def test_audit_rows_cannot_be_changed_or_deleted(db: Database) -> None:
    tid = _store(db, State.QUEUED)
    act(SqlUnitOfWork(db), SystemClock(), ActOnTicket(tid, "claim", "agent:alice"))
    for statement in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit"):
        with pytest.raises(DBAPIError, match="append-only"), db.writer.begin() as conn:
            conn.execute(text(statement))
    assert _audit(db, tid) == [("claim", "queued", "queued")]


def test_uncommitted_work_is_rolled_back(db: Database) -> None:
    ticket = make_ticket(State.SUBMITTED)
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(ticket)
    with pytest.raises(TicketNotFound), SqlUnitOfWork(db, read_only=True) as uow:
        uow.tickets.get(ticket.id)


@pytest.mark.postgres
def test_ten_concurrent_postgres_connections_racing_on_one_ticket_exactly_one_wins(
    pg_url: str,
) -> None:
    """Ten connections each read, change and save the same ticket at once (PostgreSQL; SQLite
    serialises whole write transactions with BEGIN IMMEDIATE, which the next test covers)."""
    db = open_database(pg_url)
    tid = _store(db, State.QUEUED)
    barrier = threading.Barrier(10)
    results: list[str] = []
    lock = threading.Lock()

    def claim(n: int) -> None:
        uow = SqlUnitOfWork(db)
        try:
            with uow:
                t = uow.tickets.get(tid)
                fire(t, "claim", TriggerContext(f"agent:a{n}", NOW))
                barrier.wait(timeout=30)
                uow.tickets.save(t)
                uow.commit()
            outcome = "won"
        except ConcurrencyConflict:
            outcome = "lost"
        except Exception as err:  # SQLite serialises writers: a BEGIN IMMEDIATE waits instead
            outcome = type(err).__name__
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert sorted(results) == ["lost"] * 9 + ["won"]
    assert len(_audit(db, tid)) == 1
    db.dispose()


def test_ten_concurrent_claims_from_the_same_version_exactly_one_wins(db: Database) -> None:
    """Readers load version 1 first, then all race to save: only one write may land."""
    tid = _store(db, State.QUEUED)
    loaded = []
    for n in range(10):
        with SqlUnitOfWork(db, read_only=True) as uow:
            t = uow.tickets.get(tid)
        fire(t, "claim", TriggerContext(f"agent:a{n}", NOW))
        loaded.append(t)
    barrier = threading.Barrier(10)
    results: list[str] = []

    def save(t) -> None:
        barrier.wait(timeout=30)
        try:
            with SqlUnitOfWork(db) as uow:
                uow.tickets.save(t)
                uow.commit()
            results.append("won")
        except ConcurrencyConflict:
            results.append("lost")

    threads = [threading.Thread(target=save, args=(t,)) for t in loaded]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert sorted(results) == ["lost"] * 9 + ["won"]
    assert len(_audit(db, tid)) == 1
