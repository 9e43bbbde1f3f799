"""The scheduler's handlers: SLA alarms, silent reset keys, idle sessions, orphan callback seats,
stale throttle counters, the retention purge. Deadlines are columns scanned with indexed queries,
never timers, so a scheduler that was down catches up on its next run; each change re-reads its
rows in its own transaction, so an actor who acted meanwhile wins."""

from __future__ import annotations

import logging

from workflow.domain.errors import ConcurrencyConflict
from workflow.domain.reset_keys import KeyLinks
from workflow.service import housekeeping_commands as h
from workflow.service.bus import HandlerContext, MessageBus, NotConfigured
from workflow.service.remote_sessions import end_idle_sessions
from workflow.service.reset_keys import awaiting_answer, silent_step
from workflow.service.sla_service import raise_due_alarms

log = logging.getLogger(__name__)


def raise_sla_alarms(cmd: h.RaiseSlaAlarms, ctx: HandlerContext) -> int:
    return raise_due_alarms(ctx.uow(), ctx.clock, limit=cmd.limit)


def _key_links(ctx: HandlerContext, link_base: str | None) -> KeyLinks | None:
    """Fresh links for the reminder; without them it points to the first email's links."""
    try:
        return ctx.key_links(link_base) if ctx.key_links else None
    except NotConfigured:
        return None


def remind_silent_keys(cmd: h.RemindSilentKeys, ctx: HandlerContext) -> tuple[int, int]:
    """The scan is a read; only an artifact whose step has come gets a write transaction, which
    re-reads it and notes the reminder with a conditional update (sent once)."""
    links, silence = _key_links(ctx, cmd.link_base), cmd.silence
    calendar = ctx.uow().sla.calendar
    reminded = closed = after = 0
    while True:
        batch = awaiting_answer(ctx.uow(), after, cmd.limit)
        now = ctx.clock.now()
        for art in batch:
            if silence.next_step(calendar, art.created_at, art.reminder_sent_at, now) is None:
                continue
            try:
                done = silent_step(ctx.uow(), ctx.clock, silence, art.id, art.ticket_id,
                                   cmd.actor.label, links)
            except ConcurrencyConflict:
                continue  # someone acted on the ticket meanwhile: looked at again next run
            reminded += done == "remind"
            closed += done == "close"
        if len(batch) < cmd.limit:
            break
        after = batch[-1].id
    if reminded or closed:
        log.info("reset keys: %d reminder(s) sent, %d ticket(s) closed silent", reminded, closed)
    return reminded, closed


def expire_idle_sessions(cmd: h.ExpireIdleSessions, ctx: HandlerContext) -> int:
    """The ticket goes back to the queue with the time-out as the audited reason and the
    customer is reminded to close the remote-support tool."""
    idle = cmd.idle or ctx.session_policy.idle
    ended = end_idle_sessions(ctx.uow, ctx.clock, idle=idle, actor=cmd.actor.label)
    if ended:
        log.info("remote sessions: %d ended after %s without activity", ended, idle)
    return ended


def release_orphan_bookings(cmd: h.ReleaseOrphanBookings, ctx: HandlerContext) -> int:
    with ctx.uow() as uow:
        count = uow.callbacks.release_orphans(ctx.clock.now())
        uow.commit()
    return count


def prune_throttle(cmd: h.PruneThrottle, ctx: HandlerContext) -> int:
    with ctx.uow() as uow:
        pruned = uow.throttle.prune_throttle(ctx.clock.now() - cmd.keep)
        uow.commit()
    return pruned


def purge_expired(cmd: h.PurgeExpired, ctx: HandlerContext) -> str:
    """The purge writes its own audit rows (``system:purge``), one per ticket it changed."""
    purge = ctx.need(ctx.purge, "the retention purge")
    report = purge(ctx.clock.now(), cmd.retention, cmd.attachment_retention)
    log.info("purge: %s", report)
    return report


def register(bus: MessageBus) -> None:
    bus.register(h.RaiseSlaAlarms, raise_sla_alarms)
    bus.register(h.RemindSilentKeys, remind_silent_keys)
    bus.register(h.ExpireIdleSessions, expire_idle_sessions)
    bus.register(h.ReleaseOrphanBookings, release_orphan_bookings)
    bus.register(h.PruneThrottle, prune_throttle)
    bus.register(h.PurgeExpired, purge_expired)
