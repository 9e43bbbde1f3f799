"""`resetdesk up` with RESETDESK_LOGGING__FORMAT=json, as a real process: every log line is one JSON
object naming the message and the ticket it is about, and a failure whose text carries the
customer's data (SQLAlchemy prints a statement's parameters) reaches the log masked."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.e2e.requests import request
from tests.e2e.running import RunningDesk
from tests.waiting import wait_for

EMAIL, PHONE = "dana.whitfield@example.com", "+15035550147"
REFUSE = "CREATE TRIGGER refuse_tickets BEFORE INSERT ON ticket " \
         "BEGIN SELECT RAISE(ABORT, 'ticket inserts refused by the test'); END"


def json_lines(log: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(log entries, other lines): the others may only be the banner `up` prints on stdout."""
    entries, others = [], []
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
        else:
            others.append(line)
    return entries, others


def test_up_logs_json_lines_with_ids_and_masks_what_a_failure_carries(tmp_path: Path) -> None:
    desk = RunningDesk(tmp_path, smtp_port=0, env={"RESETDESK_LOGGING__FORMAT": "json"})
    desk.env.pop("RESETDESK_SMTP__HOST")  # emails become files
    desk.start()
    db = sqlite3.connect(tmp_path / "resetdesk.db")
    try:
        db.execute(REFUSE)
        event = request()
        serial = event["data"]["device"]["serial_number"]
        assert desk.post(event).status_code == 202
        wait_for("the refused insert to be logged",
                 lambda: "ticket inserts refused" in desk.log.read_text(encoding="utf-8"))
        db.execute("DROP TRIGGER refuse_tickets")
        assert desk.wait_processed(event["id"])["status"] == "done"
        [ticket] = desk.cli("tickets", "list", "--json")
        entries = wait_for("the acknowledgement email's log line", lambda: [
            e for e in json_lines(desk.log)[0] if e["logger"] == "consumers.notifications"])
    finally:
        db.close()
        desk.stop()

    entries, others = json_lines(desk.log)
    assert others and all(line.startswith(("ResetDesk is up", "  ")) for line in others), others
    for e in entries:
        assert {"ts", "level", "logger", "msg", "ticket_id", "message_id", "role", "pid"} <= set(e)
        assert e["role"] == "up"
    about = [e for e in entries if e["message_id"] == event["id"]]
    failed = [e for e in about if "exc" in e]
    assert failed and failed[0]["level"] == "ERROR"
    assert failed[0]["ticket_id"], "the refused insert names the ticket it tried to make"
    exc = failed[0]["exc"]
    assert "ticket inserts refused" in exc and "[parameters:" in exc
    assert "d***@example.com" in exc, "the email was in the parameters, masked"
    done = [e for e in about if e["logger"] == "consumers.request_handling" and "done" in e["msg"]]
    assert [e["ticket_id"] for e in done] == [ticket["id"]]
    mail = [e for e in entries if e["logger"] == "consumers.notifications"]
    assert mail and all(e["ticket_id"] == ticket["id"] and e["message_id"] for e in mail)
    text = desk.log.read_text(encoding="utf-8")
    for value in (EMAIL, PHONE, serial, serial[len("DS-7608NI-I2/8P"):], "pass-sample-human-check"):
        assert value not in text, f"{value!r} is in the log unmasked"
