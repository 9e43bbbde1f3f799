from __future__ import annotations

import dataclasses

import pytest

from tests.factories import T0, make_ticket, satisfying
from workflow.domain.actors import Actor
from workflow.domain.errors import GuardRefused, IllegalTransition
from workflow.domain.guards import TriggerContext
from workflow.domain.machine import allowed_triggers, fire, offered_moves, offered_triggers
from workflow.domain.states import (
    TRANSITIONS,
    TRIGGERS,
    WAITING_ALLOWED_IN,
    Outcome,
    State,
    WaitingOn,
    triggers_from,
)

LEGAL = [
    pytest.param(move, source, id=f"{move.trigger}:{source.value}->{(move.dest or source).value}"
                 + (f"[{','.join(move.guards)}]" if move.guards else ""))
    for move in TRANSITIONS
    for source in move.source
]
ILLEGAL = [
    pytest.param(trigger, state, id=f"{trigger}@{state.value}")
    for state in State
    for trigger in TRIGGERS
    if trigger not in triggers_from(state)
]


def test_exactly_six_top_level_states() -> None:
    assert [s.value for s in State] == [
        "submitted", "verified", "queued", "awaiting-callback", "remote-session", "closed"]


@pytest.mark.parametrize(("move", "source"), LEGAL)
def test_every_legal_move_reaches_its_destination(move, source) -> None:
    ticket, ctx = satisfying(move, source)
    fire(ticket, move.trigger, ctx)
    assert ticket.state is (move.dest or source)
    [entry] = ticket.pending_audit
    assert (entry.trigger, entry.from_state, entry.to_state, entry.actor) == (
        move.trigger, source.value, (move.dest or source).value, ctx.actor)
    if ticket.state is State.CLOSED:
        assert ticket.outcome is not None and ticket.closed_at == T0
    if ticket.state not in WAITING_ALLOWED_IN:
        assert ticket.waiting_on is None


@pytest.mark.parametrize(("trigger", "state"), ILLEGAL)
def test_every_illegal_move_is_refused_and_changes_nothing(trigger, state) -> None:
    ticket = make_ticket(state, assignee="alice")
    before = dataclasses.replace(ticket)
    with pytest.raises(IllegalTransition) as info:
        fire(ticket, trigger, TriggerContext("agent:alice", T0, verdict_ok=True))
    assert info.value.state == state.value
    assert info.value.allowed == triggers_from(state)
    assert state.value in str(info.value) and trigger in str(info.value)
    assert (ticket.state, ticket.outcome, ticket.assignee, ticket.pending_audit) == (
        before.state, before.outcome, before.assignee, [])


def test_unknown_trigger_names_the_allowed_moves() -> None:
    ticket = make_ticket(State.VERIFIED)
    with pytest.raises(IllegalTransition, match="allowed here: reject, enqueue"):
        fire(ticket, "teleport", TriggerContext("system:test", T0))


def test_second_claim_by_another_agent_is_refused() -> None:
    ticket = make_ticket(State.QUEUED)
    fire(ticket, "claim", TriggerContext("agent:alice", T0))
    with pytest.raises(GuardRefused, match="already claimed by alice"):
        fire(ticket, "claim", TriggerContext("agent:bob", T0))
    assert ticket.assignee == "alice"


def test_supervisor_can_take_over_a_claimed_ticket() -> None:
    ticket = make_ticket(State.QUEUED, assignee="alice")
    with pytest.raises(GuardRefused, match="a supervisor may take it over"):
        fire(ticket, "claim", TriggerContext("supervisor:bob", T0))
    fire(ticket, "take_over", TriggerContext("supervisor:bob", T0))
    assert ticket.assignee == "bob"
    fire(ticket, "reply", TriggerContext("supervisor:bob", T0))  # a supervisor holds it like anyone


def test_take_over_needs_someone_else_holding_it() -> None:
    ticket = make_ticket(State.QUEUED)
    with pytest.raises(GuardRefused, match="nobody else holds it"):
        fire(ticket, "take_over", TriggerContext("supervisor:bob", T0))


def test_reassign_hands_the_ticket_to_the_named_agent() -> None:
    ticket = make_ticket(State.QUEUED, assignee="alice")
    fire(ticket, "reassign", TriggerContext("supervisor:bob", T0, assign_to="carol"))
    assert ticket.assignee == "carol"
    with pytest.raises(GuardRefused, match="already carol's"):
        fire(ticket, "reassign", TriggerContext("supervisor:bob", T0, assign_to="carol"))


