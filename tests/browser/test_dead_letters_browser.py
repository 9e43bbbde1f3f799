"""The dead-letter page in a real browser, on the session's ``resetdesk up`` with dead letters of
both transports: an agent is turned away; a supervisor reads one letter (x-death, masked
payload), retries two ticked ones — the permanent one is held back as the confirmation warned —
then discards it with a reason, and the page shows who did what."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import AGENTS, Console
from tests.browser.dead_letter_samples import seed
from workflow.adapters.db import open_database

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def letters(console: Console) -> Iterator[dict[str, str]]:
    db = open_database(f"sqlite:///{console.desk.data_dir / 'resetdesk.db'}")
    try:
        yield seed(db, datetime.now(UTC))
    finally:
        db.dispose()


def sign_in(page: Any, login: str) -> None:
    page.goto("/signin")
    page.fill("#login", login)
    page.fill("#password", AGENTS[login][0])
    page.click("button[type=submit]")
    page.wait_for_url("**/queue")


def test_an_agent_may_not_open_the_dead_letters(page: Any, letters: dict[str, str]) -> None:
    sign_in(page, "ada")
    answer = page.goto("/ops/dead-letters")
    assert answer.status == 403
    expect(page.locator("main")).to_contain_text("only a supervisor")


def test_a_supervisor_retries_a_selection_then_discards_the_permanent_one(
        page: Any, letters: dict[str, str]) -> None:
    sign_in(page, "sam")
    page.goto("/ops/dead-letters")
    row = page.locator(f'tr[data-key="{letters["wrong"]}"]')
    expect(row).to_contain_text("permanent")
    expect(page.locator("main")).not_to_contain_text("Dana Whitfield")

    page.click(f'a[href="/ops/dead-letters/{letters["tired"]}"]')
    expect(page.locator("main")).to_contain_text("x-death history")
    expect(page.locator("pre.letter").first).to_contain_text("rejected")
    expect(page.locator("pre.payload")).to_contain_text("<masked>")
    page.go_back()

    page.check(f'input[value="{letters["wrong"]}"]')
    page.check(f'input[value="{letters["mail"]}"]')
    page.select_option("#bulk-action", "retry")
    page.click("#bulk-selected")
    expect(page.locator(".confirm-count")).to_contain_text("2 dead letters will be retried")
    expect(page.locator(".permanent-warning")).to_contain_text(
        "1 of them died for a permanent reason")
    page.fill("#dl-reason", "mail server fixed")
    page.click("form.confirm button[type=submit]")
    expect(page.locator(".summary")).to_have_text(
        "1 retried, 1 died for a permanent reason (wrong_source)")

    page.goto(f"/ops/dead-letters/{letters['wrong']}")
    page.click("button[value=discard]")
    expect(page.locator(".confirm-count")).to_contain_text("1 dead letter will be discarded")
    page.fill("#dl-reason", "sent under another brand's source")
    page.click("form.confirm button[type=submit]")
    expect(page.locator(".summary")).to_have_text("1 discarded")

    page.goto("/ops/dead-letters")
    expect(page.locator(f'tr[data-key="{letters["wrong"]}"]')).to_have_count(0)
    actions = page.locator(".dl-actions tbody tr")
    expect(actions.filter(has_text="agent:sam")).to_have_count(2)
    expect(actions.first).to_contain_text("sent under another brand's source")
    expect(actions.nth(1)).to_contain_text(letters["mail"])
