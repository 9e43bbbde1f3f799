"""The scheduler's jobs: each builds a command and hands it to the message bus as a system actor;
the runner decides when and whether.

SLA deadlines are columns of the ticket table, never timers: ``sla_tick`` asks the database what
has come due since the last tick, so a scheduler that was down for an hour raises, on its first
tick, every at-risk and breach instant that passed meanwhile — each exactly once (the ticket's
``raised`` set and the ``sla_alarm`` unique key).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

from workflow.domain.actors import Actor
from workflow.service.bus import MessageBus
from workflow.service.handlers import UowFactory
from workflow.service.housekeeping_commands import PurgeExpired, RaiseSlaAlarms
from workflow.service.sla_service import recompute_open_clocks

log = logging.getLogger(__name__)

#: a catch-up stops after this many rounds and goes on at the next tick (so stop and leadership
#: checks are never far apart)
MAX_ROUNDS = 100
SCHEDULER: Final = Actor.system("scheduler")
PURGE: Final = Actor.system("purge")


def _always() -> bool:
    return True


def sla_tick(bus: MessageBus, *, limit: int = 100, keep_going: Callable[[], bool] = _always,
             max_rounds: int = MAX_ROUNDS) -> int:
    """Raise every SLA alarm due now: ``RaiseSlaAlarms`` rounds until one comes back short.

    Each round is one query and one transaction of at most ``limit`` tickets. ``keep_going`` is
    asked between rounds (the runner checks its stop flag and that it still leads). Returns the
    number of alarms raised.
    """
    total = 0
    for _ in range(max_rounds):
        raised = bus.handle(RaiseSlaAlarms(actor=SCHEDULER, limit=limit))
        total += raised
        if raised < limit or not keep_going():
            break
    if total:
        log.info("sla tick: %d alarm(s) raised", total)
    return total


def daily_purge(bus: MessageBus, *, retention: timedelta, attachment_retention: timedelta) -> str:
    """Anonymise what has outlived its retention period (idempotent: a second run changes nothing)."""
    return bus.handle(PurgeExpired(actor=PURGE, retention=retention,
                                   attachment_retention=attachment_retention))


def _signature(path: Path | None) -> tuple[int, int, int] | None:
    """What changes when the file is edited in place or replaced (mtime, size, inode)."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


@dataclass
class CalendarWatch:
    """The unit-of-work factory under the calendar in force, rebuilt when the file changes.

    ``build`` reads the calendar file (and policies) and returns a factory of units of work
    bound to that book; it raises ``ValueError`` on a bad file, in which case the calendar in
    force stays, the error is logged once, and the next edit is tried again.
    """

    path: Path | None
    build: Callable[[], UowFactory]

    def __post_init__(self) -> None:
        self._seen = _signature(self.path)
        self.uow_factory: UowFactory = self.build()
        self._stale = False

    def mark_stale(self) -> None:
        """Make the next ``refresh`` recompute every open ticket even if the file is unchanged
        (a new leader cannot know whether the previous one finished after an edit)."""
        self._stale = True

    def refresh(self) -> int | None:
        """Reload and recompute if the file changed (or ``mark_stale`` was called).

        Returns the number of tickets whose deadlines moved, or None when nothing was done.
        """
        seen = _signature(self.path)
        if seen == self._seen and not self._stale:
            return None
        if seen != self._seen:
            self._seen = seen
            try:
                factory = self.build()
            except ValueError as exc:
                log.error("calendar %s not reloaded, the previous one stays in force: %s",
                          self.path, exc)
                return None
            self.uow_factory = factory
            log.info("calendar %s reloaded", self.path)
        changed = recompute_open_clocks(self.uow_factory)
        self._stale = False
        log.info("calendar in force applied: %d open ticket(s) got new deadlines", changed)
        return changed
