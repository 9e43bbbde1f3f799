"""The resolution-path dialogue between an agent and a customer, written once and played against
either mode: the embedded ``resetdesk up`` (tests/e2e/test_resolution_paths.py) or the production
processes on RabbitMQ + PostgreSQL (tests/integration/test_resolution_paths_amqp.py).

A mode implements :class:`DeskDriver` (how a request comes in, how a CLI command runs, where the
HTTP API answers and the mail lands, how consent rows are read); what the agent and the customer
do, and every assertion about it, lives here, so both modes prove the same behaviour."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import httpx

from tests.smtp_sink import SmtpSink
from tests.waiting import wait_for

AGENT, PASSWORD = "alice", "alice-password-123"
DEADLINE = 30.0
ALWAYS_OPEN = "\n".join(f'{d} = ["00:00-24:00"]'
                        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))

#: the subject line of each customer email, per language (consumers/templates/email/*.txt)
SUBJECTS = {
    "acknowledgement": {"en": "We have received your password reset request",
                        "fr": "Nous avons bien reçu votre demande de réinitialisation"},
    "callback_booked": {"en": "We will call you:", "fr": "Nous vous appellerons :"},
    "network_changes": {"en": "Network changes to pass on",
                        "fr": "Modifications du réseau à transmettre"},
    "session_ended": {"en": "Your remote support session has ended",
                      "fr": "Votre session d'assistance à distance est terminée"},
    "reset_key": {"en": "Your password reset codes", "fr": "Vos codes de réinitialisation"},
    "reexport_needed": {"en": "We need a new export from your device",
                        "fr": "Nous avons besoin d'un nouvel export de votre appareil"},
}
#: the first moves of every ticket, whichever way its request came in
INTAKE_TRAIL = [("submit", "submitted"), ("verify", "verified"), ("enqueue", "queued")]


class DeskDriver(Protocol):
    """What the dialogue needs from a running desk, whatever runs it."""

    @property
    def base(self) -> str:
        """The HTTP server's URL; the links in the emails point here."""

    @property
    def smtp(self) -> SmtpSink:
        """Where the desk's mail lands."""

    def submit(self, language: str) -> str:
        """Send one valid request the mode's way; the reference once its ticket is queued."""
    def cli(self, *args: str) -> str:
        """``resetdesk ARGS`` with the desk's settings; its stdout (fails on a non-zero exit)."""
    def consent(self, ticket_id: str) -> list[tuple[str, str]]:
        """The stored consent rows of a ticket: (terms_version, language)."""


def always_open_calendar(directory: Path) -> Path:
    """A 24x7 calendar in UTC, so SLA clocks run and callback slots are predictable."""
    calendar = directory / "calendar.toml"
    calendar.write_text(f'[calendar]\ntimezone = "UTC"\n[hours]\n{ALWAYS_OPEN}\n')
    return calendar


# --- mail -------------------------------------------------------------------------------------

def subject(mail: EmailMessage) -> str:
    """Unfolded: a long subject is folded right after ``Subject:`` and parses with a space."""
    return str(mail["Subject"]).strip()


def text(mail: EmailMessage) -> str:
    """The body with its line breaks (CRLF on the wire) and wrapping folded to single spaces."""
    return " ".join(str(mail.get_content()).split())


def mails(smtp: SmtpSink, reference: str) -> list[EmailMessage]:
    return [m for m in smtp.messages if subject(m).endswith(f"({reference})")]


def wait_mail(smtp: SmtpSink, reference: str, template: str, language: str) -> EmailMessage:
    """The one email of ``template`` for ``reference``, in ``language`` (subject and header)."""
    def found() -> list[EmailMessage]:
        return [m for m in mails(smtp, reference)
                if any(subject(m).startswith(s) for s in SUBJECTS[template].values())]
    matched: list[EmailMessage] = wait_for(f"the {template} email for {reference}", found,
                                           DEADLINE)
    [mail] = matched
    assert subject(mail).startswith(SUBJECTS[template][language]), subject(mail)
    assert mail["Content-Language"] == language
    return mail


def links_in(mail: EmailMessage, base: str) -> list[str]:
    return re.findall(re.escape(base) + r"/customer/\S+", str(mail.get_content()))


# --- HTTP -------------------------------------------------------------------------------------

def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else {}  # type: ignore[no-any-return]


def state(agent: httpx.Client, reference: str) -> dict[str, Any]:
    """The ticket read over the agents' API (quicker than a CLI process per look)."""
    return ok(agent.get(f"/api/v1/tickets/{reference}"))


@contextmanager
def sign_in(base: str) -> Iterator[httpx.Client]:
    """The agent's HTTP client, signed in over the JSON API."""
    with httpx.Client(base_url=base, timeout=30) as client:
        token = ok(client.post("/api/v1/auth/token", json={"login": AGENT, "password": PASSWORD}))
        client.headers["Authorization"] = f"Bearer {token['token']}"
        yield client


