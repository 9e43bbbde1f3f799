"""The screenshot of the dead-letter page for docs/dead-letters.md, over the invented letters
of ``tests.browser.dead_letter_samples`` (both transports, a permanent reason, an x-death
history), on a fresh ``resetdesk up`` with a supervisor made by the CLI:

    uv run python -m tests.browser.screenshots_deadletters [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Console
from tests.browser.dead_letter_samples import seed
from tests.e2e.running import ROOT, RunningDesk
from workflow.adapters.db import open_database

SUPERVISOR, PASSWORD = "sam", "sam-password-123"


def take(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        desk = RunningDesk(Path(tmp), smtp_port=0)
        desk.env.pop("RESETDESK_SMTP__HOST", None)
        desk.start(timeout=60)
        try:
            Console(desk, desk.base).add_agent(SUPERVISOR, PASSWORD, "supervisor")
            db = open_database(f"sqlite:///{Path(tmp) / 'resetdesk.db'}")
            try:
                keys = seed(db, datetime.now(UTC))
            finally:
                db.dispose()
            return _photograph(desk.base, out / "ops-dead-letters.png", keys["wrong"])
        finally:
            desk.stop()


def _photograph(base: str, path: Path, discard: str) -> Path:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=base, viewport={"width": 1440, "height": 900},
                                   color_scheme="light").new_page()
        page.goto("/signin")
        page.fill("#login", SUPERVISOR)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/queue")
        page.goto(f"/ops/dead-letters/bulk?action=discard&scope=selected&key={discard}")
        page.fill("#dl-reason", "sent under another brand's source; told the producer")
        page.click("form.confirm button[type=submit]")
        page.wait_for_selector(".summary")
        page.goto("/ops/dead-letters")
        for box in page.locator("#dead-letter-rows input[type=checkbox]").all()[2:4]:
            box.check()
        page.screenshot(path=str(path), full_page=True)
        browser.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    path = take(parser.parse_args().out)
    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
