"""Phone callbacks over a real database: escalation, capacity, attempts, customer links."""

from __future__ import annotations

import json
import quopri
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from console.app import create_app
from console.deps import WebDeps
from console.routes import agent_callback, customer_callback
from consumers.escalation import EscalationHandler
from consumers.mail_folder import MailFolderNotifier
from schemas.events_v1 import SLA_BREACHED_V1, SlaRaised, build_event
from tests.factories import make_ticket
from tests.web import SECRET, agent_headers
from workflow.adapters import links
from workflow.adapters.db import Database
from workflow.adapters.human_check import LocalVerifier
from workflow.adapters.sla_book import default_book
from workflow.adapters.tables import OUTBOX
from workflow.adapters.tables_resolution import CALLBACK_BOOKING
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.actors import Actor
from workflow.domain.callback_slots import CallbackPolicy
from workflow.domain.policies import Policies
from workflow.domain.states import Outcome, State
from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.callback_ports import link_maker
from workflow.service.command_handlers import build_bus
from workflow.service.commands import RecordCallResult, RequestCallback
from workflow.service.handlers import ActOnTicket, act, sync_sla
from workflow.service.housekeeping_commands import ReleaseOrphanBookings
from workflow.service.ports import Clock
from workflow.service.sla_service import raise_due_alarms

PT = ZoneInfo("America/Los_Angeles")
URL = "https://support.example"
ALICE = Actor("agent", "alice")


@dataclass
class FixedClock(Clock):
    at: datetime

    def now(self) -> datetime:
        return self.at


def pt(day: int, h: int, m: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, h, m, tzinfo=PT)


def queued(db: Database, accepted: datetime, language: str = "en") -> str:
    t = make_ticket(State.QUEUED, accepted_at=accepted, created_at=accepted, updated_at=accepted,
                    language=language,
                    data={"requester": {"name": "Test Person", "email": "t@example.com"}})
    sync_sla(default_book(), t, accepted)
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(t)
        uow.commit()
    return t.id


def web_client(db: Database, clock: Clock, policies: Policies | None = None) -> TestClient:
    """tests.web's client with the callback routers registered as the lead wires them."""
    deps = WebDeps(db=db, clock=clock, verifier=LocalVerifier(), uow=lambda: SqlUnitOfWork(db),
                   secret_key=SECRET, policies=policies or Policies())
    return TestClient(create_app(deps, [agent_callback.router, customer_callback.router]))


def bus(db: Database, clock: Clock, **policy: Any) -> MessageBus:
    """The bus as bootstrap builds it, with this callback policy and customer links."""
    return build_bus(HandlerContext(uow=lambda: SqlUnitOfWork(db), clock=clock,
                                    callback_policy=CallbackPolicy(**policy),
                                    callback_links=link_maker(SECRET, URL)))


def attempt(d: MessageBus, tid: str, result: str, note: str | None = None) -> str | None:
    return d.handle(RecordCallResult(actor=ALICE, ticket_id=tid, result=result, note=note)).step


def ticket(db: Database, tid: str) -> Any:
    with SqlUnitOfWork(db) as uow:
        return uow.tickets.get(tid)


def bookings(db: Database, tid: str | None = None) -> list[Any]:
    q = select(CALLBACK_BOOKING).order_by(CALLBACK_BOOKING.c.id)
    if tid:
        q = q.where(CALLBACK_BOOKING.c.ticket_id == tid)
    with db.reader.begin() as conn:
        return list(conn.execute(q).all())


def emails(db: Database, tid: str) -> list[tuple[str, dict[str, Any]]]:
    with db.reader.begin() as conn:
        rows = conn.execute(select(OUTBOX.c.payload).where(
            OUTBOX.c.ticket_id == tid, OUTBOX.c.type == "com.resetdesk.notification.email.v1")
            .order_by(OUTBOX.c.id)).scalars().all()
    return [(d["template"], d["context"]) for d in (json.loads(p)["data"] for p in rows)]


def breach_event(db: Database, tid: str) -> dict[str, Any]:
    with db.reader.begin() as conn:
        payload = conn.execute(select(OUTBOX.c.payload).where(
            OUTBOX.c.ticket_id == tid, OUTBOX.c.type == SLA_BREACHED_V1)).scalar_one()
    return dict(json.loads(payload))


def local(at: datetime) -> datetime:
    return at.astimezone(PT).replace(tzinfo=None)


@pytest.mark.parametrize(("friday", "morning"), [(16, pt(19, 6)), (4, pt(8, 6, month=9))],
                         ids=["monday", "tuesday-after-labor-day"])
