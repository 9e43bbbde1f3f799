"""The resolution paths end to end on the embedded default: a real ``resetdesk up``, a real SMTP
server, an agent made with the CLI and signed in over the JSON API, a customer who only has what
the emails and the agent give them.

1. submitted → queued → first-reply breach → callback booked → answered → remote-session code →
   terms, Agree → a declined network change → session ended resolved → closed;
2. a reset key: the confirm link's GET changes nothing, its POST closes the ticket, once;
3. a reset key that did not work: the report link puts the ticket back in the queue.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import dialogue
from tests.dialogue import AGENT, PASSWORD, always_open_calendar
from tests.e2e.requests import request
from tests.e2e.running import ROOT, RunningDesk
from tests.smtp_sink import SmtpSink

# --- the running system ---------------------------------------------------------------------

@dataclass
class Embedded:
    """:class:`tests.dialogue.DeskDriver` on ``resetdesk up``: requests over HTTP with the
    producer token, the CLI on the data directory, consent read from the SQLite file."""

    running: RunningDesk
    smtp: SmtpSink

    @property
    def base(self) -> str:
        return self.running.base

    def submit(self, language: str) -> str:
        event = request(data__requester__language=language)
        response = self.running.post(event)
        assert response.status_code == 202, response.text
        status = self.running.wait_processed(event["id"])
        assert status["ticket"]["state"] == "queued", status
        return str(status["reference"])

    def cli(self, *args: str) -> str:
        out = self.running.cli(*args)  # parsed already when ``--json`` is among ARGS
        return out if isinstance(out, str) else json.dumps(out)

    def consent(self, ticket_id: str) -> list[tuple[str, str]]:
        with sqlite3.connect(self.running.data_dir / "resetdesk.db") as db:
            return db.execute("SELECT terms_version, language FROM consent WHERE ticket_id = ?",
                              (ticket_id,)).fetchall()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def _start(tmp: Path, smtp: SmtpSink, **env: str) -> RunningDesk:
    desk = RunningDesk(tmp, smtp_port=smtp.port, env={
        "RESETDESK_SLA__CALENDAR_PATH": str(always_open_calendar(tmp)),
        "RESETDESK_SCHEDULER__INTERVAL_SECONDS": "0.3", **env})
    desk.env["RESETDESK_SERVER__PUBLIC_URL"] = desk.base  # emails carry links back to this desk
    desk.start()
    try:
        add = subprocess.run([sys.executable, "-m", "resetdesk", "agents", "add", AGENT,
                              "--password-stdin"], input=PASSWORD + "\n", cwd=ROOT,
                             env={**desk.env, "RESETDESK_DATA_DIR": str(tmp)},
                             capture_output=True, text=True, timeout=60)
        assert add.returncode == 0, add.stderr
    except BaseException:
        desk.stop()
        raise
    return desk


@pytest.fixture(scope="module")
def escalating_desk(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpSink) -> Iterator[Embedded]:
    """First reply due ~2 s after intake (always open): the SLA breaches while we watch."""
    desk = _start(tmp_path_factory.mktemp("escalating"), smtp,
                  RESETDESK_SLA__FIRST_REPLY_HOURS="0.0005", RESETDESK_CALLBACKS__ESCALATION="first_reply")
    yield Embedded(desk, smtp)
    desk.stop()


@pytest.fixture(scope="module")
def key_desk(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpSink) -> Iterator[Embedded]:
    """Ordinary budgets and no escalation: a ticket stays queued while the key is out."""
    desk = _start(tmp_path_factory.mktemp("keys"), smtp, RESETDESK_CALLBACKS__ESCALATION="none")
    yield Embedded(desk, smtp)
    desk.stop()


# --- the dialogue (tests/dialogue.py), with what only this mode shows -------------------------

@pytest.mark.parametrize("language", ["en", "fr"])
def test_breach_callback_and_remote_session_close_the_ticket_resolved(
        escalating_desk: Embedded, language: str) -> None:
    dialogue.breach_callback_and_remote_session(escalating_desk, language)


def test_confirm_link_get_changes_nothing_post_closes_resolved_once(key_desk: Embedded) -> None:
    dialogue.confirm_key_once(key_desk)


def test_failure_report_link_requeues_with_the_reexport_email(key_desk: Embedded) -> None:
    dialogue.report_key_failure(key_desk)


# --- and the walkthrough's last step --------------------------------------------------------

def test_ctrl_c_stops_the_desk_cleanly(tmp_path: Path, smtp: SmtpSink) -> None:
    desk = _start(tmp_path, smtp)
    desk.stop()  # SIGINT, as Ctrl-C
    assert desk.proc is not None
    assert desk.proc.returncode == 0, desk.log.read_text()
    assert "Traceback" not in desk.log.read_text()
