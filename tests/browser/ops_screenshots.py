"""Screenshots of the ops overview for docs/console.md, from a real embedded run with a week of
invented history behind it.

Starts ``resetdesk up`` on a fresh data directory (a calendar that never closes, a sample a
second), makes a supervisor with the CLI, sends real requests over HTTP, and adds a week of
invented history (requests received, tickets closed, audit rows of each move, a few SLA
breaches) so the charts have something to show; waits for a few samples, then photographs
``/ops`` in Debian's Chromium:

    uv run python -m tests.browser.ops_screenshots [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Console
from tests.browser.screenshots import _shot
from tests.dialogue import always_open_calendar
from tests.e2e.requests import request
from tests.e2e.running import ROOT, RunningDesk
from workflow.adapters import migrate
from workflow.adapters.db import open_database
from workflow.adapters.tables import AUDIT, INBOX, SLA_ALARM

LOGIN, PASSWORD = "sue", "sue-password-123"
MOVES = (("submitted", "verified", 0.05), ("verified", "queued", 0.05),
         ("queued", "awaiting-callback", 90), ("awaiting-callback", "remote-session", 60),
         ("remote-session", "closed", 25))


def invented_history(now: datetime, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Seven days of requests (more in business hours), each walked through the moves."""
    inbox, audit, alarms = [], [], []
    for hour in range(24 * 7, 0, -1):
        start = now - timedelta(hours=hour)
        busy = 14 <= start.hour <= 23 and start.weekday() < 5
        for _ in range(rng.randrange(4, 12) if busy else rng.randrange(0, 3)):
            at = start + timedelta(minutes=rng.randrange(60))
            ticket = uuid.uuid4().hex
            inbox.append({"source": "urn:shots", "event_id": ticket, "type": "t",
                          "producer": "shots", "content_digest": "d", "payload": "{}",
                          "received_at": at, "status": "done", "attempts": 1,
                          "available_at": at, "reference": ticket[:16], "processed_at": at})
            for src, dst, minutes in MOVES:
                at += timedelta(minutes=minutes * rng.uniform(0.3, 1.7))
                if at >= now:
                    break
                audit.append({"ticket_id": ticket, "at": at, "actor": "system:shots",
                              "trigger": "move", "from_state": src, "to_state": dst})
            if rng.random() < 0.04:
                alarms.append({"ticket_id": ticket, "clock": "first_reply", "cycle": 1,
                               "level": "breached", "due_at": at, "raised_at": at})
    return {"inbox": inbox, "audit": audit, "alarms": alarms}


def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        desk = RunningDesk(data_dir, smtp_port=0, env={
            "RESETDESK_SLA__CALENDAR_PATH": str(always_open_calendar(data_dir)),
            "RESETDESK_SCHEDULER__OPS_SAMPLE_SECONDS": "1"})
        desk.env.pop("RESETDESK_SMTP__HOST")
        # the history goes in before the scheduler's first roll-up of those hours
        url = f"sqlite:///{data_dir / 'resetdesk.db'}"
        migrate.upgrade(url)
        rows = invented_history(datetime.now(UTC), random.Random(13))
        db = open_database(url)
        with db.writer.begin() as conn:
            conn.execute(insert(INBOX), rows["inbox"])
            conn.execute(insert(AUDIT), rows["audit"])
            conn.execute(insert(SLA_ALARM), rows["alarms"])
        db.dispose()
        desk.start(timeout=120)
        try:
            Console(desk, desk.base).add_agent(LOGIN, PASSWORD, "supervisor")
            for _ in range(12):
                assert desk.post(request()).status_code == 202
            time.sleep(8)  # a few samples for the sparklines
            return _photograph(desk.base, out)
        finally:
            desk.stop()


def _photograph(base: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=base, viewport={"width": 1440, "height": 900},
                                   color_scheme="light").new_page()
        page.goto("/signin")
        page.fill("#login", LOGIN)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/queue")
        page.goto("/ops")
        shot = _shot(page, out / "ops-overview.png")
        browser.close()
    return [shot]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    for path in take(parser.parse_args().out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
