"""The scheduler's commands: each periodic job that changes state is one of these, handed to
the message bus by the leader as a system actor (``system:scheduler``, ``system:key-jobs`` …).

They are for system actors only (``actors``); the ones that fire moves name them too
(``triggers``), so the transitions declaration still decides whether a system process may
abandon a ticket or end a remote session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from workflow.domain.reset_keys import SilencePolicy
from workflow.service.commands import Command

SYSTEM = ("system",)


@dataclass(frozen=True, kw_only=True)
class RaiseSlaAlarms(Command[int]):
    """One round of the SLA tick: the alarms due now of at most ``limit`` tickets (the number
    raised; a round that comes back full is followed by another)."""

    actors = SYSTEM
    limit: int = 100


@dataclass(frozen=True, kw_only=True)
class RemindSilentKeys(Command[tuple[int, int]]):
    """Remind, then close ``abandoned``, every customer silent on a reset key; (reminded, closed)."""

    actors = SYSTEM
    triggers = ("abandon",)
    silence: SilencePolicy = field(default_factory=SilencePolicy)
    #: where the reminder's fresh links point when no public URL is configured
    link_base: str | None = None
    limit: int = 200


@dataclass(frozen=True, kw_only=True)
class ExpireIdleSessions(Command[int]):
    """End the remote sessions nobody touched for ``idle`` (None: the session policy's);
    how many were ended."""

    actors = SYSTEM
    triggers = ("end_remote_session",)
    idle: timedelta | None = None


@dataclass(frozen=True, kw_only=True)
class ReleaseOrphanBookings(Command[int]):
    """Free the callback seats of tickets that left awaiting-callback another way."""

    actors = SYSTEM


@dataclass(frozen=True, kw_only=True)
class PruneThrottle(Command[int]):
    """Forget throttle counters (every scope) whose window and lock ended ``keep`` ago."""

    actors = SYSTEM
    keep: timedelta = timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class PrunePresence(Command[int]):
    """Forget the console's presence rows that expired (agents who closed the page without
    a word); how many went."""

    actors = SYSTEM


@dataclass(frozen=True, kw_only=True)
class PurgeExpired(Command[str]):
    """Anonymise what outlived its retention (idempotent); what was purged, for the log."""

    actors = SYSTEM
    retention: timedelta
    attachment_retention: timedelta
