"""A deterministic, lifelike ticket population for the queue's benchmark and plan tests.

Shape (by default): 80 % closed over the past year (clocks stopped), 20 % open; of the open
ones 10 % not queued yet (no clock), 20 % waiting on the customer (clocks paused), 70 % with a
running clock (about 60 % of those already replied to, so their resolution clock is the one
due). Acceptance times are whole minutes, so many tickets share a due time (ties for the
keyset). Languages en/fr, three reset methods, twenty agents and 40 % of open tickets
unassigned. Rows are built by the domain and ``repository.row_values``, as the app stores them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from workflow.adapters.repository import row_values
from workflow.domain import ticket_sla
from workflow.domain.states import Outcome, State, WaitingOn
from workflow.domain.ticket import Ticket
from workflow.domain.ticket_sla import SlaBook, TicketSla

AGENTS = tuple(f"agent{i:02d}" for i in range(1, 21))
MODELS = ("DS-7608NI-I2/8P", "DS-7208HUHI-F2/N", "DS-2CD2143G2-I", "IDS-7216HQHI-M1/S")
METHODS = ("sadp", "sadp", "sadp", "local_gui", "local_gui", "ivms4200")
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_WAITING = ((State.QUEUED, WaitingOn.KEY_CONFIRMATION), (State.QUEUED, WaitingOn.SESSION_CODE),
            (State.AWAITING_CALLBACK, WaitingOn.CALLBACK_MOVED))
_RUNNING = (State.QUEUED,) * 4 + (State.AWAITING_CALLBACK,) * 2 + (State.REMOTE_SESSION,)


def reference(i: int) -> str:
    body = ""
    for _ in range(8):
        i, digit = divmod(i, len(_ALPHABET))
        body += _ALPHABET[digit]
    return f"RD-{body[:4]}-{body[4:]}"


def request_data(i: int, language: str, method: str) -> dict[str, Any]:
    model = MODELS[i % len(MODELS)]
    return {
        "requester": {"name": f"Customer {i}", "email": f"Customer.{i}@Example{i % 97}.com",
                      "phone": f"+1{5030000000 + (i * 7919) % 999_999_999}",
                      "country": "CA" if language == "fr" else "US", "language": language,
                      "customer_type": "installer"},
        "device": {"model_number": model, "kind": "nvr",
                   "serial_number": f"{model}0820{i % 10**6:06d}CCRR{i:09d}WCVU"},
        "reset_method": method,
    }


@dataclass(frozen=True, eq=False)  # hashed by identity: the caches below key on self
class _Clocks:
    book: SlaBook

    @cache  # noqa: B019 - one per population, a few thousand keys
    def running(self, accepted: datetime, replied: bool) -> TicketSla | None:
        return ticket_sla.reconcile(None, state=State.QUEUED, waiting=False, replied=replied,
                                    book=self.book, at=accepted, accepted_at=accepted)

    @cache  # noqa: B019
    def paused(self, accepted: datetime, at: datetime) -> TicketSla | None:
        return ticket_sla.reconcile(self.running(accepted, False), state=State.QUEUED,
                                    waiting=True, replied=False, book=self.book, at=at,
                                    accepted_at=accepted)

    @cache  # noqa: B019
    def stopped(self, accepted: datetime, at: datetime) -> TicketSla | None:
        return ticket_sla.reconcile(self.running(accepted, True), state=State.CLOSED,
                                    waiting=False, replied=True, book=self.book, at=at,
                                    accepted_at=accepted)


def tickets(n: int, now: datetime, book: SlaBook, seed: int = 11,
            open_share: float = 0.2) -> Iterator[Ticket]:
    rng, clocks = random.Random(seed), _Clocks(book)
    now = now.replace(second=0, microsecond=0)
    for i in range(n):
        language = "fr" if rng.random() < 0.35 else "en"
        t = Ticket(id=f"{rng.getrandbits(128):032x}", reference=reference(i), state=State.QUEUED,
                   created_at=now, updated_at=now, language=language, source="urn:bench",
                   event_id=f"bench-{i}", data=request_data(i, language, rng.choice(METHODS)),
                   version=1)
        t.serial_key = "".join(t.data["device"]["serial_number"].split()).upper()
        kind = rng.random() / open_share
        if kind >= 1:  # closed within the past year (few distinct clocks: they are all alike)
            accepted = now - timedelta(days=rng.randrange(3, 365))
            t.state, t.outcome = State.CLOSED, Outcome.RESOLVED
            t.closed_at = accepted + timedelta(hours=rng.choice((2, 5, 20, 30, 50)))
            t.sla, t.assignee = clocks.stopped(accepted, t.closed_at), rng.choice(AGENTS)
        else:
            accepted = now - timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
            t.assignee = None if rng.random() < 0.4 else rng.choice(AGENTS)
            if kind < 0.1:
                t.state = State.SUBMITTED if rng.random() < 0.5 else State.VERIFIED
            elif kind < 0.3:
                t.state, t.waiting_on = rng.choice(_WAITING)
                t.sla = clocks.paused(accepted, min(now, accepted + timedelta(minutes=30)))
            else:
                replied = rng.random() < 0.6
                t.state, t.sla = rng.choice(_RUNNING), clocks.running(accepted, replied)
                t.first_reply_at = accepted + timedelta(minutes=20) if replied else None
        t.created_at = t.updated_at = t.accepted_at = accepted
        yield t


def rows(n: int, now: datetime, book: SlaBook, seed: int = 11) -> Iterator[dict[str, Any]]:
    """The ticket rows as ``repository.add`` would insert them."""
    for t in tickets(n, now, book, seed):
        row = row_values(t)
        if t.state in (State.SUBMITTED, State.VERIFIED):
            row["accepted_at"] = None
        yield row
