"""SIGKILL `resetdesk up` while producers post: nothing accepted is lost or applied twice."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.requests import request
from tests.e2e.running import RunningDesk
from tests.smtp_sink import SmtpSink
from tests.waiting import wait_for

POSTERS = 4


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def _poster(desk: RunningDesk, stop: threading.Event, accepted: dict[str, dict],  # type: ignore[type-arg]
            unanswered: dict[str, dict], lock: threading.Lock) -> None:  # type: ignore[type-arg]
    with httpx.Client() as client:
        while not stop.is_set():
            event = request()
            try:
                code = desk.post(event, client=client).status_code
            except httpx.HTTPError:
                code = None
            with lock:
                (accepted if code == 202 else unanswered)[event["id"]] = event
            if code is None:
                return  # the server is gone: this poster's work is done


def test_sigkill_mid_traffic_loses_nothing_and_applies_nothing_twice(
        tmp_path: Path, smtp: SmtpSink) -> None:
    env = {"RESETDESK_QUEUE__LEASE_SECONDS": "2", "RESETDESK_QUEUE__WORKERS": "2"}
    desk = RunningDesk(tmp_path, smtp_port=smtp.port, env=env).start()
    accepted: dict[str, dict] = {}  # type: ignore[type-arg]
    unanswered: dict[str, dict] = {}  # type: ignore[type-arg]
    lock, stop = threading.Lock(), threading.Event()
    threads = [threading.Thread(target=_poster, args=(desk, stop, accepted, unanswered, lock))
               for _ in range(POSTERS)]
    for t in threads:
        t.start()
    time.sleep(random.uniform(1.5, 4.0))
    desk.kill()
    stop.set()
    for t in threads:
        t.join(30)
    assert accepted, "nothing was accepted before the kill"
    pending_at_kill = _pending(tmp_path)
    print(f"killed with {len(accepted)} accepted ({pending_at_kill} not yet processed), "
          f"{len(unanswered)} unanswered")

    desk = RunningDesk(tmp_path, smtp_port=smtp.port, env=env, port=desk.port).start()
    try:
        for event_id, event in list(unanswered.items()):
            response = desk.post(event)
            assert response.status_code == 202, response.text
            accepted[event_id] = event
        wait_for("every inbox row handled (none stuck past its lease)",
                 lambda: _pending(tmp_path) == 0, 60, every=0.2)
        _assert_exactly_once(tmp_path, set(accepted))
    finally:
        desk.stop()


def _db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "resetdesk.db")


def _pending(tmp_path: Path) -> int:
    with _db(tmp_path) as conn:
        return int(conn.execute("SELECT count(*) FROM inbox WHERE status = 'pending'").fetchone()[0])


def _assert_exactly_once(tmp_path: Path, accepted_ids: set[str]) -> None:
    with _db(tmp_path) as conn:
        per_id = dict(conn.execute("SELECT event_id, count(*) FROM ticket GROUP BY event_id"))
        statuses = dict(conn.execute("SELECT event_id, status FROM inbox"))
        audits = set(conn.execute(
            "SELECT count(*) FROM audit GROUP BY ticket_id").fetchall())
        acks = dict(conn.execute(
            "SELECT subject_count, n FROM (SELECT ticket_id AS subject_count, count(*) AS n "
            "FROM outbox WHERE type = 'com.resetdesk.notification.email.v1' GROUP BY ticket_id)"))
    missing = accepted_ids - set(per_id)
    assert not missing, f"{len(missing)} accepted ids have no ticket"
    assert all(n == 1 for n in per_id.values()), "an id made more than one ticket"
    assert set(per_id) <= set(statuses), "a ticket without its inbox row"
    assert {statuses[i] for i in accepted_ids} == {"done"}
    assert audits == {(3,)}, f"audit rows per ticket: {audits} (a move applied twice?)"
    assert set(acks.values()) == {1}
