"""Presence on a ticket: which other agents have it open, and whether they are writing a reply.

Nothing is locked (a lock held by a closed tab blocks replies until someone clears it): the
console only tells. Each heartbeat keeps a row alive for ``TTL``; an agent who closes the page
simply stops sending them and disappears once the row expires. ``typing`` lasts ``TYPING`` past
the last keystroke's heartbeat, so the regular ``viewing`` beat in between does not hide it.
Expired rows of the ticket go with each heartbeat; the scheduler's ``PrunePresence`` clears
those of tickets nobody opens again.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflow.domain.errors import WorkflowError
from workflow.service import housekeeping_commands as h
from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.commands import MarkPresence

TTL = timedelta(seconds=30)
TYPING = timedelta(seconds=15)
ACTIVITIES = ("viewing", "typing")


@dataclass(frozen=True)
class Present:
    login: str
    #: viewing | typing
    activity: str


class PresenceStore(abc.ABC):
    """Presence rows inside the caller's transaction."""

    @abc.abstractmethod
    def mark(self, ticket_id: str, login: str, activity: str, now: datetime) -> None:
        """Insert or refresh ``login``'s row (alive until ``now + TTL``; typing until
        ``now + TYPING`` when ``activity`` is typing) and drop the ticket's expired rows."""

    @abc.abstractmethod
    def prune(self, now: datetime) -> int:
        """Delete every row expired at ``now``; how many went."""


def mark_presence(cmd: MarkPresence, ctx: HandlerContext) -> None:
    if cmd.activity not in ACTIVITIES:
        raise WorkflowError(f"activity must be one of {', '.join(ACTIVITIES)}")
    with ctx.uow() as uow:
        uow.presence.mark(cmd.ticket_id, cmd.actor.name, cmd.activity, ctx.clock.now())
        uow.commit()


def prune_presence(cmd: h.PrunePresence, ctx: HandlerContext) -> int:
    with ctx.uow() as uow:
        pruned = uow.presence.prune(ctx.clock.now())
        uow.commit()
    return pruned


def register(bus: MessageBus) -> None:
    bus.register(MarkPresence, mark_presence)
    bus.register(h.PrunePresence, prune_presence)
