"""What the fault tests read back from the database and the broker once the dust settled, as
plain figures the test asserts on and prints."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import func, select

from schemas.events_v1 import SLA_AT_RISK_V1, SLA_BREACHED_V1
from tests.faults.traffic import Key
from tests.processes import Desk
from workflow.adapters.tables import INBOX, OUTBOX, SLA_ALARM, TICKET

T = TypeVar("T")
#: (trigger, to_state) of a request that passed verification
QUEUED_TRAIL = [("submit", "submitted"), ("verify", "verified"), ("enqueue", "queued")]
SLA_TYPES = {SLA_AT_RISK_V1: "at_risk", SLA_BREACHED_V1: "breached"}


def safely(read: Callable[[], T], default: T) -> T:
    """``read()``, or ``default`` while a fault (database or broker down) makes it fail."""
    try:
        return read()
    except Exception:
        return default


def tickets_by_key(desk: Desk) -> dict[Key, list[str]]:
    out: dict[Key, list[str]] = defaultdict(list)
    with desk.db.reader.begin() as conn:
        for r in conn.execute(select(TICKET.c.id, TICKET.c.source, TICKET.c.event_id)):
            out[(r.source, r.event_id)].append(r.id)
    return dict(out)


def unsent_outbox(desk: Desk) -> int:
    return desk.count(OUTBOX, OUTBOX.c.sent_at.is_(None))


def sent_outbox(desk: Desk) -> int:
    return desk.count(OUTBOX, OUTBOX.c.sent_at.is_not(None))


@dataclass
class Outcome:
    """Everything the assertions look at, computed in one place."""

    accepted: set[Key]
    tickets: dict[Key, list[str]]
    lost: list[Key] = field(default_factory=list)
    duplicated: int = 0
    phantoms: list[Key] = field(default_factory=list)
    inbox_not_done: list[Any] = field(default_factory=list)
    bad_trails: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    states: Counter[str] = field(default_factory=Counter)
    #: level -> alarm rows; (ticket, clock, cycle, level) raised more than once in the outbox
    alarms: Counter[str] = field(default_factory=Counter)
    alarms_twice: list[tuple[str, str]] = field(default_factory=list)
    tickets_missing_alarms: int = 0
    #: alarm rows without their one outbox event, or outbox events without their alarm row
    alarm_event_mismatch: int = 0
    #: sla events raised (outbox) but never delivered to the tap; delivered more than once
    sla_undelivered: int = 0
    sla_redelivered: int = 0

    @property
    def ticket_ids(self) -> set[str]:
        return {t for ids in self.tickets.values() for t in ids}


def outcome(desk: Desk, accepted: set[Key], sla_delivered: list[dict[str, Any]]) -> Outcome:
    tickets = tickets_by_key(desk)
    out = Outcome(accepted, tickets)
    out.lost = sorted(k for k in accepted if not tickets.get(k))
    out.duplicated = sum(len(ids) - 1 for ids in tickets.values() if len(ids) > 1)
    out.phantoms = sorted(k for k in tickets if k not in accepted)
    with desk.db.reader.begin() as conn:
        out.inbox_not_done = [
            (r.source, r.event_id, r.status, r.last_error) for r in conn.execute(
                select(INBOX).where((INBOX.c.status != "done") | INBOX.c.ticket_id.is_(None)))]
        out.states = Counter(dict(conn.execute(
            select(TICKET.c.state, func.count()).group_by(TICKET.c.state)).all()))
        alarm_rows = conn.execute(select(SLA_ALARM.c.ticket_id, SLA_ALARM.c.clock,
                                         SLA_ALARM.c.cycle, SLA_ALARM.c.level)).all()
        raised = Counter((r.ticket_id, SLA_TYPES[r.type]) for r in conn.execute(
            select(OUTBOX.c.ticket_id, OUTBOX.c.type).where(OUTBOX.c.type.in_(SLA_TYPES))))
    for trail_ticket, trail in _trails(desk).items():
        if trail != QUEUED_TRAIL or len(set(trail)) != len(trail):
            out.bad_trails[trail_ticket] = trail
    out.alarms = Counter(r.level for r in alarm_rows)
    per_ticket: dict[str, set[tuple[str, int, str]]] = defaultdict(set)
    for r in alarm_rows:
        per_ticket[r.ticket_id].add((r.clock, r.cycle, r.level))
    expected = {("first_reply", 1, "at_risk"), ("first_reply", 1, "breached")}  # cycles count from 1
    out.tickets_missing_alarms = sum(1 for t in out.ticket_ids if per_ticket.get(t) != expected)
    out.alarms_twice = sorted(k for k, n in raised.items() if n > 1)
    out.alarm_event_mismatch = len({(r.ticket_id, r.level) for r in alarm_rows} ^ set(raised))
    delivered = Counter((e["data"]["ticket_id"], SLA_TYPES[e["type"]]) for e in sla_delivered)
    out.sla_undelivered = sum(1 for k in raised if k not in delivered)
    out.sla_redelivered = sum(n - 1 for n in delivered.values())
    return out


def _trails(desk: Desk) -> dict[str, list[tuple[str, str]]]:
    return {ticket: [(trigger, state) for trigger, state, _actor in trail]
            for ticket, trail in desk.audit_trails().items()}
