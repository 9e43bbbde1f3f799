"""A ticket's SLA clocks, kept consistent with its state by one function: ``reconcile``.

Rather than each trigger remembering to pause or resume, the services call ``reconcile`` after
every move: closed stops every clock, a ``waiting_on`` pauses them, the first reply stops the
first-reply clock, a reopened ticket starts a new cycle. The scheduler asks ``due_alarms`` and
records each alarm once per (clock, cycle, level).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from workflow.domain import sla
from workflow.domain.calendar import BusinessCalendar
from workflow.domain.sla import SlaClock, SlaPolicy
from workflow.domain.states import State

CLOCKS = ("first_reply", "resolution")
LEVELS = ("at_risk", "breached")


@dataclass(frozen=True)
class SlaBook:
    """The calendar and the policies in force; handed to services by the unit of work."""

    calendar: BusinessCalendar
    policies: Mapping[str, SlaPolicy]


@dataclass
class TicketSla:
    cycle: int
    clocks: dict[str, SlaClock]
    #: (clock, level) already raised in this cycle
    raised: set[tuple[str, str]] = field(default_factory=set)

    def due(self, name: str) -> datetime | None:
        clock = self.clocks.get(name)
        return clock.due_at if clock else None

    def running_due(self) -> datetime | None:
        """Due instant of the earliest running clock: the queue's sort key (None while every
        clock is paused on the customer or stopped)."""
        return min((c.due_at for c in self.clocks.values() if c.is_running and c.due_at),
                   default=None)

    def next_alarm_at(self) -> datetime | None:
        """The earliest instant at which ``due_alarms`` will have something new."""
        candidates = [
            at for name, clock in self.clocks.items()
            for level, at in (("at_risk", clock.at_risk_at), ("breached", clock.due_at))
            if at is not None and (name, level) not in self.raised
        ]
        return min(candidates, default=None)


@dataclass(frozen=True)
class Alarm:
    clock: str
    cycle: int
    level: str
    due_at: datetime


def _start_cycle(book: SlaBook, cycle: int, at: datetime) -> TicketSla:
    return TicketSla(cycle, {n: sla.start(book.calendar, book.policies[n], at, cycle)
                             for n in CLOCKS if n in book.policies})


def reconcile(current: TicketSla | None, *, state: State, waiting: bool, replied: bool,
              book: SlaBook, at: datetime, accepted_at: datetime) -> TicketSla | None:
    """The clocks as they must be for a ticket in ``state`` at ``at``; None before it is queued."""
    if current is None:
        if state in (State.SUBMITTED, State.VERIFIED, State.CLOSED):
            return None  # rejected or duplicate: never promised anything
        current = _start_cycle(book, 1, accepted_at)
    elif state is not State.CLOSED and all(c.is_stopped for c in current.clocks.values()):
        # only closing stops the resolution clock: an open ticket with every clock stopped was
        # just reopened (reopen also forgets the first reply, so that clock runs again)
        current = _start_cycle(book, current.cycle + 1, at)
    clocks = {}
    for name, clock in current.clocks.items():
        policy = book.policies[name]
        stop = state is State.CLOSED or (name == "first_reply" and replied)
        if stop:
            if not clock.is_stopped:
                clock = sla.stop(book.calendar, clock, max(at, _since(clock)))
        elif waiting:
            if clock.is_running:
                clock = sla.pause(book.calendar, clock, max(at, _since(clock)))
        elif clock.is_paused:
            clock = sla.resume(book.calendar, clock, policy, max(at, _since(clock)))
        clocks[name] = clock
    return replace(current, clocks=clocks)


def _since(clock: SlaClock) -> datetime:
    return clock.running_since or clock.paused_at or clock.started_at


def due_alarms(current: TicketSla, now: datetime) -> list[Alarm]:
    """Alarms whose instant has come and that were not raised yet in this cycle."""
    alarms = []
    for name, clock in current.clocks.items():
        for level, at in (("at_risk", clock.at_risk_at), ("breached", clock.due_at)):
            if at is not None and at <= now and (name, level) not in current.raised:
                alarms.append(Alarm(name, current.cycle, level, clock.due_at or at))
    return alarms


def recompute_all(current: TicketSla, book: SlaBook) -> TicketSla:
    """Due and at-risk instants under a changed calendar or policy."""
    return replace(current, clocks={n: sla.recompute(book.calendar, c, book.policies[n])
                                    for n, c in current.clocks.items()})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def to_dict(current: TicketSla) -> dict[str, Any]:
    return {
        "cycle": current.cycle,
        "raised": sorted(f"{c}:{lv}" for c, lv in current.raised),
        "clocks": {
            n: {"started_at": _iso(c.started_at), "consumed_s": c.consumed.total_seconds(),
                "running_since": _iso(c.running_since), "due_at": _iso(c.due_at),
                "at_risk_at": _iso(c.at_risk_at), "paused_at": _iso(c.paused_at),
                "stopped_at": _iso(c.stopped_at)}
            for n, c in current.clocks.items()
        },
    }


def from_dict(data: Mapping[str, Any]) -> TicketSla:
    clocks = {}
    for name, c in data["clocks"].items():
        started = _dt(c["started_at"])
        assert started is not None
        clocks[name] = SlaClock(
            policy=name, cycle=data["cycle"], started_at=started,
            consumed=timedelta(seconds=c["consumed_s"]), running_since=_dt(c["running_since"]),
            due_at=_dt(c["due_at"]), at_risk_at=_dt(c["at_risk_at"]),
            paused_at=_dt(c["paused_at"]), stopped_at=_dt(c["stopped_at"]))
    raised = {tuple(r.split(":", 1)) for r in data.get("raised", [])}
    return TicketSla(data["cycle"], clocks, raised)
