"""The remote-session pages' templates and the terms' HTML, without a server: every page renders
in both languages with the viewport, the stylesheet and escaped values; the ended page gives the
close-the-tool steps; the terms carry every clause of the procedure and cannot inject markup."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request

from console import assets, i18n, rendering
from console.terms_html import terms_html
from consumers.notifications import TEMPLATE_DIR
from workflow.adapters.queries.customer_session import CustomerSession
from workflow.adapters.session_store import load_terms
from workflow.service.session_ports import StepRecord

EVIL = '<script>alert("x")</script>'
AT = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
STEPS = [StepRecord(1, 1, "equipment", EVIL, "confirmed", AT, AT),
         StepRecord(2, 1, "network", "Forward TCP 8000", "declined", AT, AT),
         StepRecord(3, 1, "network", "Open UDP 37020", "pending", AT)]
RUNNING = CustomerSession(EVIL, "en", None, STEPS)
LIVE = {"view": RUNNING, "paused": False, "digest": "abc", "csrf": "c", "poll": 2,
        "answered": None}
PAGES: list[tuple[str, dict[str, Any]]] = [
    ("session_entry.html", {"problem": None, "reference": "", "choice": None}),
    ("session_entry.html", {"problem": "refused", "reference": EVIL, "choice": "fr"}),
    ("session_entry.html", {"problem": "used", "reference": "", "choice": None}),
    ("session_terms.html", {"terms": terms_html(load_terms("en").text), "version": "v",
                            "consent": "t", "changed": True}),
    ("session_live.html", LIVE),
    ("session_live.html", {**LIVE, "paused": True, "answered": 2}),
    ("session_status.html", LIVE),
    ("session_end.html", {"csrf": "c"}),
    *[("session_ended.html", {"view": CustomerSession(EVIL, "en", reason)})
      for reason in ("customer", "inactivity", "agent-resolved")],
    ("session_expired.html", {}),
]


def html(template: str, lang: str, **context: Any) -> str:
    request = Request({"type": "http", "method": "GET", "path": "/session", "headers": [],
                       "query_string": b""})
    answer = rendering.render(request, f"customer/{template}", lang, assets=assets,
                              others=[o for o in i18n.LANGUAGES if o != lang], here="/session",
                              **context)
    return bytes(answer.body).decode()


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize(("template", "context"), PAGES,
                         ids=[f"{t}-{i}" for i, (t, _) in enumerate(PAGES)])
def test_every_session_page_renders_in_both_languages_with_values_escaped(
        template: str, context: dict[str, Any], lang: str) -> None:
    page = html(template, lang, **context)
    assert "<script>alert" not in page
    if template == "session_status.html":
        assert page.startswith('<div id="session-status"')
        return
    assert page.startswith("<!doctype html>") and f'<html lang="{lang}">' in page
    assert 'name="viewport"' in page and f'href="{assets.STYLESHEET}"' in page
    assert re.search(r"<title>.+ · .+</title>", page)
    other = "fr" if lang == "en" else "en"
    assert f'hreflang="{other}"' in page or f'name="lang" value="{other}"' in page


def test_the_red_arrow_has_a_name_and_each_answer_says_what_follows() -> None:
    entry = html("session_entry.html", "fr", problem=None, reference="", choice=None)
    assert 'class="visually-hidden">Continuer</span>' in entry and 'aria-hidden="true"' in entry
    live = html("session_live.html", "en", **LIVE)
    assert i18n.t("en", "session.live.declined_network") in live
    assert i18n.t("en", "session.live.decline_hint") in live  # the pending network change
    assert 'hx-trigger="every 2s"' in live and 'id="poll-pause"' in live
    paused = html("session_status.html", "en", **{**LIVE, "paused": True})
    assert "hx-trigger" not in paused and 'id="poll-resume"' in paused


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_ended_page_gives_the_close_the_tool_steps(lang: str) -> None:
    page = html("session_ended.html", lang, view=CustomerSession("R-1", lang, "inactivity"))
    steps = re.findall(r"<li>(.+?)</li>", page)
    assert steps == [i18n.t(lang, f"session.ended.step_{s}").replace("'", "&#39;")
                     for s in ("caret", "icon", "right", "exit")]
    assert i18n.t(lang, "session.ended.inactivity").replace("'", "&#39;") in page


#: every clause of the procedure, as each translation words it
CLAUSES = {
    "en": ["authorised support agent establishes a remote session with a computer at your "
           "location for the sole purpose of helping with the issue you reported",
           "You allow the agent to make changes to your equipment",
           "Network changes may be needed", "confirms each one with you",
           "managed network", "contact your internet provider or IT manager",
           "you agree to those changes and you will not hold the company responsible for any "
           "interruption of network service to your other devices",
           "tell the agent", "we email you the recommended changes",
           "it is your responsibility to make sure the remote-support software has closed the "
           "session", "Entering the code the agent gave you and clicking Agree",
           "red-and-white icon with the letter H"],
    "fr": ["agent d'assistance autorisé établit une session à distance avec un ordinateur "
           "situé chez vous dans le seul but de vous aider",
           "Vous autorisez l'agent à modifier votre matériel",
           "modifications du réseau peuvent être nécessaires", "confirme chacune avec vous",
           "réseau géré", "fournisseur d'accès Internet ou votre responsable informatique",
           "vous ne tiendrez pas l'entreprise responsable d'une interruption du service réseau "
           "de vos autres appareils", "dites-le à l'agent",
           "nous vous envoyons par courriel les modifications recommandées",
           "il vous revient de vous assurer que le logiciel d'assistance à distance a bien "
           "fermé la session", "En saisissant le code que l'agent vous a donné et en cliquant",
           "icône rouge et blanche marquée de la lettre"],
}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_terms_carry_every_clause_of_the_procedure(lang: str) -> None:
    text = re.sub(r"\*+", "", " ".join(load_terms(lang).text.split()))
    missing = [clause for clause in CLAUSES[lang] if clause not in text]
    assert missing == []


def test_the_terms_html_escapes_everything_but_its_own_few_tags() -> None:
    shown = str(terms_html(f"# Title {EVIL}\n\nA **bold** and *it*.\n\n1. one\n   two\n2. {EVIL}"))
    assert shown.startswith("<h2>Title &lt;script&gt;") and "<script>" not in shown
    assert "<p>A <strong>bold</strong> and <em>it</em>.</p>" in shown
    assert "<ol><li>one two</li><li>&lt;script&gt;" in shown


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["Click the ^ symbol at the right of the task bar", "red-and-white icon with the "
            "letter H", "Right-click it", "Choose Exit", "your responsibility"]),
    ("fr", ["symbole ^ à droite de la barre des tâches", "icône rouge et blanche marquée de la "
            "lettre H", "bouton droit", "Choisissez Quitter (Exit)", "Il vous revient"])])
def test_the_session_ended_email_gives_the_same_steps(lang: str, words: list[str]) -> None:
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    for resolved in (0, 1):
        text = " ".join(env.get_template(f"session_ended.{lang}.txt").render(
            reference="RD-1", resolved=resolved, requester_name="Dana").split())
        assert [w for w in words if w not in text] == [], text
