"""Every row of the transitions table, through real storage: legal moves are stored and audited,
illegal ones leave the stored ticket exactly as it was (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.factories import satisfying
from workflow.adapters.db import Database
from workflow.adapters.tables import AUDIT, OUTBOX, TICKET
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.errors import IllegalTransition
from workflow.domain.guards import TriggerContext
from workflow.domain.states import TRANSITIONS, TRIGGERS, State, triggers_from
from workflow.service.handlers import transition


def _stored(db: Database, tid: str) -> tuple[Any, ...]:
    with db.reader.begin() as conn:
        row = conn.execute(select(TICKET).where(TICKET.c.id == tid)).one()
        audit = conn.execute(select(AUDIT.c.trigger, AUDIT.c.from_state, AUDIT.c.to_state)
                             .where(AUDIT.c.ticket_id == tid)).all()
        outbox = conn.execute(select(OUTBOX.c.id).where(OUTBOX.c.ticket_id == tid)).all()
    return tuple(row), [tuple(a) for a in audit], len(outbox)


def test_every_legal_move_is_stored_with_its_audit_row(db: Database) -> None:
    checked = 0
    for move in TRANSITIONS:
        for source in move.source:
            ticket, ctx = satisfying(move, source)
            with SqlUnitOfWork(db) as uow:
                uow.tickets.add(ticket)
                uow.commit()
            with SqlUnitOfWork(db) as uow:
                loaded = uow.tickets.get(ticket.id)
                transition(uow, loaded, move.trigger, ctx)
                uow.tickets.save(loaded)
                uow.commit()
            row, audit, events = _stored(db, ticket.id)
            dest = (move.dest or source).value
            assert row[2] == dest, (move, source)  # state column
            assert audit == [(move.trigger, source.value, dest)]
            assert events >= 1
            checked += 1
    assert checked == sum(len(m.source) for m in TRANSITIONS)


def test_every_illegal_move_leaves_the_stored_ticket_unchanged(db: Database) -> None:
    from tests.factories import make_ticket

    checked = 0
    for state in State:
        ticket = make_ticket(state, assignee="alice")
        with SqlUnitOfWork(db) as uow:
            uow.tickets.add(ticket)
            uow.commit()
        before = _stored(db, ticket.id)
        for trigger in TRIGGERS:
            if trigger in triggers_from(state):
                continue
            try:
                with SqlUnitOfWork(db) as uow:
                    loaded = uow.tickets.get(ticket.id)
                    transition(uow, loaded, trigger, TriggerContext("agent:alice", ticket.created_at,
                                                                   verdict_ok=True))
                    uow.tickets.save(loaded)
                    uow.commit()
            except IllegalTransition as err:
                assert err.state == state.value
            else:
                raise AssertionError(f"{trigger} from {state.value} was allowed")
            assert _stored(db, ticket.id) == before
            checked += 1
    assert checked > 50
