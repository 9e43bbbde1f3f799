"""Producers for the fault tests: threads that send paced requests over HTTP (``POST /events``,
bearer token) or AMQP (the producers' pika client) and re-send, with the same id, whatever was not
accepted — as a real producer must.

"Accepted" is a 202 or a publisher confirm, nothing else. A refused connection, a 5xx, a time-out
or a missing confirm is not: the request goes again (same (source, id)) after a short pause, so a
request whose first copy did arrive may arrive twice; ResetDesk deduplicates. Any other answer (a
4xx, a contract error) is a defect the test reports.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from schemas.client import ContractError, PublishError, RequestPublisher
from schemas.envelope import STRUCTURED_MEDIA_TYPE

Key = tuple[str, str]  # (source, id)
RETRY_PAUSE = 0.25


@dataclass
class Ledger:
    """What every sender did, shared by all of them."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    #: (source, id) -> "http" | "amqp", once accepted
    accepted: dict[Key, str] = field(default_factory=dict)
    #: every send, accepted or not, per path
    sends: Counter[str] = field(default_factory=Counter)
    #: sends not accepted (to be sent again), per path
    refused: Counter[str] = field(default_factory=Counter)
    #: the last reason a send was not accepted, per path
    last_refusal: dict[str, str] = field(default_factory=dict)
    #: answers that are no outage: a 4xx, a contract error (the test fails on any)
    errors: list[str] = field(default_factory=list)
    #: requests still not accepted at the senders' deadline
    gave_up: list[Key] = field(default_factory=list)

    def count(self, path: str | None = None) -> int:
        with self.lock:
            return sum(1 for p in self.accepted.values() if path is None or p == path)

    def refusals(self) -> int:
        with self.lock:
            return sum(self.refused.values())

    def note(self, path: str, key: Key, ok: bool, why: str = "") -> None:
        with self.lock:
            self.sends[path] += 1
            if ok:
                self.accepted[key] = path
            else:
                self.refused[path] += 1
                self.last_refusal[path] = why


class Sender(threading.Thread):
    """Sends ``events`` one every ``gap`` seconds from ``start_at`` (monotonic); a late one
    (after an outage) goes at once. Each is sent until accepted or ``deadline`` passes."""

    path = "?"

    def __init__(self, name: str, events: list[dict[str, Any]], ledger: Ledger, *,
                 start_at: float, gap: float, deadline: float, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.events, self.ledger = events, ledger
        self.start_at, self.gap, self.deadline, self.stop = start_at, gap, deadline, stop

    def send(self, event: dict[str, Any]) -> tuple[bool, str]:
        """(accepted, why not); raises :class:`Refused` on an answer that is no outage."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def run(self) -> None:
        try:
            for k, event in enumerate(self.events):
                due = self.start_at + k * self.gap
                if self.stop.wait(max(0.0, due - time.monotonic())):
                    return
                self._until_accepted(event)
        except Refused as err:
            with self.ledger.lock:
                self.ledger.errors.append(f"{self.name}: {err}")
        finally:
            self.close()

    def _until_accepted(self, event: dict[str, Any]) -> None:
        key = (str(event["source"]), str(event["id"]))
        while not self.stop.is_set():
            ok, why = self.send(event)
            self.ledger.note(self.path, key, ok, why)
            if ok:
                return
            if time.monotonic() > self.deadline:
                with self.ledger.lock:
                    self.ledger.gave_up.append(key)
                return
            self.stop.wait(RETRY_PAUSE)


class Refused(Exception):
    """An answer a retry cannot fix."""


class HttpSender(Sender):
    """``POST /events`` in structured mode with the producer's bearer token."""

    path = "http"

    def __init__(self, name: str, events: list[dict[str, Any]], ledger: Ledger, *, base: str,
                 token: str, **pacing: Any) -> None:
        super().__init__(name, events, ledger, **pacing)
        self.client = httpx.Client(base_url=base, timeout=5.0, headers={
            "Authorization": f"Bearer {token}", "Content-Type": STRUCTURED_MEDIA_TYPE})

    def send(self, event: dict[str, Any]) -> tuple[bool, str]:
        try:
            answer = self.client.post("/events", content=json.dumps(event).encode())
        except httpx.TransportError as err:  # refused, reset, timed out: not accepted (or unknown)
            return False, f"{type(err).__name__}: {err}"
        if answer.status_code == 202:
            return True, ""
        if answer.status_code >= 500:
            return False, f"{answer.status_code}: {answer.text[:200]}"
        raise Refused(f"POST /events answered {answer.status_code}: {answer.text[:300]}")

    def close(self) -> None:
        self.client.close()


class AmqpSender(Sender):
    """The producers' client: confirms, ``mandatory``, ``user_id`` = the producer's user."""

    path = "amqp"

    def __init__(self, name: str, events: list[dict[str, Any]], ledger: Ledger, *, url: str,
                 **pacing: Any) -> None:
        super().__init__(name, events, ledger, **pacing)
        self.publisher = RequestPublisher(url, confirm_timeout=5, connect_timeout=2, retries=0)

    def send(self, event: dict[str, Any]) -> tuple[bool, str]:
        try:
            self.publisher.publish_request(event)
        except ContractError as err:
            raise Refused(f"the client refused the event: {err}") from err
        except PublishError as err:  # no connection, no confirm, nacked, returned: send again
            return False, f"{type(err).__name__}: {err}"
        return True, ""

    def close(self) -> None:
        self.publisher.close()


def paced(senders: list[Sender]) -> None:
    for sender in senders:
        sender.start()


def join(senders: list[Sender], timeout: float) -> bool:
    """Wait for every sender (bounded); whether all ended."""
    deadline = time.monotonic() + timeout
    for sender in senders:
        sender.join(max(0.0, deadline - time.monotonic()))
    return not any(s.is_alive() for s in senders)
