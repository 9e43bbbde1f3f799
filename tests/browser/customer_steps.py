"""The customer's side of the browser tests: a ticket in the customer's language, the agent's
moves over the JSON API (a key sent, a callback booked), and the links exactly as the customer
gets them — read from the emails ``resetdesk up`` writes as files in its data directory.

Pages are opened in a context that bypasses the pages' Content-Security-Policy, only so that
axe-core can be injected (the pages themselves load no script).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import Console
from tests.browser.resolution_steps import agent_api
from tests.e2e.requests import request
from tests.waiting import wait_for
from workflow.service import links

CODES = "2024-05-01 8421 9930\n2024-05-02 1177 0452"
#: a phone and a desktop, the widths the pages are made for
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def customer_page(browser: Any, console: Console, language: str, *,
                  viewport: dict[str, int] | None = None) -> Any:
    """A page in a fresh context whose browser speaks ``language`` (``Accept-Language``)."""
    context = browser.new_context(base_url=console.base, bypass_csp=True,
                                  locale="fr-CA" if language == "fr" else "en-US",
                                  viewport=viewport or DESKTOP, color_scheme="light")
    context.set_default_timeout(15_000)
    return context.new_page()


def queued_ticket(console: Console, client: httpx.Client, language: str) -> dict[str, Any]:
    """A request in ``language`` through the producer's intake; the ticket once queued, as
    the agents' API shows it (with its history)."""
    event = request(data__requester__language=language)
    r = console.desk.post(event)
    assert r.status_code == 202, r.text
    status = console.desk.wait_processed(event["id"])
    assert status["ticket"]["state"] == "queued", status
    return ticket(client, str(status["reference"]))


def _mail_text(path: Path) -> str:
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    return "\n".join([str(mail["Subject"]), *(str(p.get_content()) for p in mail.walk()
                                              if p.get_content_maintype() == "text")])


def mails(console: Console, reference: str) -> list[str]:
    """The texts of every email written for ``reference`` so far."""
    return [t for t in map(_mail_text, sorted((console.desk.data_dir / "mail").glob("*.eml")))
            if reference in t]


def mailed_link(console: Console, reference: str, path: str, *, after: int = 0) -> str:
    """The first link to ``/customer/{path}/…`` in the emails for ``reference`` (from the
    ``after``-th email on), as the customer would click it."""
    pattern = re.compile(re.escape(console.base) + rf"/customer/{path}/[\w.\-]+")

    def found() -> str | None:
        for text in mails(console, reference)[after:]:
            if m := pattern.search(text):
                return m.group(0)
        return None
    return str(wait_for(f"an email for {reference} linking to /customer/{path}/", found, 30,
                        every=0.2))


@contextmanager
def agent(console: Console) -> Iterator[httpx.Client]:
    with agent_api(console, "ada") as client:
        yield client


def ticket(client: httpx.Client, reference: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/tickets/{reference}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def send_key(client: httpx.Client, found: dict[str, Any]) -> None:
    """The agent claims the ticket and sends security codes: the reset-key email follows."""
    for path, body in (("claim", {}), ("send_key", {"kind": "security_codes", "text": CODES})):
        r = client.post(f"/api/v1/tickets/{found['id']}/{path}", json=body)
        assert r.status_code == 200, r.text


def book_callback(client: httpx.Client, found: dict[str, Any]) -> None:
    """The agent books the next free callback time: the booking email carries the move link."""
    r = client.post(f"/api/v1/tickets/{found['id']}/request_callback", json={})
    assert r.status_code == 200, r.text


def signed(console: Console, ticket_id: str, action: str, expires_at: datetime) -> str:
    """A link token signed with the running desk's own key (to make an expired one)."""
    secret = console.desk.env.get("RESETDESK_SECRET_KEY") or \
        (console.desk.data_dir / "secret.key").read_text(encoding="utf-8").strip()
    return links.sign(secret.encode(), ticket_id, action, expires_at)
