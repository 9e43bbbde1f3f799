"""The customer pages' times in Debian's Chromium: the server's words (Pacific and the customer's
zone) stay, and static/local-time.js adds the same moment on the reader's device, under the
pages' own Content-Security-Policy (no inline script)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.requests import Request

from console import rendering

ORIGIN = "http://desk.test"
UNTIL = datetime(2027, 1, 9, 18, 0, tzinfo=UTC)  # 10:00 PST, 13:00 Toronto, 03:00 next day Tokyo


def _key_page(lang: str) -> bytes:
    request = Request({"type": "http", "method": "GET", "path": "/customer/key/get/x",
                       "headers": [], "query_string": b""})
    answer = rendering.render(request, "key_view.html", lang, state="shown", kind="security_codes",
                              text="12345", until=UNTIL, time_zone="America/Toronto",
                              reference="R-1", answers={"confirm": "/customer/key/confirm/c",
                                                        "report": "/customer/key/report/r"})
    return bytes(answer.body)


def _serve(page: Any, body: bytes) -> None:
    def handle(route: Any) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path.startswith("/static/"):
            file = rendering.HERE / "static" / path.removeprefix("/static/")
            kind = "text/javascript" if file.suffix == ".js" else "text/css"
            route.fulfill(status=200, body=file.read_bytes(), content_type=kind)
        else:
            route.fulfill(status=200, body=body, content_type="text/html; charset=utf-8",
                          headers=dict(rendering.HEADERS))
    page.route(f"{ORIGIN}/**", handle)


@pytest.mark.parametrize(("lang", "locale", "words"), [
    ("en", "en-US", ["Saturday, January 9, 2027 at 10:00 PST (13:00 your time, America/Toronto)",
                     "(on this device: Sunday, January 10", "03:00"]),
    ("fr", "fr-FR", ["samedi 9 janvier 2027 à 10 h 00 (heure du Pacifique ; 13 h 00 chez vous",
                     "(sur cet appareil : dimanche 10 janvier", "03:00"]),
])
def test_the_device_time_follows_each_server_time(browser: Any, lang: str, locale: str,
                                                   words: list[str]) -> None:
    context = browser.new_context(timezone_id="Asia/Tokyo", locale=locale)
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        _serve(page, _key_page(lang))
        page.goto(f"{ORIGIN}/customer/key/get/x")
        note = page.locator("time[data-local-time] + .device-time")
        note.wait_for()
        text = page.locator("main").inner_text()
        for expected in words:
            assert expected in text.replace("\u202f", " ").replace("\u00a0", " ")
        assert page.locator("time").get_attribute("datetime") == "2027-01-09T18:00:00Z"
        assert problems == []
    finally:
        context.close()
