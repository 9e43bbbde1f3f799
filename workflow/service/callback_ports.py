"""The callback path's port and records: the store of bookings and attempts (``uow.callbacks``),
what a booking command answers, and the signer of the customer's callback links."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from workflow.domain.callback_slots import Attempt, Booking, Slot
from workflow.domain.errors import WorkflowError
from workflow.domain.ticket import Ticket
from workflow.service import links


class NoFreeSlot(WorkflowError):
    """No slot with a free seat where one was asked for (a window, a chosen slot, the horizon)."""


class CallbackStore(abc.ABC):
    """Bookings and attempts, inside the caller's transaction.

    ``try_book`` tries seats 1..capacity, each INSERT in a savepoint: the unique key
    (slot_start, active_seat) refuses a taken seat, and a refused INSERT leaves the transaction
    usable. ``seats_taken`` is only a hint for skipping full slots; the INSERT decides."""

    @abc.abstractmethod
    def active_booking(self, ticket_id: str) -> Booking | None: ...

    @abc.abstractmethod
    def bookings(self, ticket_id: str) -> list[Booking]: ...

    @abc.abstractmethod
    def seats_taken(self, start: datetime, end: datetime) -> dict[datetime, int]:
        """Active seats per slot start in [start, end)."""

    @abc.abstractmethod
    def try_book(self, ticket_id: str, slot: Slot, capacity: int, requested_by: str,
                 now: datetime) -> Booking | None: ...

    @abc.abstractmethod
    def release(self, booking_id: int, status: str, now: datetime) -> None:
        """Free the seat; ``status``: done | cancelled | moved."""

    @abc.abstractmethod
    def add_attempt(self, ticket_id: str, attempt: Attempt) -> None: ...

    @abc.abstractmethod
    def attempts(self, ticket_id: str) -> list[Attempt]: ...

    @abc.abstractmethod
    def release_orphans(self, now: datetime) -> int:
        """Free the seats of tickets no longer awaiting a callback (resolved, abandoned …)."""


LinkMaker = Callable[[str, str, datetime], str | None]
"""(ticket id, action, expires at) -> the customer's signed URL, or None without a public URL."""

CUSTOMER_PATH = "/customer/callback/"


def link_maker(secret_key: bytes, public_url: str | None) -> LinkMaker | None:
    """Signed customer URLs for emails (``/customer/callback/<token>``); None without a public
    URL or a key, so emails then go out without links rather than with unusable ones."""
    if not public_url or not secret_key:
        return None
    base = public_url.rstrip("/") + CUSTOMER_PATH

    def make(ticket_id: str, action: str, expires_at: datetime) -> str:
        return base + links.sign(secret_key, ticket_id, action, expires_at)

    return make


@dataclass(frozen=True)
class Booked:
    ticket: Ticket
    booking: Booking | None
    #: callback_result's result (answered | retry | requeue | give_up) for attempts
    step: str | None = None
