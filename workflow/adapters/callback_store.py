"""Callback bookings and attempts over SQLAlchemy core, on the unit of work's connection.

A seat is taken by an INSERT that the unique key (slot_start, active_seat) may refuse; each try
runs in a savepoint so a refusal leaves the caller's transaction usable (PostgreSQL aborts the
whole transaction otherwise). On PostgreSQL a second INSERT of an uncommitted seat waits for the
first transaction and then fails or succeeds with it: no check-then-insert window exists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from workflow.adapters.tables import TICKET
from workflow.adapters.tables_resolution import CALLBACK_ATTEMPT, CALLBACK_BOOKING
from workflow.domain.callback_slots import Attempt, Booking, Slot
from workflow.domain.states import State
from workflow.service.callback_ports import CallbackStore

B, A = CALLBACK_BOOKING, CALLBACK_ATTEMPT


def _booking(row: Row[Any]) -> Booking:
    return Booking(row.id, row.ticket_id, Slot(row.slot_start, row.slot_end), row.seat,
                   row.status, row.requested_by, row.active_seat is not None)


def _seat_refused(err: IntegrityError) -> bool:
    text = str(err.orig)
    return "uq_callback_seat" in text or "callback_booking.slot_start" in text


class SqlCallbackStore(CallbackStore):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def active_booking(self, ticket_id: str) -> Booking | None:
        row = self.conn.execute(select(B).where(B.c.ticket_id == ticket_id,
                                                B.c.active_seat.is_not(None))
                                .order_by(B.c.id.desc()).limit(1)).first()
        return _booking(row) if row else None

    def bookings(self, ticket_id: str) -> list[Booking]:
        rows = self.conn.execute(select(B).where(B.c.ticket_id == ticket_id).order_by(B.c.id))
        return [_booking(r) for r in rows]

    def seats_taken(self, start: datetime, end: datetime) -> dict[datetime, int]:
        rows = self.conn.execute(
            select(B.c.slot_start, func.count())
            .where(B.c.active_seat.is_not(None), B.c.slot_start >= start, B.c.slot_start < end)
            .group_by(B.c.slot_start))
        return {r[0]: int(r[1]) for r in rows}

    def try_book(self, ticket_id: str, slot: Slot, capacity: int, requested_by: str,
                 now: datetime) -> Booking | None:
        for seat in range(1, capacity + 1):
            try:
                with self.conn.begin_nested():
                    result = self.conn.execute(insert(B).values(
                        ticket_id=ticket_id, slot_start=slot.start, slot_end=slot.end, seat=seat,
                        active_seat=seat, status="booked", requested_by=requested_by[:80],
                        created_at=now, updated_at=now))
            except IntegrityError as err:
                if not _seat_refused(err):
                    raise
                continue
            booking_id = result.inserted_primary_key[0]  # type: ignore[index]
            return Booking(int(booking_id), ticket_id, slot, seat, "booked", requested_by, True)
        return None

    def release(self, booking_id: int, status: str, now: datetime) -> None:
        self.conn.execute(update(B).where(B.c.id == booking_id, B.c.active_seat.is_not(None))
                          .values(active_seat=None, status=status, updated_at=now))

    def add_attempt(self, ticket_id: str, attempt: Attempt) -> None:
        self.conn.execute(insert(A).values(
            ticket_id=ticket_id, booking_id=attempt.booking_id, at=attempt.at,
            agent=attempt.agent[:64], result=attempt.result, cycle=attempt.cycle))

    def attempts(self, ticket_id: str) -> list[Attempt]:
        rows = self.conn.execute(select(A).where(A.c.ticket_id == ticket_id).order_by(A.c.id))
        return [Attempt(r.at, r.agent, r.result, r.cycle, r.booking_id) for r in rows]

    def release_orphans(self, now: datetime) -> int:
        moved_on = select(TICKET.c.id).where(TICKET.c.state != State.AWAITING_CALLBACK.value)
        result = self.conn.execute(
            update(B).where(B.c.active_seat.is_not(None), B.c.ticket_id.in_(moved_on))
            .values(active_seat=None, status="cancelled", updated_at=now))
        return int(result.rowcount)
