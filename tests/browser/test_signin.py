"""Signing in and out in a real browser, and the pages' assets coming from the desk alone."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.browser.conftest import AGENTS, Console

SESSION_COOKIE = "rd_session"


def sign_in(page: Any, login: str, password: str | None = None) -> None:
    page.goto("/signin")
    page.fill("#login", login)
    page.fill("#password", password or AGENTS[login][0])
    page.click("button[type=submit]")


def test_anonymous_home_leads_to_sign_in_and_a_wrong_password_says_so(page: Any) -> None:
    page.goto("/")
    assert urlsplit(page.url).path == "/signin"
    assert page.text_content("h1") == "ResetDesk: sign in"
    sign_in(page, "ada", "not-her-password")
    assert page.text_content("[role=alert]") == "Wrong login or password."
    assert page.input_value("#login") == "ada"  # kept; the password is not
    assert page.input_value("#password") == ""
    page.goto("/queue")
    assert urlsplit(page.url).path == "/signin"


def test_sign_in_shows_the_queue_with_who_is_signed_in_then_sign_out(page: Any,
                                                                      console: Console) -> None:
    sign_in(page, "sam")
    assert urlsplit(page.url).path == "/queue"
    assert page.text_content("header .login") == "sam"
    assert page.text_content("header .role") == "(supervisor)"
    assert page.locator("header nav a").all_text_contents() == ["Queue", "Escalating soon", "Ops"]
    assert page.text_content("h1") == "Queue"
    [cookie] = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # out of reach of scripts
    page.click("text=Sign out")
    assert urlsplit(page.url).path == "/signin"
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    page.goto("/")
    assert urlsplit(page.url).path == "/signin"


def test_htmx_sends_the_csrf_token_a_bare_script_request_does_not(page: Any) -> None:
    sign_in(page, "ada")
    status = page.evaluate("fetch('/signout', {method: 'POST'}).then(r => r.status)")
    assert status == 403
    page.goto("/queue")
    assert urlsplit(page.url).path == "/queue"  # still signed in
    # as any htmx request from a page: hx-headers on <body> adds X-CSRF-Token
    page.evaluate("htmx.ajax('POST', '/signout', {source: 'body', swap: 'none'})")
    page.goto("/queue")
    assert urlsplit(page.url).path == "/signin"


def test_docs_render_swagger_ui_from_the_desk_alone(page: Any, console: Console,
                                                    requested: list[str]) -> None:
    page.goto("/docs")
    title = page.wait_for_selector(".swagger-ui .info .title")
    assert title is not None and (title.text_content() or "").startswith("ResetDesk")
    page.wait_for_selector(".swagger-ui .opblock-tag")  # the operations, from /openapi.json
    origins = {f"{u.scheme}://{u.netloc}" for u in map(urlsplit, requested)
               if u.scheme not in ("data", "blob")}
    assert origins == {console.base}, requested
    assert any(u.endswith("/openapi.json") for u in requested)
    assert any("/static/vendor/swagger-ui-bundle-" in u for u in requested)
