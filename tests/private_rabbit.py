"""A private RabbitMQ node, for tests that stop and start a broker: its own node name, AMQP and
distribution ports, data, logs, pid file, config and (empty) plugin list, all under a temporary
directory, so the shared broker and other runs never notice.

- node ``rd_<run>_<random>@localhost``, AMQP on a free loopback port (``RABBITMQ_NODE_PORT`` and
  the config file agree), distribution on another (``RABBITMQ_DIST_PORT``, loopback only);
- ``RABBITMQ_CONF_ENV_FILE`` is an empty file: the system's ``rabbitmq-env.conf`` would name the
  shared node; ``RABBITMQ_ENABLED_PLUGINS_FILE`` is ``[].``: no management listener to clash;
- ``rabbitmq-server -detached`` starts it (as root the packaged wrapper switches to the
  ``rabbitmq`` user, keeping the environment, hence a world-writable directory outside pytest's
  private tmp), ``rabbitmqctl -n <node> await_startup`` waits for it, ``enable_feature_flag all``
  (at-least-once dead-lettering needs ``stream_queue``), ``rabbitmqctl -n <node> stop <pid file>``
  stops it and waits for the OS process to end.

A node that does not come up raises :class:`PrivateRabbitError` with the tail of its log; the
``private_rabbit`` fixture turns that into a skip, or a failure under
``RESETDESK_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services


class PrivateRabbitError(RuntimeError):
    """The private node could not start (or stop); the message says why, from its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRabbit:
    def __init__(self, base: Path, node: str, port: int, dist_port: int) -> None:
        self.base, self.node, self.port, self.dist_port = base, node, port, dist_port
        self.host = "127.0.0.1"
        self.pid_file = base / "node.pid"
        self.starts = 0

    @classmethod
    def create(cls) -> PrivateRabbit:
        base = Path(tempfile.mkdtemp(prefix="rd_rabbit_"))
        base.chmod(0o777)
        with contextlib.suppress(KeyError, PermissionError):
            if os.geteuid() == 0:
                user = pwd.getpwnam("rabbitmq")
                os.chown(base, user.pw_uid, user.pw_gid)
        node = cls(base, f"rd_{services.RUN_ID}_{uuid.uuid4().hex[:4]}@localhost", free_port(),
                   free_port())
        (base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{node.port}\n"
                                            "loopback_users.guest = true\n")
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("")
        for name in ("rabbitmq.conf", "enabled_plugins", "rabbitmq-env.conf"):
            (base / name).chmod(0o644)
        return node

    def env(self) -> dict[str, str]:
        b = self.base
        return {**os.environ,
                "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(b / "mnesia"), "RABBITMQ_LOG_BASE": str(b / "log"),
                "RABBITMQ_PID_FILE": str(self.pid_file),
                "RABBITMQ_CONFIG_FILE": str(b / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(b / "advanced.config"),
                "RABBITMQ_CONF_ENV_FILE": str(b / "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(b / "enabled_plugins"),
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                    "-kernel inet_dist_use_interface {127,0,0,1}",
                "ERL_EPMD_ADDRESS": "127.0.0.1",
                "ERL_CRASH_DUMP": str(b / "erl_crash.dump")}

    def ctl(self, *args: str, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``rabbitmqctl -n <this node> ARGS``."""
        done = subprocess.run(["rabbitmqctl", "-n", self.node, *args], capture_output=True,
                              text=True, timeout=timeout, env=self.env())
        if check and done.returncode:
            raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout,
                                                done.stderr)
        return done

    def crash_slogan(self) -> str | None:
        """Why the Erlang VM ended, when it wrote a crash dump (it does when boot fails)."""
        dump = self.base / "erl_crash.dump"
        if not dump.exists():
            return None
        with open(dump, errors="replace") as f:
            return next((line.strip() for line in f if line.startswith("Slogan:")), "Slogan: ?")

    def log_tail(self, lines: int = 10) -> str:
        """The first error lines and the last lines of the node's logs, and its crash slogan."""
        parts = [s for s in [self.crash_slogan()] if s]
        for path in sorted((self.base / "log").glob("*.log")):
            text = path.read_text(errors="replace").splitlines()
            errors = [line for line in text if "[error]" in line][:lines]
            if text:
                parts.append(f"--- {path}\n" + "\n".join([*errors, "…", *text[-lines:]]))
        return "\n".join(parts) or "(the node wrote no log)"

    def start(self, timeout: float = 90) -> float:
        """Start the node and wait until it serves; returns the seconds it took."""
        t0 = time.monotonic()
        self.starts += 1
        launched = subprocess.run(["rabbitmq-server", "-detached"], capture_output=True,
                                  text=True, timeout=60, env=self.env())
        if launched.returncode:
            raise PrivateRabbitError(f"rabbitmq-server -detached exited {launched.returncode}: "
                                     f"{launched.stdout}{launched.stderr}\n{self.log_tail()}")
        while time.monotonic() - t0 < timeout:
            done = self.ctl("await_startup", "--timeout", "30", check=False, timeout=45)
            if done.returncode == 0:
                self.ctl("enable_feature_flag", "all")
                return time.monotonic() - t0
            if self.crash_slogan():
                break  # the VM is gone: no use waiting
            time.sleep(0.3)
        raise PrivateRabbitError(f"node {self.node} (AMQP port {self.port}) did not start; "
                                 f"its log says:\n{self.log_tail()}")

    def stop(self) -> float:
        """Stop the node and wait for its OS process to end; returns the seconds it took."""
        t0 = time.monotonic()
        done = self.ctl("stop", str(self.pid_file), check=False, timeout=90)
        if done.returncode:
            raise PrivateRabbitError(f"rabbitmqctl stop failed: {done.stdout}{done.stderr}")
        return time.monotonic() - t0

    def running(self) -> bool:
        return services.port_open(self.host, self.port)

    def destroy(self) -> None:
        """Stop it if it runs (killing the node's own OS process as a last resort), drop its files."""
        if self.pid_file.exists():
            self.ctl("stop", str(self.pid_file), check=False, timeout=90)
        if self.pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                os.kill(int(self.pid_file.read_text().strip()), signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def private_rabbit() -> Iterator[PrivateRabbit]:
    for tool in ("rabbitmq-server", "rabbitmqctl"):
        if shutil.which(tool) is None:
            services.unavailable("a private RabbitMQ node", f"{tool} is not on PATH")
    node = PrivateRabbit.create()
    try:
        try:
            took = node.start()
        except (PrivateRabbitError, subprocess.SubprocessError) as err:
            services.unavailable("a private RabbitMQ node", str(err))
        print(f"private node {node.node} on port {node.port} started in {took:.1f} s")
        yield node
    finally:
        node.destroy()
