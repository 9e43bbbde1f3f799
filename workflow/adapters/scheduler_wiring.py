"""The SQL parts the scheduler process is built from (its composition root, schedulers.runner,
imports this and the read models only): the database, a unit-of-work factory over a business
calendar, and the message bus its jobs' commands go through."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from workflow.adapters.bus_wiring import purger, sql_bus
from workflow.adapters.db import Database, open_database
from workflow.adapters.sla_book import build_book
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.policies import Policies
from workflow.domain.ticket_sla import SlaBook
from workflow.service.bus import MessageBus
from workflow.service.ports import Clock, UnitOfWork

__all__ = ["BusFactory", "open_database", "purger", "scheduler_bus", "sla_book", "uow_factory"]

#: (database, unit-of-work factory, clock) -> the bus the scheduler hands its commands to
BusFactory = Callable[[Database, Callable[[], UnitOfWork], Clock], MessageBus]


def sla_book(calendar_path: Path | None, *, first_reply_hours: float | None = None,
             resolution_hours: float | None = None, at_risk_ratio: float | None = None) -> SlaBook:
    return build_book(calendar_path, first_reply_hours=first_reply_hours,
                      resolution_hours=resolution_hours, at_risk_ratio=at_risk_ratio)


def uow_factory(db: Database, book: SlaBook) -> Callable[[], UnitOfWork]:
    return lambda: SqlUnitOfWork(db, sla=book)


def scheduler_bus(db: Database, uow: Callable[[], UnitOfWork], clock: Clock) -> MessageBus:
    """A bare scheduler's bus (``python -m schedulers.runner``): the documented policies and no
    secret key, so its reminders carry no fresh links (the composition root hands its own)."""
    return sql_bus(db, uow, clock, secret_key=b"", public_url=None,
                   policies=Policies())
