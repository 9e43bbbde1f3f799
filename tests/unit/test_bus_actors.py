"""The bus lets an actor fire a move exactly when the transitions declaration says so.

Generated from the declaration: for every (trigger, actor kind) pair, the command that carries
the trigger goes through the bus. Plain moves run their real handler over an in-memory unit of
work (allowed: the ticket moved, audited under the actor; refused: ``ActorRefused``, nothing
changed); dedicated moves run a recording handler (their real ones need stores of their own and
are exercised through the entries in tests/integration/test_bus_entries.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from schemas.requests_v1 import RequestSubmittedV1
from schemas.sample import sample_request_data
from tests.factories import T0, make_ticket, stored_for
from tests.fakes import FakeAgents, FakeUnitOfWork, Store
from workflow.adapters.bus_wiring import packaged_rules
from workflow.domain.actors import Actor, may_fire
from workflow.domain.errors import ActorRefused, DedicatedMove, GuardRefused
from workflow.domain.reset_keys import new_artifact
from workflow.domain.states import (
    ACTOR_KINDS,
    TRANSITIONS,
    TRIGGERS,
    Outcome,
    State,
    actors_of,
    command_of,
    moves_of,
)
from workflow.service import commands as c
from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.command_handlers import build_bus
from workflow.service.ports import Clock

ACTORS = {"agent": Actor("agent", "alice"), "supervisor": Actor("supervisor", "alice"),
          "customer": Actor("customer"), "producer": Actor("producer", "webform"),
          "system": Actor("system", "test")}
REQUEST = RequestSubmittedV1.model_validate(sample_request_data())
Make = Callable[[Actor, str], c.Command[Any]]


def _intake(actor: Actor, tid: str) -> c.Command[Any]:
    return c.VerifyRequest(actor=actor, source="urn:test", event_id=tid, reference="RD-TEST-0001",
                           producer="webform", human_check="passed", request=REQUEST)


#: the command that carries each trigger (the rest go through FireTrigger)
CARRIER: dict[str, Make] = {
    "verify": _intake, "mark_duplicate": _intake, "enqueue": _intake,
    "reject": lambda a, t: c.RejectTicket(actor=a, ticket_id=t, outcome=Outcome.REJECTED_OTHER,
                                          reason="bus table"),
    "take_over": lambda a, t: c.TakeOver(actor=a, ticket_id=t),
    "reassign": lambda a, t: c.Reassign(actor=a, ticket_id=t, to_agent="carol"),
    "reply": lambda a, t: c.Reply(actor=a, ticket_id=t, message="hello"),
    "send_key": lambda a, t: c.SendKey(actor=a, ticket_id=t,
                                       artifact=new_artifact("key", text="K-1")),
    "key_failed": lambda a, t: c.ReportKey(actor=a, ticket_id=t, worked=False),
    "request_callback": lambda a, t: c.RequestCallback(actor=a, ticket_id=t),
    "move_callback": lambda a, t: c.MoveCallback(actor=a, ticket_id=t),
    "book_callback": lambda a, t: c.BookCallback(actor=a, ticket_id=t),
    "callback_result": lambda a, t: c.RecordCallResult(actor=a, ticket_id=t, result="answered"),
    "offer_remote_session": lambda a, t: c.OfferRemoteCode(actor=a, ticket_id=t),
    "start_remote_session": lambda a, t: c.StartRemoteSession(
        actor=a, ticket_id=t, code_id=1, terms_version="1", current_terms="1", language="en"),
    "end_remote_session": lambda a, t: c.EndRemoteSession(actor=a, ticket_id=t, resolved=True,
                                                          reason="done"),
}
#: commands whose real handler needs stores of their own (keys, slots, codes, the inbox): a
#: recording handler stands in; the real ones run through the entries in test_bus_entries.py
SPIED = (c.SendKey, c.ReportKey, c.RequestCallback, c.MoveCallback, c.BookCallback,
         c.RecordCallResult, c.OfferRemoteCode, c.StartRemoteSession, c.EndRemoteSession,
         c.VerifyRequest)
PAIRS = [pytest.param(trigger, kind, id=f"{trigger}-{kind}")
         for trigger in TRIGGERS for kind in ACTOR_KINDS]


class FixedClock(Clock):
    def now(self) -> datetime:
        return T0


def _bus(store: Store, spy: list[c.Command[Any]]) -> MessageBus:
    bus = build_bus(HandlerContext(uow=lambda: FakeUnitOfWork(store), clock=FixedClock(),
                                   agents=FakeAgents(alice="agent", carol="agent"),
                                   rules=packaged_rules))
    for kind in SPIED:
        bus._handlers[kind] = lambda cmd, ctx: spy.append(cmd)
    return bus


def _stored(store: Store, trigger: str, kind: str | None = None) -> str:
    """A ticket on which the trigger's first row for ``kind`` can be taken."""
    ticket = stored_for(trigger, kind)
    ticket.version = 1
    store.tickets[ticket.id] = ticket
    return ticket.id


def test_the_declaration_names_only_known_actor_kinds() -> None:
    for move in TRANSITIONS:
        assert move.actors and all(a.partition(":")[0] in ACTOR_KINDS for a in move.actors)
        assert "agent" not in move.actors or "supervisor" in move.actors, move.trigger


