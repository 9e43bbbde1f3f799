"""The resolution panels in a real browser, on their own page (``/tickets/{reference}/resolution``,
where the ticket page's include loads them from): book a callback, release it after confirming
with a reason, book again, record the call, then a remote session from the code to its end.
The full walk on the ticket page is tests/browser/test_agent_walk.py."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Console
from tests.browser.resolution_steps import (
    END_REASON,
    act,
    agent_api,
    book_and_record_a_call,
    panels,
    remote_session,
    submitted,
)
from tests.browser.test_signin import sign_in


def test_the_panels_take_a_ticket_from_callback_to_a_resolved_session(page: Any,
                                                                        console: Console) -> None:
    reference = submitted(console)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    # any refusal is a bug (the browser's /favicon.ico request included)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 else None)
    with agent_api(console, "ada") as api:
        assert api.post(f"/api/v1/tickets/{reference}/claim", json={}).status_code == 200
        sign_in(page, "ada")
        page.goto(f"/tickets/{reference}/resolution")
        panels(page)
        assert page.locator("#panel-call").count() == 0  # no call to record before a booking

        page.locator("#panel-callback input[name=slot]").first.check()
        act(page, "#panel-callback button:has-text('Book this time')")
        page.click("#panel-callback summary:has-text('Release this callback')")
        page.fill("#release-reason", "no agent on the phones then")
        page.click("#panel-callback button:has-text('Release the callback')")
        # the browser asks for the confirmation first: nothing was sent
        assert api.get(f"/api/v1/tickets/{reference}").json()["waiting_on"] is None
        page.check("#panel-callback input[name=confirm]")
        act(page, "#panel-callback button:has-text('Release the callback')")
        assert "The callback was given back" in (page.text_content("#panel-callback") or "")
        assert api.get(f"/api/v1/tickets/{reference}").json()["waiting_on"] == "callback-moved"

        book_and_record_a_call(page)
        remote_session(page, console.base, reference)
        ticket = api.get(f"/api/v1/tickets/{reference}").json()
    assert (ticket["state"], ticket["outcome"]) == ("closed", "resolved")
    moves = [(h["trigger"], h["actor"]) for h in ticket["history"]]
    assert moves[moves.index(("claim", "agent:ada")):] == [
        ("claim", "agent:ada"), ("request_callback", "agent:ada"),
        ("move_callback", "agent:ada"), ("book_callback", "agent:ada"),
        ("callback_result", "agent:ada"), ("offer_remote_session", "agent:ada"),
        ("start_remote_session", "customer"), ("end_remote_session", "agent:ada")]
    assert ticket["history"][-1]["reason"] == END_REASON
    assert errors == []  # no script error, nothing the Content-Security-Policy refused
