"""The scheduler as ops run it: separate OS processes (``resetdesk scheduler``, configured by
``RESETDESK_*`` settings) on one PostgreSQL database, a 24x7 calendar and a 3-second first-reply
budget, so deadlines cross while the test watches. A leader lock taken twice inside one process
would prove nothing.

Also, in-process, the jobs the processes run: the catch-up loop and the calendar reload.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from schedulers.jobs import CalendarWatch, sla_tick
from schemas.events_v1 import SLA_AT_RISK_V1, SLA_BREACHED_V1
from tests.factories import make_ticket
from tests.processes import process_env
from tests.waiting import wait_for
from workflow.adapters.calendar_sources import calendar_from_toml_text
from workflow.adapters.db import Database, open_database
from workflow.adapters.tables import OUTBOX, SLA_ALARM, TICKET
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.sla import SlaPolicy
from workflow.domain.states import State
from workflow.domain.ticket_sla import SlaBook
from workflow.service.bus import HandlerContext
from workflow.service.command_handlers import build_bus
from workflow.service.handlers import sync_sla
from workflow.service.ports import SystemClock

ROOT = Path(__file__).resolve().parents[2]
FIRST_REPLY_S = 3.0
RESOLUTION_S = 3600.0  # never crosses during a test: only first_reply alarms are expected
INTERVAL_S = 0.5
CALENDAR_24X7 = """
[calendar]
timezone = "UTC"
years = [2025, 2035]

