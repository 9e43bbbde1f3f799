"""The scheduler's commands through the bus, over the in-memory unit of work: each job's handler
changes what it should once, a second run changes nothing, and only system actors may run them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from schedulers.housekeeping import HOUSEKEEPING, KEYS, SESSIONS
from schedulers.jobs import PURGE, SCHEDULER
from tests.factories import T0, make_ticket
from tests.fake_bus import BASE, MovableClock, fake_bus
from tests.fakes import FakeUnitOfWork, Store
from workflow.adapters.sla_book import default_book
from workflow.domain.actors import Actor
from workflow.domain.callback_slots import Slot
from workflow.domain.errors import ActorRefused, WorkflowError
from workflow.domain.events import NotificationRequested, SlaRaised
from workflow.domain.reset_keys import KeyLinks, SilencePolicy, new_artifact
from workflow.domain.states import Outcome, State
from workflow.domain.throttle import CounterState
from workflow.service import commands as c
from workflow.service import housekeeping_commands as h
from workflow.service.bus import NotConfigured
from workflow.service.handlers import sync_sla


def _add(store: Store, state: State = State.QUEUED, **fields: Any) -> str:
    ticket = make_ticket(state, created_at=T0, updated_at=T0, accepted_at=T0, **fields)
    ticket.version = 1
    store.tickets[ticket.id] = ticket
    return ticket.id


def _templates(store: Store, ticket_id: str) -> list[str]:
    return [e.template for e in store.events
            if isinstance(e, NotificationRequested) and e.ticket_id == ticket_id]


def test_an_sla_round_raises_each_due_alarm_once() -> None:
    store, clock = Store(), MovableClock()
    tid = _add(store)
    sync_sla(default_book(), store.tickets[tid], T0)
    bus = fake_bus(store, clock)
    assert bus.handle(h.RaiseSlaAlarms(actor=SCHEDULER)) == 0  # nothing due yet
    clock.at = T0 + timedelta(days=14)
    raised = bus.handle(h.RaiseSlaAlarms(actor=SCHEDULER))
    alarms = {(e.clock, e.level) for e in store.events if isinstance(e, SlaRaised)}
    assert raised == len(alarms) == 4
    assert ("first_reply", "breached") in alarms and ("resolution", "breached") in alarms
    assert bus.handle(h.RaiseSlaAlarms(actor=SCHEDULER)) == 0


def test_a_silent_customer_is_reminded_once_then_the_ticket_closes() -> None:
    store, clock = Store(), MovableClock()
    tid = _add(store, assignee="alice")
    bus = fake_bus(store, clock)
    bus.handle(c.SendKey(actor=Actor("agent", "alice"), ticket_id=tid,
                         artifact=new_artifact("key", text="KEY-1")))
    job = h.RemindSilentKeys(actor=KEYS, silence=SilencePolicy(2, 5), link_base=BASE)
    assert bus.handle(job) == (0, 0)
    clock.at = T0 + timedelta(days=7)
    assert bus.handle(job) == (1, 0)
    [reminder] = [e for e in store.events if isinstance(e, NotificationRequested)
                  and e.template == "key_reminder"]
    assert (reminder.context["expired"], reminder.context["key_url"]) == (1, None)  # 48 h key
    assert str(reminder.context["confirm_url"]).startswith(f"{BASE}/customer/key/confirm/")
    assert bus.handle(job) == (0, 0)  # reminded once
    clock.at = T0 + timedelta(days=21)
    assert bus.handle(job) == (0, 1)
    ticket = store.tickets[tid]
    assert (ticket.state, ticket.outcome) == (State.CLOSED, Outcome.ABANDONED)
    assert store.audit[-1].actor == "system:key-jobs"
    assert _templates(store, tid) == ["reset_key", "key_reminder", "key_closed_silent"]
    assert bus.handle(job) == (0, 0)


def test_a_reminder_without_usable_links_points_to_the_first_email() -> None:
    store, clock = Store(), MovableClock()
    tid = _add(store, assignee="alice")
    fake_bus(store, clock).handle(c.SendKey(actor=Actor("agent", "alice"), ticket_id=tid,
                                        artifact=new_artifact("key", text="KEY-1")))
    clock.at = T0 + timedelta(days=7)
    def unconfigured(base: str | None) -> KeyLinks:
        raise NotConfigured("reset keys need a public URL for the customer's links")

    bus = fake_bus(store, clock, key_links=unconfigured)
    assert bus.handle(h.RemindSilentKeys(actor=KEYS)) == (1, 0)
    reminder = [e for e in store.events if isinstance(e, NotificationRequested)][-1]
    assert reminder.context["key_url"] is None and reminder.context["confirm_url"] is None


def _in_session(store: Store, clock: MovableClock) -> tuple[str, int]:
    tid = _add(store, State.REMOTE_SESSION, assignee="alice")
    uow = FakeUnitOfWork(store)
    with uow:
        session_id = uow.sessions.open_session(tid, clock.now())
        uow.commit()
    return tid, session_id


def test_an_idle_session_ends_and_requeues_the_ticket_once() -> None:
    store, clock = Store(), MovableClock()
    tid, session_id = _in_session(store, clock)
    bus = fake_bus(store, clock)
    clock.at = T0 + timedelta(minutes=29)
    assert bus.handle(h.ExpireIdleSessions(actor=SESSIONS)) == 0  # the policy's 30 minutes
    clock.at = T0 + timedelta(minutes=30)
    assert bus.handle(h.ExpireIdleSessions(actor=SESSIONS)) == 1
    assert store.tickets[tid].state is State.QUEUED
    entry = store.audit[-1]
    assert (entry.actor, entry.trigger) == ("system:scheduler", "end_remote_session")
    [session] = store.tables.sessions
    assert (session.id, session.end_reason) == (session_id, "inactivity")
    assert _templates(store, tid) == ["session_ended"]
    assert bus.handle(h.ExpireIdleSessions(actor=SESSIONS, idle=timedelta(minutes=1))) == 0


def test_seats_of_tickets_that_left_awaiting_callback_are_freed() -> None:
    store, clock = Store(), MovableClock()
    gone, waiting = _add(store, State.CLOSED), _add(store, State.AWAITING_CALLBACK)
    uow = FakeUnitOfWork(store)
    with uow:
        for n, tid in enumerate((gone, waiting)):
            slot = Slot(T0 + timedelta(hours=n + 1), T0 + timedelta(hours=n + 1, minutes=30))
            uow.callbacks.try_book(tid, slot, 1, "agent:alice", T0)
        uow.commit()
    bus = fake_bus(store, clock)
    assert bus.handle(h.ReleaseOrphanBookings(actor=HOUSEKEEPING)) == 1
    assert [(b.ticket_id, b.active, b.status) for b in store.tables.bookings] == [
        (gone, False, "cancelled"), (waiting, True, "booked")]
    assert bus.handle(h.ReleaseOrphanBookings(actor=HOUSEKEEPING)) == 0


def test_stale_throttle_counters_are_pruned_and_live_ones_kept() -> None:
    store, clock = Store(), MovableClock(T0 + timedelta(days=2))
    store.tables.counters = {
        ("code-addr", "old"): CounterState(T0, 3),
        ("code-ref", "locked"): CounterState(T0, 0, locked_until=T0 + timedelta(days=2)),
        ("intake", "fresh"): CounterState(T0 + timedelta(days=1, hours=12), 1)}
    assert fake_bus(store, clock).handle(h.PruneThrottle(actor=HOUSEKEEPING)) == 1
    assert set(store.tables.counters) == {("code-ref", "locked"), ("intake", "fresh")}


def test_presence_lives_its_ttl_typing_outlives_a_viewing_beat_and_expired_rows_go() -> None:
    store, clock = Store(), MovableClock(T0)
    bus, ada, bob = fake_bus(store, clock), Actor("agent", "ada"), Actor("supervisor", "bob")
    bus.handle(c.MarkPresence(actor=ada, ticket_id="t1", activity="typing"))
    bus.handle(c.MarkPresence(actor=bob, ticket_id="t2"))
    clock.advance(seconds=10)
    bus.handle(c.MarkPresence(actor=ada, ticket_id="t1"))  # viewing, 10 s after typing
    assert store.tables.presence[("t1", "ada")][0] == "typing"
    clock.advance(seconds=10)
    bus.handle(c.MarkPresence(actor=ada, ticket_id="t1"))  # 20 s after: typing is over
    assert store.tables.presence[("t1", "ada")][0] == "viewing"
    with pytest.raises(WorkflowError, match="activity must be one of viewing, typing"):
        bus.handle(c.MarkPresence(actor=ada, ticket_id="t1", activity="sleeping"))
    clock.advance(seconds=15)  # bob's row (beat at T0) has expired, ada's (T0 + 20 s) not
    assert bus.handle(h.PrunePresence(actor=HOUSEKEEPING)) == 1
    assert set(store.tables.presence) == {("t1", "ada")}
    with pytest.raises(ActorRefused, match="customer may not MarkPresence"):
        bus.handle(c.MarkPresence(actor=Actor("customer"), ticket_id="t1"))


def test_the_purge_runs_the_configured_purger_with_the_retention_periods() -> None:
    calls: list[tuple[datetime, timedelta, timedelta]] = []

    def purger(now: datetime, retention: timedelta, attachments: timedelta) -> str:
        calls.append((now, retention, attachments))
        return "purged: 0"

    cmd = h.PurgeExpired(actor=PURGE, retention=timedelta(days=90),
                         attachment_retention=timedelta(days=30))
    assert fake_bus(Store(), MovableClock(), purge=purger).handle(cmd) == "purged: 0"
    assert calls == [(T0, timedelta(days=90), timedelta(days=30))]
    with pytest.raises(NotConfigured, match="retention purge"):
        fake_bus(Store(), MovableClock()).handle(cmd)


@pytest.mark.parametrize("actor", [Actor("agent", "alice"), Actor("supervisor", "sue"),
                                   Actor("customer"), Actor("producer", "webform")],
                         ids=lambda a: a.kind)
@pytest.mark.parametrize("kind", [h.RaiseSlaAlarms, h.RemindSilentKeys, h.ExpireIdleSessions,
                                  h.ReleaseOrphanBookings, h.PruneThrottle, h.PrunePresence,
                                  h.PurgeExpired],
                         ids=lambda k: k.__name__)
def test_only_a_system_actor_may_run_a_scheduler_job(kind: type[Any], actor: Actor) -> None:
    store = Store()
    tid = _add(store, State.REMOTE_SESSION)
    extra = {"retention": timedelta(0), "attachment_retention": timedelta(0)} \
        if kind is h.PurgeExpired else {}
    with pytest.raises(ActorRefused, match=f"{actor.label} may not {kind.__name__}"):
        fake_bus(store, MovableClock(T0 + timedelta(days=30))).handle(kind(actor=actor, **extra))
    assert store.tickets[tid].state is State.REMOTE_SESSION and not store.audit
