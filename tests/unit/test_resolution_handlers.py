"""The callback, reset-key and remote-session commands through the bus, over the in-memory unit
of work (the same paths run over SQLite and PostgreSQL in tests/integration), and the read
models the pages show them with."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.factories import T0, make_ticket
from tests.fake_bus import BASE, MovableClock, fake_bus
from tests.fake_stores import FakeSealer
from tests.fakes import FakeUnitOfWork, Store
from workflow.adapters.queries.callbacks import callback_view
from workflow.adapters.queries.keys import key_view
from workflow.adapters.queries.sessions import session_view
from workflow.adapters.sla_book import default_book
from workflow.domain.actors import CUSTOMER, Actor
from workflow.domain.callback_slots import CallbackPolicy
from workflow.domain.errors import ConcurrencyConflict
from workflow.domain.events import NotificationRequested
from workflow.domain.reset_keys import new_artifact
from workflow.domain.states import Outcome, State, WaitingOn
from workflow.service import commands as c
from workflow.service import remote_sessions as rs
from workflow.service.bus import NotConfigured
from workflow.service.handlers import sync_sla
from workflow.service.reset_keys import KeyAnswer

ALICE = Actor("agent", "alice")
ESCALATION = Actor.system("escalation")


def _add(store: Store, state: State = State.QUEUED, **fields: Any) -> str:
    ticket = make_ticket(state, created_at=T0, updated_at=T0, accepted_at=T0, **fields)
    sync_sla(default_book(), ticket, T0)
    ticket.version = 1
    store.tickets[ticket.id] = ticket
    return ticket.id


def _emails(store: Store, ticket_id: str) -> list[NotificationRequested]:
    return [e for e in store.events
            if isinstance(e, NotificationRequested) and e.ticket_id == ticket_id]


# -- callbacks ----------------------------------------------------------------------------------

def test_a_callback_takes_a_seat_and_mails_a_signed_move_link() -> None:
    store = Store()
    tid = _add(store)
    done = fake_bus(store, MovableClock()).handle(c.RequestCallback(actor=ALICE, ticket_id=tid))
    assert done.booking is not None and done.booking.slot.start >= T0 + timedelta(minutes=10)
    assert store.tickets[tid].state is State.AWAITING_CALLBACK
    assert (store.audit[-1].trigger, store.audit[-1].actor) == ("request_callback", "agent:alice")
    [mail] = _emails(store, tid)
    assert mail.template == "callback_booked"
    assert str(mail.context["move_url"]).startswith(f"{BASE}/customer/callback/")


def test_a_full_slot_is_skipped_and_a_stale_version_books_nothing() -> None:
    store = Store()
    bus = fake_bus(store, MovableClock(), callback_policy=CallbackPolicy(capacity=1))
    first, second = (bus.handle(c.RequestCallback(actor=ALICE, ticket_id=_add(store)))
                     for _ in range(2))
    assert first.booking and second.booking and second.booking.slot.start > first.booking.slot.start
    tid = _add(store)
    with pytest.raises(ConcurrencyConflict):
        bus.handle(c.RequestCallback(actor=ALICE, ticket_id=tid, expected_version=7))
    assert store.tickets[tid].state is State.QUEUED and len(store.tables.bookings) == 2


def test_missed_calls_retry_then_requeue_with_a_request_link() -> None:
    store, clock = Store(), MovableClock()
    tid = _add(store)
    bus = fake_bus(store, clock)
    bus.handle(c.RequestCallback(actor=ALICE, ticket_id=tid))
    steps = []
    for n in range(3):
        clock.at = T0 + timedelta(hours=n + 1)
        steps.append(bus.handle(c.RecordCallResult(actor=ALICE, ticket_id=tid,
                                                   result="no_answer", note=f"try {n}")).step)
    assert steps == ["retry", "retry", "requeue"]
    assert store.tickets[tid].state is State.QUEUED
    assert [a.result for _, a in store.tables.attempts] == ["no_answer"] * 3
    assert not any(b.active for b in store.tables.bookings) and len(store.notes) == 3
    failed = _emails(store, tid)[-1]
    assert failed.template == "callback_failed"
    assert str(failed.context["request_url"]).startswith(f"{BASE}/customer/callback/")


def test_the_customer_gives_the_slot_back_then_books_another() -> None:
    store = Store()
    tid = _add(store)
    bus = fake_bus(store, MovableClock())
    booked = bus.handle(c.RequestCallback(actor=ALICE, ticket_id=tid)).booking
    assert booked is not None
    moved = bus.handle(c.MoveCallback(actor=CUSTOMER, ticket_id=tid))
    assert moved.booking is None and store.tickets[tid].waiting_on is WaitingOn.CALLBACK_MOVED
    assert bus.handle(c.MoveCallback(actor=CUSTOMER, ticket_id=tid)).booking is None  # 2nd click
    later = booked.slot.start + timedelta(days=1)
    shown = callback_view(FakeUnitOfWork(store), T0, CallbackPolicy(), tid, later.date())
    again = bus.handle(c.BookCallback(actor=CUSTOMER, ticket_id=tid,
                                      slot_start=shown.slots[0].start)).booking
    assert again is not None and again.slot == shown.slots[0]
    assert store.tickets[tid].waiting_on is None
    assert [b.status for b in store.tables.bookings] == ["moved", "booked"]


def test_a_breach_books_once_and_a_redelivery_changes_nothing() -> None:
    store = Store()
    tid = _add(store)
    bus = fake_bus(store, MovableClock(T0 + timedelta(hours=3)))
    cmd = c.EscalateBreach(actor=ESCALATION, ticket_id=tid, clock="first_reply", cycle=1)
    assert bus.handle(cmd) == "booked"
    assert store.audit[-1].actor == "system:escalation"
    assert bus.handle(cmd) == "skipped: ticket is awaiting-callback"
    resolution = c.EscalateBreach(actor=ESCALATION, ticket_id=_add(store), clock="resolution",
                                  cycle=1)
    assert bus.handle(resolution).startswith("skipped: policy does not escalate")
    assert len(store.tables.bookings) == 1


def test_the_callback_view_shows_the_booking_and_free_slots_only() -> None:
    store = Store()
    tid = _add(store)
    booked = fake_bus(store, MovableClock()).handle(c.RequestCallback(actor=ALICE, ticket_id=tid))
    assert booked.booking is not None
    day = booked.booking.slot.start.astimezone(default_book().calendar.zone).date()
    shown = callback_view(FakeUnitOfWork(store), T0, CallbackPolicy(), tid, day)
    assert shown.booking == booked.booking and booked.booking.slot not in shown.slots
    assert shown.slots and shown.next_day is not None and shown.next_day > day


# -- reset keys ---------------------------------------------------------------------------------

def test_a_key_is_sealed_mailed_and_confirmed_once() -> None:
    store = Store()
    tid = _add(store, assignee="alice")
    bus = fake_bus(store, MovableClock())
    bus.handle(c.SendKey(actor=ALICE, ticket_id=tid, artifact=new_artifact("key", text="K-42")))
    [art] = store.tables.artifacts
    assert art.ciphertext is not None and b"K-42" not in art.ciphertext
    assert store.tickets[tid].waiting_on is WaitingOn.KEY_CONFIRMATION
    mail = _emails(store, tid)[-1]
    assert str(mail.context["key_url"]).startswith(f"{BASE}/customer/key/get/")
    shown = key_view(FakeUnitOfWork(store), T0, tid, sealer=FakeSealer())
    assert shown.waiting and shown.text == "K-42"
    assert key_view(FakeUnitOfWork(store), T0, tid).text is None  # no sealer: no content
    first = bus.handle(c.ReportKey(actor=CUSTOMER, ticket_id=tid, worked=True))
    again = bus.handle(c.ReportKey(actor=CUSTOMER, ticket_id=tid, worked=True))
    assert (first.answer, again.answer) == (KeyAnswer.RECORDED, KeyAnswer.ALREADY_RECORDED)
    assert store.tickets[tid].outcome is Outcome.RESOLVED
    assert not key_view(FakeUnitOfWork(store), T0, tid).waiting


def test_a_key_cannot_be_sent_without_a_sealer_or_links() -> None:
    store = Store()
    tid = _add(store, assignee="alice")
    send = c.SendKey(actor=ALICE, ticket_id=tid, artifact=new_artifact("key", text="K"))
    with pytest.raises(NotConfigured, match="secret key"):
        fake_bus(store, MovableClock(), key_sealer=None).handle(send)
    with pytest.raises(NotConfigured, match="links"):
        fake_bus(store, MovableClock(), key_links=None).handle(send)
    assert store.tables.artifacts == [] and store.tickets[tid].waiting_on is None


# -- remote sessions ----------------------------------------------------------------------------

def test_a_session_from_code_to_end_through_thefake_bus() -> None:
    store, clock = Store(), MovableClock()
    tid = _add(store, assignee="alice")
    reference = store.tickets[tid].reference
    bus = fake_bus(store, clock)
    issued = bus.handle(c.OfferRemoteCode(actor=ALICE, ticket_id=tid))
    with pytest.raises(rs.CodeRefused):
        bus.handle(c.VerifySessionCode(actor=CUSTOMER, reference=reference, code="AAAAA-AAAAA",
                                       source_addr="198.51.100.7"))
    assert {count.count for count in store.tables.counters.values()} == {1}  # addr and ref
    found = bus.handle(c.VerifySessionCode(actor=CUSTOMER, reference=reference,
                                           code=issued.code))
    session_id, ticket = bus.handle(c.StartRemoteSession(
        actor=CUSTOMER, ticket_id=tid, code_id=found.code_id, terms_version="1",
        current_terms="1", language="en"))
    assert ticket.state is State.REMOTE_SESSION
    clock.at = T0 + timedelta(minutes=5)
    bus.handle(c.TouchSession(actor=CUSTOMER, ticket_id=tid, session_id=session_id))
    record, steps = session_view(FakeUnitOfWork(store), tid)
    assert (record.id, record.last_activity_at, steps) == (session_id, clock.at, [])
    ended = bus.handle(c.EndRemoteSession(actor=ALICE, ticket_id=tid, resolved=True,
                                          reason="fixed"))
    assert (ended.state, ended.outcome) == (State.CLOSED, Outcome.RESOLVED)
    with pytest.raises(rs.SessionGone):
        bus.handle(c.TouchSession(actor=ALICE, ticket_id=tid))
    with pytest.raises(rs.SessionGone):
        session_view(FakeUnitOfWork(store), tid)