def test_only_the_assignee_can_reply() -> None:
    ticket = make_ticket(State.QUEUED, assignee="alice")
    with pytest.raises(GuardRefused, match="claimed by alice"):
        fire(ticket, "reply", TriggerContext("agent:bob", T0))
    fire(ticket, "reply", TriggerContext("agent:alice", T0))
    assert ticket.first_reply_at == T0


def test_verify_needs_a_passing_verdict() -> None:
    ticket = make_ticket()
    with pytest.raises(GuardRefused, match="did not pass verification"):
        fire(ticket, "verify", TriggerContext("system:verification", T0, verdict_ok=False))
    assert ticket.state is State.SUBMITTED


def test_reject_records_the_rejection_outcome() -> None:
    ticket = make_ticket()
    fire(ticket, "reject", TriggerContext("system:verification", T0,
                                          outcome=Outcome.REJECTED_METHOD, reason="use SADP"))
    assert (ticket.state, ticket.outcome) == (State.CLOSED, Outcome.REJECTED_METHOD)
    assert ticket.pending_audit[0].reason == "use SADP"
    kinds = [e.kind for e in ticket.pending_events]
    assert kinds == ["ticket.transitioned", "ticket.closed"]


def test_only_the_system_rejects_a_request_that_is_not_queued_yet() -> None:
    for state in (State.SUBMITTED, State.VERIFIED):
        ticket = make_ticket(state, assignee="alice")
        with pytest.raises(GuardRefused, match="only the verification worker rejects"):
            fire(ticket, "reject", TriggerContext("agent:alice", T0, reason="spam",
                                                  outcome=Outcome.REJECTED_OTHER))
        assert (ticket.state, ticket.outcome, ticket.pending_audit) == (state, None, [])
        fire(ticket, "reject", TriggerContext("system", T0, outcome=Outcome.REJECTED_OTHER))
        assert ticket.state is State.CLOSED


@pytest.mark.parametrize("state", [State.QUEUED, State.AWAITING_CALLBACK])
def test_staff_reject_an_active_ticket_they_hold_with_an_outcome_and_a_reason(
        state: State) -> None:
    ticket = make_ticket(state, assignee="alice", waiting_on=WaitingOn.KEY_CONFIRMATION
                         if state is State.QUEUED else None)
    fire(ticket, "reject", TriggerContext("supervisor:alice", T0, reason="a test device",
                                          outcome=Outcome.REJECTED_SERIAL))
    assert (ticket.state, ticket.outcome, ticket.waiting_on) == (
        State.CLOSED, Outcome.REJECTED_SERIAL, None)
    [entry] = ticket.pending_audit
    assert (entry.actor, entry.from_state, entry.outcome, entry.reason) == (
        "supervisor:alice", state.value, "rejected-serial", "a test device")
    assert [e.kind for e in ticket.pending_events] == ["ticket.transitioned", "ticket.closed"]


@pytest.mark.parametrize(("holder", "actor", "outcome", "reason", "why"), [
    ("bob", "agent:alice", Outcome.REJECTED_OTHER, "spam", "the ticket is claimed by bob"),
    (None, "agent:alice", Outcome.REJECTED_OTHER, "spam", "claim the ticket first"),
    ("alice", "agent:alice", Outcome.RESOLVED, "spam", "a rejection needs a rejected-"),
    ("alice", "agent:alice", None, "spam", "a rejection needs a rejected-"),
    ("alice", "agent:alice", Outcome.REJECTED_OTHER, None, "a rejection needs a reason"),
    ("alice", "agent:alice", Outcome.REJECTED_OTHER, "  ", "a rejection needs a reason"),
])
def test_a_staff_rejection_needs_the_ticket_an_outcome_and_a_reason(
        holder: str | None, actor: str, outcome: Outcome | None, reason: str | None,
        why: str) -> None:
    ticket = make_ticket(State.QUEUED, assignee=holder)
    with pytest.raises(GuardRefused, match=why):
        fire(ticket, "reject", TriggerContext(actor, T0, reason=reason, outcome=outcome))
    assert (ticket.state, ticket.outcome, ticket.pending_audit) == (State.QUEUED, None, [])


