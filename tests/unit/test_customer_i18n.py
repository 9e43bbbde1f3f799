"""The customer pages' catalogues and templates, without a server: both catalogues hold the same
keys with the same placeholders, every key a template or route names exists (and every key is
used), French is French, and every page renders in both languages with values escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from console import i18n, rendering

TEMPLATES = Path(rendering.HERE / "templates")
#: the customers' templates (the agents' pages, under agent/, are English only)
CUSTOMER_TEMPLATES = [p for p in TEMPLATES.rglob("*.html")
                      if "agent" not in p.relative_to(TEMPLATES).parts]
CONSOLE = Path(rendering.HERE)
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([\w.]+)["']""")
EVIL = '<script>alert("x")</script>'

#: where the two key answers post (both on every key page)
ANSWERS = {"answers": {"confirm": "/customer/key/confirm/c", "report": "/customer/key/report/r"}}
#: each page in each of its states, with everything its template needs
PAGES: list[tuple[str, dict[str, Any]]] = [
    ("key_question.html", {"action": "confirm", "state": "ask", "reference": EVIL, **ANSWERS}),
    ("key_question.html", {"action": "report", "state": "ask", "reference": "R-1", **ANSWERS}),
    ("key_question.html", {"action": "confirm", "state": "already", "reference": "R-1",
                           **ANSWERS}),
    ("key_question.html", {"action": "report", "state": "not_waiting", "reference": "R-1",
                           **ANSWERS}),
    ("key_answer.html", {"answer": "recorded", "worked": True, "reference": "R-1"}),
    ("key_answer.html", {"answer": "recorded", "worked": False, "reference": "R-1"}),
    ("key_answer.html", {"answer": "already-recorded", "worked": True, "reference": "R-1"}),
    ("key_answer.html", {"answer": "not-waiting", "worked": True, "reference": "R-1"}),
    ("key_view.html", {"state": "shown", "kind": "security_codes", "text": EVIL,
                       "until": datetime(2027, 1, 9, 18, tzinfo=UTC),
                       "time_zone": "America/Toronto", "reference": "R-1", **ANSWERS}),
    ("key_view.html", {"state": "shown", "kind": "reset_key", "text": "K", "until": "",
                       "reference": "R-1", **ANSWERS}),
    ("key_view.html", {"state": "expired", "reference": "R-1", **ANSWERS}),
    ("key_view.html", {"state": "not_waiting", "reference": "R-1", **ANSWERS}),
    ("link_refused.html", {}),
    ("rate_limited.html", {"seconds": 42}),
    *[("error.html", {"kind": kind}) for kind in
      ("not_found", "conflict", "too_large", "unavailable", "internal", "invalid")],
]


def callback_page(**changes: Any) -> dict[str, Any]:
    slot = {"start": "2026-10-19T09:00:00-07:00", "end": "x", "text": EVIL, "time": EVIL}
    page = {"reference": EVIL, "action": "move_callback", "can_book": True, "booking": slot,
            "next_day": "2026-10-20", "slots": [slot], "more_day": "2026-10-22", "zone": EVIL,
            "days": [{"day": "2026-10-19", "label": EVIL, "slots": [slot]}]}
    return {**page, **changes}


PAGES += [("callback.html", {"page": callback_page(), "message": None}),
          ("callback.html", {"page": callback_page(), "message": "done"}),
          ("callback.html", {"page": callback_page(), "message": "released"}),
          ("callback.html", {"page": callback_page(slots=[], days=[], booking=None),
                             "message": "no_free_slot"}),
          ("callback_release.html", {"page": callback_page(), "message": None}),
          ("callback.html", {"page": callback_page(can_book=False), "message": None})]


def request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/customer/x", "headers": [],
                    "query_string": b""})


def html(template: str, lang: str, **context: Any) -> str:
    return bytes(rendering.render(request(), template, lang, **context).body).decode()


def template_keys() -> dict[str, set[str]]:
    return {p.name: set(LITERAL_KEY.findall(p.read_text())) for p in CUSTOMER_TEMPLATES}


def test_both_catalogues_hold_the_same_keys_and_placeholders() -> None:
    en, fr = i18n.catalogue("en"), i18n.catalogue("fr")
    assert set(en) - set(fr) == set(), "missing in fr.toml"
    assert set(fr) - set(en) == set(), "missing in en.toml"
    for key in en:
        assert i18n.placeholders(en[key]) == i18n.placeholders(fr[key]), key
        assert en[key].strip() and fr[key].strip(), key


def test_french_is_french_not_a_copy_of_the_english() -> None:
    en, fr = i18n.catalogue("en"), i18n.catalogue("fr")
    assert [k for k in en if en[k] == fr[k]] == []
    assert "redémarrez" in fr["key.warning"] and "déjà" in fr["key.already"]


def test_every_key_a_template_names_is_in_every_catalogue() -> None:
    used = template_keys()
    assert all(keys for name, keys in used.items() if name != "base.html"), "a page with no text"
    for lang in i18n.LANGUAGES:
        missing = {name: keys - set(i18n.catalogue(lang)) for name, keys in used.items()}
        assert {n: k for n, k in missing.items() if k} == {}, lang


def test_templates_name_keys_literally_so_the_check_above_sees_them() -> None:
    for path in CUSTOMER_TEMPLATES:
        calls = re.findall(r"\bt\(([^)]*)\)", path.read_text())
        assert all(LITERAL_KEY.match(f"t({c})") for c in calls), (path.name, calls)


def test_every_catalogue_key_is_used_by_a_template_or_a_route() -> None:
    sources = "".join(p.read_text() for p in CUSTOMER_TEMPLATES) + \
        "".join(p.read_text() for p in CONSOLE.rglob("*.py"))
    unused = [k for k in i18n.catalogue("en") if f'"{k}"' not in sources]
    assert unused == []


def test_lookup_fills_placeholders_and_falls_back_to_english() -> None:
    assert i18n.t("fr", "rate_limited.retry", seconds=5) == "Réessayez dans 5 s."
    assert i18n.t("de", "callback.done") == "Done." == i18n.t("en", "callback.done")
    assert i18n.t("fr-CA", "callback.done") == "C'est fait."
    with pytest.raises(KeyError):
        i18n.t("en", "no.such.key")


@pytest.mark.parametrize(("header", "lang"), [
    ("fr-CA,fr;q=0.9,en;q=0.8", "fr"), ("de,en;q=0.5,fr;q=0.7", "fr"), ("en-GB,fr", "en"),
    ("", "en"), (None, "en"), ("fr;q=oops,en;q=0.1", "en"), ("*", "en")])
def test_a_page_without_a_ticket_speaks_the_browsers_language(header: str | None,
                                                              lang: str) -> None:
    assert i18n.negotiate(header) == lang


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize(("template", "context"), PAGES,
                         ids=[f"{t}-{i}" for i, (t, _) in enumerate(PAGES)])
def test_every_page_renders_in_both_languages_with_values_escaped(
        template: str, context: dict[str, Any], lang: str) -> None:
    page = html(template, lang, **context)
    assert page.startswith("<!doctype html>") and f'<html lang="{lang}">' in page
    assert '<meta charset="utf-8">' in page and 'name="viewport"' in page
    assert '<link rel="stylesheet" href="/static/console.css">' in page
    title = re.search(r"<title>(.+?)</title>", page)
    assert title and title.group(1) in i18n.catalogue(lang).values()
    assert "<script>" not in page
    if EVIL in str(context):
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_an_unknown_language_renders_in_english() -> None:
    page = html("link_refused.html", '"><script>')
    assert '<html lang="en">' in page and i18n.t("en", "link_refused.text") in page
