"""The ops overview in Chromium on data from real runs: ``resetdesk up`` (embedded: the queues
are rows) fed real requests over HTTP, and the production processes (``serve``, ``relay``,
``consume verification``, ``scheduler``) on RabbitMQ and PostgreSQL, whose queue figures come
from the management API. A supervisor sees the figures, the sparklines fill in from the
sampler's history, the poller can be paused and set; an agent is refused."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import processes
from tests.browser.accessibility import serious_violations
from tests.browser.conftest import Console
from tests.e2e.requests import request
from tests.processes import Desk, wait_answering, wait_for
from tests.smtp_sink import free_port
from workflow.adapters import accounts

amqp_users, desk = processes.amqp_users, processes.desk  # fixtures
SAM, ADA = ("sam", "sam-password-123"), ("ada", "ada-password-123")
SOURCE = "urn:test:ops-form"


def sign_in(page: Any, who: tuple[str, str]) -> None:
    page.goto("/signin")
    page.fill("#login", who[0])
    page.fill("#password", who[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/queue")


def number(page: Any, selector: str) -> int:
    return int(page.locator(selector).inner_text().replace(",", "").split()[0])


def check_overview(page: Any, opened: int, queue: str) -> None:
    """What a supervisor sees once ``opened`` tickets exist: counts, the queue's row with its
    sparkline (two samples or more), the four charts, and the poller's pause and interval."""
    page.locator("nav a[href='/ops']").click()
    page.wait_for_url("**/ops")
    assert number(page, "#ops-open") >= opened
    assert "ago" in page.locator("#ops-sla-last-run").inner_text()  # the leader's SLA tick
    row = page.locator(f"tr[data-queue='{queue}']")
    assert row.locator("td.depth").inner_text() != ""
    row.locator("svg.spark polyline").wait_for(state="attached", timeout=30_000)  # polled in
    for chart in ("throughput-24h", "throughput-7d", "time-in-state", "breaches-7d"):
        assert page.locator(f"#ops-{chart} svg rect.bar").count() > 0
    # the requests of this run, in the bars' titles (their tooltips)
    assert re.search(r": received [1-9]", page.locator("#ops-throughput-24h").inner_html())
    assert page.locator("body").get_attribute("data-polling") == "10"
    page.select_option("#ops-interval", "2")
    assert page.locator("#ops-poll-state").inner_text() == "live, every 2 s"
    before = page.locator("#ops-now").inner_text()
    wait_for("a refresh of the panel", lambda: page.locator("#ops-now").inner_text() != before,
             15, every=0.2)
    page.click("#ops-pause")
    assert page.locator("body").get_attribute("data-polling") == "paused"
    page.reload()  # the choice is kept
    assert page.locator("#ops-pause").inner_text() == "Resume"


def test_the_embedded_desk_on_the_ops_page(console: Console, browser: Any) -> None:
    for _ in range(3):
        event = request()
        assert console.desk.post(event).status_code == 202
        console.desk.wait_processed(event["id"])
    context = browser.new_context(base_url=console.base, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    try:
        agent = context.new_page()
        sign_in(agent, ADA)
        assert agent.locator("nav a[href='/ops']").count() == 0
        answer = agent.goto("/ops")
        assert answer.status == 403 and "for supervisors" in agent.content()
        context.clear_cookies()
        page = context.new_page()
        sign_in(page, SAM)
        check_overview(page, 3, "verification")
        assert "embedded mode" in page.locator(".ops-as-of").inner_text()
        verification = page.locator("tr[data-queue='verification']")
        assert verification.locator("td.consumers").inner_text() != "n/a"  # the workers
        assert page.locator("tr[data-queue='notifications']").count() == 1  # delivery rows
    finally:
        context.close()
    # axe-core is injected as a script, which the page's CSP refuses: a context that ignores it
    checking = browser.new_context(base_url=console.base, bypass_csp=True)
    try:
        page = checking.new_page()
        sign_in(page, SAM)
        page.goto("/ops")
        violations = serious_violations(page)
        assert violations == [], "\n".join(violations)
    finally:
        checking.close()


@pytest.fixture
def production(desk: Desk) -> Iterator[tuple[Desk, str, str]]:
    """serve, relay, one verification consumer and a scheduler on the shared RabbitMQ (a vhost
    of the test's own) and a PostgreSQL database of its own; the management API read as guest.
    Yields the desk, serve's base URL and a producer's token."""
    settings = {"RESETDESK_SECRET_KEY": secrets.token_urlsafe(48),
                "RESETDESK_SCHEDULER__OPS_SAMPLE_SECONDS": "1",
                "RESETDESK_AMQP__MANAGEMENT_URL": "http://guest:guest@127.0.0.1:15672"}
    token = accounts.add_producer(desk.db, "ops-form", SOURCE)  # as `producers add` does
    accounts.add_agent(desk.db, SAM[0], SAM[1], role="supervisor")
    port = free_port()
    serve = desk.start("serve", "serve", "--port", str(port), **settings)
    for name, args in (("relay", ("relay",)), ("verification", ("consume", "verification")),
                       ("scheduler", ("scheduler",))):
        desk.start(name, *args, **settings)
    base = f"http://127.0.0.1:{port}"
    wait_answering(serve, base)
    yield desk, base, token


def test_the_production_processes_on_the_ops_page(production: tuple[Desk, str, str],
                                                  browser: Any) -> None:
    desk, base, token = production
    events = [request(source=SOURCE) for _ in range(3)]
    for event in events:
        answer = httpx.post(f"{base}/events", json=event, timeout=30, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"})
        assert answer.status_code == 202, answer.text
    desk.wait_done({e["id"] for e in events})
    context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        sign_in(page, SAM)
        check_overview(page, 3, "verification")
        assert "figures from the management API" in page.locator(".ops-as-of").inner_text()
        row = page.locator("tr[data-queue='verification']")

        def consumer_counted() -> bool:  # the API's figures are refreshed every 5 s
            page.reload()
            return bool(row.locator("td.consumers").inner_text() == "1")
        wait_for("the management API to count the consumer", consumer_counted, 20, every=1)
        assert row.locator("td.oldest").inner_text() == "n/a"  # never peeked at
        assert re.fullmatch(r"\d+", row.locator("td.dead").inner_text())
    finally:
        context.close()