[hours]
""" + "".join(f'{day} = ["00:00-24:00"]\n' for day in ("mon", "tue", "wed", "thu", "fri", "sat",
                                                       "sun"))


def book_24x7(tmp_path: Path, first_reply_s: float = FIRST_REPLY_S) -> SlaBook:
    calendar = calendar_from_toml_text(CALENDAR_24X7, tmp_path)
    return SlaBook(calendar, {
        "first_reply": SlaPolicy("first_reply", timedelta(seconds=first_reply_s)),
        "resolution": SlaPolicy("resolution", timedelta(seconds=RESOLUTION_S)),
    })


@pytest.fixture
def calendar_file(tmp_path: Path) -> Path:
    path = tmp_path / "calendar-24x7.toml"
    path.write_text(CALENDAR_24X7, encoding="utf-8")
    return path


def add_tickets(db: Database, book: SlaBook, accepted: list[datetime]) -> list[str]:
    """Queued tickets whose clocks started at the given instants, in one transaction."""
    ids = []
    with SqlUnitOfWork(db, sla=book) as uow:
        for at in accepted:
            ticket = make_ticket(State.QUEUED, created_at=at, updated_at=at, accepted_at=at)
            sync_sla(book, ticket, at)
            uow.tickets.add(ticket)
            ids.append(ticket.id)
        uow.commit()
    return ids


def events_per_ticket(db: Database, etype: str, ids: list[str]) -> dict[str, int]:
    with db.reader.begin() as conn:
        rows = conn.execute(select(OUTBOX.c.ticket_id, func.count()).where(
            OUTBOX.c.type == etype, OUTBOX.c.ticket_id.in_(ids)).group_by(OUTBOX.c.ticket_id))
        found = {r[0]: r[1] for r in rows}
    return {i: found.get(i, 0) for i in ids}


def alarm_rows(db: Database, ids: list[str]) -> dict[tuple[str, str, str], int]:
    with db.reader.begin() as conn:
        rows = conn.execute(
            select(SLA_ALARM.c.ticket_id, SLA_ALARM.c.clock, SLA_ALARM.c.level, func.count())
            .where(SLA_ALARM.c.ticket_id.in_(ids))
            .group_by(SLA_ALARM.c.ticket_id, SLA_ALARM.c.clock, SLA_ALARM.c.level))
        return {(r[0], r[1], r[2]): r[3] for r in rows}


def assert_each_alarm_once(db: Database, ids: list[str]) -> None:
    assert set(events_per_ticket(db, SLA_BREACHED_V1, ids).values()) == {1}
    assert set(events_per_ticket(db, SLA_AT_RISK_V1, ids).values()) == {1}
    expected = {(i, "first_reply", level): 1 for i in ids for level in ("at_risk", "breached")}
    assert alarm_rows(db, ids) == expected


def all_breached(db: Database, ids: list[str]) -> Callable[[], bool]:
    return lambda: min(events_per_ticket(db, SLA_BREACHED_V1, ids).values()) >= 1


class SchedulerProcess:
    def __init__(self, db_url: str, calendar: Path, lock_name: str, log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        env = process_env(
            RESETDESK_DATABASE_URL=db_url, RESETDESK_SECRET_KEY="s" * 32,
            RESETDESK_SLA__CALENDAR_PATH=str(calendar),
            RESETDESK_SLA__FIRST_REPLY_HOURS=str(FIRST_REPLY_S / 3600),
            RESETDESK_SLA__RESOLUTION_HOURS=str(RESOLUTION_S / 3600),
            RESETDESK_SCHEDULER__INTERVAL_SECONDS=str(INTERVAL_S),
            RESETDESK_SCHEDULER__LOCK_NAME=lock_name)
        self.proc = subprocess.Popen([sys.executable, "-m", "resetdesk", "scheduler"], cwd=ROOT,
                                     stdout=self._out, stderr=subprocess.STDOUT, env=env)
        self.pid = self.proc.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.alive():
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._out.close()
        return code


@pytest.fixture
def schedulers(pg_url: str, calendar_file: Path,
               tmp_path: Path) -> Iterator[tuple[Callable[[], SchedulerProcess], str]]:
    lock_name = f"rd-test-{uuid.uuid4().hex[:8]}"
    started: list[SchedulerProcess] = []

    def start() -> SchedulerProcess:
        proc = SchedulerProcess(pg_url, calendar_file, lock_name,
                                tmp_path / f"scheduler-{len(started)}.log")
        started.append(proc)
        return proc

    yield start, lock_name
    for proc in started:
        if proc.alive():
            proc.stop(signal.SIGKILL)
        print(f"--- scheduler pid {proc.pid} ---\n{proc.text()}")  # shown when a test fails


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    db = open_database(pg_url)
    yield db
    db.dispose()


def leader_pid(db: Database, lock_name: str) -> int | None:
    """The OS pid of the process holding the advisory lock (application_name is name:pid)."""
    with db.reader.connect() as conn:
        name = conn.execute(text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE :n"),
            {"n": f"{lock_name}:%"}).scalar()
    return int(name.rsplit(":", 1)[1]) if name else None


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_raise_every_breach_exactly_once(schedulers, pg_db, tmp_path) -> None:
    start, lock_name = schedulers
    a, b = start(), start()
    wait_for("a leader", lambda: leader_pid(pg_db, lock_name) is not None)
    book = book_24x7(tmp_path)
    now = datetime.now(UTC)
    # already overdue (both alarms at once) and crossing one after another over the next 3 s
    accepted = [now - timedelta(seconds=10 + k) for k in range(5)]
    accepted += [now - timedelta(seconds=0.25 * k) for k in range(12)]
    ids = add_tickets(pg_db, book, accepted)

    wait_for("every breach", all_breached(pg_db, ids))
    time.sleep(4 * INTERVAL_S)  # both processes tick a few more times
    assert a.alive() and b.alive()
    assert_each_alarm_once(pg_db, ids)
    leaders = [p for p in (a, b) if f"became leader (pid {p.pid})" in p.text()]
    assert len(leaders) == 1
    assert leader_pid(pg_db, lock_name) == leaders[0].pid
    with pg_db.reader.begin() as conn:  # the tickets know it too: nothing left to raise
        assert conn.execute(select(func.count()).select_from(TICKET).where(
            TICKET.c.id.in_(ids), TICKET.c.sla_next_alarm_at.is_not(None),
            TICKET.c.sla_next_alarm_at <= datetime.now(UTC))).scalar_one() == 0


@pytest.mark.postgres
@pytest.mark.slow
def test_follower_takes_over_within_seconds_after_the_leader_is_killed(
        schedulers, pg_db, tmp_path) -> None:
    start, lock_name = schedulers
    procs = {p.pid: p for p in (start(), start())}
    wait_for("a leader", lambda: leader_pid(pg_db, lock_name) is not None)
    wait_for("both running", lambda: all("starting" in p.text() for p in procs.values()))
    leader = procs[leader_pid(pg_db, lock_name) or 0]
    (follower,) = (p for p in procs.values() if p is not leader)
    ids = add_tickets(pg_db, book_24x7(tmp_path), [datetime.now(UTC)] * 5)  # due in 3 s

    killed_at = time.monotonic()
    assert leader.stop(signal.SIGKILL) == -signal.SIGKILL
    wait_for("the follower to lead",
             lambda: leader_pid(pg_db, lock_name) == follower.pid, timeout=10)
    takeover = time.monotonic() - killed_at
    wait_for("the breaches after the kill", all_breached(pg_db, ids), timeout=15)
    raised_after_kill = time.monotonic() - killed_at
    print(f"takeover {takeover:.2f}s; breaches due 3 s after the kill raised after "
          f"{raised_after_kill:.2f}s")
    assert takeover < 10
    assert raised_after_kill < FIRST_REPLY_S + 10
    with pg_db.reader.begin() as conn:
        rows = conn.execute(select(SLA_ALARM.c.raised_at, SLA_ALARM.c.due_at).where(
            SLA_ALARM.c.ticket_id.in_(ids), SLA_ALARM.c.level == "breached")).all()
    assert max(raised - due for raised, due in rows) < timedelta(seconds=10)
    time.sleep(3 * INTERVAL_S)
    assert_each_alarm_once(pg_db, ids)
    assert f"became leader (pid {follower.pid})" in follower.text()


@pytest.mark.postgres
@pytest.mark.slow
def test_breach_that_passed_while_stopped_is_raised_once_on_restart(
        schedulers, pg_db, tmp_path) -> None:
    start, lock_name = schedulers
    first = start()
    wait_for("a leader", lambda: leader_pid(pg_db, lock_name) == first.pid)
    book = book_24x7(tmp_path)
    crossing = add_tickets(pg_db, book, [datetime.now(UTC)])  # breaches in 3 s
    assert first.stop(signal.SIGTERM) == 0  # clean stop: lock released, jobs finished
    assert "stopped" in first.text()
    assert leader_pid(pg_db, lock_name) is None
    overdue = add_tickets(pg_db, book, [datetime.now(UTC) - timedelta(minutes=30)] * 250)
    time.sleep(FIRST_REPLY_S + 0.5)
    assert events_per_ticket(pg_db, SLA_BREACHED_V1, crossing) == {crossing[0]: 0}

    restarted = [start(), start()]  # two at once: they race for the lock
    ids = crossing + overdue
    wait_for("every breach after the restart", all_breached(pg_db, ids))
    time.sleep(4 * INTERVAL_S)
    assert_each_alarm_once(pg_db, ids)
    assert sum("became leader" in p.text() for p in restarted) == 1


# -- the jobs in-process, on both backends ------------------------------------------------------

def test_one_tick_catches_up_past_the_per_transaction_limit(db: Database, tmp_path) -> None:
    book = book_24x7(tmp_path)
    ids = add_tickets(db, book, [datetime.now(UTC) - timedelta(minutes=30)] * 250)
    bus = build_bus(HandlerContext(uow=lambda: SqlUnitOfWork(db, sla=book), clock=SystemClock()))
    raised = sla_tick(bus, limit=100)
    assert raised == 500  # at risk and breached, for each of 250 tickets, in one tick
    assert_each_alarm_once(db, ids)
    assert sla_tick(bus, limit=100) == 0


def test_calendar_edit_is_applied_to_open_tickets_without_restart(db: Database,
                                                                  tmp_path) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(CALENDAR_24X7, encoding="utf-8")
    slow = SlaPolicy("first_reply", timedelta(hours=1))
    policies = {"first_reply": slow, "resolution": SlaPolicy("resolution", timedelta(hours=8))}

    def build():
        from workflow.adapters.calendar_sources import load_calendar

        book = SlaBook(load_calendar(path), policies)
        return lambda: SqlUnitOfWork(db, sla=book)

    watch = CalendarWatch(path, build)
    assert watch.refresh() is None  # unchanged
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday
    (ticket_id,) = add_tickets(db, book_24x7(tmp_path, 3600), [start])
    path.write_text(CALENDAR_24X7 + '\n[[closures]]\ndate = 2026-11-25\nreason = "closed"\n',
                    encoding="utf-8")
    assert watch.refresh() == 1
    with db.reader.begin() as conn:
        due = conn.execute(select(TICKET.c.first_reply_due_at)
                           .where(TICKET.c.id == ticket_id)).scalar_one()
    assert due == datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # the closed day no longer counts
    path.write_text("not toml [", encoding="utf-8")
    assert watch.refresh() is None  # a broken edit keeps the calendar in force


def test_embedded_scheduler_runs_in_process_and_stop_releases_the_file_lock(
        sqlite_url: str, calendar_file: Path, tmp_path) -> None:
    from schedulers.leader import FileLeaderLock, sqlite_lock_path
    from schedulers.runner import SchedulerConfig, start_in_background

    db = open_database(sqlite_url)
    ids = add_tickets(db, book_24x7(tmp_path), [datetime.now(UTC) - timedelta(seconds=10)])
    config = SchedulerConfig(db_url=sqlite_url, calendar_path=calendar_file, interval_seconds=0.2,
                             first_reply_seconds=FIRST_REPLY_S, resolution_seconds=RESOLUTION_S)
    handle = start_in_background(db_url=sqlite_url, retention=timedelta(days=90),
                                 attachment_retention=timedelta(days=30), db=db, config=config)
    try:
        wait_for("the breach", all_breached(db, ids), timeout=10)
        assert handle.is_leader
        path = sqlite_lock_path(sqlite_url)
        assert path is not None and not FileLeaderLock(path).acquire()
    finally:
        handle.stop()
    assert FileLeaderLock(path).acquire()  # released on stop
    assert_each_alarm_once(db, ids)
    db.dispose()


def test_the_leaders_jobs_are_commands_on_the_composition_roots_bus(
        sqlite_url: str, calendar_file: Path, tmp_path: Path) -> None:
    """A job hands its command to the bus bootstrap builds (over the scheduler's database):
    a callback seat held by a ticket closed another way is freed by the leader."""
    from resetdesk.bootstrap import bootstrap
    from resetdesk.settings import Settings
    from schedulers.housekeeping import HOUSEKEEPING, LeaderJob
    from schedulers.runner import SchedulerConfig, start_in_background
    from workflow.domain.callback_slots import Slot
    from workflow.service.housekeeping_commands import ReleaseOrphanBookings

    db = open_database(sqlite_url)
    app = bootstrap(Settings(database_url=sqlite_url, data_dir=tmp_path))
    (tid,) = add_tickets(db, book_24x7(tmp_path), [datetime.now(UTC)])
    with SqlUnitOfWork(db) as uow:  # resolved by an agent while its callback was booked
        ticket = uow.tickets.get(tid)
        ticket.state = State.CLOSED
        uow.tickets.save(ticket)
        start = datetime.now(UTC) + timedelta(days=1)
        uow.callbacks.try_book(tid, Slot(start, start + timedelta(minutes=30)), 1, "agent:a", start)
        uow.commit()

    def seat_held() -> bool:
        with SqlUnitOfWork(db) as uow:
            return uow.callbacks.active_booking(tid) is not None

    assert seat_held()
    jobs = (LeaderJob("orphans", 0.2, lambda: ReleaseOrphanBookings(actor=HOUSEKEEPING)),)
    config = SchedulerConfig(db_url=sqlite_url, calendar_path=calendar_file, interval_seconds=0.2,
                             extra_jobs=jobs, bus=app.bus_over)
    handle = start_in_background(db_url=sqlite_url, retention=timedelta(days=90),
                                 attachment_retention=timedelta(days=30), db=db, config=config)
    try:
        wait_for("the orphan seat freed", lambda: not seat_held(), timeout=10)
    finally:
        handle.stop()
        app.close()
        db.dispose()
