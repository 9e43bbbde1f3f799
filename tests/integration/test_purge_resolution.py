"""The purge also removes what the resolution paths kept about a person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from tests.factories import make_ticket
from workflow.adapters.db import Database
from workflow.adapters.purge import purge
from workflow.adapters.tables import OUTBOX
from workflow.adapters.tables_resolution import CONSENT, SESSION_STEP, TICKET_NOTE
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.events import NotificationRequested
from workflow.domain.states import Outcome, State

NOW = datetime(2026, 11, 24, 17, tzinfo=UTC)
OLD = NOW - timedelta(days=200)


def test_reply_text_notes_steps_and_consent_address_are_purged(db: Database) -> None:
    t = make_ticket(State.CLOSED, outcome=Outcome.RESOLVED, closed_at=OLD, created_at=OLD,
                    updated_at=OLD)
    t.raise_event(NotificationRequested(t.id, OLD, "reply", "en", {
        "reference": t.reference, "message": "Dana, your DVR at 12 Elm St is unlocked"}))
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(t)
        uow.notes.add(t.id, "alice", OLD, "Dana's husband called from 555-0147")
        uow.conn.execute(insert(CONSENT).values(ticket_id=t.id, terms_version="v1", language="en",
                                                accepted_at=OLD, source_addr="203.0.113.9"))
        uow.conn.execute(insert(SESSION_STEP).values(
            ticket_id=t.id, kind="network", description="open port 8000 on router 192.168.1.1",
            proposed_by="agent:alice", proposed_at=OLD, decision="declined"))
        uow.commit()
    report = purge(db, now=NOW, retention=timedelta(days=90),
                   attachment_retention=timedelta(days=30))
    assert report.tickets_anonymised == 1
    with db.reader.begin() as conn:
        text = " ".join(str(v) for table in (OUTBOX, TICKET_NOTE, CONSENT, SESSION_STEP)
                        for row in conn.execute(select(table)) for v in row)
    for secret in ("Elm St", "555-0147", "203.0.113.9", "192.168.1.1", "Dana"):
        assert secret not in text
    assert t.reference in text  # what is not personal stays