def show(desk: DeskDriver, reference: str) -> dict[str, Any]:
    """The ticket and its audit trail as ``resetdesk tickets show --json`` prints them."""
    return json.loads(desk.cli("tickets", "show", reference, "--json"))  # type: ignore[no-any-return]



# --- 1. breach → callback → remote session → resolved ----------------------------------------

def breach_callback_and_remote_session(desk: DeskDriver, language: str) -> dict[str, Any]:
    """The first reply breaches, a callback is booked and answered, the customer agrees to a
    remote session, declines a network change, and the session ends resolved. Returns the
    final ``tickets show`` for the mode's own checks (actors of the system's moves …)."""
    smtp = desk.smtp
    with sign_in(desk.base) as agent:
        reference = desk.submit(language)
        wait_mail(smtp, reference, "acknowledgement", language)

        # the first-reply clock runs out: the escalation books a phone callback
        wait_for("awaiting-callback after the breach",
                 lambda: state(agent, reference)["state"] == "awaiting-callback", DEADLINE)
        booked = wait_mail(smtp, reference, "callback_booked", language)
        slot_text = subject(booked).split(":", 1)[1].rsplit("(", 1)[0].strip()
        assert slot_text in text(booked)
        [move_url] = links_in(booked, desk.base)
        assert move_url.startswith(f"{desk.base}/customer/callback/")

        ticket_id = state(agent, reference)["id"]
        callback = ok(agent.get(f"/api/v1/tickets/{ticket_id}/callback"))
        assert callback["state"] == "awaiting-callback"
        assert callback["booking"]["status"] == "booked"
        start = datetime.fromisoformat(callback["booking"]["slot_start"])
        assert f"{start:%H:%M}" in slot_text.replace(" h ", ":")  # 24x7 calendar in UTC
        ok(agent.post(f"/api/v1/tickets/{ticket_id}/claim", json={}))
        answered = ok(agent.post(f"/api/v1/tickets/{ticket_id}/callback_result",
                                 json={"result": "answered", "note": "reached on the phone"}))
        assert answered["state"] == "queued"

        offer = agent.post(f"/api/v1/tickets/{ticket_id}/offer_remote_session", json={})
        assert offer.headers["Cache-Control"] == "no-store"
        code = ok(offer, 201)["code"]
        assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code)
        assert state(agent, reference)["waiting_on"] == "session-code"

        # the customer: no agent token, only the reference and the code read over the phone
        with httpx.Client(base_url=desk.base, timeout=30) as customer:
            verified = ok(customer.post("/api/v1/customer/session/verify",
                                        json={"reference": reference,
                                              "code": code.replace("-", " ").lower()}))
            terms = verified["terms"]
            assert terms["language"] == language and terms["text"].strip()
            agreed = ok(customer.post("/api/v1/customer/session/agree", json={
                "consent_token": verified["consent_token"], "terms_version": terms["version"]}))
            assert agreed["state"] == "remote-session" and agreed["reference"] == reference
            customer.headers["X-Session-Token"] = agreed["session_token"]
            assert state(agent, reference)["state"] == "remote-session"

            change = "Forward TCP port 8000 on the router to the recorder (192.168.1.64)"
            step = ok(agent.post(f"/api/v1/tickets/{ticket_id}/session/steps",
                                 json={"kind": "network", "description": change}), 201)
            shown = ok(customer.get("/api/v1/customer/session"))
            assert [(s["id"], s["decision"]) for s in shown["steps"]] == [(step["id"], "pending")]
            declined = ok(customer.post(f"/api/v1/customer/session/steps/{step['id']}",
                                        json={"decision": "declined"}))
            assert declined["decision"] == "declined"
            network = wait_mail(smtp, reference, "network_changes", language)
            assert change in text(network)

            ended = ok(agent.post(f"/api/v1/tickets/{ticket_id}/end_remote_session",
                                  json={"resolved": True, "reason": "reset through SADP"}))
            assert (ended["state"], ended["outcome"]) == ("closed", "resolved")
            assert customer.get("/api/v1/customer/session").status_code == 409

    wait_mail(smtp, reference, "session_ended", language)
    final = show(desk, reference)
    assert (final["state"], final["outcome"]) == ("closed", "resolved")
    trail = [(h["trigger"], h["to"]) for h in final["history"]]
    assert trail == [
        *INTAKE_TRAIL, ("request_callback", "awaiting-callback"), ("claim", "awaiting-callback"),
        ("callback_result", "queued"), ("offer_remote_session", "queued"),
        ("start_remote_session", "remote-session"), ("end_remote_session", "closed"),
    ], trail
    actors = {h["trigger"]: h["actor"] for h in final["history"]}
    assert {actors[t] for t in ("claim", "callback_result", "offer_remote_session",
                                "end_remote_session")} == {f"agent:{AGENT}"}, actors
    assert actors["start_remote_session"] == "customer"
    assert terms["version"] in next(h["reason"] for h in final["history"]
                                    if h["trigger"] == "start_remote_session")
    assert desk.consent(final["id"]) == [(terms["version"], language)]
    assert {m["Content-Language"] for m in mails(smtp, reference)} == {language}
    assert len(mails(smtp, reference)) == 4  # ack, callback, network changes, session ended
    return final


