"""Embedded mode (``resetdesk up``, one process, SQLite) with its human-check service down: the
requests die after their attempts, each with a log line, and wait on the dead-letter page (and
in the list ``resetdesk dlq list`` prints); once the service is back, one bulk retry from the
page makes each of them a ticket, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.e2e.requests import request
from tests.e2e.running import RunningDesk
from tests.human_check_service import HumanCheckService
from tests.smtp_sink import SmtpSink
from tests.waiting import wait_for
from tests.web import form_token
from workflow.adapters import accounts
from workflow.adapters.db import open_database
from workflow.adapters.queries import dead_letter_view as view
from workflow.adapters.tables import INBOX, TICKET

PASSWORD = "boss-password-123"


@pytest.fixture
def broken_desk(tmp_path: Path) -> Iterator[tuple[RunningDesk, HumanCheckService]]:
    service = HumanCheckService()
    with SmtpSink() as sink:
        desk = RunningDesk(tmp_path / "desk", smtp_port=sink.port, env={
            **service.settings(), "RESETDESK_QUEUE__RETRY__MAX_ATTEMPTS": "3",
            "RESETDESK_QUEUE__RETRY__DELAYS_SECONDS": "[0.2]"})
        try:
            yield desk.start(), service
        finally:
            desk.stop()
            service.down()


def _sign_in(base: str, login: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=30)
    r = client.post("/signin", data={"login": login, "password": PASSWORD,
                                     "csrf_token": form_token(client.get("/signin").text)})
    assert r.status_code == 303, r.text[:500]
    return client, form_token(client.get("/queue").text)


def test_requests_dead_while_the_human_check_is_down_become_tickets_once_after_a_bulk_retry(
        broken_desk: tuple[RunningDesk, HumanCheckService]) -> None:
    desk, service = broken_desk
    ids = []
    for _ in range(3):
        event = request()
        assert desk.post(event).status_code == 202
        ids.append(event["id"])
    def status_is(event_id: str, status: str) -> bool:
        return bool(desk.status(event_id)["status"] == status)

    for i in ids:
        wait_for(f"{i} dead", partial(status_is, i, "dead"), 60)
    assert "dead letter: request" in desk.log.read_text()
    db = open_database(f"sqlite:///{desk.data_dir / 'resetdesk.db'}")
    try:  # what `resetdesk dlq list` prints (tests/integration/test_dead_letter_page.py)
        listed = [x.summary() for x in view.list_letters(db, view.Filter(transport="embedded"))]
        assert sorted(x["message_id"] for x in listed) == sorted(ids)
        assert all(not x["permanent"] and "human check" in x["reason"].lower() for x in listed)
        accounts.add_agent(db, "boss", PASSWORD, role="supervisor")
        boss, csrf = _sign_in(desk.base, "boss")
        page = boss.get("/ops/dead-letters").text
        assert all(x["key"] in page for x in listed) and "3 dead letters" in page

        service.up()  # the fix
        confirm = boss.get("/ops/dead-letters/bulk?action=retry&scope=filter&transport=embedded")
        assert "<strong>3</strong> dead letters will be retried" in confirm.text
        done = boss.post("/ops/dead-letters/bulk", data={
            "csrf_token": csrf, "action": "retry", "scope": "filter", "transport": "embedded",
            "expected": "3", "reason": "human check is back"})
        assert "3 retried" in done.text, done.text
        for i in ids:
            wait_for(f"{i} done", partial(status_is, i, "done"), 60)
        again = boss.get("/ops/dead-letters/bulk?action=retry&scope=filter").text
        assert "nothing to do" in again
        with db.reader.begin() as conn:
            tickets = conn.execute(select(INBOX.c.ticket_id).where(INBOX.c.event_id.in_(ids)))
            made = [t for (t,) in tickets]
            count = conn.execute(select(func.count()).select_from(TICKET)).scalar_one()
        assert len(set(made)) == 3 and None not in made and count == 3
        assert boss.get("/ops/dead-letters").text.count("agent:boss") == 3
        boss.close()
    finally:
        db.dispose()
