"""The remote-session path through the real services and storage, on SQLite and PostgreSQL:
codes (one live per ticket, expiring, single use, throttled), consent, steps, and the three ways a
session ends."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from schedulers.housekeeping import SESSIONS
from tests.factories import T0, make_ticket
from tests.fake_bus import MovableClock
from workflow.adapters.db import Database, open_database
from workflow.adapters.session_store import load_terms
from workflow.adapters.sla_book import default_book
from workflow.adapters.tables import OUTBOX
from workflow.adapters.tables_resolution import CONSENT, REMOTE_SESSION, SESSION_CODE
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.errors import GuardRefused, WorkflowError
from workflow.domain.session_codes import SessionPolicy
from workflow.domain.states import Outcome, State, WaitingOn
from workflow.service import remote_sessions as rs
from workflow.service.bus import HandlerContext
from workflow.service.command_handlers import build_bus
from workflow.service.housekeeping_commands import ExpireIdleSessions
from workflow.service.ports import Clock, SystemClock

SECRET = b"session-test-secret-" * 2
POLICY = SessionPolicy()
ADDR = "198.51.100.7"


def claimed_ticket(db: Database, language: str = "en") -> tuple[str, str]:
    t = make_ticket(State.QUEUED, assignee="alice", language=language,
                    data={"requester": {"name": "Test Person", "email": "p@example.com"}})
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(t)
        uow.commit()
    return t.id, t.reference


def issue(db: Database, clock: Clock, ticket_id: str) -> str:
    return rs.issue_code(SqlUnitOfWork(db), clock, ticket_id=ticket_id,
                         agent="alice", secret=SECRET, policy=POLICY).code


def verify(db: Database, clock: Clock, reference: str, code: str,
           addr: str = ADDR) -> rs.VerifiedCode:
    return rs.verify_code(SqlUnitOfWork(db), clock, reference=reference, code=code,
                          source_addr=addr, secret=SECRET, policy=POLICY)


def agree(db: Database, clock: Clock, found: rs.VerifiedCode) -> int:
    session_id, _ = rs.start_session(
        SqlUnitOfWork(db), clock, ticket_id=found.ticket_id, code_id=found.code_id,
        terms_version=load_terms("en").version, current_terms=load_terms("en").version,
        language="en", source_addr=ADDR)
    return session_id


def in_session(db: Database, clock: Clock) -> tuple[str, int]:
    tid, ref = claimed_ticket(db)
    return tid, agree(db, clock, verify(db, clock, ref, issue(db, clock, tid)))


def ticket(db: Database, tid: str) -> Any:
    with SqlUnitOfWork(db) as uow:
        return uow.tickets.get(tid)


def emails(db: Database, tid: str) -> list[dict[str, Any]]:
    with db.reader.begin() as conn:
        payloads = conn.execute(select(OUTBOX.c.payload).where(
            OUTBOX.c.ticket_id == tid, OUTBOX.c.type == "com.resetdesk.notification.email.v1")
            .order_by(OUTBOX.c.sequence)).scalars().all()
    return [json.loads(p)["data"] for p in payloads]


def test_offering_a_session_waits_on_the_code_pauses_the_clocks_and_stores_only_a_hash(
        db: Database) -> None:
    clock = MovableClock()
    tid, _ = claimed_ticket(db)
    code = issue(db, clock, tid)
    t = ticket(db, tid)
    assert t.waiting_on is WaitingOn.SESSION_CODE
    assert all(c.is_paused for c in t.sla.clocks.values())
    with db.reader.begin() as conn:
        [row] = conn.execute(select(SESSION_CODE).where(SESSION_CODE.c.ticket_id == tid)).all()
    assert code.replace("-", "") not in row.code_hash and code not in row.code_hash
    assert row.expires_at == T0 + timedelta(minutes=15) and row.live_ticket_id == tid


def test_only_the_assignee_can_offer_a_session(db: Database) -> None:
    tid, _ = claimed_ticket(db)
    with pytest.raises(GuardRefused):
        rs.issue_code(SqlUnitOfWork(db), MovableClock(), ticket_id=tid, agent="bob",
                      secret=SECRET, policy=POLICY)


def test_a_new_code_revokes_the_old_one(db: Database) -> None:
    clock = MovableClock()
    tid, ref = claimed_ticket(db)
    old, new = issue(db, clock, tid), issue(db, clock, tid)
    with pytest.raises(rs.CodeRefused):
        verify(db, clock, ref, old)
    assert verify(db, clock, ref, new).ticket_id == tid
    with db.reader.begin() as conn:
        rows = conn.execute(select(SESSION_CODE.c.live_ticket_id, SESSION_CODE.c.revoked_at)
                            .where(SESSION_CODE.c.ticket_id == tid)
                            .order_by(SESSION_CODE.c.id)).all()
    assert [(r.live_ticket_id, r.revoked_at) for r in rows] == [(None, T0), (tid, None)]


def test_an_expired_code_is_refused(db: Database) -> None:
    clock = MovableClock()
    tid, ref = claimed_ticket(db)
    code = issue(db, clock, tid)
    clock.advance(minutes=14, seconds=59)
    found = verify(db, clock, ref, code)
    clock.advance(seconds=1)
    with pytest.raises(rs.CodeRefused):
        verify(db, clock, ref, code)
    with pytest.raises(rs.CodeRefused):
        agree(db, clock, found)


def test_agreeing_starts_the_session_records_consent_and_resumes_the_clocks(db: Database) -> None:
    clock = MovableClock()
    tid, ref = claimed_ticket(db)
    found = verify(db, clock, ref, issue(db, clock, tid))
    clock.advance(minutes=3)
    session_id = agree(db, clock, found)
    t = ticket(db, tid)
    assert t.state is State.REMOTE_SESSION and t.waiting_on is None
    # paused from T0 (offer) to T0+3 min (agree), both inside business hours: due 3 min later
    book = default_book()
    unpaused = book.calendar.add_business_time(T0, book.policies["resolution"].budget)
    assert t.sla.clocks["resolution"].is_running
    assert t.sla.due("resolution") == unpaused + timedelta(minutes=3)
    with db.reader.begin() as conn:
        consent = conn.execute(select(CONSENT).where(CONSENT.c.ticket_id == tid)).one()
        session = conn.execute(select(REMOTE_SESSION).where(REMOTE_SESSION.c.id == session_id)).one()
    assert (consent.terms_version, consent.language, consent.source_addr) == (
        load_terms("en").version, "en", ADDR)
    assert consent.accepted_at == clock.at and consent.session_code_id == found.code_id
    assert session.live_ticket_id == tid and session.ended_at is None
    history = ticket_history(db, tid)
    assert history[-1].actor == "customer" and history[-1].trigger == "start_remote_session"


def ticket_history(db: Database, tid: str) -> Any:
    with SqlUnitOfWork(db) as uow:
        return uow.tickets.history(tid)


def test_a_code_opens_one_session_only(db: Database) -> None:
    clock = MovableClock()
    tid, ref = claimed_ticket(db)
    found = verify(db, clock, ref, issue(db, clock, tid))
    agree(db, clock, found)
    with pytest.raises(rs.CodeRefused):
        agree(db, clock, found)
    with pytest.raises(rs.CodeRefused):
        verify(db, clock, ref, "ABCDE-FGHJK")


def race(n: int, action: Callable[[], object]) -> list[object]:
    """Run ``action`` in ``n`` threads released together; each result, or its error's name."""
    barrier, results = threading.Barrier(n), []

    def run() -> None:
        barrier.wait()
        try:
            results.append(action())
        except Exception as err:  # the losers' errors are what the tests look at
            results.append(type(err).__name__)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results


