"""One ticket's history as the agents' ticket page shows it: one list, oldest first, merging the
audit trail, the emails asked for (outbox) and what became of them, the callback bookings and
attempts, the remote-session steps and the internal notes. Each source is one indexed query by
ticket id; the texts are plain (the page escapes them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, select

from workflow.adapters.db import Database
from workflow.adapters.tables import AUDIT, DELIVERY, OUTBOX
from workflow.adapters.tables_resolution import (
    CALLBACK_ATTEMPT,
    CALLBACK_BOOKING,
    SESSION_STEP,
    TICKET_NOTE,
)

EMAIL_TYPE = "com.resetdesk.notification.email.v1"
#: the embedded runtime's subscriber that sends the emails (``resetdesk.wiring``)
EMAIL_SUBSCRIBER = "notifications"
#: an email's fate from its embedded delivery row
DELIVERY_STATUS = {"done": "sent", "dead": "failed", "discarded": "failed (discarded)",
                   "pending": "sending"}


@dataclass(frozen=True)
class Entry:
    at: datetime
    #: move | email | booking | call | step | note
    kind: str
    #: as the audit trail names actors (``agent:ada``, ``customer``, ``system:scheduler``), or
    #: the agent's login for notes and calls
    actor: str
    text: str
    detail: str | None = None


def timeline(db: Database, ticket_id: str, zone: tzinfo = UTC) -> list[Entry]:
    """``zone``: the one callback slots are told in (the desk's)."""
    with db.reader.connect() as conn, conn.begin():
        entries = [*_moves(conn, ticket_id), *_emails(conn, ticket_id),
                   *_callbacks(conn, ticket_id, zone), *_steps(conn, ticket_id),
                   *_notes(conn, ticket_id)]
    return sorted(entries, key=lambda e: e.at)  # stable: same instant keeps source order


def _moves(conn: Connection, ticket_id: str) -> list[Entry]:
    rows = conn.execute(select(AUDIT).where(AUDIT.c.ticket_id == ticket_id).order_by(AUDIT.c.id))
    out = []
    for r in rows:
        path = r.to_state if r.from_state in ("", r.to_state) else f"{r.from_state} → {r.to_state}"
        text = f"{r.trigger.replace('_', ' ')} ({path})"
        if r.outcome:
            text += f", outcome {r.outcome}"
        out.append(Entry(r.at, "move", r.actor, text, r.reason))
    return out


def _emails(conn: Connection, ticket_id: str) -> list[Entry]:
    rows = conn.execute(select(OUTBOX.c.event_id, OUTBOX.c.payload, OUTBOX.c.created_at,
                               OUTBOX.c.sent_at)
                        .where(OUTBOX.c.ticket_id == ticket_id, OUTBOX.c.type == EMAIL_TYPE)
                        .order_by(OUTBOX.c.sequence)).all()
    if not rows:
        return []
    fate: dict[str, str] = dict(conn.execute(select(DELIVERY.c.event_id, DELIVERY.c.status).where(
        DELIVERY.c.subscriber == EMAIL_SUBSCRIBER,
        DELIVERY.c.event_id.in_([r.event_id for r in rows]))).all())
    out = []
    for r in rows:
        envelope: dict[str, Any] = json.loads(r.payload)
        data: dict[str, Any] = envelope.get("data", {})
        if r.event_id in fate:
            status = DELIVERY_STATUS.get(fate[r.event_id], fate[r.event_id])
        else:
            status = "handed to the broker" if r.sent_at else "waiting to go out"
        message = (data.get("context") or {}).get("message")
        out.append(Entry(_time(envelope, r.created_at), "email", "system:notifications",
                         f"email {data.get('template', '?')} ({data.get('language', '?')}): {status}",
                         message if isinstance(message, str) else None))
    return out


def _time(envelope: dict[str, Any], stored: datetime) -> datetime:
    """When the email was asked for: the event's time (the outbox row's is the wall clock)."""
    try:
        at = datetime.fromisoformat(str(envelope["time"]))
    except (KeyError, ValueError):
        return stored
    return at if at.tzinfo is not None else stored


def _callbacks(conn: Connection, ticket_id: str, zone: tzinfo) -> list[Entry]:
    b, a = CALLBACK_BOOKING.c, CALLBACK_ATTEMPT.c
    bookings = conn.execute(select(b.created_at, b.requested_by, b.slot_start, b.status)
                            .where(b.ticket_id == ticket_id).order_by(b.id))
    out = [Entry(r.created_at, "booking", r.requested_by,
                 f"callback booked for {r.slot_start.astimezone(zone):%a %d %b %Y %H:%M %Z} "
                 f"({r.status})")
           for r in bookings]
    attempts = conn.execute(select(a.at, a.agent, a.result, a.cycle)
                            .where(a.ticket_id == ticket_id).order_by(a.id))
    out += [Entry(r.at, "call", r.agent,
                  f"callback attempt: {r.result.replace('_', ' ')} (cycle {r.cycle})")
            for r in attempts]
    return out


def _steps(conn: Connection, ticket_id: str) -> list[Entry]:
    s = SESSION_STEP.c
    rows = conn.execute(select(s.kind, s.description, s.proposed_by, s.proposed_at, s.decision,
                               s.decided_at).where(s.ticket_id == ticket_id).order_by(s.id))
    out = []
    for r in rows:
        out.append(Entry(r.proposed_at, "step", r.proposed_by,
                         f"remote-session step proposed ({r.kind})", r.description))
        if r.decided_at is not None:
            out.append(Entry(r.decided_at, "step", "customer",
                             f"remote-session step {r.decision} ({r.kind})", r.description))
    return out


def _notes(conn: Connection, ticket_id: str) -> list[Entry]:
    n = TICKET_NOTE.c
    rows = conn.execute(select(n.at, n.author, n.body).where(n.ticket_id == ticket_id)
                        .order_by(n.id))
    return [Entry(r.at, "note", r.author, "internal note", r.body) for r in rows]
