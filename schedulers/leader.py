"""One leader among several scheduler processes.

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection of its own,
never one from the pool the jobs work with: the lock lives exactly as long as that session, so a
killed process (its socket closes, its backend exits) or a terminated backend frees it at once.
``is_held`` proves the session is alive with ``SELECT 1`` before every job; when it is not, the
lock is reported lost and the next ``acquire`` reconnects and tries again. TCP keepalives and
``tcp_user_timeout`` bound how long a half-open connection can fool either side.

SQLite (embedded mode): an exclusive ``flock`` on ``<database file>.scheduler.lock``. The kernel
drops it when the process dies, so a second process on the same file stays a follower until the
first one is gone. No table is needed and nothing has to expire.

Either way, the lock is the first guard; the ``sla_alarm`` unique key is the second: should two
processes ever believe they lead (a network partition), an alarm is still raised once.
"""

from __future__ import annotations

import abc
import fcntl
import hashlib
import logging
import os
import threading
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)


def _reason(exc: SQLAlchemyError) -> str:
    lines = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name`` (PostgreSQL's bigint range)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class LeaderLock(abc.ABC):
    """A non-blocking, process-wide leadership lock. Methods are safe to call from any thread.

    ``acquire`` returns True when this process leads (taking the lock if needed, reconnecting if
    its session was lost); ``is_held`` is a cheap liveness check to make before every job;
    ``release`` gives leadership up and may be called at any time, twice included.
    """

    name: str

    @abc.abstractmethod
    def acquire(self) -> bool: ...

    @abc.abstractmethod
    def is_held(self) -> bool: ...

    @abc.abstractmethod
    def release(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


class PgAdvisoryLock(LeaderLock):
    """``pg_try_advisory_lock(lock_key(name))`` held on a dedicated, unpooled connection.

    The connection's ``application_name`` is ``<name>:<pid>``, so ops (and the tests) can see
    which process leads: ``SELECT application_name FROM pg_locks JOIN pg_stat_activity USING
    (pid) WHERE locktype = 'advisory'``.
    """

    def __init__(self, url: str, name: str, *, connect_timeout: int = 5) -> None:
        self.name = name
        self.key = lock_key(name)
        self._engine: Engine = create_engine(
            url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
            connect_args={
                "application_name": f"{name}:{os.getpid()}"[:63],
                "connect_timeout": connect_timeout,
                "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                "keepalives_count": 3, "tcp_user_timeout": connect_timeout * 1000,
            })
        self._conn: Connection | None = None
        self._held = False
        self._mutex = threading.RLock()

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend holding (or about to hold) the lock, if connected."""
        with self._mutex:
            if self._conn is None:
                return None
            pid = self._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            return int(pid)

    def acquire(self) -> bool:
        with self._mutex:
            if self._held and self.is_held():
                return True
            for _ in range(2):  # a dead session is replaced once, right away
                try:
                    if self._conn is None:
                        self._conn = self._engine.connect()
                    got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                             {"k": self.key}).scalar_one()
                    self._held = bool(got)
                    return self._held
                except SQLAlchemyError as exc:
                    log.warning("leader lock %s: connection failed: %s", self.name, _reason(exc))
                    self._drop()
            return False

    def is_held(self) -> bool:
        with self._mutex:
            if not self._held or self._conn is None:
                return False
            try:
                self._conn.execute(text("SELECT 1"))
            except SQLAlchemyError as exc:
                log.warning("leader lock %s: session lost: %s", self.name, _reason(exc))
                self._drop()
                return False
            return True

    def release(self) -> None:
        with self._mutex:
            if self._conn is not None and self._held:
                with suppress(SQLAlchemyError):  # a dead session took the lock with it
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._drop()
            self._engine.dispose()

    def _drop(self) -> None:
        self._held = False
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(SQLAlchemyError):
                conn.close()


class FileLeaderLock(LeaderLock):
    """An exclusive, non-blocking ``flock`` on a lock file, held by an open descriptor.

    ``flock`` locks belong to the open file description, so two of these objects exclude each
    other even inside one process. ``is_held`` also checks that the path still names the locked
    file: had someone deleted it, another process could lock a new file under the same name.
    """

    def __init__(self, path: Path, name: str = "resetdesk-scheduler") -> None:
        self.name = name
        self.path = path
        self._fd: int | None = None
        self._mutex = threading.RLock()

    def acquire(self) -> bool:
        with self._mutex:
            if self.is_held():
                return True
            self._close()
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return True

    def is_held(self) -> bool:
        with self._mutex:
            if self._fd is None:
                return False
            try:
                same = os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                log.warning("leader lock %s: %s was replaced or removed", self.name, self.path)
                self._close()
            return same

    def release(self) -> None:
        with self._mutex:
            self._close()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor drops the flock


class ProcessLock(LeaderLock):
    """For an in-memory SQLite database, which no other process can see: always the leader."""

    def __init__(self, name: str = "resetdesk-scheduler") -> None:
        self.name = name
        self._held = False

    def acquire(self) -> bool:
        self._held = True
        return True

    def is_held(self) -> bool:
        return self._held

    def release(self) -> None:
        self._held = False


def sqlite_lock_path(db_url: str) -> Path | None:
    """``<database file>.scheduler.lock``, or None for an in-memory database."""
    database = make_url(db_url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).resolve().with_name(Path(database).name + ".scheduler.lock")


def leader_lock_for(db_url: str, name: str = "resetdesk-scheduler") -> LeaderLock:
    """The lock that suits the database: advisory lock on PostgreSQL, file lock on SQLite."""
    backend = make_url(db_url).get_backend_name()
    if backend == "postgresql":
        return PgAdvisoryLock(db_url, name)
    if backend == "sqlite":
        path = sqlite_lock_path(db_url)
        return FileLeaderLock(path, name) if path else ProcessLock(name)
    raise ValueError(f"no leader lock for database backend {backend!r}")
