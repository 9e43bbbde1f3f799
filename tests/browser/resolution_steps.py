"""The resolution part of the agent's walk, done in a browser on whichever page carries the
resolution panels (the ticket page ``/tickets/{reference}``, or the panels' own page
``/tickets/{reference}/resolution``), with the customer's side on the customer's /session pages
in a browser context of their own (tests/browser/session_customer.py), or through the customer
API as tests/dialogue.py does it.

What the steps rely on (console/templates/agent/panel_*.html): the panels load into
``#resolution[data-reference]``; a move that went through reloads the page; the code is in
``#session-code``; the live area ``#session-live`` carries ``data-phase`` and one
``tr[data-decision]`` per proposed step.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tests.browser.conftest import AGENTS, Console
from tests.browser.session_customer import CustomerSession
from tests.e2e.requests import request

#: the two changes proposed during the session, and the customer's answers
STEPS = (("equipment", "Reset the recorder to its factory settings", "confirmed"),
         ("network", "Forward TCP port 8000 on the router to the recorder", "declined"))
END_REASON = "password reset through SADP with the customer"


def submitted(console: Console, language: str = "en") -> str:
    """A valid request through the producer's HTTP intake; its reference once queued."""
    event = request(data__requester__language=language)
    r = console.desk.post(event)
    assert r.status_code == 202, r.text
    status = console.desk.wait_processed(event["id"])
    assert status["ticket"]["state"] == "queued", status
    return str(status["reference"])


@contextmanager
def agent_api(console: Console, login: str) -> Iterator[httpx.Client]:
    """The agents' JSON API as ``login`` (a bearer token: no cookie, no CSRF token)."""
    with httpx.Client(base_url=console.base, timeout=30) as client:
        token = client.post("/api/v1/auth/token",
                            json={"login": login, "password": AGENTS[login][0]})
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['token']}"
        yield client


def panels(page: Any) -> Any:
    """The loaded panels (the ticket page's include loads them after the page)."""
    return page.wait_for_selector("#resolution[data-reference]")


def act(page: Any, button: str) -> None:
    """Click a panel's submit button; the move reloads the page and the panels load again."""
    with page.expect_navigation():
        page.click(button)
    panels(page)


@dataclass
class Customer:
    """The customer's side of the session: only the reference and the code the agent read."""

    client: httpx.Client
    headers: dict[str, str]

    @classmethod
    def agrees(cls, base: str, reference: str, code: str) -> Customer:
        client = httpx.Client(base_url=base, timeout=30)
        verified = client.post("/api/v1/customer/session/verify",
                               json={"reference": reference, "code": code})
        assert verified.status_code == 200, verified.text
        terms = verified.json()
        agreed = client.post("/api/v1/customer/session/agree", json={
            "consent_token": terms["consent_token"], "terms_version": terms["terms"]["version"]})
        assert agreed.status_code == 200, agreed.text
        return cls(client, {"X-Session-Token": agreed.json()["session_token"]})

    def answer(self, decisions: dict[str, str]) -> None:
        """Answer each proposed step by its description."""
        steps = self.client.get("/api/v1/customer/session", headers=self.headers).json()["steps"]
        assert {s["description"] for s in steps} == set(decisions), steps
        for step in steps:
            r = self.client.post(f"/api/v1/customer/session/steps/{step['id']}",
                                 json={"decision": decisions[step["description"]]},
                                 headers=self.headers)
            assert r.status_code == 200, r.text


def book_and_record_a_call(page: Any) -> str:
    """Book the first free time in the slot picker, then record that the customer answered;
    returns the booked slot as the panel spelt it."""
    panels(page)
    first = page.locator("#panel-callback input[name=slot]").first
    first.check()
    act(page, "#panel-callback button:has-text('Book this time')")
    booked = page.text_content("#panel-callback .booked-slot") or ""
    assert re.search(r"\d\d:\d\d–\d\d:\d\d$", booked), booked
    page.check("#panel-call input[value=answered]")
    page.fill("#call-note", "reached on the phone; remote session next")
    act(page, "#panel-call button:has-text('Record the call')")
    assert page.locator("#panel-call").count() == 0  # answered: back in the queue
    return booked


def remote_session(page: Any, base: str, reference: str, *, on_pages: bool = False) -> None:
    """Issue a code (shown once), the customer agrees, two changes proposed and answered (one
    confirmed, one declined: the live area shows both), then the session ends resolved.
    ``on_pages``: the customer does it on the /session pages in a browser, else by the API."""
    page.click("#panel-session button:has-text('Issue a remote-session code')")
    code = (page.text_content("#session-code", timeout=15_000) or "").strip()
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code), code
    assert page.text_content(".code-once .code-reference") == reference
    assert page.text_content(".code-once .code-address") == f"{base}/session"
    assert "It will not be shown again." in (page.text_content(".code-once") or "")
    page.wait_for_selector("#session-live[data-phase=code]")

    if on_pages:
        at_home = CustomerSession.opens(page.context.browser, base)
        at_home.enter(reference, code)
        at_home.agree()
    else:
        customer = Customer.agrees(base, reference, code)
    # the live area notices the session started and the page is read again
    page.wait_for_selector("#session-live[data-phase=running]", timeout=20_000)
    panels(page)
    assert page.locator("#session-code").count() == 0  # shown once only
    assert "Consent: given" in (page.text_content("#session-live") or "")
    for kind, change, _ in STEPS:
        page.check(f"#panel-session input[name=kind][value={kind}]")
        page.fill("#step-description", change)
        page.click("#panel-session button:has-text('Propose this change')")
        page.wait_for_selector(f"#session-live tr[data-decision=pending]:has-text('{change}')")
    if on_pages:
        for _, change, decision in STEPS:
            at_home.answer(change, decision)
    else:
        customer.answer({change: decision for _, change, decision in STEPS})
    for _, change, decision in STEPS:  # polled into the live area
        page.wait_for_selector(f"#session-live tr[data-decision={decision}]:has-text('{change}')",
                               timeout=20_000)

    page.check("#panel-session input[name=resolved][value=yes]")
    page.fill("#end-reason", END_REASON)
    with page.expect_navigation():
        page.click("#panel-session button:has-text('End the session')")
    if on_pages:
        assert "Choose Exit." in at_home.sees_the_end("agent")
        at_home.close()
        return
    assert customer.client.get("/api/v1/customer/session",
                               headers=customer.headers).status_code == 409
    customer.client.close()
