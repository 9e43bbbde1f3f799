"""A 3-node RabbitMQ cluster on one machine, for tests and for trying scale-out on a laptop:

    python deploy/rabbit_cluster.py start  --dir /tmp/rd-cluster [--amqp-port 5681] [--prefix rd]
    python deploy/rabbit_cluster.py status --dir /tmp/rd-cluster
    python deploy/rabbit_cluster.py stop   --dir /tmp/rd-cluster

Built like ``tests/private_rabbit.py``: each node has its own name (``rd1@localhost`` …), AMQP,
distribution and management ports (AMQP ``P+i``, management ``P+10000+i``, distribution
``P+20000+i``, as 5672/15672/25672 are RabbitMQ's defaults), data, logs, pid file, config, an
empty ``rabbitmq-env.conf`` (the system's would name the packaged node) and one Erlang scheduler
thread (``+S 1``: three nodes on a 2-core machine must not each spin a thread per core). The
nodes share the Erlang cookie of the user that runs them (as root the packaged wrapper switches to
the ``rabbitmq`` user, whose cookie ``rabbitmqctl`` reads too, hence a world-writable directory).

``start`` boots the three nodes at once, then ``stop_app`` / ``join_cluster <first>`` /
``start_app`` on the others (``join_cluster`` resets a node itself) and enables every feature
flag (at-least-once dead-lettering needs ``stream_queue``). Quorum queues declared afterwards get
a member on each node, so one node can stop without losing a message. What ``start`` made is
recorded in ``<dir>/cluster.json``, which ``status`` and ``stop`` read.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
SIZE = 3
HOST = "127.0.0.1"


class ClusterError(RuntimeError):
    """A node did not start, join or stop; the message carries the tail of its log."""


@dataclass(frozen=True)
class Node:
    name: str  # rd1@localhost
    base: str  # its own directory: config, data, logs, pid file
    amqp_port: int
    dist_port: int
    management_port: int

    @property
    def dir(self) -> Path:
        return Path(self.base)

    @property
    def pid_file(self) -> Path:
        return self.dir / "node.pid"

    def url(self, user: str = "guest", password: str = "guest", vhost: str = "") -> str:
        return f"amqp://{user}:{password}@{HOST}:{self.amqp_port}/{vhost}"

    def env(self) -> dict[str, str]:
        b = self.dir
        return {**os.environ,
                "RABBITMQ_NODENAME": self.name, "RABBITMQ_NODE_IP_ADDRESS": HOST,
                "RABBITMQ_NODE_PORT": str(self.amqp_port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(b / "mnesia"), "RABBITMQ_LOG_BASE": str(b / "log"),
                "RABBITMQ_PID_FILE": str(self.pid_file),
                "RABBITMQ_CONFIG_FILE": str(b / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(b / "advanced.config"),
                "RABBITMQ_CONF_ENV_FILE": str(b / "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(b / "enabled_plugins"),
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                    "-kernel inet_dist_use_interface {127,0,0,1} +S 1",
                "ERL_EPMD_ADDRESS": HOST,
                "ERL_CRASH_DUMP": str(b / "erl_crash.dump")}

    def ctl(self, *args: str, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``rabbitmqctl -n <this node> ARGS``."""
        done = subprocess.run(["rabbitmqctl", "-n", self.name, *args], capture_output=True,
                              text=True, timeout=timeout, env=self.env())
        if check and done.returncode:
            raise ClusterError(f"rabbitmqctl -n {self.name} {' '.join(args)} exited "
                               f"{done.returncode}: {done.stdout}{done.stderr}\n{self.log_tail()}")
        return done

    def running(self) -> bool:
        try:
            with socket.create_connection((HOST, self.amqp_port), timeout=1):
                return True
        except OSError:
            return False

    def log_tail(self, lines: int = 8) -> str:
        parts = []
        for path in sorted((self.dir / "log").glob("*.log")):
            text = path.read_text(errors="replace").splitlines()
            errors = [line for line in text if "[error]" in line][:lines]
            parts.append(f"--- {path}\n" + "\n".join([*errors, "…", *text[-lines:]]))
        return "\n".join(parts) or "(no log yet)"

    def launch(self) -> None:
        """``rabbitmq-server -detached``: returns at once; :meth:`await_startup` waits."""
        done = subprocess.run(["rabbitmq-server", "-detached"], capture_output=True, text=True,
                              timeout=60, env=self.env())
        if done.returncode:
            raise ClusterError(f"{self.name}: rabbitmq-server -detached exited "
                               f"{done.returncode}: {done.stdout}{done.stderr}")

    def await_startup(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ctl("await_startup", "--timeout", "30", check=False, timeout=45).returncode == 0:
                return
            if (self.dir / "erl_crash.dump").exists():
                break  # the VM is gone
            time.sleep(0.3)
        raise ClusterError(f"{self.name} (AMQP port {self.amqp_port}) did not start:\n"
                           f"{self.log_tail()}")

    def boot(self, timeout: float) -> None:
        """Wait for a fresh node and enable every feature flag (all nodes then agree on them,
        as joining requires; at-least-once dead-lettering needs ``stream_queue``)."""
        self.await_startup(timeout)
        self.ctl("enable_feature_flag", "all")

    def join(self, first: Node, again: bool = False) -> None:
        """Into ``first``'s cluster (``join_cluster`` resets this node itself); ``again``: after
        a failed attempt, which may have joined already."""
        if again and first.name in self.ctl("cluster_status", "--formatter", "json").stdout:
            self.ctl("start_app")
            return
        self.ctl("stop_app")
        self.ctl("join_cluster", first.name)
        self.ctl("start_app")

    def kill(self) -> None:
        """SIGKILL the node's OS process: a crash, not a shutdown."""
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError, OSError):
            os.kill(int(self.pid_file.read_text().strip()), 9)


