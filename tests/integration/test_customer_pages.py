"""The customer pages through the real app over a real database (SQLite): each page speaks the
ticket's language (or, with no ticket, the browser's), shows what was sent to the customer
escaped, and a browser gets errors as pages while a script keeps the JSON shape."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy.exc import OperationalError

from console import i18n
from console.app import create_app
from tests.fake_bus import MovableClock
from tests.integration.test_callbacks import FixedClock, pt, queued
from tests.integration.test_callbacks import web_client as callback_client
from tests.integration.test_rate_limits import client as limited_client
from tests.integration.test_reset_keys import T0, _claimed, _emails, _path
from tests.integration.test_reset_keys import web_client as key_client
from tests.web import SECRET, agent_headers
from workflow.adapters import links
from workflow.adapters.db import Database, open_database

EVIL = '<script>alert("x")</script> 4711-0815'
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    database = open_database(sqlite_url)
    yield database
    database.dispose()


def shown_text(lang: str, key: str) -> str:
    """The catalogue text as the page shows it (HTML-escaped: an apostrophe is ``&#39;``)."""
    return str(escape(i18n.t(lang, key)))


def lang_of(page: str) -> str:
    found = re.search(r'<html lang="(\w+)">', page)
    assert found, page[:200]
    return found.group(1)


def send_codes(client: TestClient, db: Database, tid: str, text: str) -> dict[str, Any]:
    r = client.post(f"/api/v1/tickets/{tid}/send_key", json={"kind": "security_codes",
                                                              "text": text},
                    headers=agent_headers(client, db, "alice"))
    assert r.status_code == 200, r.text
    context: dict[str, Any] = _emails(db, tid)[-1]["context"]
    return context


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_key_pages_speak_the_tickets_language_and_escape_the_key_text(
        sqlite_db: Database, lang: str) -> None:
    client = key_client(sqlite_db, FixedClock(T0))
    tid = _claimed(sqlite_db, lang)
    links_ = send_codes(client, sqlite_db, tid, EVIL)

    shown = client.get(_path(links_["key_url"]))
    assert shown.status_code == 200 and lang_of(shown.text) == lang
    assert "<script>" not in shown.text and "&lt;script&gt;" in shown.text
    assert i18n.t(lang, "key.codes") in shown.text
    assert shown_text(lang, "key.warning") in shown.text
    csp = shown.headers["content-security-policy"]
    assert "style-src 'self'" in csp and "script-src 'self';" in csp  # our files only (local-time.js)
    assert "unsafe-inline" not in csp and "<script>" not in shown.text

    question = client.get(_path(links_["confirm_url"]))
    assert question.status_code == 200 and lang_of(question.text) == lang
    posts = re.findall(r'<form method="post" action="(/customer/key/(\w+)/[^"]+)"',
                       question.text)
    assert [action for _, action in posts] == ["confirm", "report"]  # both answers, one page
    assert posts[0][0] == _path(links_["confirm_url"])
    assert shown_text(lang, "key.confirm_b") in question.text
    assert shown_text(lang, "key.report_b") in question.text
    done = client.post(_path(links_["confirm_url"]))
    assert done.status_code == 200 and lang_of(done.text) == lang
    assert i18n.t(lang, "key.confirmed") in done.text
    again = client.get(_path(links_["confirm_url"]))
    assert shown_text(lang, "key.already") in again.text


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_callback_page_speaks_the_tickets_language(sqlite_db: Database, lang: str) -> None:
    client = callback_client(sqlite_db, FixedClock(pt(19, 8)))
    token = links.sign(SECRET, queued(sqlite_db, pt(19, 7), lang), "request_callback",
                       pt(22, 8))
    page = client.get(f"/customer/callback/{token}")
    assert page.status_code == 200 and lang_of(page.text) == lang
    assert shown_text(lang, "callback.pick") in page.text
    slot = client.get(f"/customer/callback/{token}?format=json").json()["slots"][0]
    assert f'<input type="radio" name="slot" value="{slot["start"]}" required>' in page.text
    booked = client.post(f"/customer/callback/{token}", data={"slot": slot["start"]})
    assert booked.status_code == 200 and lang_of(booked.text) == lang
    assert shown_text(lang, "callback.done") in booked.text
    assert shown_text(lang, "callback.closed") in booked.text


@pytest.mark.parametrize(("accept_language", "lang"), [(None, "en"), ("fr-FR,fr;q=0.9", "fr")])
def test_a_refused_link_speaks_the_browsers_language_and_tells_nothing(
        sqlite_db: Database, accept_language: str | None, lang: str) -> None:
    headers = {**BROWSER, **({"Accept-Language": accept_language} if accept_language else {})}
    key = key_client(sqlite_db, FixedClock(T0))
    callback = callback_client(sqlite_db, FixedClock(pt(19, 8)))
    answers = [key.get("/customer/key/get/forged", headers=headers),
               key.post("/customer/key/confirm/forged", headers=headers),
               callback.get("/customer/callback/forged", headers=headers),
               callback.post("/customer/callback/forged", headers=headers)]
    assert {(r.status_code, r.text) for r in answers} == {(403, answers[0].text)}
    assert lang_of(answers[0].text) == lang
    assert shown_text(lang, "link_refused.text") in answers[0].text


def test_a_rate_limited_browser_gets_a_page_in_its_language(sqlite_db: Database) -> None:
    c = limited_client(sqlite_db, MovableClock(), customer_link_rate_per_minute=1)
    c.get("/customer/key/get/x")
    r = c.get("/customer/key/get/x", headers={**BROWSER, "Accept-Language": "fr"})
    assert r.status_code == 429 and r.headers["retry-after"].isdigit()
    assert lang_of(r.text) == "fr" and "Trop de demandes" in r.text
    assert f"Réessayez dans {r.headers['retry-after']} s." in r.text
    as_json = c.get("/customer/key/get/x", headers={"Accept": "application/json"})
    assert as_json.status_code == 429 and as_json.json()["error"] == "rate_limited"


def test_errors_on_customer_pages_are_pages_for_browsers_and_json_for_scripts(
        sqlite_db: Database) -> None:
    client = callback_client(sqlite_db, FixedClock(pt(19, 8)))
    token = links.sign(SECRET, queued(sqlite_db, pt(19, 7), "fr"), "request_callback",
                       pt(22, 8))
    fr = {**BROWSER, "Accept-Language": "fr"}
    bad_day = client.get(f"/customer/callback/{token}?day=someday", headers=fr)
    assert bad_day.status_code == 422 and bad_day.headers["content-type"].startswith("text/html")
    assert lang_of(bad_day.text) == "fr" and shown_text("fr", "error.invalid") in bad_day.text
    missing = client.get("/customer/nothing/here", headers=BROWSER)
    assert missing.status_code == 404 and i18n.t("en", "error.not_found") in missing.text
    script = client.get(f"/customer/callback/{token}?day=someday",
                        headers={"Accept": "application/json"})
    assert script.status_code == 422 and script.json()["error"] == "invalid_request"
    api = client.get("/api/v1/nothing", headers=BROWSER)  # not a customer page: JSON
    assert api.status_code == 404 and api.json()["error"] == "not_found"


def test_the_stylesheet_is_served(sqlite_db: Database) -> None:
    r = key_client(sqlite_db, FixedClock(T0)).get("/static/console.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    assert ".page" in r.text


def test_a_fault_or_an_outage_on_a_customer_page_is_a_page_with_the_same_status(
        sqlite_db: Database) -> None:
    faults = APIRouter(prefix="/customer/test")

    @faults.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug <b>")

    @faults.get("/down")
    def down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    deps = callback_client(sqlite_db, FixedClock(pt(19, 8))).app.state.deps  # type: ignore[attr-defined]
    with TestClient(create_app(deps, [faults]), raise_server_exceptions=False) as c:
        boom_page = c.get("/customer/test/boom", headers={**BROWSER, "Accept-Language": "fr"})
        down_page = c.get("/customer/test/down", headers=BROWSER)
        down_json = c.get("/customer/test/down")
    assert boom_page.status_code == 500 and lang_of(boom_page.text) == "fr"
    assert shown_text("fr", "error.internal") in boom_page.text and "a bug" not in boom_page.text
    assert down_page.status_code == 503 and down_page.headers["retry-after"] == "2"
    assert shown_text("en", "error.unavailable") in down_page.text
    assert down_json.status_code == 503 and down_json.json()["error"] == "unavailable"
