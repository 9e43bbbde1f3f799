"""The ticket's clocks follow its state: pause while waiting, stop on reply/close, new cycle on
reopen; alarms come in business time only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.factories import make_ticket
from workflow.adapters.sla_book import default_book
from workflow.domain.guards import TriggerContext
from workflow.domain.machine import fire
from workflow.domain.states import State
from workflow.domain.ticket_sla import due_alarms, from_dict, to_dict
from workflow.service.handlers import sync_sla

PT = ZoneInfo("America/Los_Angeles")
BOOK = default_book()


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=PT)  # type: ignore[misc,arg-type]


def _queued(accepted: datetime):  # type: ignore[no-untyped-def]
    t = make_ticket(State.QUEUED, accepted_at=accepted, assignee="alice")
    sync_sla(BOOK, t, accepted)
    return t


def _move(t, trigger: str, at: datetime, **ctx) -> None:  # type: ignore[no-untyped-def]
    fire(t, trigger, TriggerContext(ctx.pop("actor", "agent:alice"), at, **ctx))
    sync_sla(BOOK, t, at)


def test_clocks_start_when_the_request_was_accepted() -> None:
    t = _queued(_at(2026, 11, 24, 9, 0))  # Tuesday
    assert t.sla.due("first_reply") == _at(2026, 11, 24, 10, 0)
    assert t.sla.clocks["first_reply"].at_risk_at == _at(2026, 11, 24, 9, 48)


def test_request_outside_hours_is_due_one_hour_after_the_next_opening() -> None:
    t = _queued(_at(2026, 11, 24, 5, 0))
    assert t.sla.due("first_reply") == _at(2026, 11, 24, 7, 0)


def test_request_the_evening_before_thanksgiving_is_due_friday_morning() -> None:
    t = _queued(_at(2026, 11, 25, 20, 0))
    assert t.sla.due("first_reply") == _at(2026, 11, 27, 7, 0)


def test_first_reply_stops_the_first_reply_clock_only() -> None:
    t = _queued(_at(2026, 11, 24, 9, 0))
    _move(t, "reply", _at(2026, 11, 24, 9, 30))
    assert t.sla.clocks["first_reply"].is_stopped
    assert t.sla.clocks["resolution"].is_running
    assert t.sla.due("first_reply") is None


def test_waiting_on_the_customer_pauses_and_the_answer_resumes() -> None:
    t = _queued(_at(2026, 11, 24, 9, 0))
    _move(t, "send_key", _at(2026, 11, 24, 9, 20))
    assert t.sla.clocks["first_reply"].is_paused and t.sla.next_alarm_at() is None
    _move(t, "key_failed", _at(2026, 11, 25, 9, 0), actor="customer")
    # 20 minutes were used; 40 remain from Wednesday 09:00
    assert t.sla.due("first_reply") == _at(2026, 11, 25, 9, 40)


def test_resolving_a_paused_ticket_keeps_the_paused_time() -> None:
    t = _queued(_at(2026, 11, 24, 9, 0))
    _move(t, "send_key", _at(2026, 11, 24, 9, 20))
    _move(t, "resolve", _at(2026, 11, 30, 9, 0))
    clock = t.sla.clocks["first_reply"]
    assert clock.is_stopped and clock.consumed == timedelta(minutes=20)


def test_reopen_starts_a_new_cycle() -> None:
    t = _queued(_at(2026, 11, 24, 9, 0))
    _move(t, "reply", _at(2026, 11, 24, 9, 10))
    _move(t, "resolve", _at(2026, 11, 24, 9, 30))
    assert t.sla.next_alarm_at() is None
    _move(t, "reopen", _at(2026, 11, 24, 11, 0))
    assert t.sla.cycle == 2
    assert t.sla.due("first_reply") == _at(2026, 11, 24, 12, 0)


def test_alarms_come_once_each_and_at_risk_before_breach() -> None:
    t = _queued(_at(2026, 11, 24, 9, 0))
    assert due_alarms(t.sla, _at(2026, 11, 24, 9, 47)) == []
    [risk] = due_alarms(t.sla, _at(2026, 11, 24, 9, 48))
    assert (risk.clock, risk.level, risk.cycle) == ("first_reply", "at_risk", 1)
    t.sla.raised.add(("first_reply", "at_risk"))
    assert t.sla.next_alarm_at() == _at(2026, 11, 24, 10, 0)
    [breach] = due_alarms(t.sla, _at(2026, 11, 24, 10, 0))
    assert breach.level == "breached"


def test_no_at_risk_warning_while_the_desk_is_closed() -> None:
    t = _queued(_at(2026, 11, 24, 16, 20))  # 10 minutes before closing
    at_risk = t.sla.clocks["first_reply"].at_risk_at
    assert at_risk == _at(2026, 11, 25, 6, 38)
    assert due_alarms(t.sla, _at(2026, 11, 25, 3, 0)) == []


def test_clocks_survive_a_round_trip_through_storage_form() -> None:
    t = _queued(_at(2026, 11, 24, 9, 0))
    _move(t, "send_key", _at(2026, 11, 24, 9, 20))
    t.sla.raised.add(("first_reply", "at_risk"))
    assert from_dict(to_dict(t.sla)) == t.sla


def test_rejected_ticket_has_no_clocks() -> None:
    t = make_ticket(State.CLOSED, accepted_at=datetime(2026, 11, 24, 17, tzinfo=UTC))
    sync_sla(BOOK, t, datetime(2026, 11, 24, 17, tzinfo=UTC))
    assert t.sla is None


def test_the_queue_sorts_by_the_earliest_running_clock() -> None:
    t = _queued(_at(2026, 11, 24, 9, 0))
    assert t.sla.running_due() == _at(2026, 11, 24, 10, 0)  # first reply before resolution
    _move(t, "reply", _at(2026, 11, 24, 9, 30))
    assert t.sla.running_due() == t.sla.due("resolution")  # the one still running
    _move(t, "send_key", _at(2026, 11, 24, 9, 40))
    assert t.sla.running_due() is None  # paused on the customer: no countdown to sort by