@dataclass(frozen=True)
class Cluster:
    dir: Path
    nodes: list[Node]

    @property
    def state_file(self) -> Path:
        return self.dir / "cluster.json"

    @classmethod
    def plan(cls, directory: Path, *, amqp_port: int = 5681, prefix: str = "rd",
             size: int = SIZE) -> Cluster:
        """Names, ports and directories; ``amqp_port=0`` picks free ports (tests)."""
        nodes = []
        for i in range(1, size + 1):
            if amqp_port:
                ports = (amqp_port + i - 1, amqp_port + 20000 + i - 1, amqp_port + 10000 + i - 1)
            else:
                ports = (free_port(), free_port(), free_port())
            nodes.append(Node(f"{prefix}{i}@localhost", str(directory / f"{prefix}{i}"), *ports))
        return cls(directory, nodes)

    @classmethod
    def load(cls, directory: Path) -> Cluster:
        state = json.loads((directory / "cluster.json").read_text(encoding="utf-8"))
        return cls(directory, [Node(**n) for n in state["nodes"]])

    def urls(self, user: str = "guest", password: str = "guest", vhost: str = "") -> list[str]:
        return [n.url(user, password, vhost) for n in self.nodes]

    def prepare(self, extra_conf: str = "") -> None:
        """Each node's directory and files; ``extra_conf`` is appended to the first node's
        ``rabbitmq.conf`` (e.g. ``load_definitions``: the others take the first's on joining)."""
        for k, node in enumerate(self.nodes):
            node.dir.mkdir(parents=True, exist_ok=True)
            open_to_the_broker(self.dir, node.dir)
            conf = (f"listeners.tcp.local = {HOST}:{node.amqp_port}\n"
                    f"management.tcp.ip = {HOST}\nmanagement.tcp.port = {node.management_port}\n"
                    "loopback_users.guest = true\ncluster_partition_handling = pause_minority\n")
            files = {"rabbitmq.conf": conf + (extra_conf if k == 0 else ""),
                     "enabled_plugins": "[rabbitmq_management].\n", "rabbitmq-env.conf": ""}
            for name, text in files.items():
                (node.dir / name).write_text(text, encoding="utf-8")
                (node.dir / name).chmod(0o644)
        self.state_file.write_text(json.dumps({"nodes": [asdict(n) for n in self.nodes]},
                                              indent=2), encoding="utf-8")

    def start(self, extra_conf: str = "", timeout: float = 60,
              on_booted: Callable[[], object] | None = None) -> dict[str, float]:
        """Boot every node at once, join the others to the first (both at once; one at a time
        if that fails); seconds per phase: ``boot``, ``join``, ``total``. ``on_booted`` runs
        once every node serves, before the joins (a test starts slow clients then)."""
        t0 = time.monotonic()
        self.prepare(extra_conf)
        in_parallel(Node.launch, self.nodes)
        in_parallel(lambda n: n.boot(timeout), self.nodes)
        if on_booted is not None:
            on_booted()
        t1 = time.monotonic()
        first, *others = self.nodes
        try:
            in_parallel(lambda n: n.join(first), others)
        except ClusterError:
            for node in others:
                node.join(first, again=True)
        t2 = time.monotonic()
        return {"boot": t1 - t0, "join": t2 - t1, "total": t2 - t0}

    def stop(self) -> None:
        in_parallel(lambda n: n.ctl("stop", str(n.pid_file), check=False, timeout=90),
                    [n for n in self.nodes if n.pid_file.exists()])

    def destroy(self, graceful: bool = True) -> None:
        """Stop what runs (SIGKILL as a last resort, or at once: a throwaway test cluster
        need not shut down cleanly) and drop every file."""
        if graceful:
            self.stop()
        for node in self.nodes:
            node.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def status(self) -> str:
        lines = [f"{n.name}: AMQP {n.amqp_port}, management {n.management_port}, distribution "
                 f"{n.dist_port}: {'running' if n.running() else 'down'}" for n in self.nodes]
        up = next((n for n in self.nodes if n.running()), None)
        if up is not None:
            lines.append(up.ctl("cluster_status", check=False).stdout.strip())
        return "\n".join(lines)


