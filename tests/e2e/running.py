"""Run the real ``resetdesk up`` as a child process, as a user would, and talk to it over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.smtp_sink import free_port
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


class RunningDesk:
    """``resetdesk up`` on a free port with its own data dir; stop() or kill() it."""

    def __init__(self, data_dir: Path, *, smtp_port: int, env: Mapping[str, str] | None = None,
                 port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        smtp = {"RESETDESK_SMTP__PORT": str(smtp_port)} if smtp_port else {}  # 0: no server
        self.env = {**os.environ, **smtp, "RESETDESK_SMTP__HOST": "127.0.0.1",
                    "RESETDESK_QUEUE__RETRY__DELAYS_SECONDS": "[0.2,0.5,1]", **(env or {})}
        self.env.pop("RESETDESK_DATABASE_URL", None)
        self.env.pop("RESETDESK_BROKER_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "up.log"

    def start(self, timeout: float = 30) -> RunningDesk:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "resetdesk", "up", "--data-dir", str(self.data_dir),
                 "--port", str(self.port)], cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT)
        proc = self.proc

        def answering() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"resetdesk up exited: {self.log.read_text()}")
            try:
                return httpx.get(self.base + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        try:
            wait_for("resetdesk up to answer /healthz", answering, timeout, every=0.1)
        except AssertionError as late:
            raise RuntimeError(f"{late}: {self.log.read_text()}") from None
        return self

    @property
    def token(self) -> str:
        return (self.data_dir / "producer.token").read_text().strip()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def post(self, event: dict[str, Any], *, mode: str = "structured",
             token: str | None = None, client: httpx.Client | None = None) -> httpx.Response:
        """Send with the CloudEvents SDK's HTTP binding, as a producer would."""
        message = to_http(event, mode)
        headers = {**message.headers, "Authorization": f"Bearer {token or self.token}"}
        c = client or httpx
        return c.post(self.base + "/events", content=message.body, headers=headers, timeout=30)

    def status(self, event_id: str) -> dict[str, Any]:
        r = httpx.get(f"{self.base}/events/{event_id}",
                      headers={"Authorization": f"Bearer {self.token}"}, timeout=10)
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    def wait_processed(self, event_id: str, timeout: float = 30) -> dict[str, Any]:
        def processed() -> dict[str, Any] | None:
            s = self.status(event_id)
            return s if s["status"] != "pending" else None
        return wait_for(f"{event_id} to be processed", processed, timeout)  # type: ignore[no-any-return]

    def cli(self, *args: str) -> Any:
        out = subprocess.run([sys.executable, "-m", "resetdesk", *args], cwd=ROOT, env={
            **self.env, "RESETDESK_DATA_DIR": str(self.data_dir)}, capture_output=True, text=True,
            timeout=60, check=True)
        return json.loads(out.stdout) if "--json" in args else out.stdout


def to_http(event: dict[str, Any], mode: str) -> Any:
    attributes = {k: v for k, v in event.items() if k != "data"}
    if "time" in attributes:
        attributes["time"] = datetime.fromisoformat(attributes["time"].replace("Z", "+00:00"))
    sdk_event = CloudEvent(attributes, event["data"])
    if mode == "structured":
        return ce_http.to_structured(sdk_event, JSONFormat())
    return ce_http.to_binary(sdk_event, JSONFormat())
