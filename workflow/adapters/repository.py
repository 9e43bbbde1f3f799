"""The ticket repository over SQLAlchemy core, for SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from workflow.adapters import outbox_codec, search_keys
from workflow.adapters.tables import AUDIT, OUTBOX, TICKET
from workflow.domain import ticket_sla
from workflow.domain.errors import ConcurrencyConflict, TicketNotFound
from workflow.domain.events import SlaRaised
from workflow.domain.states import Outcome, State, WaitingOn
from workflow.domain.ticket import AuditEntry, Ticket
from workflow.logcontext import bind
from workflow.service.ports import OpenSerialTaken, TicketRepository


def _ticket_from_row(row: Row[Any]) -> Ticket:
    """A domain ticket from its row (``SqlTicketRepository._load`` also notes open/closed)."""
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


def _sla_columns(t: Ticket) -> dict[str, Any]:
    return {
        "sla": json.dumps(ticket_sla.to_dict(t.sla), separators=(",", ":")) if t.sla else None,
        "sla_next_alarm_at": t.sla.next_alarm_at() if t.sla else None,
        "first_reply_due_at": t.sla.due("first_reply") if t.sla else None,
        "resolution_due_at": t.sla.due("resolution") if t.sla else None,
        "sla_due_at": t.sla.running_due() if t.sla else None,
    }


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
        **search_keys.columns(t.data),
        **_sla_columns(t),
    }


def row_values(t: Ticket) -> dict[str, Any]:
    """Every column of the ticket's row (``add`` inserts it; bulk loads in bench/ reuse it)."""
    return {
        "id": t.id, "reference": t.reference, "language": t.language, "source": t.source,
        "event_id": t.event_id, "serial_key": t.serial_key, "created_at": t.created_at,
        "version": t.version, "event_seq": t.event_seq + len(t.pending_events),
        **_mutable_columns(t),
    }


_MUTABLE = ("state", "outcome", "waiting_on", "assignee", "linked_ticket_id", "updated_at",
            "first_reply_at", "closed_at", "open_serial_key", "data", "accepted_at", "sla",
            "sla_next_alarm_at", "first_reply_due_at", "resolution_due_at", "sla_due_at",
            "search_email", "search_phone", "search_serial", "method")
#: one statement, compiled once, for single saves and batches alike
_UPDATE = (
    update(TICKET)
    .where(TICKET.c.id == bindparam("b_id"), TICKET.c.version == bindparam("b_version"))
    .values({c: bindparam(c) for c in (*_MUTABLE, "version", "event_seq")})
)
_SLA_COLUMNS = ("sla", "sla_next_alarm_at", "first_reply_due_at", "resolution_due_at",
                "sla_due_at")
_UPDATE_CLOCKS = (
    update(TICKET)
    .where(TICKET.c.id == bindparam("b_id"), TICKET.c.version == bindparam("b_version"))
    .values({c: bindparam(c) for c in (*_SLA_COLUMNS, "version", "event_seq")})
)
_INSERT_SQLITE = (sqlite_insert(TICKET).on_conflict_do_nothing(index_elements=["open_serial_key"])
                  .returning(TICKET.c.id))
_INSERT_PG = (pg_insert(TICKET).on_conflict_do_nothing(index_elements=["open_serial_key"])
              .returning(TICKET.c.id))