# --- 2. and 3. reset keys --------------------------------------------------------------------

def send_key_by_cli(desk: DeskDriver, reference: str) -> None:
    assert "claimed by alice" in desk.cli("tickets", "claim", reference, "--as", AGENT)
    out = desk.cli("tickets", "send-key", reference, "--as", AGENT, "--kind", "security_codes",
                   "--text", "2024-05-01 8421 9930\n2024-05-02 1177 0452")
    assert "waiting on key-confirmation" in out


def key_links(desk: DeskDriver, reference: str, language: str) -> dict[str, str]:
    """The reset-key email's links by purpose: get, confirm, report."""
    mail = wait_mail(desk.smtp, reference, "reset_key", language)
    found = {url.split("/customer/key/", 1)[1].split("/", 1)[0]: url
             for url in links_in(mail, desk.base)}
    assert set(found) == {"get", "confirm", "report"}, found
    assert "8421" not in text(mail)  # the codes travel behind the link, not in the mail
    return found


def confirm_key_once(desk: DeskDriver) -> dict[str, Any]:
    """A key sent from the CLI; its confirm link's GET (a mail scanner) changes nothing, its
    POST closes the ticket resolved, and a second POST changes nothing. Returns the ticket."""
    with sign_in(desk.base) as agent:
        reference = desk.submit("en")
        send_key_by_cli(desk, reference)
        links = key_links(desk, reference, "en")
        with httpx.Client(timeout=30) as customer:
            page = customer.get(links["get"])
            assert page.status_code == 200 and "8421 9930" in page.text
            before = state(agent, reference)
            opened = customer.get(links["confirm"])  # what a mail scanner does
            assert opened.status_code == 200
            assert '<form method="post" action="/customer/key/confirm/' in opened.text
            after = state(agent, reference)
            assert (after["state"], after["waiting_on"]) == ("queued", "key-confirmation")
            assert (after["version"], after["history"]) == (before["version"], before["history"])

            confirmed = customer.post(links["confirm"])
            assert confirmed.status_code == 200 and "now closed" in confirmed.text
            closed = state(agent, reference)
            assert (closed["state"], closed["outcome"]) == ("closed", "resolved")
            again = customer.post(links["confirm"])
            assert again.status_code == 200 and "already recorded" in again.text

    unchanged = show(desk, reference)
    assert (unchanged["version"], unchanged["history"]) == (closed["version"], closed["history"])
    assert [(h["trigger"], h["to"]) for h in unchanged["history"]][:3] == INTAKE_TRAIL
    trail = [(h["trigger"], h["to"], h["actor"]) for h in unchanged["history"]][3:]
    assert trail == [("claim", "queued", f"agent:{AGENT}"), ("send_key", "queued", f"agent:{AGENT}"),
                     ("resolve", "closed", "customer")], trail
    assert sorted(subject(m).split(" (")[0] for m in mails(desk.smtp, reference)) == sorted([
        SUBJECTS["acknowledgement"]["en"], SUBJECTS["reset_key"]["en"]])
    return unchanged


def report_key_failure(desk: DeskDriver) -> dict[str, Any]:
    """A key sent over the API that did not work: the report link's GET changes nothing, its
    POST puts the ticket back in the queue and the customer is asked for a new export."""
    reference = desk.submit("fr")
    with sign_in(desk.base) as agent:
        ticket_id = state(agent, reference)["id"]
        ok(agent.post(f"/api/v1/tickets/{ticket_id}/claim", json={}))
        sent = ok(agent.post(f"/api/v1/tickets/{ticket_id}/send_key", json={
            "kind": "security_codes", "text": "2024-05-01 8421 9930"}))
        assert (sent["state"], sent["waiting_on"]) == ("queued", "key-confirmation")
        links = key_links(desk, reference, "fr")
        with httpx.Client(timeout=30) as customer:
            assert customer.get(links["report"]).status_code == 200
            assert state(agent, reference)["waiting_on"] == "key-confirmation"
            reported = customer.post(links["report"])
            assert reported.status_code == 200 and 'lang="fr"' in reported.text
    ticket = show(desk, reference)
    assert (ticket["state"], ticket["waiting_on"]) == ("queued", None)
    last = ticket["history"][-1]
    assert (last["trigger"], last["actor"], last["to"]) == ("key_failed", "customer", "queued")
    reexport = wait_mail(desk.smtp, reference, "reexport_needed", "fr")
    assert "n'a pas fonctionné" in text(reexport)  # why: failed, not expired
    assert sorted(subject(m).split(" (")[0] for m in mails(desk.smtp, reference)) == sorted([
        SUBJECTS["acknowledgement"]["fr"], SUBJECTS["reset_key"]["fr"],
        SUBJECTS["reexport_needed"]["fr"]])
    return ticket
