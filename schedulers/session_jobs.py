"""Remote-session housekeeping for the scheduler: sessions nobody touched for a while are ended
(the customer is reminded to close the remote-support tool), and stale code-guess counters are
forgotten. Deadlines are columns, scanned with one indexed query per tick — no timer per session.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from workflow.service.handlers import UowFactory
from workflow.service.ports import Clock
from workflow.service.remote_sessions import end_idle_sessions
from workflow.service.session_ports import sessions_of

log = logging.getLogger(__name__)


def expire_idle_sessions(uow_factory: UowFactory, clock: Clock, idle: timedelta) -> int:
    """End every remote session with no agent or customer activity for ``idle``; the ticket goes
    back to the queue with the time-out as the audited reason. Returns how many were ended."""
    ended = end_idle_sessions(uow_factory, clock, sessions_of, idle=idle)
    if ended:
        log.info("remote sessions: %d ended after %s without activity", ended, idle)
    return ended


def prune_code_throttle(uow_factory: UowFactory, clock: Clock,
                        keep: timedelta = timedelta(days=1)) -> int:
    """Delete throttle counters (code guesses, sign-ins, rate limits: every scope) whose window
    and lock ended more than ``keep`` ago (run hourly)."""
    with uow_factory() as uow:
        pruned = uow.throttle.prune_throttle(clock.now() - keep)
        uow.commit()
    return pruned
