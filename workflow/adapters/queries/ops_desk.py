"""The desk as the ops overview shows it now: tickets per state, SLA at risk and breached, the
oldest waiting ticket, the relay's backlog and the SLA scanner's last run and lag. Every count
is a range over an index (the open states, the unsent outbox rows, the due alarms); closed
tickets are counted over a window (``closed_at``), never all of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, case, func, select

from workflow.adapters.queries.queue_filters import SlaMoment, _sla
from workflow.adapters.tables import OUTBOX, TICKET
from workflow.adapters.tables_ops import OPS_JOB
from workflow.domain.states import State
from workflow.domain.ticket_sla import SlaBook

OPEN_STATES = tuple(s.value for s in State if s is not State.CLOSED)
#: waiting for the desk to act: not in a callback or a remote session
WAITING_STATES = (State.SUBMITTED.value, State.VERIFIED.value, State.QUEUED.value)
SLA_JOB = "sla-tick"


@dataclass(frozen=True)
class Oldest:
    reference: str
    state: str
    since: datetime
    seconds: float


@dataclass(frozen=True)
class JobRun:
    name: str
    at: datetime
    seconds: float
    detail: str | None
    ago_seconds: float


@dataclass(frozen=True)
class DeskNow:
    #: open tickets per state (every open state named, zero included)
    states: dict[str, int]
    closed_24h: int
    at_risk: int
    breached: int
    oldest_waiting: Oldest | None
    outbox_backlog: int
    outbox_oldest_seconds: float | None
    #: how long the oldest SLA alarm that is due has waited to be raised (0: none waits)
    sla_lag_seconds: float
    sla_last_run: JobRun | None

    @property
    def open_total(self) -> int:
        return sum(self.states.values())


def _seconds(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


def states_now(conn: Connection, now: datetime) -> tuple[dict[str, int], int]:
    """Open tickets per state, and how many of them are breached now (a running clock past
    due): one pass over the open tickets' index."""
    late = func.sum(case((TICKET.c.sla_due_at < now, 1), else_=0))
    found = {state: (int(n), int(b or 0)) for state, n, b in conn.execute(
        select(TICKET.c.state, func.count(), late)
        .where(TICKET.c.state.in_(OPEN_STATES)).group_by(TICKET.c.state))}
    return ({s: found.get(s, (0, 0))[0] for s in OPEN_STATES},
            sum(b for _, b in found.values()))


def at_risk_count(conn: Connection, book: SlaBook, now: datetime) -> int:
    """At risk among the running clocks, as the queue's SLA filter counts them."""
    moment = SlaMoment.of(book, now)
    return int(conn.execute(select(func.count()).select_from(TICKET).where(
        TICKET.c.sla_due_at.is_not(None), _sla("at_risk", moment))).scalar_one())


def oldest_waiting(conn: Connection, now: datetime) -> Oldest | None:
    """The open ticket created longest ago among those waiting on the desk (one index probe
    per state)."""
    best = None
    for state in WAITING_STATES:
        row = conn.execute(select(TICKET.c.reference, TICKET.c.state, TICKET.c.created_at)
                           .where(TICKET.c.state == state)
                           .order_by(TICKET.c.created_at).limit(1)).first()
        if row is not None and (best is None or row.created_at < best.created_at):
            best = row
    if best is None:
        return None
    return Oldest(best.reference, best.state, best.created_at,
                  _seconds(now, best.created_at) or 0.0)


def relay_backlog(conn: Connection, now: datetime) -> tuple[int, float | None]:
    unsent = OUTBOX.c.sent_at.is_(None)
    count = int(conn.execute(select(func.count()).select_from(OUTBOX).where(unsent)).scalar_one())
    oldest = conn.execute(select(func.min(OUTBOX.c.created_at)).where(unsent)).scalar()
    return count, _seconds(now, oldest)


def sla_lag(conn: Connection, now: datetime) -> float:
    oldest_due = conn.execute(select(func.min(TICKET.c.sla_next_alarm_at))
                              .where(TICKET.c.sla_next_alarm_at <= now)).scalar()
    return _seconds(now, oldest_due) or 0.0


def job_run(conn: Connection, name: str, now: datetime) -> JobRun | None:
    row = conn.execute(select(OPS_JOB).where(OPS_JOB.c.name == name)).first()
    if row is None:
        return None
    return JobRun(row.name, row.last_run_at, float(row.seconds), row.detail,
                  _seconds(now, row.last_run_at) or 0.0)


def desk_now(conn: Connection, book: SlaBook, now: datetime) -> DeskNow:
    states, breached = states_now(conn, now)
    backlog, backlog_age = relay_backlog(conn, now)
    closed = int(conn.execute(select(func.count()).select_from(TICKET).where(
        TICKET.c.closed_at >= now - timedelta(hours=24))).scalar_one())
    return DeskNow(states=states, closed_24h=closed, at_risk=at_risk_count(conn, book, now),
                   breached=breached, oldest_waiting=oldest_waiting(conn, now),
                   outbox_backlog=backlog, outbox_oldest_seconds=backlog_age,
                   sla_lag_seconds=sla_lag(conn, now), sla_last_run=job_run(conn, SLA_JOB, now))
