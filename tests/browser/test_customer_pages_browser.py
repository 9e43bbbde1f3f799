"""The customer's key, callback and refused-link pages in Debian's Chromium, in English and in
French, against the real ``resetdesk up``: the links are the ones mailed to the customer, every
page passes axe-core with no serious or critical violation, and the picker works from the
keyboard alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from console import i18n
from tests.browser.accessibility import serious_violations
from tests.browser.conftest import Console
from tests.browser.customer_steps import (
    agent,
    book_callback,
    customer_page,
    mailed_link,
    mails,
    queued_ticket,
    send_key,
    signed,
    ticket,
)
from tests.waiting import wait_for

LANGUAGES = ["en", "fr"]


def resolves(history: list[dict[str, Any]]) -> int:
    return sum(1 for h in history if h["trigger"] == "resolve")


def accessible(page: Any, lang: str) -> None:
    assert page.get_attribute("html", "lang") == lang
    assert page.locator("meta[name=viewport]").count() == 1 and page.title()
    assert not serious_violations(page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_it_worked_closes_the_ticket_once_and_it_did_not_work_asks_for_a_new_export(
        browser: Any, console: Console, lang: str) -> None:
    t = partial(i18n.t, lang)
    page = customer_page(browser, console, lang)
    with agent(console) as client:
        worked, failed = queued_ticket(console, client, lang), queued_ticket(console, client, lang)
        send_key(client, worked)
        send_key(client, failed)

        # "it worked", from the page that shows the codes; a second tab holds the same question
        key = mailed_link(console, worked["reference"], "key/get")
        page.goto(key)
        assert "8421 9930" in (page.text_content("pre.secret") or "")
        accessible(page, lang)
        stale = page.context.new_page()
        stale.goto(mailed_link(console, worked["reference"], "key/confirm"))
        page.get_by_role("button", name=t("key.confirm_b"), exact=True).click()
        assert page.text_content("p.notice.done") == t("key.confirmed")
        accessible(page, lang)
        closed = ticket(client, worked["reference"])
        assert (closed["state"], closed["outcome"]) == ("closed", "resolved")
        assert resolves(closed["history"]) == 1

        stale.get_by_role("button", name=t("key.confirm_b"), exact=True).click()  # replayed
        assert stale.text_content("p.notice") == t("key.already")
        assert page.request.post(key.replace("/get/", "/confirm/")).status == 403  # not its link
        again = ticket(client, worked["reference"])
        assert (again["version"], resolves(again["history"])) == (closed["version"], 1)

        # "it did not work", from the question page the confirm link opens
        sent = len(mails(console, failed["reference"]))
        page.goto(mailed_link(console, failed["reference"], "key/confirm"))
        accessible(page, lang)
        page.get_by_role("button", name=t("key.report_b"), exact=True).click()
        assert page.text_content("p.notice.done") == t("key.reported")
        requeued = ticket(client, failed["reference"])
        assert (requeued["state"], requeued["waiting_on"]) == ("queued", None)
        assert requeued["history"][-1]["trigger"] == "key_failed"
        wait_for("the new-export email", lambda: len(mails(console, failed["reference"])) > sent)
    page.context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_picker_moves_a_booking_by_keyboard_and_giving_it_back_asks_first(
        browser: Any, console: Console, lang: str) -> None:
    t = partial(i18n.t, lang)
    page = customer_page(browser, console, lang)
    with agent(console) as client:
        found = queued_ticket(console, client, lang)
        book_callback(client, found)

        def booking() -> Any:  # read over the agents' API (not rate-limited per address)
            r = client.get(f"/api/v1/tickets/{found['id']}/callback")
            assert r.status_code == 200, r.text
            return r.json()["booking"]

        before = booking()
        page.goto(mailed_link(console, found["reference"], "callback"))
        accessible(page, lang)
        assert page.locator("fieldset.day legend h3").count() >= 1
        assert page.locator("form.picker button[type=submit]").count() == 1
        booked_text = page.text_content("p.booked")

        # keyboard only: into the slots, the next one, to the button, Enter
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.name") == "slot"
        assert page.evaluate("document.activeElement.matches(':focus-visible')")
        outline = page.evaluate(
            "getComputedStyle(document.activeElement.closest('label')).outlineStyle")
        assert outline != "none"  # the focused slot shows it
        page.keyboard.press("ArrowDown")
        picked = page.evaluate("document.activeElement.value")
        assert page.evaluate("document.activeElement.checked") and picked
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.type") == "submit"
        page.keyboard.press("Enter")
        assert page.text_content("p.notice.done") == t("callback.done")
        moved = booking()
        assert datetime.fromisoformat(moved["slot_start"]) == datetime.fromisoformat(picked)
        assert moved["slot_start"] != before["slot_start"]
        assert page.text_content("p.booked") != booked_text

        # giving the time back: a confirmation step that says what happens; "no" keeps the call
        page.get_by_role("link", name=t("callback.release")).click()
        assert page.text_content("h1") == t("callback.release_title")
        assert t("callback.release_cancel") in (page.text_content("ul.consequences") or "")
        accessible(page, lang)
        assert booking() == moved
        page.get_by_role("link", name=t("callback.release_no")).click()
        page.get_by_role("link", name=t("callback.release")).click()
        page.get_by_role("button", name=t("callback.release_yes")).click()
        assert page.text_content("p.notice.done") == t("callback.released")
        assert booking() is None
        assert ticket(client, found["reference"])["waiting_on"] == "callback-moved"
    page.context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_expired_tampered_or_misdirected_link_gets_the_plain_page(
        browser: Any, console: Console, lang: str) -> None:
    t = partial(i18n.t, lang)
    page = customer_page(browser, console, lang)
    past = datetime.now(UTC) - timedelta(minutes=1)
    later = datetime.now(UTC) + timedelta(days=1)
    real = signed(console, "no-such-ticket", "confirm_key", later)
    cases = {"expired": f"/customer/key/confirm/{signed(console, 'T', 'confirm_key', past)}",
             "tampered": f"/customer/key/get/{real[:-3]}AAA",
             "other action": f"/customer/callback/{real}",
             "unknown ticket": f"/customer/key/confirm/{real}"}
    pages = set()
    for case, url in cases.items():
        answer = page.goto(url)
        assert answer is not None and answer.status == 403, case
        assert page.text_content("h1") == t("link_refused.title"), case
        assert t("link_refused.newest") in (page.text_content("ol.next-steps") or ""), case
        pages.add(page.content())
    assert len(pages) == 1  # nothing tells a forged link from an expired one
    accessible(page, lang)
    page.context.close()