@pytest.mark.parametrize(("trigger", "kind"), PAIRS)
def test_bus_allows_exactly_what_the_declaration_says(trigger: str, kind: str) -> None:
    store, spy = Store(), list[c.Command[Any]]()
    bus, actor = _bus(store, spy), ACTORS[kind]
    allowed = kind in actors_of(trigger)
    assert may_fire(actor, trigger) is allowed
    tid = _stored(store, trigger, kind)
    before = store.tickets[tid]
    make = CARRIER.get(trigger)
    cmd = make(actor, tid) if make else c.FireTrigger(actor=actor, ticket_id=tid, trigger=trigger)
    if not allowed:
        with pytest.raises(ActorRefused, match=f"{actor.label} may not "):
            bus.handle(cmd)
        assert store.tickets[tid] is before and not spy and not store.audit
        return
    result = bus.handle(cmd)
    if isinstance(cmd, SPIED):
        assert spy == [cmd]
        return
    [entry] = store.audit
    assert (entry.trigger, entry.actor, result.version) == (trigger, actor.label, 2)


DEDICATED = [pytest.param(t, k, id=f"{t}-{k}") for t in TRIGGERS for k in ACTOR_KINDS
             if k in actors_of(t) and command_of(t, k)]


@pytest.mark.parametrize(("trigger", "kind"), DEDICATED)
def test_a_dedicated_move_is_refused_through_the_generic_command(trigger: str, kind: str) -> None:
    store = Store()
    bus = _bus(store, [])
    tid = _stored(store, trigger, kind)
    with pytest.raises(DedicatedMove) as refused:
        bus.handle(c.FireTrigger(actor=ACTORS[kind], ticket_id=tid, trigger=trigger))
    command = command_of(trigger, kind)
    assert str(refused.value) == f"{trigger} has its own command: resetdesk {command}"
    assert not store.audit


def test_reject_names_the_command_of_each_kind_that_may_fire_it() -> None:
    assert actors_of("reject") == ("system", "agent", "supervisor")
    assert command_of("reject") == command_of("reject", "system") == moves_of("reject")[0].command
    assert command_of("reject", "agent") == command_of("reject", "supervisor") == "tickets reject"
    assert command_of("reject", "customer") is None
    store = Store()
    tid = _stored(store, "reject", "agent")
    with pytest.raises(DedicatedMove) as refused:
        _bus(store, []).handle(c.FireTrigger(actor=ACTORS["agent"], ticket_id=tid,
                                             trigger="reject", reason="spam"))
    assert str(refused.value) == "reject has its own command: resetdesk tickets reject"
    assert store.tickets[tid].state is State.QUEUED and not store.audit


@pytest.mark.parametrize("kind", ["agent", "supervisor"])
def test_staff_reject_a_ticket_they_hold_but_not_a_request_before_it_is_queued(
        kind: str) -> None:
    store = Store()
    bus, actor = _bus(store, []), ACTORS[kind]
    submitted = _stored(store, "reject", "system")
    store.tickets[submitted].assignee = actor.name
    with pytest.raises(GuardRefused, match="only the verification worker rejects"):
        bus.handle(c.RejectTicket(actor=actor, ticket_id=submitted, reason="spam",
                                  outcome=Outcome.REJECTED_OTHER))
    assert store.tickets[submitted].state is State.SUBMITTED and not store.audit
    held = _stored(store, "reject", kind)
    with pytest.raises(GuardRefused, match="a rejection needs a reason"):
        bus.handle(c.RejectTicket(actor=actor, ticket_id=held, outcome=Outcome.REJECTED_OTHER))
    done = bus.handle(c.RejectTicket(actor=actor, ticket_id=held, reason="a lab device",
                                     outcome=Outcome.REJECTED_ATTESTATION))
    assert (done.state, done.outcome) == (State.CLOSED, Outcome.REJECTED_ATTESTATION)
    [entry] = store.audit
    assert (entry.actor, entry.trigger, entry.reason) == (actor.label, "reject", "a lab device")


def test_send_key_names_its_cli_command() -> None:
    store = Store()
    tid = _stored(store, "send_key")
    with pytest.raises(DedicatedMove, match="send_key has its own command: resetdesk tickets "
                                            "send-key"):
        _bus(store, []).handle(c.FireTrigger(actor=ACTORS["agent"], ticket_id=tid,
                                             trigger="send_key"))


def test_an_agent_cannot_take_over_a_supervisor_can() -> None:
    store = Store()
    bus = _bus(store, [])
    ticket = make_ticket(State.QUEUED, assignee="bob")
    ticket.version = 1
    store.tickets[ticket.id] = ticket
    with pytest.raises(ActorRefused, match="agent:carol may not take_over; only: supervisor"):
        bus.handle(c.TakeOver(actor=Actor("agent", "carol"), ticket_id=ticket.id))
    done = bus.handle(c.TakeOver(actor=Actor("supervisor", "sue"), ticket_id=ticket.id))
    assert done.assignee == "sue" and store.audit[-1].actor == "supervisor:sue"
    moved = bus.handle(c.Reassign(actor=Actor("supervisor", "sue"), ticket_id=ticket.id,
                                  to_agent="carol"))
    assert moved.assignee == "carol"


def test_notes_are_for_staff_only() -> None:
    store = Store()
    ticket = make_ticket(State.QUEUED)
    store.tickets[ticket.id] = ticket
    bus = _bus(store, [])
    with pytest.raises(ActorRefused):
        bus.handle(c.AddNote(actor=Actor("customer"), ticket_id=ticket.id, body="hi"))
    bus.handle(c.AddNote(actor=Actor("supervisor", "sue"), ticket_id=ticket.id, body="hi"))
    assert [(n[1], n[3]) for n in store.notes] == [("sue", "hi")]
