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
