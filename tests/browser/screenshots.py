"""Screenshots of the queue pages for docs/console.md, over lifelike sample data.

Starts ``resetdesk up`` on a fresh data directory with a calendar that never closes (so the
countdowns run whenever this is taken), makes an agent with the CLI, stores a few dozen
invented tickets (every SLA status, both languages, the three reset methods, some waiting on the
customer) and photographs the pages in Debian's Chromium:

    uv run python -m tests.browser.screenshots [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from schemas.sample import sample_request_data, unique_serial
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Console
from tests.dialogue import always_open_calendar
from tests.e2e.running import ROOT, RunningDesk
from workflow.adapters.db import open_database
from workflow.adapters.sla_book import build_book
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain import ticket_sla
from workflow.domain.states import State, WaitingOn
from workflow.domain.ticket import Ticket, new_reference, new_ticket_id
from workflow.domain.ticket_sla import SlaBook

AGENT, PASSWORD = "ada", "ada-password-123"
COLLEAGUES = ("ada", "bob", "chloe", "sam")
PEOPLE = [("Dana Whitfield", "en"), ("Marc Tremblay", "fr"), ("Priya Natarajan", "en"),
          ("Sophie Gagnon", "fr"), ("Luis Ortega", "en"), ("Émilie Roy", "fr"),
          ("Tom Becker", "en"), ("Aisha Khan", "en"), ("Julien Bouchard", "fr"),
          ("Grace Liu", "en"), ("Owen Park", "en"), ("Nadia Cote", "fr")]
METHODS = ("sadp", "sadp", "local_gui", "ivms4200")
WAITING = ((State.QUEUED, WaitingOn.KEY_CONFIRMATION), (State.QUEUED, WaitingOn.SESSION_CODE),
           (State.AWAITING_CALLBACK, WaitingOn.CALLBACK_MOVED))


def sample_tickets(book: SlaBook, now: datetime, rng: random.Random) -> list[Ticket]:
    """Unreplied tickets accepted over the last 75 minutes (ok, at risk, breached), replied
    ones on their resolution clock, some paused on the customer, two not verified yet."""
    kinds = ["fresh"] * 16 + ["replied"] * 6 + ["waiting"] * 5 + ["new"] * 2
    found = []
    for i, kind in enumerate(kinds):
        name, language = PEOPLE[i % len(PEOPLE)]
        email = f"{name.split()[0].lower()}.{i}@installer{i % 7}.example"
        data = sample_request_data(reset_method=rng.choice(METHODS), **{
            "requester__name": name, "requester__email": email, "requester__language": language,
            "requester__phone": f"+1503555{1000 + i:04d}", "device__serial_number": unique_serial()})
        minutes = rng.randrange(2, 75) if kind != "replied" else rng.randrange(120, 1800)
        accepted = now - timedelta(minutes=minutes)
        t = Ticket(id=new_ticket_id(), reference=new_reference(), state=State.QUEUED,
                   created_at=accepted, updated_at=accepted, accepted_at=accepted,
                   language=language, source="urn:resetdesk:local", event_id=new_ticket_id(),
                   serial_key="".join(data["device"]["serial_number"].split()).upper(),
                   data=data, version=1,
                   assignee=None if rng.random() < 0.45 else rng.choice(COLLEAGUES))
        if kind == "new":
            t.state, t.assignee, t.accepted_at = State.SUBMITTED, None, None
            found.append(t)
            continue
        clocks = ticket_sla.reconcile(None, state=State.QUEUED, waiting=False, replied=False,
                                      book=book, at=accepted, accepted_at=accepted)
        if kind == "replied":
            t.state = rng.choice((State.QUEUED, State.AWAITING_CALLBACK, State.REMOTE_SESSION))
            t.first_reply_at = accepted + timedelta(minutes=rng.randrange(10, 50))
            clocks = ticket_sla.reconcile(clocks, state=t.state, waiting=False, replied=True,
                                          book=book, at=t.first_reply_at, accepted_at=accepted)
        elif kind == "waiting":
            t.state, t.waiting_on = rng.choice(WAITING)
            clocks = ticket_sla.reconcile(clocks, state=t.state, waiting=True, replied=False,
                                          book=book, at=accepted + timedelta(minutes=1),
                                          accepted_at=accepted)
        t.sla = clocks
        found.append(t)
    return found


def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        calendar = always_open_calendar(data_dir)
        desk = RunningDesk(data_dir, smtp_port=0, env={"RESETDESK_SLA__CALENDAR_PATH": str(calendar)})
        desk.env.pop("RESETDESK_SMTP__HOST", None)
        desk.start(timeout=60)
        try:
            Console(desk, desk.base).add_agent(AGENT, PASSWORD)
            db = open_database(f"sqlite:///{data_dir / 'resetdesk.db'}")
            book = build_book(calendar)
            with SqlUnitOfWork(db, sla=book) as uow:
                for t in sample_tickets(book, datetime.now(UTC), random.Random(11)):
                    uow.tickets.add(t)
                uow.commit()
            db.dispose()
            return _photograph(desk.base, out)
        finally:
            desk.stop()


def _photograph(base: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=base, viewport={"width": 1440, "height": 900},
                                   color_scheme="light").new_page()
        page.goto("/signin")
        page.fill("#login", AGENT)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/queue")
        for key in ("j", "j", "x", "j", "j", "x", "j"):
            page.keyboard.press(key)
        shots.append(_shot(page, out / "queue.png"))
        page.goto("/queue/escalating?within=60")
        shots.append(_shot(page, out / "escalating-soon.png"))
        page.goto("/queue/bulk?action=claim&scope=filter&unassigned=1&language=fr")
        shots.append(_shot(page, out / "queue-bulk-confirm.png"))
        browser.close()
    return shots


def _shot(page: Any, path: Path) -> Path:
    page.wait_for_timeout(1200)  # a tick or so of the countdowns
    page.screenshot(path=str(path), full_page=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    for path in take(parser.parse_args().out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
