"""The leader lock: one holder at a time, and a lock that dies with its session or process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from schedulers.leader import (
    FileLeaderLock,
    LeaderLock,
    PgAdvisoryLock,
    ProcessLock,
    leader_lock_for,
    lock_key,
    sqlite_lock_path,
)
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_locks(pg_url: str) -> Iterator[tuple[PgAdvisoryLock, PgAdvisoryLock]]:
    name = f"rd-test-{uuid.uuid4().hex[:8]}"
    first, second = PgAdvisoryLock(pg_url, name), PgAdvisoryLock(pg_url, name)
    yield first, second
    first.release()
    second.release()


def eventually(lock: LeaderLock, timeout: float = 5.0) -> bool:
    """A terminated backend frees its locks as it exits, a moment after the signal."""
    return bool(wait_for("the lock to be free for the other session", lock.acquire, timeout))


def test_lock_key_is_a_stable_signed_64_bit_value() -> None:
    assert lock_key("resetdesk-scheduler") == lock_key("resetdesk-scheduler")
    assert lock_key("a") != lock_key("b")
    assert all(-(2**63) <= lock_key(n) < 2**63 for n in ("a", "b", "resetdesk-scheduler"))


@pytest.mark.postgres
def test_only_one_of_two_sessions_leads(pg_locks) -> None:
    first, second = pg_locks
    assert first.acquire()
    assert not second.acquire()
    assert first.is_held() and not second.is_held()
    assert first.acquire()  # idempotent: still the leader, not a second (re-entrant) lock
    first.release()
    assert not first.is_held()
    assert second.acquire()
    assert not first.acquire()


@pytest.mark.postgres
def test_killed_backend_frees_the_lock_and_the_old_holder_knows(pg_locks, pg_url) -> None:
    first, second = pg_locks
    assert first.acquire()
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"),
                            {"p": first.backend_pid}).scalar()
    admin.dispose()
    assert not first.is_held()  # SELECT 1 fails on the dead session
    assert eventually(second)
    assert not first.acquire()  # reconnected, but the lock is taken now
    second.release()
    assert first.acquire()  # and the new session can lead again


@pytest.mark.postgres
def test_closed_connection_frees_the_lock(pg_locks) -> None:
    first, second = pg_locks
    assert first.acquire()
    first._conn.close()  # type: ignore[union-attr]  # as when the process dies
    assert not first.is_held()
    assert eventually(second)


@pytest.mark.postgres
def test_different_names_do_not_exclude_each_other(pg_url: str) -> None:
    with PgAdvisoryLock(pg_url, "rd-test-x") as x, PgAdvisoryLock(pg_url, "rd-test-y") as y:
        assert x.acquire() and y.acquire()


@pytest.mark.postgres
def test_lock_is_taken_on_a_connection_of_its_own(pg_locks, pg_url: str) -> None:
    first, _ = pg_locks
    assert first.acquire()
    with create_engine(pg_url).connect() as conn:
        row = conn.execute(text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.pid = :p"), {"p": first.backend_pid}).one()
    assert row.application_name == f"{first.name}:{os.getpid()}"


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from schedulers.leader import FileLeaderLock
    lock = FileLeaderLock(Path(sys.argv[1]))
    print("leader" if lock.acquire() else "follower", flush=True)
    time.sleep(60)
""")


def hold(path: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def test_sqlite_file_lock_admits_one_process_and_dies_with_it(tmp_path: Path) -> None:
    path = sqlite_lock_path(f"sqlite:///{tmp_path / 'resetdesk.db'}")
    assert path == tmp_path / "resetdesk.db.scheduler.lock"
    procs = []
    try:
        first, first_role = hold(path)
        procs.append(first)
        second, second_role = hold(path)
        procs.append(second)
        assert (first_role, second_role) == ("leader", "follower")
        assert not FileLeaderLock(path).acquire()
        first.kill()
        first.wait(10)
        third, third_role = hold(path)  # the OS dropped the dead process's lock
        procs.append(third)
        assert third_role == "leader"
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)


def test_file_lock_is_lost_when_its_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "x.scheduler.lock"
    lock = FileLeaderLock(path)
    assert lock.acquire() and lock.is_held()
    path.unlink()
    assert not lock.is_held()
    assert lock.acquire()  # a fresh file
    lock.release()
    assert not lock.is_held()


def test_lock_chosen_by_database_url(tmp_path: Path) -> None:
    assert isinstance(leader_lock_for(f"sqlite:///{tmp_path / 'a.db'}"), FileLeaderLock)
    assert isinstance(leader_lock_for("sqlite://"), ProcessLock)
    assert isinstance(leader_lock_for("postgresql+psycopg://u@127.0.0.1/x"), PgAdvisoryLock)
    with pytest.raises(ValueError):
        leader_lock_for("mysql://u@h/x")