def test_breach_at_1620_friday_books_the_next_business_morning(
        db: Database, friday: int, morning: datetime) -> None:
    month = 10 if friday == 16 else 9
    tid = queued(db, pt(friday, 15, 10, month))
    clock = FixedClock(pt(friday, 16, 20, month))
    raise_due_alarms(SqlUnitOfWork(db), clock)
    handler = EscalationHandler(bus(db, clock))
    assert handler.handle(breach_event(db, tid)) == "booked"
    assert ticket(db, tid).state is State.AWAITING_CALLBACK
    [b] = bookings(db, tid)
    assert local(b.slot_start) == local(morning) and b.active_seat == 1
    [(template, ctx)] = emails(db, tid)
    assert template == "callback_booked" and ctx["slot_text"].startswith(
        f"{morning:%A}, {morning:%B} {morning.day}, 2026, between 06:00 and 06:30 PDT")
    assert ctx["move_url"].startswith(f"{URL}/customer/callback/")


def test_redelivered_breach_books_once(db: Database) -> None:
    tid = queued(db, pt(16, 15, 10))
    clock = FixedClock(pt(16, 16, 20))
    raise_due_alarms(SqlUnitOfWork(db), clock)
    handler = EscalationHandler(bus(db, clock))
    event = breach_event(db, tid)
    assert handler.handle(event) == "booked"
    assert handler.handle(event).startswith("skipped")
    assert len(bookings(db, tid)) == 1 and len(emails(db, tid)) == 1


def test_breach_delivered_twice_at_once_books_once(db: Database) -> None:
    tid = queued(db, pt(16, 15, 10))
    clock = FixedClock(pt(16, 16, 20))
    raise_due_alarms(SqlUnitOfWork(db), clock)
    event, start, answers = breach_event(db, tid), threading.Barrier(2), []

    def deliver() -> None:
        start.wait()
        answers.append(EscalationHandler(bus(db, clock)).handle(event))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.split(":")[0] for a in answers) == ["booked", "skipped"]
    assert [b.active_seat for b in bookings(db, tid)] == [1]


def test_breaches_the_policy_leaves_out_change_nothing(db: Database) -> None:
    tid = queued(db, pt(16, 9))
    clock = FixedClock(pt(16, 10))
    event = build_event(SLA_BREACHED_V1, tid, 1, SlaRaised(
        ticket_id=tid, clock="resolution", cycle=1, due_at=pt(16, 10), raised_at=pt(16, 10)))
    assert EscalationHandler(bus(db, clock)).handle(event).startswith("skipped")
    none = EscalationHandler(bus(db, clock, escalation="none"))
    event["data"]["clock"] = "first_reply"
    assert none.handle(event).startswith("skipped")
    assert ticket(db, tid).state is State.QUEUED and bookings(db, tid) == []


