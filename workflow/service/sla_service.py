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

    One query finds the tickets, one transaction records them. Each ticket sits in a savepoint:
    if an agent changed it meanwhile (version check), only that ticket is left for the next tick.
    The alarm log's unique key makes a second scheduler's attempt a no-op.
    """
    raised = 0
    with uow:
        now = clock.now()
        for ticket in uow.tickets.due_for_alarm(now, limit):
            assert ticket.sla is not None
            alarms = due_alarms(ticket.sla, now)
            try:
                with uow.savepoint():
                    new = [a for a in alarms if uow.alarms.record(ticket.id, a, now)]
                    for a in new:
                        ticket.raise_event(SlaRaised(ticket.id, now, a.clock, a.cycle, a.level,
                                                     a.due_at))
                    ticket.sla = replace(ticket.sla, raised=ticket.sla.raised
                                         | {(a.clock, a.level) for a in alarms})
                    uow.tickets.save(ticket)
            except ConcurrencyConflict:
                continue
            raised += len(new)
        uow.commit()
    return raised


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