class SqlTicketRepository(TicketRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        #: whether each ticket was open when loaded (see ``save``)
        self._loaded_open: dict[str, bool] = {}
        #: what this transaction wrote, for the metrics the unit of work records on commit:
        #: (from, to, trigger, outcome) per transition, (clock, level) per SLA alarm
        self.written_moves: list[tuple[str, str, str, str | None]] = []
        self.written_alarms: list[tuple[str, str]] = []

    def _load(self, row: Row[Any]) -> Ticket:
        ticket = _ticket_from_row(row)
        self._loaded_open[ticket.id] = ticket.is_open
        return ticket

    def get(self, ticket_id: str) -> Ticket:
        row = self.conn.execute(select(TICKET).where(TICKET.c.id == ticket_id)).first()
        if row is None:
            raise TicketNotFound(ticket_id)
        bind(ticket_id=ticket_id)  # the lines logged from here on name this ticket
        return self._load(row)

    def by_reference(self, reference: str) -> Ticket:
        row = self.conn.execute(
            select(TICKET).where(TICKET.c.reference == reference.strip().upper())
        ).first()
        if row is None:
            raise TicketNotFound(reference)
        bind(ticket_id=row.id)
        return self._load(row)

    def due_for_alarm(self, now: datetime, limit: int) -> list[Ticket]:
        stmt = (select(TICKET).where(TICKET.c.sla_next_alarm_at <= now)
                .order_by(TICKET.c.sla_next_alarm_at).limit(limit))
        if self.conn.dialect.name == "postgresql":
            # rows an agent is saving right now are left for the next tick instead of waited on;
            # the ones taken cannot change under this transaction (SQLite: BEGIN IMMEDIATE)
            stmt = stmt.with_for_update(skip_locked=True)
        return [self._load(r) for r in self.conn.execute(stmt).all()]

    def open_with_clocks(self, after_id: str, limit: int) -> list[Ticket]:
        rows = self.conn.execute(
            select(TICKET).where(TICKET.c.state != "closed", TICKET.c.sla.is_not(None),
                                 TICKET.c.id > after_id)
            .order_by(TICKET.c.id).limit(limit)).all()
        return [self._load(r) for r in rows]

    def open_ticket_for_serial(self, serial_key: str) -> str | None:
        return self.conn.execute(
            select(TICKET.c.id).where(TICKET.c.open_serial_key == serial_key)
        ).scalar()

    def add(self, ticket: Ticket) -> None:
        """Insert; the open-serial unique key decides "a second open request for this serial"
        with ON CONFLICT DO NOTHING, so the transaction stays usable without a savepoint."""
        bind(ticket_id=ticket.id)
        ticket.version = 1
        values = row_values(ticket)
        stmt = _INSERT_SQLITE if self.conn.dialect.name == "sqlite" else _INSERT_PG
        if self.conn.execute(stmt, values).first() is None:
            holder = self.open_ticket_for_serial(ticket.serial_key or "")
            if holder is None:  # it closed in between: the caller's retry will go through
                raise ConcurrencyConflict(ticket.id, 0)
            raise OpenSerialTaken(holder)
        self._loaded_open[ticket.id] = ticket.is_open
        self._write_pending(ticket)

    def save(self, ticket: Ticket) -> None:
        loaded = ticket.version
        params = self._update_params(ticket)
        # only a closed ticket coming back to life can collide on the open-serial unique key;
        # every other save skips the savepoint's round trips
        reopening = ticket.is_open and ticket.serial_key and not self._loaded_open.get(ticket.id, True)
        try:
            if reopening:
                with self.conn.begin_nested():
                    result = self.conn.execute(_UPDATE, params)
            else:
                result = self.conn.execute(_UPDATE, params)
        except IntegrityError:
            holder = ticket.serial_key and self.open_ticket_for_serial(ticket.serial_key)
            if holder:
                raise OpenSerialTaken(holder) from None
            raise
        if result.rowcount != 1:
            raise ConcurrencyConflict(ticket.id, loaded)
        ticket.version = loaded + 1
        self._loaded_open[ticket.id] = ticket.is_open
        self._write_pending(ticket)

    def save_clocks(self, tickets: Sequence[Ticket]) -> None:
        """Save the SLA clocks (and pending events) of several tickets: one batched UPDATE of
        the SLA columns only, one outbox insert; all or none (``ConcurrencyConflict`` if any was
        changed since it was loaded). The scheduler changes nothing else."""
        if not tickets:
            return
        params = [{"b_id": t.id, "b_version": t.version, "version": t.version + 1,
                   "event_seq": t.event_seq + len(t.pending_events), **_sla_columns(t)}
                  for t in tickets]
        result = self.conn.execute(_UPDATE_CLOCKS, params)
        if result.rowcount != len(tickets):
            raise ConcurrencyConflict(tickets[0].id if len(tickets) == 1 else "(batch)",
                                      tickets[0].version)
        for t in tickets:
            t.version += 1
        self._write_pending_many(tickets)

    @staticmethod
    def _update_params(t: Ticket) -> dict[str, Any]:
        return {"b_id": t.id, "b_version": t.version, "version": t.version + 1,
                "event_seq": t.event_seq + len(t.pending_events), **_mutable_columns(t)}

    def _write_pending(self, ticket: Ticket) -> None:
        self._write_pending_many([ticket])

    def _write_pending_many(self, tickets: Sequence[Ticket]) -> None:
        audit: list[AuditEntry] = []
        outbox: list[dict[str, Any]] = []
        now = datetime.now(UTC)
        for ticket in tickets:
            entries, events = ticket.take_pending()
            audit.extend(entries)
            self.written_moves += [(a.from_state, a.to_state, a.trigger, a.outcome) for a in entries]
            self.written_alarms += [(e.clock, e.level) for e in events if isinstance(e, SlaRaised)]
            for event in events:
                event_id, etype, payload = outbox_codec.encode(event, ticket.event_seq)
                outbox.append({"event_id": event_id, "ticket_id": ticket.id,
                               "sequence": ticket.event_seq, "type": etype, "payload": payload,
                               "created_at": now})
                ticket.event_seq += 1
        self._insert_rows([
            {"ticket_id": a.ticket_id, "at": a.at, "actor": a.actor, "trigger": a.trigger,
             "from_state": a.from_state, "to_state": a.to_state, "outcome": a.outcome,
             "reason": a.reason}
            for a in audit
        ], outbox)

    def _insert_rows(self, audit: list[dict[str, Any]], outbox: list[dict[str, Any]]) -> None:
        """Audit and outbox rows, one executemany each (a batch's unit of work defers them
        to its commit, for the whole batch at once)."""
        if audit:
            self.conn.execute(insert(AUDIT), audit)
        if outbox:
            self.conn.execute(insert(OUTBOX), outbox)

    def history(self, ticket_id: str) -> Sequence[AuditEntry]:
        rows = self.conn.execute(
            select(AUDIT).where(AUDIT.c.ticket_id == ticket_id).order_by(AUDIT.c.id)
        ).all()
        return [
            AuditEntry(r.ticket_id, r.at, r.actor, r.trigger, r.from_state, r.to_state, r.outcome,
                       r.reason)
            for r in rows
        ]
