"""Screenshots of the customer's key, callback and refused-link pages for docs/reset-keys.md
and docs/callbacks.md, in English and French, at a desktop (1280) and a phone (390) width.

Starts ``resetdesk up`` on a fresh data directory (the desk's own calendar, so the picker
shows business days), sends a key and books a callback over the agents' API for one invented
customer per language, and photographs the pages the mailed links open in Debian's Chromium:

    uv run python -m tests.browser.customer_screenshots [--out docs/screenshots/customer]

Files: ``{key-question,key-answered,callback-picker,callback-release,link-refused}-{en,fr}-
{desktop,phone}.png``. Slot dates follow the day it is run; nothing else changes between runs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Console
from tests.browser.customer_steps import (
    DESKTOP,
    PHONE,
    agent,
    book_callback,
    customer_page,
    mailed_link,
    queued_ticket,
    send_key,
)
from tests.e2e.running import ROOT, RunningDesk

AGENT, PASSWORD = "ada", "ada-password-123"
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        desk = RunningDesk(Path(tmp), smtp_port=0)
        desk.env.pop("RESETDESK_SMTP__HOST", None)  # emails become files in the data dir
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
            with agent(console) as client:
                keyed = queued_ticket(console, client, lang)
                called = queued_ticket(console, client, lang)
                send_key(client, keyed)
                book_callback(client, called)
            key = mailed_link(console, keyed["reference"], "key/get")
            move = mailed_link(console, called["reference"], "callback")
            page = customer_page(browser, console, lang)
            pages = {"key-question": key, "callback-picker": move,
                     "callback-release": f"{move}?release=ask",
                     "link-refused": "/customer/key/confirm/this-link-was-cut"}
            for name, url in pages.items():
                page.goto(url)
                shots += _both_widths(page, out, f"{name}-{lang}")
            page.goto(key)
            page.locator("form.choice button").first.click()  # "it worked": one POST
            page.wait_for_selector("p.notice.done")
            shots += _both_widths(page, out, f"key-answered-{lang}")
            page.context.close()
        browser.close()
    return shots


def _both_widths(page: Any, out: Path, stem: str) -> list[Path]:
    """The loaded page at each width (re-laid out, not reloaded: a POST's answer stays)."""
    shots = []
    for width, viewport in WIDTHS.items():
        page.set_viewport_size(viewport)
        path = out / f"{stem}-{width}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        shots.append(path)
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "customer")
    for path in take(parser.parse_args().out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
