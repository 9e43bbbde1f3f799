"""A ticket's SLA clocks in words, for ``tickets show`` and the flag in ``tickets list``.

The stored clocks hold instants and consumed business time; an agent at a shell wants to know
when each clock falls due (in the desk's zone and their own), how much business time is left,
and whether it is fine, at risk, breached or paused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from workflow.domain import ticket_sla
from workflow.domain.ticket_sla import SlaBook

OK, AT_RISK, BREACHED, PAUSED, MET, MISSED = "ok", "at risk", "breached", "paused", "met", "missed"
LABELS = {"first_reply": "first reply", "resolution": "resolution"}


@dataclass(frozen=True)
class ClockView:
    name: str
    status: str
    #: budget minus business time consumed by now; negative once overdue
    remaining: timedelta
    due_at: datetime | None
    paused_at: datetime | None
    stopped_at: datetime | None


def clock_views(sla: Mapping[str, Any] | None, book: SlaBook, now: datetime) -> list[ClockView]:
    """Each clock of a ticket's stored SLA (``ticket_sla.to_dict`` form) as of ``now``."""
    if not sla:
        return []
    current = ticket_sla.from_dict(sla)
    views = []
    for name, clock in current.clocks.items():
        policy = book.policies.get(name)
        if policy is None:
            continue
        consumed = clock.consumed_at(book.calendar, now)
        if clock.is_stopped:
            status = MISSED if consumed > policy.budget else MET
        elif clock.is_paused:
            status = PAUSED
        elif consumed > policy.budget:
            status = BREACHED
        elif consumed >= policy.at_risk_budget:
            status = AT_RISK
        else:
            status = OK
        views.append(ClockView(name, status, policy.budget - consumed, clock.due_at,
                               clock.paused_at, clock.stopped_at))
    return views


def flag(views: list[ClockView]) -> str:
    """The row flag of ``tickets list``: the worst running clock, or empty when all is well."""
    statuses = {v.status for v in views}
    for worst in (BREACHED, AT_RISK):
        if worst in statuses:
            return worst.upper()
    return ""


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m"


def _when(at: datetime, book: SlaBook) -> str:
    desk = at.astimezone(book.calendar.zone)
    local = at.astimezone()
    return f"{desk:%a %Y-%m-%d %H:%M %Z} (local {local:%a %H:%M %Z})"


def describe(view: ClockView, book: SlaBook) -> str:
    """One line per clock: status, due time in the desk's zone and local time, time left."""
    label = f"  {LABELS.get(view.name, view.name):<12} {view.status:<9}"
    left = (f"{_span(view.remaining)} business time left" if view.remaining >= timedelta(0)
            else f"{_span(view.remaining)} business time over")
    if view.status in (MET, MISSED) and view.stopped_at is not None:
        return f"{label} stopped {_when(view.stopped_at, book)}"
    if view.status == PAUSED:
        since = f" since {_when(view.paused_at, book)}" if view.paused_at else ""
        return f"{label} paused{since}; {left} when it resumes"
    due = f"due {_when(view.due_at, book)}" if view.due_at else "due -"
    return f"{label} {due}; {left}"