@pytest.mark.postgres
def test_two_concurrent_agrees_with_one_code_exactly_one_wins(pg_url: str) -> None:
    db = open_database(pg_url, pool_size=8)
    try:
        for _ in range(5):
            clock = MovableClock()
            tid, ref = claimed_ticket(db)
            found = verify(db, clock, ref, issue(db, clock, tid))
            results = race(4, lambda: agree(db, clock, found))  # noqa: B023
            assert len([r for r in results if isinstance(r, int)]) == 1, results
            losers = {r for r in results if not isinstance(r, int)}
            assert losers <= {"CodeRefused", "ConcurrencyConflict", "IllegalTransition"}, results
            with db.reader.begin() as conn:
                assert len(conn.execute(select(CONSENT).where(CONSENT.c.ticket_id == tid)).all()) == 1
    finally:
        db.dispose()


@pytest.mark.postgres
def test_the_code_is_used_by_one_conditional_update_only(pg_url: str) -> None:
    db = open_database(pg_url, pool_size=8)
    try:
        clock = MovableClock()
        tid, ref = claimed_ticket(db)
        found = verify(db, clock, ref, issue(db, clock, tid))

        def use() -> bool:
            with SqlUnitOfWork(db) as uow:
                used = uow.sessions.use_code(found.code_id, tid, clock.now())
                uow.commit()
            return used

        assert sorted(map(str, race(6, use))) == ["False"] * 5 + ["True"]
    finally:
        db.dispose()