def in_parallel(work: Callable[[Node], T], nodes: Iterable[Node]) -> list[T]:
    with ThreadPoolExecutor() as pool:
        return list(pool.map(work, nodes))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def open_to_the_broker(*dirs: Path) -> None:
    """As root, ``rabbitmq-server`` runs as the ``rabbitmq`` user: let it write there."""
    for d in dirs:
        d.chmod(0o777)
        with contextlib.suppress(KeyError, PermissionError):
            if os.geteuid() == 0:
                user = pwd.getpwnam("rabbitmq")
                os.chown(d, user.pw_uid, user.pw_gid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--dir", type=Path, required=True, help="where the nodes keep their files")
    parser.add_argument("--amqp-port", type=int, default=5681,
                        help="the first node's AMQP port (the others follow; 0: free ports)")
    parser.add_argument("--prefix", default="rd", help="node names: <prefix>1@localhost …")
    args = parser.parse_args(argv)
    if args.command == "start":
        if (args.dir / "cluster.json").exists():
            print(f"{args.dir}/cluster.json exists: stop that cluster first", file=sys.stderr)
            return 1
        cluster = Cluster.plan(args.dir.resolve(), amqp_port=args.amqp_port, prefix=args.prefix)
        try:
            took = cluster.start()["total"]
        except (ClusterError, subprocess.SubprocessError) as err:
            print(err, file=sys.stderr)
            cluster.destroy()
            return 1
        print(f"cluster of {len(cluster.nodes)} nodes up in {took:.1f} s; AMQP URLs:")
        print("\n".join(cluster.urls()))
        return 0
    cluster = Cluster.load(args.dir.resolve())
    if args.command == "status":
        print(cluster.status())
    else:
        cluster.destroy()
        print(f"stopped {', '.join(n.name for n in cluster.nodes)}; {args.dir} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
