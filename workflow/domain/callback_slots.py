"""Phone-callback slots and the rules around them, as pure values.

Slots are a fixed grid: each working window of the business calendar is cut, from its start, into
slots of ``slot_minutes``; a slot is offered only if it lies wholly inside open time (holidays and
partial closures remove it). Capacity is not decided here: the database's unique key on
(slot_start, active_seat) is the only judge of who gets a seat. This module says which slots exist,
in what order they are tried, and what an attempt's result means for the ticket.

Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from workflow.domain.calendar import BusinessCalendar
from workflow.domain.wording import customer_span

ATTEMPT_RESULTS = ("answered", "no_answer", "wrong_number", "asked_to_move")
FAILED_RESULTS = frozenset({"no_answer", "wrong_number"})
ESCALATION_POLICIES = ("all", "first_reply", "none")
EXHAUSTED_POLICIES = ("requeue", "close")
_DAY = timedelta(days=1)
_WINDOW = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Booking:
    """One seat held (or once held) in one slot; ``active`` while the seat is still taken."""

    id: int
    ticket_id: str
    slot: Slot
    seat: int
    status: str
    requested_by: str
    active: bool


@dataclass(frozen=True)
class Attempt:
    at: datetime
    agent: str
    result: str
    cycle: int
    booking_id: int | None


@dataclass(frozen=True)
class PreferredWindow:
    """A local wall-time window on one date ("2026-10-19 09:00-11:00"), in the calendar's zone."""

    day: date
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"window {self} ends before it starts")

    @classmethod
    def parse(cls, text: str) -> PreferredWindow:
        match = _WINDOW.match(text)
        if match is None:
            raise ValueError(f"window {text!r} is not 'YYYY-MM-DD HH:MM-HH:MM'")
        try:
            day = date.fromisoformat(match[1])
            start, end = (time.fromisoformat(t.zfill(5)) for t in (match[2], match[3]))
            return cls(day, start, end)
        except ValueError as exc:
            raise ValueError(f"window {text!r}: {exc}") from None

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        def instant(t: time) -> datetime:
            return datetime.combine(self.day, t).replace(tzinfo=zone, fold=0).astimezone(UTC)

        return instant(self.start), instant(self.end)

    def __str__(self) -> str:
        return f"{self.day.isoformat()} {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class CallbackPolicy:
    """Settings of the callback path (``callbacks`` in docs/configuration.md, docs/callbacks.md)."""

    slot_minutes: int = 30
    capacity: int = 2
    max_failed_attempts: int = 3
    #: requeue: back to queued with an email | close: closed unreachable with an email
    exhausted: str = "requeue"
    #: which SLA breaches book a callback: all | first_reply | none
    escalation: str = "first_reply"
    #: no slot starts sooner than this after the request (the customer must get the email)
    notice_minutes: int = 10
    horizon_days: int = 30
    link_hours: int = 72

    def __post_init__(self) -> None:
        if not 5 <= self.slot_minutes <= 240:
            raise ValueError("callback slot_minutes must be within 5..240")
        if self.capacity < 1 or self.max_failed_attempts < 1 or self.horizon_days < 1:
            raise ValueError("callback capacity, attempts and horizon must be at least 1")
        if self.notice_minutes < 0 or self.link_hours < 1:
            raise ValueError("callback notice_minutes must be >= 0, link_hours >= 1")
        if self.exhausted not in EXHAUSTED_POLICIES:
            raise ValueError(f"callback exhausted_policy must be one of {EXHAUSTED_POLICIES}")
        if self.escalation not in ESCALATION_POLICIES:
            raise ValueError(f"callback escalation must be one of {ESCALATION_POLICIES}")

    @property
    def length(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)

    def escalates(self, clock: str) -> bool:
        return self.escalation == "all" or self.escalation == clock

    def next_step(self, result: str, failed: int) -> str:
        """The ``callback_result`` trigger's result for an attempt: answered | retry | requeue |
        give_up. ``failed`` counts this cycle's failed attempts, this one included. A wrong
        number ends the attempts at once: calling it again cannot reach the customer."""
        if result not in ATTEMPT_RESULTS:
            raise ValueError(f"result must be one of {', '.join(ATTEMPT_RESULTS)}")
        if result == "answered":
            return "answered"
        if result == "asked_to_move" or (result == "no_answer" and failed < self.max_failed_attempts):
            return "retry"
        return "requeue" if self.exhausted == "requeue" else "give_up"


def _windows_owned_by(calendar: BusinessCalendar, day: date) -> list[tuple[datetime, datetime]]:
    """UTC bounds of the windows owned by a local date, turned into instants like the calendar
    does (fold=0); closures are not cut here: the open-time test in ``slots_from`` does that."""
    midnight = datetime(day.year, day.month, day.day)

    def instant(offset: timedelta) -> datetime:
        return (midnight + offset).replace(tzinfo=calendar.zone, fold=0).astimezone(UTC)

    return [(instant(w.start_offset), instant(w.end_offset)) for w in calendar.hours[day.weekday()]]


def slots_from(calendar: BusinessCalendar, after: datetime, length: timedelta, *,
               until: datetime) -> Iterator[Slot]:
    """Grid slots wholly inside open time, starting at or after ``after`` and ending by
    ``until``, earliest first."""
    after, until = after.astimezone(UTC), until.astimezone(UTC)
    day = after.astimezone(calendar.zone).date() - _DAY  # a night window may still run
    last = until.astimezone(calendar.zone).date()
    while day <= last:
        for w_start, w_end in sorted(_windows_owned_by(calendar, day)):
            start = w_start
            while start + length <= w_end and start + length <= until:
                if start >= after and calendar.business_time_between(start, start + length) \
                        == length:
                    yield Slot(start, start + length)
                start += length
        day += _DAY


def slots_in_window(calendar: BusinessCalendar, window: PreferredWindow, length: timedelta, *,
                    after: datetime) -> Iterator[Slot]:
    """Grid slots wholly inside the customer's window (and not before ``after``)."""
    start, end = window.bounds(calendar.zone)
    return slots_from(calendar, max(start, after), length, until=end)


def is_grid_slot(calendar: BusinessCalendar, start: datetime, length: timedelta) -> bool:
    return next(iter(slots_from(calendar, start, length, until=start + length)), None) \
        == Slot(start.astimezone(UTC), start.astimezone(UTC) + length)


def day_bounds(calendar: BusinessCalendar, day: date) -> tuple[datetime, datetime]:
    """The UTC instants of the local day's midnights."""
    def midnight(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=calendar.zone).astimezone(UTC)

    return midnight(day), midnight(day + _DAY)




def describe_slot(slot: Slot, language: str, zone: ZoneInfo,
                  customer: str | ZoneInfo | None = None) -> str:
    """The slot as the customer reads it, in the desk's zone (Pacific by default) and, when the
    request named one, in the customer's own zone too (``workflow.domain.wording``)."""
    return customer_span(slot.start, slot.end, language, customer, zone)
