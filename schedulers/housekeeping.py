"""The leader's periodic jobs beside the SLA tick and the purge: each is a command, built afresh
for every run and handed to the bus by the runner. Deadlines are columns, so a run that was
missed is caught up by the next one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from workflow.domain.actors import Actor
from workflow.domain.reset_keys import SilencePolicy
from workflow.service.commands import Command
from workflow.service.housekeeping_commands import (
    ExpireIdleSessions,
    PrunePresence,
    PruneThrottle,
    ReleaseOrphanBookings,
    RemindSilentKeys,
)

#: who the audit trail names for each job's moves
SESSIONS: Final = Actor.system("scheduler")
KEYS: Final = Actor.system("key-jobs")
HOUSEKEEPING: Final = Actor.system("scheduler")


@dataclass(frozen=True)
class LeaderJob:
    """A periodic job that only the leader runs: ``command()`` is handed to the bus."""

    name: str
    every_seconds: float
    command: Callable[[], Command[Any]]


def housekeeping_jobs(*, silence: SilencePolicy, link_base: str | None) -> tuple[LeaderJob, ...]:
    """``link_base``: where a reminder's fresh key links point when no public URL is set. Idle
    sessions end after the bus's session policy (``session_idle_minutes``)."""
    return (
        LeaderJob("remote-session-idle", 15, lambda: ExpireIdleSessions(actor=SESSIONS)),
        LeaderJob("code-throttle-prune", 3600, lambda: PruneThrottle(actor=HOUSEKEEPING)),
        LeaderJob("reset-key-silence", 60,
                  lambda: RemindSilentKeys(actor=KEYS, silence=silence, link_base=link_base)),
        LeaderJob("callback-orphans", 300, lambda: ReleaseOrphanBookings(actor=HOUSEKEEPING)),
        LeaderJob("presence-prune", 300, lambda: PrunePresence(actor=HOUSEKEEPING)),
    )
