"""Phone callbacks: book a slot, escalate a breach, record attempts, let the customer move.

Every command is one transaction: load the ticket, fire the trigger, take or release seats, raise
the email, save under the ticket's version check, commit. Seats are taken by INSERTs the database
may refuse (unique slot/seat key), each in a savepoint, so two requests racing for the last seat
cannot both win; a concurrent change to the same ticket loses on its version and rolls its seat
back with it. The store is a port of its own (``callback_desk``), reached through
``CallbackDesk.store(uow)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from workflow.domain.callback_slots import (
    ATTEMPT_RESULTS,
    FAILED_RESULTS,
    Attempt,
    Booking,
    CallbackPolicy,
    PreferredWindow,
    Slot,
    day_bounds,
    describe_slot,
    is_grid_slot,
    slots_from,
    slots_in_window,
)
from workflow.domain.errors import ConcurrencyConflict, WorkflowError
from workflow.domain.events import NotificationRequested
from workflow.domain.guards import TriggerContext
from workflow.domain.states import State, WaitingOn
from workflow.domain.ticket import Ticket
from workflow.service.callback_desk import (
    Booked,
    CallbackDesk,
    CallbackStore,
    EscalateBreach,
    LinkMaker,
    MoveCallback,
    NoFreeSlot,
    RecordAttempt,
    RequestCallback,
)
from workflow.service.handlers import transition
from workflow.service.ports import UnitOfWork

__all__ = ["Booked", "CallbackDesk", "CallbackStore", "CallbackView", "EscalateBreach",
           "LinkMaker", "MoveCallback", "NoFreeSlot", "RecordAttempt", "RequestCallback",
           "escalate_breach", "move_callback", "record_attempt", "release_orphans",
           "request_callback", "view"]

ESCALATION_ACTOR = "system:escalation"


def _load(uow: UnitOfWork, ticket_id: str, expected_version: int | None) -> Ticket:
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


def _book(uow: UnitOfWork, store: CallbackStore, policy: CallbackPolicy, ticket: Ticket,
          now: datetime, actor: str, *, window: PreferredWindow | None = None,
          slot_start: datetime | None = None, after: datetime | None = None) -> Booking:
    """Take a seat; ``after``: not before the end of the slot just tried (a retry)."""
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


def _email(ticket: Ticket, now: datetime, template: str,
           context: dict[str, str | int | None]) -> None:
    ticket.raise_event(NotificationRequested(ticket.id, now, template, ticket.language,
                                             {"reference": ticket.reference, **context}))


def _email_booked(desk: CallbackDesk, uow: UnitOfWork, ticket: Ticket, booking: Booking,
                  now: datetime, missed: int) -> None:
    _email(ticket, now, "callback_booked", {
        "slot_text": describe_slot(booking.slot, ticket.language, uow.sla.calendar.zone),
        "slot_start": booking.slot.start.isoformat(), "slot_end": booking.slot.end.isoformat(),
        "move_url": desk.link(ticket.id, "move_callback", booking.slot.start),
        "missed": missed})


def request_callback(desk: CallbackDesk, cmd: RequestCallback) -> Booked:
    with desk.uow() as uow:
        store, now = desk.store(uow), desk.clock.now()
        ticket = _load(uow, cmd.ticket_id, cmd.expected_version)
        transition(uow, ticket, "request_callback", TriggerContext(cmd.actor, now))
        booking = _book(uow, store, desk.policy, ticket, now, cmd.actor, window=cmd.window,
                        slot_start=cmd.slot_start)
        _email_booked(desk, uow, ticket, booking, now, missed=0)
        uow.tickets.save(ticket)
        uow.commit()
    return Booked(ticket, booking)


def _why_not_escalate(ticket: Ticket, cmd: EscalateBreach, store: CallbackStore) -> str | None:
    if ticket.state is not State.QUEUED:
        return f"ticket is {ticket.state.value}"
    if ticket.waiting_on is not None:
        return f"waiting on {ticket.waiting_on.value}"
    if ticket.sla is None or ticket.sla.cycle != cmd.cycle:
        return "breach of an earlier SLA cycle"
    if cmd.clock == "first_reply" and ticket.first_reply_at is not None:
        return "first reply already sent"
    if store.active_booking(ticket.id) is not None:
        return "a callback is already booked"
    return None


def escalate_breach(desk: CallbackDesk, cmd: EscalateBreach) -> str:
    """Book a callback for a breached ticket, once: a redelivered breach finds the ticket moved
    on (or its booking) and changes nothing; a concurrent twin loses on the version check."""
    if not desk.policy.escalates(cmd.clock):
        return f"skipped: policy does not escalate {cmd.clock} breaches"
    with desk.uow() as uow:
        store, now = desk.store(uow), desk.clock.now()
        ticket = uow.tickets.get(cmd.ticket_id)
        why = _why_not_escalate(ticket, cmd, store)
        if why is not None:
            return f"skipped: {why}"
        transition(uow, ticket, "request_callback",
                   TriggerContext(ESCALATION_ACTOR, now, reason=f"{cmd.clock} SLA breached"))
        booking = _book(uow, store, desk.policy, ticket, now, ESCALATION_ACTOR)
        _email_booked(desk, uow, ticket, booking, now, missed=0)
        uow.tickets.save(ticket)
        uow.commit()
    return "booked"


def _cycle(uow: UnitOfWork, ticket_id: str) -> int:
    """Each request_callback starts a new cycle of attempts."""
    return max(1, sum(1 for e in uow.tickets.history(ticket_id) if e.trigger == "request_callback"))


def record_attempt(desk: CallbackDesk, cmd: RecordAttempt) -> Booked:
    """Record one call: answered goes back to queued, a failure below the limit books the next
    slot, the last failure requeues or closes (policy), each with its email."""
    if cmd.result not in ATTEMPT_RESULTS:
        raise WorkflowError(f"result must be one of {', '.join(ATTEMPT_RESULTS)}")
    with desk.uow() as uow:
        store, now, policy = desk.store(uow), desk.clock.now(), desk.policy
        ticket = _load(uow, cmd.ticket_id, cmd.expected_version)
        cycle = _cycle(uow, ticket.id)
        failed = sum(1 for a in store.attempts(ticket.id)
                     if a.cycle == cycle and a.result in FAILED_RESULTS)
        failed += int(cmd.result in FAILED_RESULTS)
        step = policy.next_step(cmd.result, failed)
        actor = f"{cmd.role}:{cmd.agent}"
        transition(uow, ticket, "callback_result", TriggerContext(
            actor, now, result=step, reason=f"callback attempt: {cmd.result} ({failed} failed)"))
        current = store.active_booking(ticket.id)
        store.add_attempt(ticket.id, Attempt(now, cmd.agent, cmd.result, cycle,
                                             current.id if current else None))
        if current is not None:
            store.release(current.id, "done", now)
        booking = None
        if step == "retry":
            booking = _book(uow, store, policy, ticket, now, actor, window=cmd.window,
                            after=current.slot.end if current else None)
            _email_booked(desk, uow, ticket, booking, now,
                          missed=failed if cmd.result in FAILED_RESULTS else 0)
        elif step == "requeue":
            _email(ticket, now, "callback_failed", {
                "attempts": failed, "last_result": cmd.result, "request_url": desk.link(
                    ticket.id, "request_callback", now + timedelta(hours=policy.link_hours))})
        elif step == "give_up":
            _email(ticket, now, "callback_unreachable",
                   {"attempts": failed, "last_result": cmd.result})
        if cmd.note and cmd.note.strip():
            uow.notes.add(ticket.id, cmd.agent, now, cmd.note.strip()[:4000])
        uow.tickets.save(ticket)
        uow.commit()
    return Booked(ticket, booking, step)


def move_callback(desk: CallbackDesk, cmd: MoveCallback) -> Booked:
    """The customer gives the slot back (waiting on callback-moved: clocks pause while they
    pick); choosing a new slot books it and clears the wait."""
    with desk.uow() as uow:
        store, now = desk.store(uow), desk.clock.now()
        ticket = uow.tickets.get(cmd.ticket_id)
        choosing = cmd.slot_start is not None or cmd.window is not None
        if ticket.waiting_on is WaitingOn.CALLBACK_MOVED and not choosing:
            return Booked(ticket, None)  # released already (a second click): nothing to do
        if ticket.waiting_on is not WaitingOn.CALLBACK_MOVED and not cmd.book_only:
            transition(uow, ticket, "move_callback", TriggerContext(cmd.actor, now))
            current = store.active_booking(ticket.id)
            if current is not None:
                store.release(current.id, "moved", now)
        booking = None
        if choosing:
            # the move first: a ticket not waiting on a new slot books nothing
            transition(uow, ticket, "book_callback", TriggerContext(
                cmd.actor, now, reason=f"{cmd.actor.partition(':')[0]} picked a new callback slot"))
            booking = _book(uow, store, desk.policy, ticket, now, cmd.actor,
                            window=cmd.window, slot_start=cmd.slot_start)
            _email_booked(desk, uow, ticket, booking, now, missed=0)
        uow.tickets.save(ticket)
        uow.commit()
    return Booked(ticket, booking)


@dataclass(frozen=True)
class CallbackView:
    """What the customer's page and the agents' API show; ``slots`` are free ones on ``day``."""

    ticket: Ticket
    booking: Booking | None
    attempts: list[Attempt]
    day: date | None
    slots: list[Slot]
    next_day: date | None
    #: the calendar's zone, in which days and slot times are told
    zone: ZoneInfo


def view(desk: CallbackDesk, ticket_id: str, day: date | None = None) -> CallbackView:
    """Read-only: the booking, the attempts and the free slots of one local day (default: the
    first day with one). Nothing is held: a slot shown may be gone when the customer picks it."""
    with desk.uow() as uow:
        store, now, policy = desk.store(uow), desk.clock.now(), desk.policy
        cal = uow.sla.calendar
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


def release_orphans(desk: CallbackDesk) -> int:
    """Scheduler job: free seats held by tickets that left awaiting-callback another way."""
    with desk.uow() as uow:
        count = desk.store(uow).release_orphans(desk.clock.now())
        uow.commit()
    return count
