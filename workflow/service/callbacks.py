"""Phone callbacks: what the booking commands share — take a seat, tell the customer.

Seats are taken by INSERTs the database may refuse (unique slot/seat key), each in a savepoint,
so two requests racing for the last seat cannot both win; a concurrent change to the same ticket
loses on its version and rolls its seat back with it. The store is the unit of work's
(``uow.callbacks``); the handlers are in ``callback_handlers``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from workflow.domain.callback_slots import (
    Booking,
    CallbackPolicy,
    PreferredWindow,
    Slot,
    describe_slot,
    is_grid_slot,
    slots_from,
    slots_in_window,
)
from workflow.domain.errors import ConcurrencyConflict
from workflow.domain.events import NotificationRequested
from workflow.domain.states import State
from workflow.domain.ticket import Ticket
from workflow.service.callback_ports import LinkMaker, NoFreeSlot
from workflow.service.ports import UnitOfWork


def load(uow: UnitOfWork, ticket_id: str, expected_version: int | None) -> Ticket:
    ticket = uow.tickets.get(ticket_id)
    if expected_version is not None and ticket.version != expected_version:
        raise ConcurrencyConflict(ticket.id, expected_version)
    return ticket


def _candidates(uow: UnitOfWork, policy: CallbackPolicy, earliest: datetime,
                window: PreferredWindow | None, slot_start: datetime | None) -> Iterable[Slot]:
    cal = uow.sla.calendar
    if slot_start is not None:
        if slot_start < earliest or not is_grid_slot(cal, slot_start, policy.length):
            raise NoFreeSlot("that callback slot cannot be booked; pick one of the offered slots")
        return [Slot(slot_start, slot_start + policy.length)]
    if window is not None:
        return slots_in_window(cal, window, policy.length, after=earliest)
    return slots_from(cal, earliest, policy.length,
                      until=earliest + timedelta(days=policy.horizon_days))


def book(uow: UnitOfWork, policy: CallbackPolicy, ticket: Ticket, now: datetime, actor: str, *,
         window: PreferredWindow | None = None, slot_start: datetime | None = None,
         after: datetime | None = None) -> Booking:
    """Take a seat; ``after``: not before the end of the slot just tried (a retry)."""
    store = uow.callbacks
    earliest = max(now + timedelta(minutes=policy.notice_minutes), after or now)
    stale = store.active_booking(ticket.id)
    if stale is not None:
        store.release(stale.id, "cancelled", now)
    taken = store.seats_taken(now, now + timedelta(days=policy.horizon_days + 1))
    for slot in _candidates(uow, policy, earliest, window, slot_start):
        if taken.get(slot.start, 0) >= policy.capacity:
            continue
        booking = store.try_book(ticket.id, slot, policy.capacity, actor, now)
        if booking is not None:
            return booking
    if slot_start is not None:
        raise NoFreeSlot("that callback slot was just taken; pick another")
    where = window or f"the next {policy.horizon_days} days"
    raise NoFreeSlot(f"no free callback slot in {where}")


def email(ticket: Ticket, now: datetime, template: str,
          context: dict[str, str | int | None]) -> None:
    ticket.raise_event(NotificationRequested(ticket.id, now, template, ticket.language,
                                             {"reference": ticket.reference, **context}))


def customer_zone(ticket: Ticket) -> str | None:
    """The IANA zone the request named (None for older requests and anonymised tickets)."""
    requester = ticket.data.get("requester")
    zone = requester.get("time_zone") if isinstance(requester, dict) else None
    return zone if isinstance(zone, str) else None


def link(links: LinkMaker | None, ticket_id: str, action: str, expires_at: datetime) -> str | None:
    return links(ticket_id, action, expires_at) if links else None


def email_booked(links: LinkMaker | None, uow: UnitOfWork, ticket: Ticket, booking: Booking,
                 now: datetime, missed: int) -> None:
    email(ticket, now, "callback_booked", {
        "slot_text": describe_slot(booking.slot, ticket.language, uow.sla.calendar.zone,
                                   customer_zone(ticket)),
        "slot_start": booking.slot.start.isoformat(), "slot_end": booking.slot.end.isoformat(),
        "move_url": link(links, ticket.id, "move_callback", booking.slot.start),
        "missed": missed})


def email_released(links: LinkMaker | None, policy: CallbackPolicy, uow: UnitOfWork,
                   ticket: Ticket, released: Booking | None, now: datetime) -> None:
    """Staff gave the booked slot back: the customer is told, with a link to pick another
    time (valid ``link_hours``; the ticket waits on them meanwhile)."""
    email(ticket, now, "callback_released", {
        "slot_text": describe_slot(released.slot, ticket.language, uow.sla.calendar.zone,
                                   customer_zone(ticket)) if released else None,
        "move_url": link(links, ticket.id, "move_callback",
                         now + timedelta(hours=policy.link_hours))})


def why_not_escalate(uow: UnitOfWork, ticket: Ticket, clock: str, cycle: int) -> str | None:
    """Why a breach changes nothing (None: book): the ticket moved on, or already has a seat."""
    if ticket.state is not State.QUEUED:
        return f"ticket is {ticket.state.value}"
    if ticket.waiting_on is not None:
        return f"waiting on {ticket.waiting_on.value}"
    if ticket.sla is None or ticket.sla.cycle != cycle:
        return "breach of an earlier SLA cycle"
    if clock == "first_reply" and ticket.first_reply_at is not None:
        return "first reply already sent"
    if uow.callbacks.active_booking(ticket.id) is not None:
        return "a callback is already booked"
    return None


def attempt_cycle(uow: UnitOfWork, ticket_id: str) -> int:
    """Each request_callback starts a new cycle of attempts."""
    return max(1, sum(1 for e in uow.tickets.history(ticket_id) if e.trigger == "request_callback"))
