"""A ticket's callback as the customer's page and the agents' API show it: the booking, the
attempts and the free slots of one local day."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from workflow.domain.callback_slots import Attempt, Booking, CallbackPolicy, Slot, day_bounds, slots_from
from workflow.domain.ticket import Ticket
from workflow.service.ports import UnitOfWork


@dataclass(frozen=True)
class CallbackView:
    """``slots`` are the free ones on ``day``; ``next_day`` the following day with one."""

    ticket: Ticket
    booking: Booking | None
    attempts: list[Attempt]
    day: date | None
    slots: list[Slot]
    next_day: date | None
    #: the calendar's zone, in which days and slot times are told
    zone: ZoneInfo


def callback_view(uow: UnitOfWork, now: datetime, policy: CallbackPolicy, ticket_id: str,
                  day: date | None = None) -> CallbackView:
    """Read-only, in ``uow`` (whose calendar tells the slots): the booking, the attempts and
    the free slots of one local day (default: the first day with one). Nothing is held: a slot
    shown may be gone when the customer picks it."""
    with uow:
        store, cal = uow.callbacks, uow.sla.calendar
        earliest = now + timedelta(minutes=policy.notice_minutes)
        horizon = earliest + timedelta(days=policy.horizon_days)
        taken = store.seats_taken(now, horizon + timedelta(days=1))

        def free(after: datetime, until: datetime) -> Iterable[Slot]:
            return (s for s in slots_from(cal, after, policy.length, until=until)
                    if taken.get(s.start, 0) < policy.capacity)

        if day is None:
            first = next(iter(free(earliest, horizon)), None)
            day = first.start.astimezone(cal.zone).date() if first else None
        slots: list[Slot] = []
        following = None
        if day is not None:
            start, end = day_bounds(cal, day)
            slots = list(free(max(start, earliest), min(end, horizon)))
            after = next(iter(free(max(end, earliest), horizon)), None)
            following = after.start.astimezone(cal.zone).date() if after else None
        ticket, booking = uow.tickets.get(ticket_id), store.active_booking(ticket_id)
        if booking is not None:
            slots = [s for s in slots if s != booking.slot]
        return CallbackView(ticket, booking, store.attempts(ticket_id), day, slots, following,
                            cal.zone)


@dataclass(frozen=True)
class FreeDay:
    """One local day of the calendar and its free slots, earliest first."""

    day: date
    slots: list[Slot]


@dataclass(frozen=True)
class SlotPicker:
    """Free slots grouped by local day, for an agent to pick from; ``next_day`` is the first
    day with a free slot after the last one shown (None: none within the horizon)."""

    days: list[FreeDay]
    next_day: date | None
    zone: ZoneInfo


def free_days(uow: UnitOfWork, now: datetime, policy: CallbackPolicy, ticket_id: str,
              first: date | None = None, count: int = 3) -> SlotPicker:
    """Up to ``count`` days with a free slot, from ``first`` (default: today); the ticket's
    own booked slot is left out (picking it would change nothing). Read-only, nothing held."""
    with uow:
        store, cal = uow.callbacks, uow.sla.calendar
        earliest = now + timedelta(minutes=policy.notice_minutes)
        horizon = earliest + timedelta(days=policy.horizon_days)
        start = max(earliest, day_bounds(cal, first)[0]) if first else earliest
        taken = store.seats_taken(now, horizon + timedelta(days=1))
        booking = store.active_booking(ticket_id)
        mine = booking.slot if booking is not None else None
        days: list[FreeDay] = []
        for slot in slots_from(cal, start, policy.length, until=horizon):
            if taken.get(slot.start, 0) >= policy.capacity or slot == mine:
                continue
            local = slot.start.astimezone(cal.zone).date()
            if days and days[-1].day == local:
                days[-1].slots.append(slot)
            elif len(days) < count:
                days.append(FreeDay(local, [slot]))
            else:
                return SlotPicker(days, local, cal.zone)
        return SlotPicker(days, None, cal.zone)
