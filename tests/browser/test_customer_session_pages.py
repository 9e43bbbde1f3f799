"""The customer's remote-session pages in Debian's Chromium against ``resetdesk up``, in English
and in French: the code typed with the keyboard and sent with the red arrow, the terms read and
agreed, one change confirmed and one declined (with updates paused and resumed between), the
session ended by the agent or by the customer (who is asked first), and the close-the-tool
steps. A wrong code and a locked-out one look the same. axe-core finds no serious or critical
violation on any of the pages. The agent acts through the JSON API here; the agent's own walk
through the console, with the customer on these pages, is tests/browser/test_agent_walk.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from console import i18n
from tests.browser.accessibility import serious_violations
from tests.browser.conftest import Console
from tests.browser.resolution_steps import STEPS, agent_api, submitted
from tests.browser.session_customer import POLLED_MS, CustomerSession


def offer(api: httpx.Client, reference: str) -> tuple[str, str]:
    """Claim the ticket and issue a code: the ticket's id (the session API's key) and the code."""
    claimed = api.post(f"/api/v1/tickets/{reference}/claim", json={})
    assert claimed.status_code == 200, claimed.text
    tid = str(claimed.json()["id"])
    r = api.post(f"/api/v1/tickets/{tid}/offer_remote_session", json={})
    assert r.status_code == 201, r.text
    return tid, str(r.json()["code"])


def propose(api: httpx.Client, tid: str, kind: str, change: str) -> None:
    r = api.post(f"/api/v1/tickets/{tid}/session/steps",
                 json={"kind": kind, "description": change})
    assert r.status_code == 201, r.text


def accessible(page: Any) -> None:
    assert not serious_violations(page), page.url


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_customer_agrees_answers_two_changes_and_sees_how_to_close_the_tool(
        browser: Any, console: Console, lang: str) -> None:
    reference = submitted(console, lang)
    with agent_api(console, "ada") as api:
        tid, code = offer(api, reference)
        customer = CustomerSession.opens(browser, console.base)  # an English browser
        page = customer.page
        if lang == "fr":
            with page.expect_navigation():
                page.click("#lang-fr")
        assert page.get_attribute("html", "lang") == lang
        assert i18n.t(lang, "session.entry.how") in page.inner_text("main")
        accessible(page)
        # keyboard only: the reference field has the focus, Tab to the code, Tab to the arrow
        page.wait_for_function("() => document.activeElement.id === 'reference'")
        page.keyboard.type(reference)
        page.keyboard.press("Tab")
        page.keyboard.type(code.lower())
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "code-submit"
        assert page.get_attribute("#code-submit", "aria-label") is None  # named by its text
        assert page.inner_text("#code-submit").strip() == i18n.t(lang, "session.entry.submit")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_attribute("html", "lang") == lang  # the ticket's language
        terms = page.inner_text("article.terms")
        assert ("not hold the company responsible" if lang == "en"
                else "ne tiendrez pas l'entreprise responsable") in terms
        accessible(page)
        customer.agree()
        accessible(page)

        (kind1, change1, decision1), (kind2, change2, decision2) = STEPS
        propose(api, tid, kind1, change1)
        customer.answer(change1, decision1)
        page.click("#poll-pause")
        page.wait_for_selector("#session-status[data-paused='1']:not([hx-trigger])")
        propose(api, tid, kind2, change2)
        page.click("#poll-resume")
        page.wait_for_selector("#session-status[data-paused='0']")
        page.wait_for_selector(f"li.session-step[data-decision=pending]:has-text('{change2}')",
                               timeout=POLLED_MS)
        accessible(page)  # with a change waiting for an answer
        customer.answer(change2, decision2)
        assert i18n.t(lang, "session.live.declined_network") in page.inner_text("main")

        if lang == "en":  # the agent ends it: the poll leads the customer to the end
            r = api.post(f"/api/v1/tickets/{tid}/end_remote_session",
                         json={"resolved": True, "reason": "reset through SADP"})
            assert r.status_code == 200, r.text
            ended = customer.sees_the_end("agent")
        else:  # the customer ends it, and is asked first
            with page.expect_navigation():
                page.click("#end-session")
            assert i18n.t(lang, "session.end.question") in page.inner_text("main")
            accessible(page)
            with page.expect_navigation():
                page.click("#end-yes")
            ended = customer.sees_the_end("customer")
            assert api.get(f"/api/v1/tickets/{tid}").json()["state"] == "queued"
    for key in ("step_caret", "step_icon", "step_right", "step_exit", "duty"):
        assert i18n.t(lang, f"session.ended.{key}") in ended
    accessible(page)
    customer.close()  # no script error, nothing the Content-Security-Policy refused


def test_a_wrong_code_and_a_locked_out_one_look_the_same(browser: Any,
                                                         console: Console) -> None:
    reference = submitted(console)
    with agent_api(console, "ada") as api:
        _, code = offer(api, reference)
    customer = CustomerSession.opens(browser, console.base)
    page = customer.page
    wrong = customer.enter(reference, "ABCDE-FGHJK")
    wrong_text, wrong_html = page.inner_text("main"), page.inner_html("main")
    accessible(page)
    # another address guesses until the reference is locked (the browser's stays usable)
    guesser = httpx.Client(base_url=console.base, timeout=30,
                           transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    for _ in range(5):
        guesser.post("/session", data={"reference": reference, "code": "ABCDE-FGHJK"})
    guesser.close()
    locked = customer.enter(reference, code)  # the right code, while locked out
    assert (locked.status, page.inner_text("main")) == (wrong.status, wrong_text) == (
        403, wrong_text)
    assert page.inner_html("main") == wrong_html
    assert i18n.t("en", "session.entry.refused") in wrong_text

    # a forged session cookie: the page says what to do next
    page.context.add_cookies([{"name": "rd_rsession", "value": "Zm9yZ2Vk.eA",
                               "url": f"{console.base}/session"}])
    page.goto("/session/live?lang=fr")
    assert i18n.t("fr", "session.expired.next") in page.inner_text("main")
    accessible(page)
    customer.close()
