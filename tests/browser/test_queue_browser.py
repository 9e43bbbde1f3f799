"""The queue in a real browser, against one ``resetdesk up`` for the module whose business hours
never close (so the SLA clocks run whenever the test does): the countdown ticks, the table
refreshes by itself when another agent changes a ticket (over the API) and stops when paused, and the keyboard
alone works the queue."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.dialogue import always_open_calendar
from tests.e2e.requests import request
from tests.e2e.running import RunningDesk
from tests.processes import PROCESS_START

AGENTS = {"ada": ("ada-password-123", "agent"), "bob": ("bob-password-123", "agent")}
TICKETS = 4
ROW = "#queue-rows > tr"
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[tuple[Console, list[str]]]:
    """The desk, its agents (made by the CLI) and the references of ``TICKETS`` queued tickets
    (sent through intake as a producer would, in this order: the first is due first)."""
    tmp = tmp_path_factory.mktemp("queue")
    running = RunningDesk(tmp, smtp_port=0,
                          env={"RESETDESK_SLA__CALENDAR_PATH": str(always_open_calendar(tmp))})
    running.env.pop("RESETDESK_SMTP__HOST", None)
    running.start(timeout=PROCESS_START)
    try:
        console = Console(running, running.base)
        for login, (password, role) in AGENTS.items():
            console.add_agent(login, password, role)
        events = [request() for _ in range(TICKETS)]
        for event in events:  # all sent first: the desk verifies them meanwhile
            assert running.post(event).status_code == 202
        references = []
        for event in events:
            status = running.wait_processed(event["id"])
            assert status["ticket"]["state"] == "queued", status
            references.append(str(status["reference"]))
        yield console, references
    finally:
        running.stop()


@pytest.fixture
def page(browser: Any, desk: tuple[Console, list[str]], requested: list[str]) -> Iterator[Any]:
    """A fresh browser context (no cookies, empty localStorage) on the module's desk."""
    context = browser.new_context(base_url=desk[0].base, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    context.on("request", lambda r: requested.append(r.url))
    yield context.new_page()
    context.close()


def sign_in(page: Any, login: str) -> None:
    page.goto("/signin")
    page.fill("#login", login)
    page.fill("#password", AGENTS[login][0])
    page.click("button[type=submit]")
    assert urlsplit(page.url).path == "/queue"


def seconds(text: str) -> int:
    """``1:02:03 left`` → 3723 (``overdue …`` counts below zero)."""
    found = re.search(r"(\d+):(\d\d):(\d\d)", text)
    assert found, text
    value = int(found[1]) * 3600 + int(found[2]) * 60 + int(found[3])
    return -value if "overdue" in text else value


def as_bob(console: Console, reference: str, move: str) -> None:
    """Another agent's move, over the JSON API (as their own console or script would)."""
    with httpx.Client(base_url=console.base, timeout=30) as api:
        token = api.post("/api/v1/auth/token",
                         json={"login": "bob", "password": AGENTS["bob"][0]}).json()["token"]
        moved = api.post(f"/api/v1/tickets/{reference}/{move}", json={},
                         headers={"Authorization": f"Bearer {token}"})
        assert moved.status_code == 200, moved.text


def cell(page: Any, reference: str, name: str) -> str:
    return str(page.text_content(f"tr[data-ref='{reference}'] td.{name}") or "").strip()


def test_the_countdown_ticks_while_business_hours_are_open(page: Any,
                                                           desk: tuple[Console, list[str]]) -> None:
    _, references = desk
    sign_in(page, "ada")
    sla = page.locator(f"tr[data-ref='{references[0]}'] td.sla")
    assert sla.get_attribute("data-ticking") == "true"
    first = seconds(sla.locator(".left").text_content() or "")
    assert 0 < first <= 3600  # a one-hour first reply, accepted moments ago
    assert (sla.locator(".status").text_content() or "").strip() in ("OK", "At risk")
    page.wait_for_function(
        "([sel, before]) => { const t = document.querySelector(sel).textContent;"
        " const m = t.match(/(\\d+):(\\d\\d):(\\d\\d)/);"
        " return m && (+m[1] * 3600 + +m[2] * 60 + +m[3]) < before; }",
        arg=[f"tr[data-ref='{references[0]}'] td.sla .left", first])
    assert seconds(sla.locator(".left").text_content() or "") < first


def test_polling_shows_another_agents_change_and_pause_stops_it(
        page: Any, desk: tuple[Console, list[str]], requested: list[str]) -> None:
    console, references = desk
    ref = references[1]
    sign_in(page, "ada")
    page.select_option("#queue-interval", "2")
    assert page.text_content("#queue-poll-state") == "live, every 2 s"
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    assert cell(page, ref, "assignee") == "unassigned"
    as_bob(console, ref, "claim")
    expect(page.locator(f"tr[data-ref='{ref}'] td.assignee")).to_have_text("bob")
    assert page.evaluate("window.sameDocument") is True

    page.click("#queue-pause")
    assert page.get_attribute("#queue-pause", "aria-pressed") == "true"
    assert page.text_content("#queue-poll-state") == "paused"
    # the choice is remembered (localStorage): after a reload the table still does not poll
    page.reload()
    assert page.text_content("#queue-pause") == "Resume"
    assert page.input_value("#queue-interval") == "2"
    polls = sum("/queue/rows" in u for u in requested)
    as_bob(console, ref, "release")
    page.wait_for_timeout(5_000)  # two and a half intervals
    assert sum("/queue/rows" in u for u in requested) == polls
    assert cell(page, ref, "assignee") == "bob"
    with page.expect_request(lambda r: "/queue/rows" in r.url):
        page.click("#queue-pause")
    expect(page.locator(f"tr[data-ref='{ref}'] td.assignee")).to_have_text("unassigned")


def test_the_keyboard_alone_works_the_queue(page: Any, desk: tuple[Console, list[str]]) -> None:
    _, references = desk
    sign_in(page, "ada")
    # polling paused (as an agent may leave it): what refreshes the table below is the claim
    page.evaluate("localStorage.setItem('resetdesk.queue.poll', '{\"interval\": 60, \"paused\": true}')")
    page.reload()
    assert page.text_content("#queue-poll-state") == "paused"
    rows = page.locator(ROW)
    first_ref = rows.nth(0).get_attribute("data-ref")
    second_ref = rows.nth(1).get_attribute("data-ref")
    page.keyboard.press("?")
    assert page.locator("#queue-help").is_visible()
    assert "claim the ticket" in (page.text_content("#queue-help") or "")
    page.keyboard.press("Escape")
    assert not page.locator("#queue-help").is_visible()

    page.keyboard.press("j")
    assert page.locator(f"{ROW}.current").get_attribute("data-ref") == first_ref
    page.keyboard.press("j")
    assert page.locator(f"{ROW}.current").get_attribute("data-ref") == second_ref
    page.keyboard.press("k")
    assert page.locator(f"{ROW}.current").get_attribute("data-ref") == first_ref

    # typing in the search box is typing, not shortcuts
    page.keyboard.press("/")
    page.keyboard.type("jjx")
    assert page.input_value("#queue-search") == "jjx"
    assert page.locator(f"{ROW}.current").get_attribute("data-ref") == first_ref
    page.fill("#queue-search", "")
    page.locator("#queue-search").blur()

    page.keyboard.press("x")
    assert page.is_checked(f"tr[data-ref='{first_ref}'] input[name=ticket]")
    assert page.text_content("#bulk-count") == "1"
    page.keyboard.press("x")
    assert page.text_content("#bulk-count") == "0"

    page.keyboard.press("a")
    expect(page.locator("#queue-status")).to_have_text(f"{first_ref}: claimed")
    # the answer makes the table refresh at once, polling or not
    expect(page.locator(f"tr[data-ref='{first_ref}'] td.assignee")).to_have_text("ada")
    assert page.locator(f"{ROW}.current").get_attribute("data-ref") == first_ref  # kept

    page.keyboard.press("r")
    page.wait_for_url(re.compile(rf"/tickets/{first_ref}#reply$"))
    page.goto("/queue")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/tickets/{first_ref}$"))
    assert first_ref in references