def test_slot_capacity_holds_under_ten_concurrent_bookings(db: Database) -> None:
    tids = [queued(db, pt(19, 7)) for _ in range(10)]
    d = bus(db, FixedClock(pt(19, 8)), capacity=2)
    start, errors = threading.Barrier(len(tids)), []

    def book(tid: str) -> None:
        start.wait()
        try:
            d.handle(RequestCallback(actor=ALICE, ticket_id=tid))
        except Exception as err:  # reported below, never swallowed
            errors.append(err)

    threads = [threading.Thread(target=book, args=(t,)) for t in tids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = bookings(db)
    per_slot = Counter(local(r.slot_start).strftime("%H:%M") for r in rows)
    assert per_slot == {"08:30": 2, "09:00": 2, "09:30": 2, "10:00": 2, "10:30": 2}
    assert len({(r.slot_start, r.seat) for r in rows}) == 10
    assert all(ticket(db, t).state is State.AWAITING_CALLBACK for t in tids)


def booked(db: Database, clock: FixedClock, language: str = "en",
           **policy: Any) -> tuple[str, MessageBus]:
    tid = queued(db, pt(19, 7), language)
    d = bus(db, clock, **policy)
    d.handle(RequestCallback(actor=ALICE, ticket_id=tid))
    return tid, d


def test_answered_call_goes_back_to_queued_and_frees_the_seat(db: Database) -> None:
    clock = FixedClock(pt(19, 8))
    tid, d = booked(db, clock)
    clock.at = pt(19, 8, 35)
    assert attempt(d, tid, "answered") == "answered"
    [b] = bookings(db, tid)
    assert ticket(db, tid).state is State.QUEUED and (b.status, b.active_seat) == ("done", None)


def test_missed_call_below_the_limit_books_the_next_slot(db: Database) -> None:
    clock = FixedClock(pt(19, 8))
    tid, d = booked(db, clock)
    clock.at = pt(19, 8, 35)
    assert attempt(d, tid, "no_answer", note="voicemail") == "retry"
    assert ticket(db, tid).state is State.AWAITING_CALLBACK
    first, second = bookings(db, tid)
    assert (first.status, first.active_seat) == ("done", None)
    assert local(second.slot_start) == local(pt(19, 9)) and second.active_seat == 1
    assert emails(db, tid)[-1][0] == "callback_booked" and emails(db, tid)[-1][1]["missed"] == 1


@pytest.mark.parametrize(("policy", "state", "template"), [
    ("requeue", State.QUEUED, "callback_failed"), ("close", State.CLOSED, "callback_unreachable")])
def test_exhausted_attempts_follow_the_policy_with_an_email(
        db: Database, policy: str, state: State, template: str) -> None:
    clock = FixedClock(pt(19, 8))
    tid, d = booked(db, clock, exhausted=policy)
    steps = []
    for n in range(3):
        clock.at = pt(19, 9 + n)
        steps.append(attempt(d, tid, "no_answer"))
    assert steps == ["retry", "retry", "requeue" if policy == "requeue" else "give_up"]
    t = ticket(db, tid)
    assert t.state is state and t.waiting_on is None
    assert t.outcome is (Outcome.UNREACHABLE if policy == "close" else None)
    assert all(b.active_seat is None for b in bookings(db, tid))
    name, ctx = emails(db, tid)[-1]
    assert (name, ctx["attempts"]) == (template, 3)


def test_agent_preferred_window_is_honoured_and_a_full_window_refused(db: Database) -> None:
    client = web_client(db, FixedClock(pt(19, 8)), Policies(callbacks=CallbackPolicy(capacity=1)))
    alice = agent_headers(client, db, "alice")
    got = []
    for _ in range(3):
        tid = queued(db, pt(19, 7))
        r = client.post(f"/api/v1/tickets/{tid}/request_callback",
                        json={"preferred": "2026-10-20 13:00-14:00"}, headers=alice)
        got.append((r.status_code, r.json()))
    assert [local(datetime.fromisoformat(b["callback"]["slot_start"])).strftime("%H:%M")
            for _, b in got[:2]] == ["13:00", "13:30"]
    assert got[2][0] == 422 and "no free callback slot" in got[2][1]["reason"]
    assert ticket(db, tid).state is State.QUEUED
    r = client.post(f"/api/v1/tickets/{tid}/request_callback",
                    json={"preferred": "tomorrow"}, headers=alice)
    assert r.status_code == 422


def test_customer_moves_the_callback_through_a_signed_link(db: Database) -> None:
    clock = FixedClock(pt(19, 8))
    tid, _ = booked(db, clock)
    client = web_client(db, clock)
    token = links.sign(SECRET, tid, "move_callback", pt(19, 8, 30))
    page = client.get(f"/customer/callback/{token}")
    assert page.status_code == 200 and "Move the call to another time" in page.text
    assert ticket(db, tid).waiting_on is None and bookings(db, tid)[0].active_seat == 1

    as_json = {"Accept": "application/json"}
    r = client.post(f"/customer/callback/{token}", headers=as_json)
    assert r.status_code == 200 and r.json()["waiting_on"] == "callback-moved"
    assert bookings(db, tid)[0].status == "moved"
    slot = r.json()["slots"][2]["start"]
    r = client.post(f"/customer/callback/{token}", json={"slot": slot}, headers=as_json)
    assert r.status_code == 200 and r.json()["booking"]["start"] == slot
    t = ticket(db, tid)
    assert t.state is State.AWAITING_CALLBACK and t.waiting_on is None
    assert emails(db, tid)[-1][0] == "callback_booked"

    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/customer/callback/{tampered}").status_code == 403
    assert client.post(f"/customer/callback/{tampered}", json={"slot": slot}).status_code == 403
    other = links.sign(SECRET, tid, "confirm_key", pt(20, 8))
    assert client.post(f"/customer/callback/{other}").status_code == 403


def test_customer_asks_for_a_callback_only_by_post(db: Database) -> None:
    clock = FixedClock(pt(19, 8))
    tid = queued(db, pt(19, 7))
    client = web_client(db, clock)
    token = links.sign(SECRET, tid, "request_callback", pt(22, 8))
    shown = client.get(f"/customer/callback/{token}?format=json").json()
    assert shown["can_book"] and ticket(db, tid).state is State.QUEUED
    r = client.post(f"/customer/callback/{token}", data={"slot": shown["slots"][-1]["start"]})
    assert r.status_code == 200 and "html" in r.headers["content-type"]
    [b] = bookings(db, tid)
    assert b.requested_by == "customer" and ticket(db, tid).state is State.AWAITING_CALLBACK
    r = client.post(f"/customer/callback/{token}", headers={"Accept": "application/json"})
    assert r.status_code == 409


def test_seats_of_tickets_resolved_another_way_are_released(db: Database) -> None:
    clock = FixedClock(pt(19, 8))
    tid, d = booked(db, clock)
    act(SqlUnitOfWork(db), clock, ActOnTicket(tid, "resolve", "agent:alice"))
    assert d.handle(ReleaseOrphanBookings(actor=Actor.system("scheduler"))) == 1
    assert bookings(db, tid)[0].active_seat is None
    assert bookings(db, tid)[0].status == "cancelled"


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_callback_email_renders_in_the_customers_language(
        db: Database, tmp_path: Path, language: str) -> None:
    clock = FixedClock(pt(19, 8))
    sent = MailFolderNotifier(db, tmp_path, sender="Support <support@example.com>")
    for policy, result in (("requeue", "no_answer"), ("close", "wrong_number")):
        tid, d = booked(db, clock, language, exhausted=policy)
        for _ in range(1 if result == "wrong_number" else 3):
            attempt(d, tid, result)
        with db.reader.begin() as conn:
            for payload in conn.execute(select(OUTBOX.c.payload).where(
                    OUTBOX.c.ticket_id == tid, OUTBOX.c.type.like("%notification.email%"))
                    ).scalars():
                assert sent.handle(json.loads(payload)) == "sent"
    bodies = [quopri.decodestring(f.read_bytes()).decode() for f in tmp_path.glob("*.eml")]
    assert len(bodies) == 6
    zone = "heure du Pacifique" if language == "fr" else "PDT"
    assert sum(zone in b and "/customer/callback/" in b for b in bodies) == 4


@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_agent_moves_or_releases_the_callback_for_the_customer(
        db: Database, tmp_path: Path, language: str) -> None:
    clock = FixedClock(pt(19, 8))
    tid, d = booked(db, clock, language)
    deps = WebDeps(db=db, clock=clock, verifier=LocalVerifier(), uow=lambda: SqlUnitOfWork(db),
                   secret_key=SECRET, bus=d)
    client = TestClient(create_app(deps))
    alice = agent_headers(client, db, "alice")
    move = f"/api/v1/tickets/{tid}/move_callback"
    slot = client.get(f"/api/v1/tickets/{tid}/callback",
                      headers=alice).json()["free_slots"]["slots"][1]
    r = client.post(move, json={"slot": slot, "reason": "asked by email"}, headers=alice)
    assert r.status_code == 200 and r.json()["callback"]["slot_start"] == slot
    assert [b.status for b in bookings(db, tid)] == ["moved", "booked"]
    r = client.post(move, json={}, headers=alice)
    assert r.status_code == 422 and "say why the callback is released" in r.json()["reason"]
    r = client.post(move, json={"reason": "no agent on the phones then"}, headers=alice)
    assert r.status_code == 200 and r.json()["waiting_on"] == "callback-moved"
    assert [b.status for b in bookings(db, tid)] == ["moved", "moved"]
    with SqlUnitOfWork(db) as uow:
        moves = [(e.trigger, e.actor, e.reason) for e in uow.tickets.history(tid)
                 if e.trigger == "move_callback"]
    assert moves == [("move_callback", "agent:alice", "asked by email"),
                     ("move_callback", "agent:alice", "no agent on the phones then")]
    name, context = emails(db, tid)[-1]
    assert name == "callback_released" and context["move_url"].startswith(f"{URL}/customer/")
    # the link lets the customer pick the new time
    token = context["move_url"].rsplit("/", 1)[1]
    shown = client.get(f"/customer/callback/{token}?format=json").json()
    assert shown["can_book"] and shown["booking"] is None
    sent = MailFolderNotifier(db, tmp_path, sender="Support <support@example.com>")
    with db.reader.begin() as conn:
        payload = conn.execute(select(OUTBOX.c.payload).where(OUTBOX.c.ticket_id == tid)
                               .order_by(OUTBOX.c.id.desc()).limit(1)).scalar_one()
    assert sent.handle(json.loads(payload)) == "sent"
    [mail] = [quopri.decodestring(f.read_bytes()).decode() for f in tmp_path.glob("*.eml")]
    assert context["move_url"] in mail
    assert ("annulé" if language == "fr" else "cancelled") in mail