def test_a_remote_session_or_a_closed_ticket_cannot_be_rejected() -> None:
    for state in (State.REMOTE_SESSION, State.CLOSED):
        ticket = make_ticket(state, assignee="alice")
        with pytest.raises(IllegalTransition):
            fire(ticket, "reject", TriggerContext("agent:alice", T0, reason="spam",
                                                  outcome=Outcome.REJECTED_OTHER))


def test_waiting_on_is_cleared_when_leaving_queued_for_remote_session() -> None:
    ticket = make_ticket(State.QUEUED, assignee="alice")
    fire(ticket, "offer_remote_session", TriggerContext("agent:alice", T0))
    assert ticket.waiting_on is WaitingOn.SESSION_CODE
    fire(ticket, "start_remote_session", TriggerContext("customer", T0))
    after: tuple[State, WaitingOn | None] = (ticket.state, ticket.waiting_on)
    assert after == (State.REMOTE_SESSION, None)


def test_callback_result_routes_by_result() -> None:
    routes = {"answered": State.QUEUED, "requeue": State.QUEUED, "retry": State.AWAITING_CALLBACK,
              "give_up": State.CLOSED}
    for result, dest in routes.items():
        ticket = make_ticket(State.AWAITING_CALLBACK, assignee="alice")
        fire(ticket, "callback_result", TriggerContext("agent:alice", T0, result=result))
        assert ticket.state is dest
    ticket = make_ticket(State.AWAITING_CALLBACK)
    with pytest.raises(GuardRefused, match="answered, retry, requeue or give_up"):
        fire(ticket, "callback_result", TriggerContext("agent:alice", T0, result="maybe"))


def test_rejected_ticket_cannot_be_reopened() -> None:
    ticket = make_ticket(State.CLOSED, outcome=Outcome.DUPLICATE)
    with pytest.raises(GuardRefused, match="closed duplicate cannot be reopened"):
        fire(ticket, "reopen", TriggerContext("agent:alice", T0))


def test_allowed_triggers_with_context_drop_guarded_moves() -> None:
    ticket = make_ticket(State.QUEUED, assignee="alice")
    as_bob = allowed_triggers(ticket, TriggerContext("agent:bob", T0))
    as_alice = allowed_triggers(ticket, TriggerContext("agent:alice", T0))
    assert "reply" not in as_bob and "reply" in as_alice
    assert "claim" in as_alice


def test_offered_triggers_leave_guards_on_the_input_to_the_form() -> None:
    waiting = make_ticket(State.AWAITING_CALLBACK, assignee="alice")
    ctx = TriggerContext("agent:alice", T0)
    assert "callback_result" not in allowed_triggers(waiting, ctx)  # no result given yet
    assert "callback_result" in offered_triggers(waiting, ctx)
    assert "book_callback" not in offered_triggers(waiting, ctx)  # a guard on the ticket
    queued = make_ticket(State.QUEUED, assignee="bob")
    assert "reassign" in offered_triggers(queued, TriggerContext("supervisor:sam", T0))
    assert "reply" not in offered_triggers(queued, ctx)
    for ticket in (waiting, queued, make_ticket(State.REMOTE_SESSION, assignee="alice")):
        assert set(allowed_triggers(ticket, ctx)) <= set(offered_triggers(ticket, ctx))


def test_offered_moves_give_staff_the_rejection_form_and_never_a_system_move() -> None:
    """One answer for the ticket page's buttons, the resolution panels and the API's
    ``allowed``: the reason a rejection needs is the form's, so reject is offered to the
    assignee; the worker's moves never reach a person."""
    held = make_ticket(State.QUEUED, assignee="alice")
    alice, bob = Actor("agent", "alice"), Actor("agent", "bob")
    assert "reject" in offered_moves(held, alice, T0)
    assert "reject" not in offered_moves(held, bob, T0)  # is_assignee: a guard on the ticket
    assert not {"verify", "enqueue"} & set(offered_moves(make_ticket(State.SUBMITTED), alice, T0))
    assert "reassign" in offered_moves(held, Actor("supervisor", "sam"), T0)
    assert "reassign" not in offered_moves(held, alice, T0)


def test_enqueue_raises_ticket_queued_event() -> None:
    ticket = make_ticket(State.VERIFIED)
    fire(ticket, "enqueue", TriggerContext("system:verification", T0))
    assert [e.kind for e in ticket.pending_events] == ["ticket.transitioned", "ticket.queued"]
