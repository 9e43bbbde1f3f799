"""The README's first command, as a new user meets it: `resetdesk up`, then `publish --sample`."""

from __future__ import annotations

import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

from tests.e2e.running import ROOT, RunningDesk


def test_up_then_publish_sample_gives_a_queued_ticket_and_an_email_file(tmp_path: Path) -> None:
    desk = RunningDesk(tmp_path, smtp_port=0)
    desk.env.pop("RESETDESK_SMTP_HOST")  # the bare-laptop default: emails become files
    desk.start()
    try:
        banner = desk.log.read_text()
        assert "ResetDesk is up" in banner and "/events" in banner and "producer.token" in banner
        out = subprocess.run(
            [sys.executable, "-m", "resetdesk", "publish", "--sample", "--url", desk.base,
             "--data-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert '"reference": "RD-' in out.stdout
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not list((tmp_path / "mail").glob("*.eml")):
            time.sleep(0.1)
        [eml] = list((tmp_path / "mail").glob("*.eml"))
        mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert "dana.whitfield@example.com" in str(mail["To"])
        listed = desk.cli("tickets", "list", "--json")
        assert [t["state"] for t in listed] == ["queued"]
    finally:
        desk.stop()