@pytest.mark.postgres
def test_concurrent_offers_leave_exactly_one_live_code(pg_url: str) -> None:
    db = open_database(pg_url, pool_size=8)
    try:
        clock = MovableClock()
        tid, ref = claimed_ticket(db)
        issued = [str(r) for r in race(4, lambda: issue(db, clock, tid))]
        codes = [c for c in issued if "-" in c]
        assert codes and all(c == "ConcurrencyConflict" or "-" in c for c in issued), issued
        with db.reader.begin() as conn:
            live = conn.execute(select(SESSION_CODE.c.id).where(
                SESSION_CODE.c.live_ticket_id == tid)).all()
        assert len(live) == 1
        assert sum(1 for c in codes if _opens(db, clock, ref, c)) == 1
    finally:
        db.dispose()


def _opens(db: Database, clock: Clock, ref: str, code: str) -> bool:
    try:
        verify(db, clock, ref, code)
    except rs.CodeRefused:
        return False
    return True


def test_the_database_refuses_a_second_live_code_for_a_ticket(db: Database) -> None:
    tid, _ = claimed_ticket(db)
    with SqlUnitOfWork(db) as uow:
        uow.conn.execute(insert(SESSION_CODE).values(
            ticket_id=tid, code_hash="a" * 64, live_ticket_id=tid, created_by="agent:alice",
            created_at=T0, expires_at=T0 + timedelta(minutes=15)))
        with pytest.raises(IntegrityError):
            uow.conn.execute(insert(SESSION_CODE).values(
                ticket_id=tid, code_hash="b" * 64, live_ticket_id=tid, created_by="agent:alice",
                created_at=T0, expires_at=T0 + timedelta(minutes=15)))


def test_wrong_codes_lock_the_reference_even_for_the_right_code(db: Database) -> None:
    clock = MovableClock()
    tid, ref = claimed_ticket(db)
    code = issue(db, clock, tid)
    for n in range(5):
        with pytest.raises(rs.CodeRefused):
            verify(db, clock, ref, "ABCDE-FGHJK", addr=f"203.0.113.{n}")
    with pytest.raises(rs.CodeRefused):
        verify(db, clock, ref, code, addr="192.0.2.99")
    clock.advance(minutes=14)
    with pytest.raises(rs.CodeRefused):
        verify(db, clock, ref, code, addr="192.0.2.99")  # the code itself is still valid here
    clock.advance(minutes=1)  # locked 15 min, then open again (to a fresh code: this one expired)
    assert verify(db, clock, ref, issue(db, clock, tid)).ticket_id == tid


def test_wrong_codes_from_one_address_lock_it_for_every_ticket(db: Database) -> None:
    clock = MovableClock()
    tid, ref = claimed_ticket(db)
    code = issue(db, clock, tid)
    for n in range(5):
        with pytest.raises(rs.CodeRefused):
            verify(db, clock, f"RD-ZZZZ-ZZZ{n + 2}", "ABCDE-FGHJK")
    with pytest.raises(rs.CodeRefused):
        verify(db, clock, ref, code)
    assert verify(db, clock, ref, code, addr="192.0.2.1").ticket_id == tid


def test_declining_a_change_emails_the_changes_of_its_kind(db: Database) -> None:
    clock = MovableClock()
    tid, session_id = in_session(db, clock)
    steps = [rs.propose_step(SqlUnitOfWork(db), clock, ticket_id=tid, agent="alice",
                             kind=kind, description=text)
             for kind, text in [("network", "Open TCP port 8000 on the router"),
                                ("equipment", "Update the camera firmware"),
                                ("network", "Reserve 192.168.1.64 for the recorder")]]
    decide = [("declined", steps[0]), ("declined", steps[1]), ("confirmed", steps[2])]
    for decision, step_id in decide:
        rs.decide_step(SqlUnitOfWork(db), clock, ticket_id=tid, session_id=session_id,
                       step_id=step_id, decision=decision)
    [mail] = [m for m in emails(db, tid) if m["template"] == "network_changes"]
    assert mail["context"]["changes"] == "1. Open TCP port 8000 on the router"
    assert mail["language"] == "en"
    [kit] = [m for m in emails(db, tid) if m["template"] == "equipment_changes"]
    assert kit["context"]["changes"] == "1. Update the camera firmware"
    with pytest.raises(WorkflowError):  # answered once only
        rs.decide_step(SqlUnitOfWork(db), clock, ticket_id=tid,
                       session_id=session_id, step_id=steps[0], decision="confirmed")


