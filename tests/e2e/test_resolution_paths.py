"""The resolution paths end to end on the embedded default: a real ``resetdesk up``, a real SMTP
server, an agent made with the CLI and signed in over the JSON API, a customer who only has what
the emails and the agent give them.

1. submitted → queued → first-reply breach → callback booked → answered → remote-session code →
   terms, Agree → a declined network change → session ended resolved → closed;
2. a reset key: the confirm link's GET changes nothing, its POST closes the ticket, once;
3. a reset key that did not work: the report link puts the ticket back in the queue.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.requests import request
from tests.e2e.running import ROOT, RunningDesk
from tests.smtp_sink import SmtpSink

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


# --- the running system ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def _start(tmp: Path, smtp: SmtpSink, **env: str) -> RunningDesk:
    calendar = tmp / "calendar.toml"
    calendar.write_text(f'[calendar]\ntimezone = "UTC"\n[hours]\n{ALWAYS_OPEN}\n')
    desk = RunningDesk(tmp, smtp_port=smtp.port, env={
        "RESETDESK_CALENDAR_PATH": str(calendar), "RESETDESK_SCHEDULER_INTERVAL_SECONDS": "0.3",
        **env})
    desk.env["RESETDESK_PUBLIC_URL"] = desk.base  # emails carry links back to this desk
    desk.start()
    try:
        add = subprocess.run([sys.executable, "-m", "resetdesk", "agents", "add", AGENT,
                              "--password-stdin"], input=PASSWORD + "\n", cwd=ROOT,
                             env={**desk.env, "RESETDESK_DATA_DIR": str(tmp)},
                             capture_output=True, text=True, timeout=60)
        assert add.returncode == 0, add.stderr
    except BaseException:
        desk.stop()
        raise
    return desk


@pytest.fixture(scope="module")
def escalating_desk(tmp_path_factory: pytest.TempPathFactory,
                    smtp: SmtpSink) -> Iterator[RunningDesk]:
    """First reply due ~2 s after intake (always open): the SLA breaches while we watch."""
    desk = _start(tmp_path_factory.mktemp("escalating"), smtp,
                  RESETDESK_FIRST_REPLY_HOURS="0.0005", RESETDESK_CALLBACK_ESCALATION="first_reply")
    yield desk
    desk.stop()


@pytest.fixture(scope="module")
def key_desk(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpSink) -> Iterator[RunningDesk]:
    """Ordinary budgets and no escalation: a ticket stays queued while the key is out."""
    desk = _start(tmp_path_factory.mktemp("keys"), smtp, RESETDESK_CALLBACK_ESCALATION="none")
    yield desk
    desk.stop()


# --- helpers --------------------------------------------------------------------------------

def wait_until(what: str, probe: Callable[[], Any], timeout: float = DEADLINE) -> Any:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what}: not after {timeout}s (last: {last!r})")


def subject(mail: EmailMessage) -> str:
    """Unfolded: a long subject is folded right after ``Subject:`` and parses with a space."""
    return str(mail["Subject"]).strip()


def mails(smtp: SmtpSink, reference: str) -> list[EmailMessage]:
    return [m for m in smtp.messages if subject(m).endswith(f"({reference})")]


def wait_mail(smtp: SmtpSink, reference: str, template: str, language: str) -> EmailMessage:
    """The one email of ``template`` for ``reference``, in ``language`` (subject and header)."""
    def found() -> list[EmailMessage]:
        return [m for m in mails(smtp, reference)
                if any(subject(m).startswith(s) for s in SUBJECTS[template].values())]
    matched: list[EmailMessage] = wait_until(f"{template} email for {reference}", found)
    [mail] = matched
    assert subject(mail).startswith(SUBJECTS[template][language]), subject(mail)
    assert mail["Content-Language"] == language
    return mail


def text(mail: EmailMessage) -> str:
    """The body with its line breaks (CRLF on the wire) and wrapping folded to single spaces."""
    return " ".join(str(mail.get_content()).split())


def links_in(mail: EmailMessage, desk: RunningDesk) -> list[str]:
    return re.findall(re.escape(desk.base) + r"/customer/\S+", str(mail.get_content()))


def show(desk: RunningDesk, reference: str) -> dict[str, Any]:
    """The ticket and its audit trail as ``resetdesk tickets show --json`` prints them."""
    return desk.cli("tickets", "show", reference, "--json")  # type: ignore[no-any-return]


def state(agent: httpx.Client, reference: str) -> dict[str, Any]:
    """The same ticket read over the agents' API (quicker than a CLI process per look)."""
    return ok(agent.get(f"/api/v1/tickets/{reference}"))


def submit(desk: RunningDesk, language: str) -> str:
    event = request(data__requester__language=language)
    response = desk.post(event)
    assert response.status_code == 202, response.text
    status = desk.wait_processed(event["id"])
    assert status["ticket"]["state"] == "queued", status
    return str(status["reference"])


@contextmanager
def sign_in(desk: RunningDesk) -> Iterator[httpx.Client]:
    """The agent's HTTP client, signed in over the JSON API."""
    with httpx.Client(base_url=desk.base, timeout=30) as client:
        r = client.post("/api/v1/auth/token", json={"login": AGENT, "password": PASSWORD})
        assert r.status_code == 200, r.text
        client.headers["Authorization"] = f"Bearer {r.json()['token']}"
        yield client


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else {}  # type: ignore[no-any-return]


# --- 1. callback and remote session ---------------------------------------------------------

