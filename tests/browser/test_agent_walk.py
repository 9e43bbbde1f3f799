"""The agent's walk through the console in a real browser against ``resetdesk up``: sign in, find
the ticket in the queue, claim it, reply with a canned reply, book a callback, record the call,
issue a remote-session code, the customer accepts it on the /session pages (in a browser context
of their own), two changes proposed (the customer confirms one and declines the other on their
live page), the session ends (the customer's page shows how to close the remote tool), and the
ticket is closed with every step on its timeline.

What the walk relies on: the queue's search (``#queue-search``, one ``tr[data-ref]`` per ticket
found, its reference a link to the ticket); the ticket page ``/tickets/{reference}`` with its
plain moves as ``button[data-move=<trigger>]``, ``.assignee`` ("claimed by ada"),
``.state[data-state]``, ``.outcome``, the reply form (``select#canned`` fills ``#reply-message``;
``button[name=then][value=stay]`` sends it) and the timeline ``ol.timeline`` of
``li.entry[data-kind]`` (a move's trigger spelt with spaces); the resolution panels it includes
(the steps in tests/browser/resolution_steps.py).
"""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Console
from tests.browser.resolution_steps import (
    END_REASON,
    STEPS,
    book_and_record_a_call,
    remote_session,
    submitted,
)
from tests.browser.test_signin import sign_in


def test_an_agent_takes_a_ticket_from_the_queue_to_closed(page: Any, console: Console) -> None:
    reference = submitted(console)
    sign_in(page, "ada")
    page.wait_for_url("**/queue")
    page.fill("#queue-search", reference)
    with page.expect_navigation():
        page.press("#queue-search", "Enter")
    rows = page.locator("tr[data-ref]")
    assert rows.count() == 1 and rows.first.get_attribute("data-ref") == reference
    assert page.text_content(f"tr[data-ref='{reference}'] td.assignee") == "unassigned"
    with page.expect_navigation():
        page.click(f"tr[data-ref='{reference}'] td.ref a")
    assert page.url.endswith(f"/tickets/{reference}")

    page.click("button[data-move=claim]")
    page.wait_for_selector(".assignee:has-text('claimed by ada')")
    page.select_option("#canned", index=1)  # the first canned reply, in the ticket's language
    page.wait_for_function("() => document.querySelector('#reply-message').value.length > 20")
    page.click("button[name=then][value=stay]")
    page.wait_for_selector("li.entry.move:has-text('reply (queued)')")

    book_and_record_a_call(page)
    remote_session(page, console.base, reference, on_pages=True)

    page.wait_for_selector(".state[data-state=closed]")
    assert page.text_content(".outcome") == "resolved"
    entries = [(e.get_attribute("data-kind"), " ".join((e.text_content() or "").split()))
               for e in page.query_selector_all("ol.timeline li.entry")]
    text = "\n".join(t for _, t in entries)
    for move in ("claim (queued)", "reply (queued)", "request callback (queued → awaiting-callback)",
                 "callback result (awaiting-callback → queued)", "offer remote session (queued)",
                 "start remote session (queued → remote-session)",
                 "end remote session (remote-session → closed), outcome resolved"):
        assert move in text, (move, text)
    assert "callback attempt: answered" in text and "callback booked for" in text
    for kind, change, decision in STEPS:
        assert f"remote-session step proposed ({kind}) {change}" in text, text
        assert f"remote-session step {decision} ({kind}) {change}" in text, text
    assert END_REASON in text
    assert {"move", "email", "booking", "call", "step", "note"} <= {k for k, _ in entries}
