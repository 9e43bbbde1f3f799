"""The remote-session pages over HTTP (no browser): the form posts run the same commands as the
JSON API; a refused code is one page whatever the reason; the session token lives in an
HttpOnly, SameSite=Strict cookie scoped to /session and every change carries its CSRF token;
a bad token is a page saying what to do next; each way a session ends leads to the page with
the close-the-tool steps.

On SQLite only: the pages add one read to the JSON API's commands, whose races and counters
tests/integration/test_customer_session_api.py and test_remote_sessions.py prove on both
databases (this keeps the pages' CI cost small)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from console import i18n
from schedulers.housekeeping import SESSIONS
from tests.fake_bus import MovableClock
from tests.integration.test_customer_session_api import offered, session_client
from tests.integration.test_remote_sessions import emails
from workflow.adapters.db import Database, open_database
from workflow.service.housekeeping_commands import ExpireIdleSessions

HTML = {"Accept": "text/html"}


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = open_database(sqlite_url)
    yield database
    database.dispose()


def text(key: str, lang: str = "en", **params: str) -> str:
    return i18n.t(lang, key, **params).replace("'", "&#39;")


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, (name, page)
    return found.group(1)


def agreed(client: TestClient, reference: str, code: str) -> None:
    """Reference and code, then Agree: the live page opens."""
    terms = client.post("/session", data={"reference": reference, "code": code}, headers=HTML)
    assert terms.status_code == 200, terms.text
    r = client.post("/session/agree", data={"consent": hidden(terms.text, "consent"),
                                            "version": hidden(terms.text, "version")},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/session/live", r.text
    cookie = r.headers["set-cookie"]
    assert "rd_rsession=" in cookie and "HttpOnly" in cookie and "Path=/session" in cookie
    assert "SameSite=strict" in cookie
    live = client.get("/session/live")
    assert live.status_code == 200 and 'id="session-status"' in live.text


def test_a_french_customer_agrees_answers_two_changes_and_ends_the_session(db: Database) -> None:
    client = session_client(db, MovableClock())
    tid, ref, code, alice = offered(db, client, language="fr")
    entry = client.get("/session", headers={"Accept-Language": "en-US"})
    assert entry.status_code == 200 and text("session.entry.how") in entry.text
    assert "script-src 'self'" in entry.headers["content-security-policy"]
    assert 'name="lang"' not in entry.text  # nothing chosen: the terms follow the ticket
    terms = client.post("/session", data={"reference": ref.lower(), "code": code.lower()},
                        headers={"Accept-Language": "en-US"})
    assert '<html lang="fr">' in terms.text and "Conditions de l&#39;assistance" in terms.text
    chosen = client.get("/session?lang=en")
    assert 'name="lang" value="en"' in chosen.text and chosen.cookies.get("rd_lang") == "en"
    client.cookies.clear()
    agreed(client, ref, code)
    steps = {}
    for kind, change in (("equipment", "Reset the recorder"), ("network", "Open TCP 443")):
        r = client.post(f"/api/v1/tickets/{tid}/session/steps",
                        json={"kind": kind, "description": change}, headers=alice)
        steps[kind] = r.json()["id"]
    live = client.get("/session/live")
    assert "Open TCP 443" in live.text and text("session.live.decline_hint", "fr") in live.text
    csrf = hidden(live.text, "csrf_token")
    seen = re.search(r"seen=(\w+)", live.text)
    assert seen and client.get(f"/session/status?seen={seen.group(1)}",
                               headers={"HX-Request": "true"}).status_code == 204
    refused = client.post(f"/session/steps/{steps['network']}", data={"decision": "declined"})
    assert refused.status_code == 403  # no CSRF token
    for kind, decision in (("equipment", "confirmed"), ("network", "declined")):
        r = client.post(f"/session/steps/{steps[kind]}", headers={"HX-Request": "true"},
                        data={"decision": decision, "csrf_token": csrf})
        assert r.status_code == 200 and 'id="session-status"' in r.text
    assert text("session.live.declined_network", "fr") in r.text
    assert text("session.live.confirmed", "fr") in r.text
    assert [m for m in emails(db, tid) if m["template"] == "network_changes"]
    confirm = client.get("/session/end")
    assert text("session.end.question", "fr") in confirm.text
    ended = client.post("/session/end", data={"csrf_token": csrf})
    assert ended.url.path == "/session/ended"
    for key in ("session.ended.customer", "session.ended.step_caret", "session.ended.step_icon",
                "session.ended.step_right", "session.ended.step_exit", "session.ended.duty"):
        assert text(key, "fr") in ended.text, key
    assert client.get(f"/api/v1/tickets/{tid}", headers=alice).json()["state"] == "queued"
    assert [m["template"] for m in emails(db, tid)][-1] == "session_ended"


def test_a_wrong_an_expired_and_a_locked_code_get_the_same_page(db: Database) -> None:
    clock = MovableClock()
    client = session_client(db, clock)
    tid, ref, code, alice = offered(db, client)
    pages = {}

    def attempt(label: str, typed: str, n: int) -> None:
        r = session_client(db, clock, addr=f"192.0.2.{n}").post(
            "/session", data={"reference": ref, "code": typed})
        pages[label] = (r.status_code, r.content)

    attempt("wrong", "ABCDE-FGHJK", 1)
    clock.advance(minutes=16)
    attempt("expired", code, 2)
    fresh = client.post(f"/api/v1/tickets/{tid}/offer_remote_session", json={}, headers=alice)
    guesser = session_client(db, clock, addr="198.51.100.7")
    for _ in range(5):
        guesser.post("/session", data={"reference": ref, "code": "ABCDE-FGHJK"})
    attempt("locked", fresh.json()["code"], 3)
    assert len(set(pages.values())) == 1, pages
    status, content = pages["wrong"]
    assert status == 403 and text("session.entry.refused").encode() in content


def test_a_tampered_or_missing_session_says_to_ask_for_a_new_code(db: Database) -> None:
    client = session_client(db, MovableClock())
    assert client.get("/session/live", follow_redirects=False).headers["location"] == "/session"
    client.cookies.set("rd_rsession", "eyJ0.forged", path="/session")
    page = client.get("/session/live", headers={"Accept-Language": "fr-CA,fr"})
    assert page.status_code == 403 and text("session.expired.next", "fr") in page.text
    late = client.post("/session/agree", data={"consent": "x.y", "version": "1"})
    assert late.status_code == 403 and text("session.expired.next") in late.text
    cross = client.post("/session", data={"reference": "RD", "code": "X"}, headers={
        **HTML, "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403 and "<html" in cross.text


def test_the_agent_or_the_time_out_ending_the_session_shows_the_close_the_tool_steps(
        db: Database) -> None:
    clock = MovableClock()
    client = session_client(db, clock)
    tid, ref, code, alice = offered(db, client)
    agreed(client, ref, code)
    client.post(f"/api/v1/tickets/{tid}/end_remote_session",
                json={"resolved": True, "reason": "done"}, headers=alice)
    poll = client.get("/session/status", headers={"HX-Request": "true"})
    assert poll.headers["hx-redirect"] == "/session/ended"
    ended = client.get("/session/live")
    assert ended.url.path == "/session/ended" and text("session.ended.agent") in ended.text

    idle = session_client(db, clock, addr="192.0.2.77")
    _, ref2, code2, _ = offered(db, idle)
    agreed(idle, ref2, code2)
    clock.advance(minutes=31)
    assert idle.app.state.deps.handle(ExpireIdleSessions(actor=SESSIONS,  # type: ignore[attr-defined]
                                                         idle=timedelta(minutes=30))) == 1
    page = idle.get("/session/ended")
    assert text("session.ended.inactivity") in page.text
    assert text("session.ended.step_exit") in page.text and text("session.ended.duty") in page.text


def test_an_open_updating_live_page_keeps_the_session_from_idling_but_a_paused_one_does_not(
        db: Database) -> None:
    clock = MovableClock()
    client = session_client(db, clock, addr="192.0.2.78")
    _, ref, code, _ = offered(db, client)
    agreed(client, ref, code)
    expire = ExpireIdleSessions(actor=SESSIONS, idle=timedelta(minutes=30))
    deps = client.app.state.deps  # type: ignore[attr-defined]
    for _ in range(3):  # 3 x 20 min of watching the page: never 30 idle minutes
        clock.advance(minutes=20)
        assert client.get("/session/status", headers={"HX-Request": "true"}).status_code == 200
        assert deps.handle(expire) == 0
    clock.advance(minutes=20)
    client.get("/session/status", params={"paused": "true"}, headers={"HX-Request": "true"})
    clock.advance(minutes=11)
    assert deps.handle(expire) == 1  # a paused page is no activity
    assert text("session.ended.inactivity") in client.get("/session/ended").text
