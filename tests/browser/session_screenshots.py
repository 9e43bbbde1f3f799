"""Screenshots of the customer's remote-session pages for docs/remote-session.md: the code form,
the terms, the live status (one change answered, one waiting) and the end, in English and in
French, at desktop (1280 px) and phone (390 px) width, in Debian's Chromium.

Starts ``resetdesk up`` on a fresh data directory, makes an agent with the CLI, submits one
request per language, and plays the agent through the JSON API and the customer in the browser:

    uv run python -m tests.browser.session_screenshots [--out docs/screenshots/customer]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Console
from tests.browser.resolution_steps import agent_api, submitted
from tests.browser.session_customer import POLLED_MS
from tests.e2e.running import ROOT, RunningDesk

AGENT, PASSWORD = "ada", "ada-password-123"
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
#: what the agent proposes, in each language
CHANGES = {"en": (("equipment", "Reset the recorder to its factory settings with SADP"),
                  ("network", "Forward TCP port 8000 on the router to the recorder")),
           "fr": (("equipment", "Réinitialiser l'enregistreur aux réglages d'usine avec SADP"),
                  ("network", "Rediriger le port TCP 8000 du routeur vers l'enregistreur"))}


def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        desk = RunningDesk(Path(tmp), smtp_port=0)
        desk.env.pop("RESETDESK_SMTP__HOST", None)
        desk.start(timeout=60)
        try:
            console = Console(desk, desk.base)
            console.add_agent(AGENT, PASSWORD)
            return _photograph(console, out)
        finally:
            desk.stop()


def _photograph(console: Console, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    shots: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=CHROMIUM_ARGS)
        for lang in ("en", "fr"):
            shots += _one_session(console, browser, lang, out)
        browser.close()
    return shots


def _one_session(console: Console, browser: Any, lang: str, out: Path) -> list[Path]:
    reference = submitted(console, lang)
    context = browser.new_context(base_url=console.base, color_scheme="light",
                                  locale="fr-CA" if lang == "fr" else "en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    shots: list[Path] = []

    def shoot(name: str) -> None:
        for width, (w, h) in WIDTHS.items():
            page.set_viewport_size({"width": w, "height": h})
            path = out / f"session-{name}-{lang}-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)

    with agent_api(console, AGENT) as api:
        tid = api.post(f"/api/v1/tickets/{reference}/claim", json={}).json()["id"]
        code = api.post(f"/api/v1/tickets/{tid}/offer_remote_session", json={}).json()["code"]
        page.goto("/session")
        page.fill("#reference", reference)
        page.fill("#code", code)
        page.focus("#code-submit")
        shoot("entry")
        with page.expect_navigation():
            page.click("#code-submit")
        shoot("terms")
        with page.expect_navigation():
            page.click("#agree")
        for kind, change in CHANGES[lang]:
            api.post(f"/api/v1/tickets/{tid}/session/steps",
                     json={"kind": kind, "description": change})
        first = CHANGES[lang][0][1]
        page.wait_for_selector(f"li.session-step[data-decision=pending]:has-text(\"{first}\")",
                               timeout=POLLED_MS)
        page.click(f"li.session-step:has-text(\"{first}\") button[value=confirmed]")
        page.wait_for_selector("li.session-step[data-decision=confirmed]")
        page.click("#poll-pause")  # steady pixels
        page.wait_for_selector("#session-status[data-paused='1']")
        shoot("live")
        with page.expect_navigation():
            page.click("#end-session")
        with page.expect_navigation():
            page.click("#end-yes")
        shoot("ended")
    context.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "customer")
    for path in take(parser.parse_args().out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