@pytest.mark.parametrize("language", ["en", "fr"])
def test_breach_callback_and_remote_session_close_the_ticket_resolved(
        escalating_desk: RunningDesk, smtp: SmtpSink, language: str) -> None:
    desk = escalating_desk
    reference = submit(desk, language)
    wait_mail(smtp, reference, "acknowledgement", language)

    with sign_in(desk) as agent:
        # the first-reply clock runs out: the escalation subscriber books a phone callback
        wait_until("awaiting-callback after the breach",
                   lambda: state(agent, reference)["state"] == "awaiting-callback")
        booked = wait_mail(smtp, reference, "callback_booked", language)
        slot_text = subject(booked).split(":", 1)[1].rsplit("(", 1)[0].strip()
        assert slot_text in text(booked)
        [move_url] = links_in(booked, desk)
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
        ("submit", "submitted"), ("verify", "verified"), ("enqueue", "queued"),
        ("request_callback", "awaiting-callback"), ("claim", "awaiting-callback"),
        ("callback_result", "queued"), ("offer_remote_session", "queued"),
        ("start_remote_session", "remote-session"), ("end_remote_session", "closed"),
    ], trail
    actors = {h["trigger"]: h["actor"] for h in final["history"]}
    assert actors["claim"] == actors["offer_remote_session"] == f"agent:{AGENT}"
    assert actors["start_remote_session"] == "customer"
    assert terms["version"] in next(h["reason"] for h in final["history"]
                                    if h["trigger"] == "start_remote_session")
    with sqlite3.connect(desk.data_dir / "resetdesk.db") as db:
        consent = db.execute("SELECT terms_version, language FROM consent WHERE ticket_id = ?",
                             (final["id"],)).fetchall()
    assert consent == [(terms["version"], language)]
    assert {m["Content-Language"] for m in mails(smtp, reference)} == {language}
    assert len(mails(smtp, reference)) == 4  # ack, callback, network changes, session ended


# --- 2. and 3. reset keys -------------------------------------------------------------------

def _send_key_by_cli(desk: RunningDesk, reference: str) -> None:
    assert "claimed by alice" in desk.cli("tickets", "claim", reference, "--as", AGENT)
    out = desk.cli("tickets", "send-key", reference, "--as", AGENT, "--kind", "security_codes",
                   "--text", "2024-05-01 8421 9930\n2024-05-02 1177 0452")
    assert "waiting on key-confirmation" in out


def _key_links(desk: RunningDesk, smtp: SmtpSink, reference: str,
               language: str) -> dict[str, str]:
    mail = wait_mail(smtp, reference, "reset_key", language)
    found = {url.split("/customer/key/", 1)[1].split("/", 1)[0]: url
             for url in links_in(mail, desk)}
    assert set(found) == {"get", "confirm", "report"}, found
    assert "8421" not in text(mail)  # the codes travel behind the link, not in the mail
    return found


def test_confirm_link_get_changes_nothing_post_closes_resolved_once(
        key_desk: RunningDesk, smtp: SmtpSink) -> None:
    desk = key_desk
    reference = submit(desk, "en")
    _send_key_by_cli(desk, reference)
    links = _key_links(desk, smtp, reference, "en")
    with sign_in(desk) as agent, httpx.Client(timeout=30) as customer:
        page = customer.get(links["get"])
        assert page.status_code == 200 and "8421 9930" in page.text
        before = state(agent, reference)
        opened = customer.get(links["confirm"])  # what a mail scanner does
        assert opened.status_code == 200 and "<form method=\"post\">" in opened.text
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
    assert unchanged["version"] == closed["version"]
    assert unchanged["history"] == closed["history"]
    last = closed["history"][-1]
    assert (last["trigger"], last["actor"], last["to"]) == ("resolve", "customer", "closed")


def test_failure_report_link_requeues_with_the_reexport_email(
        key_desk: RunningDesk, smtp: SmtpSink) -> None:
    desk = key_desk
    reference = submit(desk, "fr")
    with sign_in(desk) as agent:
        ticket_id = ok(agent.get(f"/api/v1/tickets/{reference}"))["id"]
        ok(agent.post(f"/api/v1/tickets/{ticket_id}/claim", json={}))
        sent = ok(agent.post(f"/api/v1/tickets/{ticket_id}/send_key", json={
            "kind": "security_codes", "text": "2024-05-01 8421 9930"}))
        assert (sent["state"], sent["waiting_on"]) == ("queued", "key-confirmation")
        links = _key_links(desk, smtp, reference, "fr")
        with httpx.Client(timeout=30) as customer:
            assert customer.get(links["report"]).status_code == 200
            assert state(agent, reference)["waiting_on"] == "key-confirmation"
            reported = customer.post(links["report"])
            assert reported.status_code == 200 and 'lang="fr"' in reported.text
    ticket = show(desk, reference)
    assert (ticket["state"], ticket["waiting_on"]) == ("queued", None)
    last = ticket["history"][-1]
    assert (last["trigger"], last["actor"], last["to"]) == ("key_failed", "customer", "queued")
    reexport = wait_mail(smtp, reference, "reexport_needed", "fr")
    assert "n'a pas fonctionné" in text(reexport)  # why: failed, not expired
    assert sorted(subject(m).split(" (")[0] for m in mails(smtp, reference)) == sorted([
        SUBJECTS["acknowledgement"]["fr"], "Vos codes de réinitialisation",
        SUBJECTS["reexport_needed"]["fr"]])


# --- and the walkthrough's last step --------------------------------------------------------

def test_ctrl_c_stops_the_desk_cleanly(tmp_path: Path, smtp: SmtpSink) -> None:
    desk = _start(tmp_path, smtp)
    desk.stop()  # SIGINT, as Ctrl-C
    assert desk.proc is not None
    assert desk.proc.returncode == 0, desk.log.read_text()
    assert "Traceback" not in desk.log.read_text()
