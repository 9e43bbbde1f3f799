"""The ticket repository over SQLAlchemy core, for SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from workflow.adapters import outbox_codec
from workflow.adapters.tables import AUDIT, OUTBOX, TICKET
from workflow.domain import ticket_sla
from workflow.domain.errors import ConcurrencyConflict, TicketNotFound
from workflow.domain.states import Outcome, State, WaitingOn
from workflow.domain.ticket import AuditEntry, Ticket, new_reference
from workflow.service.ports import OpenSerialTaken, TicketRepository


def _ticket_from_row(row: Row[Any]) -> Ticket:
    m = row._mapping
    return Ticket(
        id=m["id"], reference=m["reference"], state=State(m["state"]),
        created_at=m["created_at"], updated_at=m["updated_at"], language=m["language"],
        source=m["source"], event_id=m["event_id"], serial_key=m["serial_key"],
        outcome=Outcome(m["outcome"]) if m["outcome"] else None,
        waiting_on=WaitingOn(m["waiting_on"]) if m["waiting_on"] else None,
        assignee=m["assignee"], linked_ticket_id=m["linked_ticket_id"],
        first_reply_at=m["first_reply_at"], closed_at=m["closed_at"], version=m["version"],
        anonymised_at=m["anonymised_at"],
        event_seq=m["event_seq"], data=json.loads(m["data"]), accepted_at=m["accepted_at"],
        sla=ticket_sla.from_dict(json.loads(m["sla"])) if m["sla"] else None,
    )


def _mutable_columns(t: Ticket) -> dict[str, Any]:
    return {
        "state": t.state.value,
        "outcome": t.outcome.value if t.outcome else None,
        "waiting_on": t.waiting_on.value if t.waiting_on else None,
        "assignee": t.assignee,
        "linked_ticket_id": t.linked_ticket_id,
        "updated_at": t.updated_at,
        "first_reply_at": t.first_reply_at,
        "closed_at": t.closed_at,
        "open_serial_key": t.serial_key if t.is_open else None,
        "data": json.dumps(t.data, separators=(",", ":")),
        "accepted_at": t.accepted_at,
        "sla": json.dumps(ticket_sla.to_dict(t.sla), separators=(",", ":")) if t.sla else None,
        "sla_next_alarm_at": t.sla.next_alarm_at() if t.sla else None,
        "first_reply_due_at": t.sla.due("first_reply") if t.sla else None,
        "resolution_due_at": t.sla.due("resolution") if t.sla else None,
    }


class SqlTicketRepository(TicketRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, ticket_id: str) -> Ticket:
        row = self.conn.execute(select(TICKET).where(TICKET.c.id == ticket_id)).first()
        if row is None:
            raise TicketNotFound(ticket_id)
        return _ticket_from_row(row)

    def by_reference(self, reference: str) -> Ticket:
        row = self.conn.execute(
            select(TICKET).where(TICKET.c.reference == reference.strip().upper())
        ).first()
        if row is None:
            raise TicketNotFound(reference)
        return _ticket_from_row(row)

    def open_ticket_for_serial(self, serial_key: str) -> str | None:
        return self.conn.execute(
            select(TICKET.c.id).where(TICKET.c.open_serial_key == serial_key)
        ).scalar()

    def add(self, ticket: Ticket) -> None:
        ticket.version = 1
        for _ in range(5):  # a reference collision (40 bits) is retried with a fresh one
            values = {
                "id": ticket.id, "reference": ticket.reference, "language": ticket.language,
                "source": ticket.source, "event_id": ticket.event_id,
                "serial_key": ticket.serial_key, "created_at": ticket.created_at,
                "version": ticket.version,
                "event_seq": ticket.event_seq + len(ticket.pending_events),
                **_mutable_columns(ticket),
            }
            try:
                with self.conn.begin_nested():
                    self.conn.execute(insert(TICKET).values(**values))
                break
            except IntegrityError:
                holder = ticket.serial_key and values["open_serial_key"] and (
                    self.open_ticket_for_serial(ticket.serial_key))
                if holder:
                    raise OpenSerialTaken(holder) from None
                if self.conn.execute(select(TICKET.c.id).where(TICKET.c.id == ticket.id)).first():
                    raise
                ticket.reference = new_reference()
        self._write_pending(ticket)

    def save(self, ticket: Ticket) -> None:
        loaded = ticket.version
        stmt = (
            update(TICKET)
            .where(TICKET.c.id == ticket.id, TICKET.c.version == loaded)
            .values(version=loaded + 1,
                    event_seq=ticket.event_seq + len(ticket.pending_events),
                    **_mutable_columns(ticket))
        )
        try:
            with self.conn.begin_nested():
                result = self.conn.execute(stmt)
        except IntegrityError:
            holder = ticket.serial_key and self.open_ticket_for_serial(ticket.serial_key)
            if holder:
                raise OpenSerialTaken(holder) from None
            raise
        if result.rowcount != 1:
            raise ConcurrencyConflict(ticket.id, loaded)
        ticket.version = loaded + 1
        self._write_pending(ticket)

    def _write_pending(self, ticket: Ticket) -> None:
        audit, events = ticket.take_pending()
        if audit:
            self.conn.execute(insert(AUDIT), [
                {"ticket_id": a.ticket_id, "at": a.at, "actor": a.actor, "trigger": a.trigger,
                 "from_state": a.from_state, "to_state": a.to_state, "outcome": a.outcome,
                 "reason": a.reason}
                for a in audit
            ])
        if events:
            rows = []
            now = datetime.now(UTC)
            for event in events:
                event_id, etype, payload = outbox_codec.encode(event, ticket.event_seq)
                rows.append({"event_id": event_id, "ticket_id": ticket.id,
                             "sequence": ticket.event_seq, "type": etype, "payload": payload,
                             "created_at": now})
                ticket.event_seq += 1
            self.conn.execute(insert(OUTBOX), rows)

    def due_for_alarm(self, now: datetime, limit: int) -> list[Ticket]:
        rows = self.conn.execute(
            select(TICKET).where(TICKET.c.sla_next_alarm_at <= now)
            .order_by(TICKET.c.sla_next_alarm_at).limit(limit)).all()
        return [_ticket_from_row(r) for r in rows]

    def open_with_clocks(self, after_id: str, limit: int) -> list[Ticket]:
        rows = self.conn.execute(
            select(TICKET).where(TICKET.c.state != "closed", TICKET.c.sla.is_not(None),
                                 TICKET.c.id > after_id)
            .order_by(TICKET.c.id).limit(limit)).all()
        return [_ticket_from_row(r) for r in rows]

    def history(self, ticket_id: str) -> Sequence[AuditEntry]:
        rows = self.conn.execute(
            select(AUDIT).where(AUDIT.c.ticket_id == ticket_id).order_by(AUDIT.c.id)
        ).all()
        return [
            AuditEntry(r.ticket_id, r.at, r.actor, r.trigger, r.from_state, r.to_state, r.outcome,
                       r.reason)
            for r in rows
        ]
