"""The calendar and SLA policies in force, built from files (the domain takes them as values)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from workflow.adapters.calendar_sources import load_calendar
from workflow.domain.sla import DEFAULT_POLICIES, SlaPolicy
from workflow.domain.ticket_sla import SlaBook


def build_book(calendar_path: Path | None = None, *, first_reply_hours: float | None = None,
               resolution_hours: float | None = None, at_risk_ratio: float | None = None) -> SlaBook:
    policies = dict(DEFAULT_POLICIES)
    for name, hours in (("first_reply", first_reply_hours), ("resolution", resolution_hours)):
        base = policies[name]
        policies[name] = SlaPolicy(
            name, timedelta(hours=hours) if hours is not None else base.budget,
            at_risk_ratio if at_risk_ratio is not None else base.at_risk_ratio)
    return SlaBook(load_calendar(calendar_path), policies)


@lru_cache(maxsize=1)
def default_book() -> SlaBook:
    """The documented default: Mon–Fri 06:00–16:30 Pacific, US holidays, 1 h first reply."""
    return build_book()
