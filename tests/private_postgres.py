"""A private PostgreSQL cluster, for tests that restart (or crash) the database: the shared
server on :5432 is never touched.

- Debian's binaries (``/usr/lib/postgresql/<major>/bin``: ``initdb``, ``pg_ctl``), the newest
  major found; run as the ``postgres`` OS user when the test runs as root (root may not run a
  server), as the current user otherwise;
- data directory and unix socket directory under a fresh temporary directory owned by that user;
  a free loopback TCP port; ``trust`` authentication on loopback only;
- ``fsync = on`` and ``synchronous_commit = on``: the fault tests check durability, so the
  cluster must not cheat where production would not;
- :meth:`restart` is ``pg_ctl restart -m fast`` (connections cut, a clean shutdown checkpoint);
  ``-m immediate`` is the crash-ish fault (no checkpoint: WAL replay at the next start).

The ``private_postgres`` fixture skips locally without the binaries and fails under
``RESETDESK_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from tests import services
from tests.private_rabbit import free_port

PG_ROOT = Path("/usr/lib/postgresql")
Mode = Literal["smart", "fast", "immediate"]


class PrivatePostgresError(RuntimeError):
    """The cluster could not be made, started or stopped; the message holds its log's tail."""


def pg_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding initdb and pg_ctl, if any."""
    found = [d / "bin" for d in PG_ROOT.glob("*") if (d / "bin" / "initdb").exists()
             and (d / "bin" / "pg_ctl").exists()] if PG_ROOT.is_dir() else []
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0,
               default=None)


class PrivatePostgres:
    def __init__(self, bin_dir: Path, base: Path, port: int, run_as: str | None) -> None:
        self.bin_dir, self.base, self.port, self.run_as = bin_dir, base, port, run_as
        self.data = base / "data"
        self.sockets = base / "sockets"
        self.log_file = base / "server.log"
        self.host = "127.0.0.1"
        self.starts = 0

    @classmethod
    def create(cls, bin_dir: Path) -> PrivatePostgres:
        """initdb a new cluster (not started yet)."""
        run_as = "postgres" if os.geteuid() == 0 else None
        base = Path(tempfile.mkdtemp(prefix="rd_pg_"))
        cluster = cls(bin_dir, base, free_port(), run_as)
        cluster.sockets.mkdir()
        if run_as is not None:
            user = pwd.getpwnam(run_as)
            for path in (base, cluster.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
        cluster._run("initdb", "-D", str(cluster.data), "-U", "postgres", "-A", "trust",
                     "-E", "UTF8", "--no-locale", "--no-sync", timeout=120)
        with open(cluster.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"\n# tests/private_postgres.py\nport = {cluster.port}\n"
                       "listen_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{cluster.sockets}'\n"
                       "fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n"
                       "max_connections = 200\nshared_buffers = 64MB\n"
                       "log_min_messages = warning\n")
        return cluster

    def _run(self, tool: str, *args: str, timeout: float = 60,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / tool), *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=self.base)
        if check and done.returncode:
            raise PrivatePostgresError(f"{tool} {' '.join(args)} exited {done.returncode}: "
                                       f"{done.stdout}{done.stderr}\n{self.log_tail()}")
        return done

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def log_tail(self, lines: int = 15) -> str:
        if not self.log_file.exists():
            return "(no server log)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def _ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not services.port_open(self.host, self.port, timeout=0.5):
            if time.monotonic() > deadline:
                raise PrivatePostgresError(f"port {self.port} not open after {timeout:g} s:\n"
                                           f"{self.log_tail()}")
            time.sleep(0.05)

    def start(self, timeout: float = 60) -> float:
        """Start the server and wait until it accepts connections; the seconds it took."""
        t0 = time.monotonic()
        self.starts += 1
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log_file), "-w",
                  "-t", str(int(timeout)), timeout=timeout + 10)
        self._ready(timeout)
        return time.monotonic() - t0

    def stop(self, mode: Mode = "fast", timeout: float = 60) -> float:
        t0 = time.monotonic()
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w",
                  "-t", str(int(timeout)), timeout=timeout + 10)
        return time.monotonic() - t0

    def restart(self, mode: Mode = "fast", timeout: float = 60) -> float:
        """``pg_ctl restart -m MODE``: down and up again, ready; the seconds it took."""
        t0 = time.monotonic()
        self.starts += 1
        self._run("pg_ctl", "restart", "-D", str(self.data), "-m", mode, "-l",
                  str(self.log_file), "-w", "-t", str(int(timeout)), timeout=timeout + 10)
        self._ready(timeout)
        return time.monotonic() - t0

    def running(self) -> bool:
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def create_database(self, name: str) -> str:
        """CREATE DATABASE over the unix socket; its SQLAlchemy URL (TCP, loopback)."""
        self._run("createdb", "-h", str(self.sockets), "-p", str(self.port), "-U", "postgres",
                  name)
        return self.url(name)

    def destroy(self) -> None:
        """Stop it (immediately: nothing to keep) if it runs, and drop its files."""
        with contextlib.suppress(PrivatePostgresError, subprocess.SubprocessError):
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private cluster, destroyed afterwards."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        services.unavailable("a private PostgreSQL cluster",
                             f"no initdb/pg_ctl under {PG_ROOT}/*/bin")
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user("postgres")):
        services.unavailable("a private PostgreSQL cluster",
                             "running as root needs runuser and a 'postgres' OS user")
    assert bin_dir is not None
    cluster: PrivatePostgres | None = None
    try:
        try:
            cluster = PrivatePostgres.create(bin_dir)
            took = cluster.start()
        except (PrivatePostgresError, subprocess.SubprocessError, OSError) as err:
            services.unavailable("a private PostgreSQL cluster", str(err))
        assert cluster is not None
        print(f"private PostgreSQL ({bin_dir.parent.name}) on port {cluster.port} started in "
              f"{took:.1f} s")
        yield cluster
    finally:
        if cluster is not None:
            cluster.destroy()


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
