"""The ticket page in a real browser against ``resetdesk up``: two agents race to claim (one
wins, the other reads who won), each sees the other on the ticket and typing, and a canned
reply is picked, previewed and sent with the keyboard alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import AGENTS, Console
from tests.e2e.requests import request

BOB = ("bob", "bob-password-123")
#: the heartbeat runs every 10 s: a change shows within one beat and a bit
BEAT_MS = 15_000


@pytest.fixture(scope="module")
def bob(console: Console) -> str:
    console.add_agent(*BOB)
    return BOB[0]


def submit(console: Console) -> str:
    """A request through the producer API, verified and queued by the desk; its reference."""
    event = request()
    assert console.desk.post(event).status_code == 202
    status = console.desk.wait_processed(event["id"])
    assert status["ticket"]["state"] == "queued", status
    return str(status["reference"])


def signed_in(browser: Any, console: Console, login: str, password: str) -> Iterator[Any]:
    context = browser.new_context(base_url=console.base)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/signin")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/queue")
    yield page
    context.close()


@pytest.fixture
def ada_page(browser: Any, console: Console) -> Iterator[Any]:
    yield from signed_in(browser, console, "ada", AGENTS["ada"][0])


@pytest.fixture
def bob_page(browser: Any, console: Console, bob: str) -> Iterator[Any]:
    yield from signed_in(browser, console, *BOB)


def test_two_agents_race_to_claim_and_see_each_other(console: Console, ada_page: Any,
                                                     bob_page: Any) -> None:
    ref = submit(console)
    ada_page.goto(f"/tickets/{ref}")
    bob_page.goto(f"/tickets/{ref}")
    # each page's first heartbeat answers with whoever else is here
    bob_page.wait_for_selector(".presence .also:has-text('ada')", timeout=BEAT_MS)
    ada_page.wait_for_selector(".presence .also:has-text('bob')", timeout=BEAT_MS)
    # both see Claim on version 1; ada clicks first
    ada_page.click("button[data-move=claim]")
    ada_page.wait_for_selector(".assignee:has-text('claimed by ada')")
    bob_page.click("button[data-move=claim]")
    alert = bob_page.wait_for_selector("#alert")
    assert "Already claimed by ada." in alert.text_content()
    bob_page.click("#alert >> text=Reload the ticket")
    assert urlsplit(bob_page.url).path == f"/tickets/{ref}"
    assert bob_page.text_content(".assignee") == "claimed by ada"
    assert bob_page.locator("button[data-move=claim]").count() == 0
    # ada writes a reply: bob's page says so at its next heartbeat
    ada_page.fill("#reply-message", "Hello, I am looking at your NVR now.")
    ada_page.type("#reply-message", " More soon.")
    bob_page.wait_for_selector(".presence .also:has-text('ada (typing…)')", timeout=BEAT_MS)


def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has the focus: reachable by keyboard, in tab order."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} not reached with Tab")


def test_a_canned_reply_is_picked_previewed_and_sent_with_the_keyboard(
        browser: Any, console: Console) -> None:
    ref = submit(console)
    context = browser.new_context(base_url=console.base)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/signin")  # the login field has the focus (autofocus), once the page is in
        page.wait_for_function("() => document.activeElement && document.activeElement.id === 'login'")
        page.keyboard.type("sam")
        page.keyboard.press("Tab")
        page.keyboard.type(AGENTS["sam"][0])
        page.keyboard.press("Enter")
        page.wait_for_url("**/queue")
        page.goto(f"/tickets/{ref}")
        tab_to(page, "button[data-move=claim]")
        page.keyboard.press("Enter")
        page.wait_for_selector(".assignee:has-text('claimed by sam')")
        tab_to(page, "#canned")
        page.keyboard.press("ArrowDown")  # the first canned reply, in the ticket's language
        page.wait_for_function(
            "() => document.querySelector('#reply-message').value.startsWith("
            "'Thank you for your request about the DS-7608NI-I2/8P')")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "reply-message"
        page.keyboard.press("Control+End")
        page.keyboard.type(" Sam")
        tab_to(page, "#preview-button")
        page.keyboard.press("Enter")
        letter = page.wait_for_selector("#reply-preview pre.letter")
        assert letter.text_content().endswith("with the next step. Sam")
        tab_to(page, "button[name=then][value=stay]")
        page.keyboard.press("Enter")
        page.wait_for_selector("li.entry.move:has-text('reply (queued)')")
        email = page.wait_for_selector("li.entry.email:has-text('email reply (en)')")
        assert email.text_content().strip().endswith("with the next step. Sam")
    finally:
        context.close()
