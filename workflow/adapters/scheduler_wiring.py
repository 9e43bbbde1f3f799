"""The SQL parts the scheduler process is built from (its composition root, schedulers.runner,
imports this and the read models only): the database, a unit-of-work factory over a business
calendar, and the daily purge."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from workflow.adapters.artifact_store import purge_artifacts
from workflow.adapters.db import Database, open_database
from workflow.adapters.purge import purge
from workflow.adapters.sla_book import build_book
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.ticket_sla import SlaBook
from workflow.service.ports import UnitOfWork

__all__ = ["Purger", "open_database", "purger", "sla_book", "uow_factory"]

#: (now, retention, attachment retention) -> what was purged, for the log
Purger = Callable[[datetime, timedelta, timedelta], str]


def sla_book(calendar_path: Path | None, *, first_reply_hours: float | None = None,
             resolution_hours: float | None = None, at_risk_ratio: float | None = None) -> SlaBook:
    return build_book(calendar_path, first_reply_hours=first_reply_hours,
                      resolution_hours=resolution_hours, at_risk_ratio=at_risk_ratio)


def uow_factory(db: Database, book: SlaBook) -> Callable[[], UnitOfWork]:
    return lambda: SqlUnitOfWork(db, sla=book)


def purger(db: Database) -> Purger:
    """Tickets, inbox rows and attachments past retention, then the reset artifacts."""

    def run(now: datetime, retention: timedelta, attachment_retention: timedelta) -> str:
        report = purge(db, now=now, retention=retention, attachment_retention=attachment_retention)
        artifacts = purge_artifacts(db, now, min(retention, attachment_retention))
        return f"{report}; reset artifacts purged: {artifacts}"

    return run
