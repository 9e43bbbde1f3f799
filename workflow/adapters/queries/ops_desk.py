"""The desk as the ops overview shows it now: tickets per state, SLA at risk and breached, the
oldest waiting ticket, the relay's backlog and the SLA scanner's last run and lag. Every count
is a range over an index (the open states, the unsent outbox rows, the due alarms); closed
tickets are counted over a window (``closed_at``), never all of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, ScalarSelect, Select, case, func, select, union_all

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


def _utc(value: datetime | str | None) -> datetime | None:
    """A timestamp from a scalar subquery or a union (SQLite hands those back as text)."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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


def oldest_waiting(conn: Connection, now: datetime) -> Oldest | None:
    """The open ticket created longest ago among those waiting on the desk (one index probe
    per state, in one statement)."""
    probes = [select(TICKET.c.reference, TICKET.c.state, TICKET.c.created_at)
              .where(TICKET.c.state == state).order_by(TICKET.c.created_at).limit(1)
              .subquery() for state in WAITING_STATES]
    found = [(since, r.reference, r.state)
             for r in conn.execute(union_all(*(select(p) for p in probes)))
             if (since := _utc(r.created_at)) is not None]
    if not found:
        return None
    since, reference, state = min(found)
    return Oldest(reference, state, since, _seconds(now, since) or 0.0)


def _scalar(stmt: Select[Any]) -> ScalarSelect[Any]:
    return stmt.scalar_subquery()


def desk_scalars(conn: Connection, book: SlaBook, now: datetime) -> Any:
    """In one round trip: the relay's backlog and its oldest unsent event, tickets closed in the
    last 24 h, the oldest SLA alarm due and not raised, and the tickets at risk (as the queue's
    SLA filter counts them)."""
    unsent = OUTBOX.c.sent_at.is_(None)
    moment = SlaMoment.of(book, now)
    return conn.execute(select(
        _scalar(select(func.count()).select_from(OUTBOX).where(unsent)).label("backlog"),
        _scalar(select(func.min(OUTBOX.c.created_at)).where(unsent)).label("unsent_since"),
        _scalar(select(func.count()).select_from(TICKET).where(
            TICKET.c.closed_at >= now - timedelta(hours=24))).label("closed"),
        _scalar(select(func.min(TICKET.c.sla_next_alarm_at))
                .where(TICKET.c.sla_next_alarm_at <= now)).label("due_since"),
        _scalar(select(func.count()).select_from(TICKET).where(
            TICKET.c.sla_due_at.is_not(None), _sla("at_risk", moment))).label("at_risk"),
    )).one()


def job_run(conn: Connection, name: str, now: datetime) -> JobRun | None:
    row = conn.execute(select(OPS_JOB).where(OPS_JOB.c.name == name)).first()
    if row is None:
        return None
    return JobRun(row.name, row.last_run_at, float(row.seconds), row.detail,
                  _seconds(now, row.last_run_at) or 0.0)


def desk_now(conn: Connection, book: SlaBook, now: datetime) -> DeskNow:
    states, breached = states_now(conn, now)
    one = desk_scalars(conn, book, now)
    return DeskNow(states=states, closed_24h=int(one.closed), at_risk=int(one.at_risk),
                   breached=breached, oldest_waiting=oldest_waiting(conn, now),
                   outbox_backlog=int(one.backlog),
                   outbox_oldest_seconds=_seconds(now, _utc(one.unsent_since)),
                   sla_lag_seconds=_seconds(now, _utc(one.due_since)) or 0.0,
                   sla_last_run=job_run(conn, SLA_JOB, now))
