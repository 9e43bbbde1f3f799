"""SLA services: the scheduler's tick and the recomputation after a calendar change."""

from __future__ import annotations

from dataclasses import replace

from workflow.domain.errors import ConcurrencyConflict
from workflow.domain.events import SlaRaised
from workflow.domain.ticket_sla import due_alarms, recompute_all
from workflow.service.handlers import UowFactory
from workflow.service.ports import Clock, UnitOfWork


def raise_due_alarms(uow: UnitOfWork, clock: Clock, *, limit: int = 100) -> int:
    """One scheduler tick: every at-risk or breach instant that has come becomes one event.

    One indexed query finds (and on PostgreSQL locks, skipping rows being saved) the tickets;
    one transaction records the alarms, their events and the clocks, in batches. The alarm log's
    unique key makes a second scheduler's attempt a no-op; a batch that meets a concurrent change
    anyway is rolled back whole and retried on the next tick.
    """
    with uow:
        now = clock.now()
        tickets = uow.tickets.due_for_alarm(now, limit)
        plan = {t.id: due_alarms(t.sla, now) if t.sla else [] for t in tickets}
        new = uow.alarms.record_many([(tid, a) for tid, alarms in plan.items() for a in alarms], now)
        for t in tickets:
            assert t.sla is not None
            alarms = plan[t.id]
            for a in alarms:
                if (t.id, a.clock, a.cycle, a.level) in new:
                    t.raise_event(SlaRaised(t.id, now, a.clock, a.cycle, a.level, a.due_at))
            t.sla = replace(t.sla, raised=t.sla.raised | {(a.clock, a.level) for a in alarms})
        uow.tickets.save_clocks(tickets)
        uow.commit()
    return len(new)


def recompute_open_clocks(uow_factory: UowFactory, *, batch: int = 200) -> int:
    """Due and at-risk instants of every open ticket under the calendar now in force."""
    changed, after = 0, ""
    while True:
        uow = uow_factory()
        with uow:
            tickets = uow.tickets.open_with_clocks(after, batch)
            for ticket in tickets:
                assert ticket.sla is not None
                updated = recompute_all(ticket.sla, uow.sla)
                if updated != ticket.sla:
                    ticket.sla = updated
                    try:
                        with uow.savepoint():
                            uow.tickets.save(ticket)
                        changed += 1
                    except ConcurrencyConflict:
                        pass  # it was just saved by a service, which reconciled it already
            uow.commit()
        if len(tickets) < batch:
            return changed
        after = tickets[-1].id
