"""The resolution panels over HTTP and a real database: each panel's form goes through the bus
and changes the ticket and its records; a panel shows only when its move is allowed; every
change needs the page's CSRF token; a refusal reads as a plain sentence in the panel, never a
500."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from console.app import create_app
from console.deps import WebDeps
from console.rendering import environment
from tests.factories import make_ticket
from tests.fake_bus import MovableClock
from tests.web import SECRET, form_token
from workflow.adapters import accounts, queries
from workflow.adapters.db import Database
from workflow.adapters.human_check import LocalVerifier
from workflow.adapters.queries.keys import key_view
from workflow.adapters.sla_book import default_book
from workflow.adapters.tables import OUTBOX
from workflow.adapters.tables_resolution import CALLBACK_BOOKING
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.policies import Policies
from workflow.domain.reset_keys import KeyPolicy
from workflow.domain.states import State
from workflow.service.handlers import sync_sla

HTMX = {"HX-Request": "true"}
PUBLIC = "https://desk.example"


@dataclass
class Desk:
    """The app over ``db``, an agent signed in through /signin (cookie + CSRF token), and a
    ticket that agent holds."""

    db: Database
    client: TestClient
    clock: MovableClock
    csrf: str
    reference: str
    ticket_id: str

    def post(self, path: str, data: dict[str, str] | None = None, *, htmx: bool = True,
             csrf: bool = True, version: bool = True, headers: dict[str, str] | None = None,
             **kw: Any) -> Any:
        fields = dict(data or {})
        if csrf:
            fields["csrf_token"] = self.csrf
        if version:
            fields.setdefault("expected_version", str(self.ticket()["version"]))
        return self.client.post(f"/tickets/{self.reference}/{path}", data=fields,
                                headers={**(HTMX if htmx else {}), **(headers or {})},
                                follow_redirects=False, **kw)

    def panel(self, query: str = "") -> str:
        r = self.client.get(f"/tickets/{self.reference}/resolution{query}", headers=HTMX)
        assert r.status_code == 200, r.text[:500]
        return str(r.text)

    def ticket(self) -> dict[str, Any]:
        return queries.ticket_details(self.db, self.ticket_id)

    def emails(self) -> list[dict[str, Any]]:
        with self.db.reader.begin() as conn:
            rows = conn.execute(select(OUTBOX.c.payload).where(
                OUTBOX.c.ticket_id == self.ticket_id,
                OUTBOX.c.type == "com.resetdesk.notification.email.v1")
                .order_by(OUTBOX.c.sequence)).scalars().all()
        return [json.loads(p)["data"] for p in rows]

    def trail(self) -> list[tuple[str, str, str | None]]:
        return [(h["trigger"], h["actor"], h["reason"]) for h in self.ticket()["history"]]


def signed_in(client: TestClient, db: Database, login: str, role: str = "agent") -> str:
    accounts.add_agent(db, login, f"{login}-password-123", role=role)
    r = client.post("/signin", data={"login": login, "password": f"{login}-password-123",
                                     "csrf_token": form_token(client.get("/signin").text)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return form_token(client.get("/queue").text)


def held_ticket(db: Database, clock: MovableClock, assignee: str | None = "ada") -> Any:
    t = make_ticket(State.QUEUED, assignee=assignee, accepted_at=clock.at, created_at=clock.at,
                    updated_at=clock.at, data={"requester": {"name": "Test Person",
                                                             "email": "p@example.com"}})
    sync_sla(default_book(), t, clock.at)
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(t)
        uow.commit()
    return t


def app_over(db: Database, clock: MovableClock, policies: Policies | None = None) -> TestClient:
    deps = WebDeps(db=db, clock=clock, verifier=LocalVerifier(), uow=lambda: SqlUnitOfWork(db),
                   secret_key=SECRET, public_url=PUBLIC, policies=policies or Policies())
    return TestClient(create_app(deps), base_url="https://desk.example")  # Secure cookies


@pytest.fixture
def desk(db: Database) -> Iterator[Desk]:
    clock = MovableClock()  # Tuesday 2026-11-24 09:00 Pacific: the desk is open
    client = app_over(db, clock)
    csrf = signed_in(client, db, "ada")
    t = held_ticket(db, clock)
    yield Desk(db, client, clock, csrf, t.reference, t.id)


def sections(html: str) -> set[str]:
    return set(re.findall(r'data-panel="(\w+)"', html))


def slots(html: str) -> list[str]:
    return re.findall(r'name="slot" value="([^"]+)"', html)


def alert(html: str) -> str:
    found: list[str] = re.findall(r'<p class="error" role="alert">([^<]*)</p>', html)
    assert len(found) == 1, html
    return found[0].replace("&#39;", "'")


def booked_slots(db: Database, ticket_id: str) -> list[tuple[str, str]]:
    with db.reader.begin() as conn:
        rows = conn.execute(select(CALLBACK_BOOKING.c.slot_start, CALLBACK_BOOKING.c.status)
                            .where(CALLBACK_BOOKING.c.ticket_id == ticket_id)
                            .order_by(CALLBACK_BOOKING.c.id)).all()
    return [(r.slot_start.isoformat(), r.status) for r in rows]


# --- which panels show -----------------------------------------------------------------------

def test_the_panels_follow_the_moves_the_agent_may_make_now(desk: Desk) -> None:
    assert sections(desk.panel()) == {"send_key", "callback", "remote_session"}
    # a colleague who does not hold the ticket: no key, no code; a callback anyone may book
    other = app_over(desk.db, desk.clock)
    signed_in(other, desk.db, "bea")
    html = other.get(f"/tickets/{desk.reference}/resolution", headers=HTMX).text
    assert sections(html) == {"callback"}


def test_the_included_partial_loads_its_data_and_shows_nothing_without_a_panel_move() -> None:
    template = environment.get_template("agent/resolution_panel.html")
    ticket = {"reference": "RD-AAAA-BBBB", "waiting_on": None}
    loader = template.render(ticket=ticket, allowed={"claim", "send_key"}, actor=None,
                             csrf_token="t")
    assert 'hx-get="/tickets/RD-AAAA-BBBB/resolution"' in loader and 'hx-trigger="load"' in loader
    assert template.render(ticket=ticket, allowed={"claim", "reply", "resolve"}, actor=None,
                           csrf_token="t").strip() == ""


# --- send a reset key ------------------------------------------------------------------------

def test_sending_security_codes_waits_on_the_customer(desk: Desk) -> None:
    r = desk.post("key/send", {"kind": "security_codes", "text": "2026-11-24 4711-0815"},
                  htmx=False, files={"file": ("", b"")})
    assert (r.status_code, r.headers["location"]) == (303, f"/tickets/{desk.reference}")
    assert desk.ticket()["waiting_on"] == "key-confirmation"
    shown = key_view(SqlUnitOfWork(desk.db), desk.clock.now(), desk.ticket_id)
    assert (shown.waiting, shown.kind) == (True, "security_codes")
    assert [e["template"] for e in desk.emails()] == ["reset_key"]
    assert "Waiting for the customer's answer: security codes sent earlier" in desk.panel()


def test_an_encrypted_file_is_uploaded_and_one_over_the_limit_is_refused_unread(
        db: Database) -> None:
    clock = MovableClock()
    client = app_over(db, clock, Policies(keys=KeyPolicy(max_file_bytes=1000)))
    csrf = signed_in(client, db, "ada")
    t = held_ticket(db, clock)
    desk = Desk(db, client, clock, csrf, t.reference, t.id)
    big = desk.post("key/send", {"kind": "encrypted_file"},
                    files={"file": ("key.bin", b"x" * 70_000)},
                    headers={"X-CSRF-Token": csrf})
    assert big.status_code == 200
    assert alert(big.text) == "The file is too large: send at most 1000 bytes."
    assert desk.ticket()["waiting_on"] is None
    ok = desk.post("key/send", {"kind": "encrypted_file"}, files={"file": ("key.bin", b"\x01" * 900)})
    assert ok.headers["HX-Refresh"] == "true"
    shown = key_view(SqlUnitOfWork(db), clock.now(), t.id)
    assert (shown.waiting, shown.kind) == (True, "encrypted_file")


# --- callbacks -------------------------------------------------------------------------------

def test_booking_moving_and_releasing_a_callback(desk: Desk) -> None:
    html = desk.panel()
    days = re.findall(r'<details class="day" data-day="([\d-]+)"', html)
    assert len(days) == 3 and days == sorted(days)
    first, second, *_ = slots(html)
    later = re.search(r'resolution\?day=([\d-]+)"', html)
    assert later is not None and later[1] > days[-1]
    paged = re.findall(r'<details class="day" data-day="([\d-]+)"', desk.panel(f"?day={later[1]}"))
    assert paged[0] == later[1] and len(paged) == 3
    r = desk.post("callback/book", {"slot": first, "move": "request"})
    assert r.status_code == 200 and r.headers["HX-Refresh"] == "true"
    assert desk.ticket()["state"] == "awaiting-callback"
    assert booked_slots(desk.db, desk.ticket_id) == [(first, "booked")]

    html = desk.panel()
    assert sections(html) == {"send_key", "callback", "callback_result", "remote_session"}
    assert "Move the callback to this time" in html and first not in slots(html)
    r = desk.post("callback/move", {"slot": second, "reason": "customer asked by email"},
                  htmx=False)
    assert r.status_code == 303
    assert booked_slots(desk.db, desk.ticket_id) == [(first, "moved"), (second, "booked")]
    assert [e["template"] for e in desk.emails()] == ["callback_booked", "callback_booked"]

    unconfirmed = desk.post("callback/release", {"reason": "agent away"})
    assert alert(unconfirmed.text) == "Tick the box to confirm the release."
    assert desk.post("callback/release", {"confirm": "yes"}).status_code == 200
    assert desk.ticket()["waiting_on"] is None
    r = desk.post("callback/release", {"confirm": "yes", "reason": "agent off sick"})
    assert r.headers["HX-Refresh"] == "true"
    ticket = desk.ticket()
    assert (ticket["state"], ticket["waiting_on"]) == ("awaiting-callback", "callback-moved")
    assert desk.trail()[-1] == ("move_callback", "agent:ada", "agent off sick")
    released = desk.emails()[-1]
    assert released["template"] == "callback_released"
    assert released["context"]["move_url"].startswith(f"{PUBLIC}/customer/callback/")

    html = desk.panel()  # book a new time for the customer
    assert "The callback was given back" in html and 'name="move" value="book"' in html
    third = slots(html)[0]
    assert desk.post("callback/book", {"slot": third, "move": "book"}).status_code == 200
    assert booked_slots(desk.db, desk.ticket_id)[-1] == (third, "booked")
    assert desk.ticket()["waiting_on"] is None


def test_recording_calls_lists_the_attempts(desk: Desk) -> None:
    desk.post("callback/book", {"slot": slots(desk.panel())[0], "move": "request"})
    assert "No call recorded yet." in desk.panel()
    r = desk.post("callback/result", {"result": "no_answer", "note": "rang 10 times"})
    assert r.headers["HX-Refresh"] == "true"
    assert desk.ticket()["state"] == "awaiting-callback"  # the next slot is booked
    html = desk.panel()
    assert re.search(r'<tr data-result="no_answer">.*<td>ada</td><td>No answer</td>', html)
    desk.post("callback/result", {"result": "answered"}, htmx=False)
    assert desk.ticket()["state"] == "queued"
    with SqlUnitOfWork(desk.db) as uow:
        notes = uow.notes.for_ticket(desk.ticket_id)
        attempts = [a.result for a in uow.callbacks.attempts(desk.ticket_id)]
    assert [body for _, _, body in notes] == ["rang 10 times"]
    assert attempts == ["no_answer", "answered"]


# --- the remote session ----------------------------------------------------------------------

def customer_agrees(client: TestClient, reference: str, code: str) -> dict[str, str]:
    verified = client.post("/api/v1/customer/session/verify",
                           json={"reference": reference, "code": code})
    assert verified.status_code == 200, verified.text
    body = verified.json()
    agreed = client.post("/api/v1/customer/session/agree", json={
        "consent_token": body["consent_token"], "terms_version": body["terms"]["version"]})
    assert agreed.status_code == 200, agreed.text
    return {"X-Session-Token": agreed.json()["session_token"]}


def live(desk: Desk, phase: str) -> Any:
    return desk.client.get(f"/tickets/{desk.reference}/session/live?phase={phase}", headers=HTMX)


def test_a_session_code_is_shown_once_then_steps_are_answered_and_the_session_ends(
        desk: Desk) -> None:
    r = desk.post("session/code")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    code = re.search(r'<p class="code" id="session-code"[^>]*>([A-Z2-9-]+)</p>', r.text)
    assert code is not None
    assert f'<dd class="code-reference">{desk.reference}</dd>' in r.text
    assert f'<dd class="code-address">{PUBLIC}/session</dd>' in r.text
    assert "It will not be shown again." in r.text
    # times in the desk's zone (Pacific by default), as on the ticket page, never bare UTC
    assert re.search(r"Valid until</dt><dd><time [^>]*>\d\d:\d\d P[SD]T</time>", r.text), r.text
    assert code[1] not in desk.panel()  # gone for good
    assert "waiting for the customer" in live(desk, "code").text

    customer = customer_agrees(desk.client, desk.reference, code[1])
    moved_on = live(desk, "code")  # the page shows the code: it is read again
    assert (moved_on.status_code, moved_on.headers["HX-Refresh"]) == (286, "true")
    assert "Consent: <strong>given</strong>: terms" in live(desk, "running").text
    for kind, change in (("equipment", "Reset the recorder to factory settings"),
                         ("network", "Open TCP 8000 on the router")):
        proposed = desk.post("session/steps", {"kind": kind, "description": change},
                             version=False)
        assert "Change proposed" in proposed.text and change in proposed.text
    steps = desk.client.get("/api/v1/customer/session", headers=customer).json()["steps"]
    for step, decision in zip(steps, ("confirmed", "declined"), strict=True):
        r = desk.client.post(f"/api/v1/customer/session/steps/{step['id']}",
                             json={"decision": decision}, headers=customer)
        assert r.status_code == 200, r.text
    shown = live(desk, "running").text
    assert re.findall(r'data-decision="(\w+)"', shown) == ["confirmed", "declined"]

    missing = desk.post("session/end", {"resolved": "yes"}, version=False)
    assert alert(missing.text) == "Give the reason for ending the session."
    r = desk.post("session/end", {"resolved": "yes", "reason": "reset through SADP"},
                  version=False, htmx=False)
    assert r.status_code == 303
    ticket = desk.ticket()
    assert (ticket["state"], ticket["outcome"]) == ("closed", "resolved")
    assert desk.trail()[-1] == ("end_remote_session", "agent:ada", "reset through SADP")
    assert live(desk, "running").status_code == 286  # the page stops polling
    assert sections(desk.panel()) == set()


# --- CSRF and refusals -----------------------------------------------------------------------

PANEL_POSTS = ("key/send", "callback/book", "callback/move", "callback/release",
               "callback/result", "session/code", "session/steps", "session/end")


def test_no_panel_change_without_the_csrf_token(desk: Desk) -> None:
    for path in PANEL_POSTS:
        r = desk.post(path, {"slot": "x", "kind": "key", "text": "k"}, csrf=False)
        assert r.status_code == 403, path
        assert desk.post(path, csrf=False, htmx=False,
                         headers={"X-CSRF-Token": "0" * 64}).status_code == 403, path
    assert desk.ticket()["version"] == 1 and desk.trail() == []


def test_refusals_are_plain_sentences_in_the_panel(desk: Desk) -> None:
    stale = desk.post("callback/book", {"slot": slots(desk.panel())[0], "expected_version": "0"})
    assert alert(stale.text).startswith("Someone changed this ticket since the page was shown")
    page = desk.post("callback/book", {"slot": "tomorrow"}, htmx=False)
    assert page.status_code == 422 and "<h1>" in page.text
    assert alert(page.text) == "Slot is not a date and time."
    nothing = desk.post("callback/book", {})
    assert alert(nothing.text) == "Pick a time."
    bad_key = desk.post("key/send", {"kind": "key", "text": ""}, files={"file": ("", b"")})
    assert alert(bad_key.text) == "Key needs a text of 1 to 2000 characters, no file."
    other = app_over(desk.db, desk.clock)
    bea = signed_in(other, desk.db, "bea")
    r = other.post(f"/tickets/{desk.reference}/session/code",
                   data={"csrf_token": bea}, follow_redirects=False)
    assert r.status_code == 409
    assert alert(r.text) == "Not possible now: the ticket is claimed by ada."
    gone = desk.client.post("/tickets/RD-ZZZZ-ZZZZ/session/code", data={"csrf_token": desk.csrf})
    assert gone.status_code == 404 and "There is no ticket RD-ZZZZ-ZZZZ." in gone.text
    assert desk.trail() == []
