"""The README's first command, as a new user meets it: `resetdesk up`, then `publish --sample`."""

from __future__ import annotations

import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from tests.e2e.running import ROOT, RunningDesk
from tests.waiting import wait_for


def test_up_then_publish_sample_gives_a_queued_ticket_and_an_email_file(tmp_path: Path) -> None:
    desk = RunningDesk(tmp_path, smtp_port=0)
    desk.env.pop("RESETDESK_SMTP__HOST")  # the bare-laptop default: emails become files
    desk.start()
    try:
        banner = desk.log.read_text()
        assert "ResetDesk is up" in banner and "/events" in banner and "producer.token" in banner
        out = subprocess.run(
            [sys.executable, "-m", "resetdesk", "publish", "--sample", "--url", desk.base,
             "--data-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert '"reference": "RD-' in out.stdout
        [eml] = wait_for("the acknowledgement in the mail folder",
                         lambda: list((tmp_path / "mail").glob("*.eml")), 20, every=0.1)
        mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert "dana.whitfield@example.com" in str(mail["To"])
        listed = desk.cli("tickets", "list", "--json")
        assert [t["state"] for t in listed] == ["queued"]
    finally:
        desk.stop()


def test_up_runs_the_sla_scheduler_inside(tmp_path: Path) -> None:
    import sqlite3

    calendar = tmp_path / "calendar.toml"
    days = "\n".join(f'{d} = ["00:00-24:00"]' for d in ("mon", "tue", "wed", "thu", "fri", "sat",
                                                         "sun"))
    calendar.write_text(f'[calendar]\ntimezone = "UTC"\n[hours]\n{days}\n')
    desk = RunningDesk(tmp_path, smtp_port=0, env={
        "RESETDESK_SLA__CALENDAR_PATH": str(calendar), "RESETDESK_SLA__FIRST_REPLY_HOURS": "0.0005",
        "RESETDESK_SCHEDULER__INTERVAL_SECONDS": "0.3"})
    desk.env.pop("RESETDESK_SMTP__HOST")
    desk.start()
    try:
        from tests.e2e.requests import request

        event = request()
        assert desk.post(event).status_code == 202

        def sla_events() -> tuple[list[str], Any] | None:
            with sqlite3.connect(tmp_path / "resetdesk.db") as conn:
                kinds = [r[0] for r in conn.execute(
                    "SELECT type FROM outbox WHERE type LIKE 'com.resetdesk.sla.%' ORDER BY id")]
                ticket_id = conn.execute("SELECT id FROM ticket").fetchone()
            return (kinds, ticket_id) if len(kinds) >= 2 else None
        kinds, ticket_id = wait_for("an at-risk and a breached event", sla_events, 30, every=0.2)
        assert ticket_id is not None
        assert kinds == ["com.resetdesk.sla.at_risk.v1", "com.resetdesk.sla.breached.v1"]
    finally:
        desk.stop()