def test_only_the_assignee_proposes_steps(db: Database) -> None:
    clock = MovableClock()
    tid, _ = in_session(db, clock)
    with pytest.raises(GuardRefused):
        rs.propose_step(SqlUnitOfWork(db), clock, ticket_id=tid, agent="bob",
                        kind="network", description="Open a port")


def test_inactivity_ends_the_session_and_requeues_the_ticket(db: Database) -> None:
    clock = MovableClock()
    tid, session_id = in_session(db, clock)
    bus = build_bus(HandlerContext(uow=lambda: SqlUnitOfWork(db), clock=clock))
    expire = ExpireIdleSessions(actor=SESSIONS, idle=timedelta(minutes=30))
    clock.advance(minutes=20)
    rs.touch(SqlUnitOfWork(db), clock, ticket_id=tid)  # activity restarts the count
    clock.advance(minutes=29)
    assert bus.handle(expire) == 0
    assert ticket(db, tid).state is State.REMOTE_SESSION
    clock.advance(minutes=1)
    assert bus.handle(expire) == 1
    assert bus.handle(expire) == 0
    t = ticket(db, tid)
    assert t.state is State.QUEUED
    last = ticket_history(db, tid)[-1]
    assert (last.actor, last.trigger) == ("system:scheduler", "end_remote_session")
    assert "no activity for 30 min" in (last.reason or "")
    with db.reader.begin() as conn:
        row = conn.execute(select(REMOTE_SESSION).where(REMOTE_SESSION.c.id == session_id)).one()
    assert (row.end_reason, row.live_ticket_id, row.ended_at) == ("inactivity", None, clock.at)
    assert [m["template"] for m in emails(db, tid)][-1] == "session_ended"


def test_agent_ends_resolved_with_the_reason_audited_and_a_reminder_sent(db: Database) -> None:
    clock = MovableClock()
    tid, _ = in_session(db, clock)
    t = rs.end_session(SqlUnitOfWork(db), clock, ticket_id=tid, actor="agent:alice",
                       resolved=True, reason="password reset through SADP")
    assert t.state is State.CLOSED and t.outcome is Outcome.RESOLVED
    last = ticket_history(db, tid)[-1]
    assert (last.trigger, last.reason) == ("end_remote_session", "password reset through SADP")
    [reminder] = [m for m in emails(db, tid) if m["template"] == "session_ended"]
    assert reminder["context"]["resolved"] == 1


def test_customer_ending_the_session_sends_the_ticket_back_to_the_queue(db: Database) -> None:
    clock = MovableClock()
    tid, session_id = in_session(db, clock)
    t = rs.end_session(SqlUnitOfWork(db), clock, ticket_id=tid, actor="customer",
                       resolved=False, reason="customer ended the session",
                       session_id=session_id)
    assert t.state is State.QUEUED
    with pytest.raises(rs.SessionGone):
        rs.touch(SqlUnitOfWork(db), clock, ticket_id=tid, session_id=session_id)


def test_cli_issues_a_code_the_customer_can_use_and_ends_the_session(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from resetdesk.cli_sessions import end_session, remote_code
    from workflow.adapters import accounts

    monkeypatch.setenv("RESETDESK_DATABASE_URL", db.url)
    monkeypatch.setenv("RESETDESK_SECRET_KEY", SECRET.decode())
    cli = typer.Typer()
    cli.command("remote-code")(remote_code)
    cli.command("end-session")(end_session)
    tid, ref = claimed_ticket(db)
    refused = CliRunner().invoke(cli, ["remote-code", ref, "--as", "alice"])
    assert refused.exit_code == 1 and "--as alice: no enabled agent" in refused.output
    accounts.add_agent(db, "alice", "alice-password-123")
    out = CliRunner().invoke(cli, ["remote-code", ref, "--as", "alice"])
    assert out.exit_code == 0, out.output
    code = out.output.split("remote-session code ")[1].split()[0]
    agree(db, SystemClock(), verify(db, SystemClock(), ref, code))
    out = CliRunner().invoke(cli, ["end-session", tid, "--as", "alice", "--resolved",
                                   "--reason", "reset done"])
    assert out.exit_code == 0 and "closed (resolved)" in out.output, out.output
    out = CliRunner().invoke(cli, ["end-session", tid, "--as", "alice", "--reason", "again"])
    assert out.exit_code == 1 and "cannot end_remote_session" in out.output
