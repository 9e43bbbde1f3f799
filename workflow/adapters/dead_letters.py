"""The dead-letter archive: messages no consumer could process, kept in a table because AMQP cannot
browse a queue. Ops list them, look at them with personal data masked, and either replay or
discard each one; both are audited (actor, trigger, reason) and neither deletes anything.

Transport-free: the archiver (consumers/amqp/dlq.py) hands in messages already made JSON-safe,
and replay takes the republishing function as a port. ``headers`` holds one JSON document,
``{"headers": {AMQP application headers}, "properties": {other AMQP basic properties}}``, so a
replay can restore the message as it was (``user_id`` included); ``message_id`` and
``content_type`` have their own columns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow.adapters import refusals
from workflow.adapters.db import Database
from workflow.adapters.tables import AUDIT, DEAD_LETTER, TICKET
from workflow.domain.errors import NotFound, WorkflowError

DEAD: Final = "dead"
REPLAYED: Final = "replayed"
DISCARDED: Final = "discarded"
STATUSES: Final = (DEAD, REPLAYED, DISCARDED)
AUDIT_FROM: Final = "dead-letter"
ACTOR_PREFIXES: Final = ("agent:", "system:ops:")
MAX_REASON: Final = 500
MASK: Final = "<masked>"

#: Data fields shown as they are; every other string or number under ``data`` is masked, so the
#: requester (name, email, phone, company, purchased_from), the serial number, the note, the
#: human-check token, the export's content and anything a malformed message adds never show.
SAFE_FIELDS: Final = frozenset({
    "country", "language", "customer_type", "model_number", "firmware_version", "kind",
    "current_date", "start_time", "reset_method", "media_type", "authorised_and_responsible",
    "on_site_or_network", "terms_version", "accepted_at", "ticket_id", "reference",
    "from_state", "to_state", "trigger", "actor", "outcome", "waiting_on", "at", "queued_at",
    "first_reply_due", "reason", "linked_ticket_id", "clock", "cycle", "due_at", "raised_at",
    "template",
})


class DeadLetterSettled(WorkflowError):
    """The dead letter was replayed or discarded already."""


@dataclass(frozen=True)
class DeadLetter:
    id: int
    queue: str
    message_id: str | None
    event_type: str | None
    reason: str
    content_type: str | None
    headers: dict[str, Any]
    properties: dict[str, Any]
    body: bytes
    dead_at: datetime | None
    archived_at: datetime
    status: str
    acted_by: str | None
    acted_at: datetime | None
    act_reason: str | None

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "queue": self.queue, "status": self.status,
                "event_type": self.event_type, "message_id": self.message_id,
                "reason": self.reason, "dead_at": _iso(self.dead_at),
                "archived_at": _iso(self.archived_at), "acted_by": self.acted_by,
                "acted_at": _iso(self.acted_at)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(queue: str, body: bytes, headers: Mapping[str, Any],
                properties: Mapping[str, Any]) -> str:
    """sha256 of queue, body and the canonical headers document: a redelivered copy of the same
    dead letter has the same one (the archiver leaves out ``x-delivery-count``)."""
    doc = canonical({"headers": headers, "properties": properties}).encode("utf-8")
    h = hashlib.sha256()
    for part in (queue.encode("utf-8"), body, doc):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def archive(db: Database, *, queue: str, body: bytes, headers: Mapping[str, Any],
            properties: Mapping[str, Any], reason: str, message_id: str | None,
            event_type: str | None, content_type: str | None, dead_at: datetime | None,
            now: datetime) -> bool:
    """Store one dead letter unless its fingerprint is known; True when a row was added."""
    values = {
        "fingerprint": fingerprint(queue, body, headers, properties), "queue": queue,
        "message_id": message_id[:256] if message_id else None,
        "event_type": event_type[:120] if event_type else None, "reason": reason[:2000],
        "content_type": content_type[:120] if content_type else None,
        "headers": canonical({"headers": headers, "properties": properties}), "body": body,
        "dead_at": dead_at, "archived_at": now, "status": DEAD,
    }
    dialect_insert = sqlite_insert if db.is_sqlite else pg_insert
    stmt = (dialect_insert(DEAD_LETTER).values(**values)
            .on_conflict_do_nothing(index_elements=["fingerprint"]).returning(DEAD_LETTER.c.id))
    with db.writer.begin() as conn:
        added = conn.execute(stmt).first()
        producer = properties.get("user_id")
        if added is not None and queue == refusals.REQUESTS_QUEUE and message_id \
                and isinstance(producer, str) and producer:
            refusals.record(conn, producer=producer, event_id=message_id, reason=reason,
                            code=str(headers.get("x-resetdesk-error-code") or ""),
                            dead_letter_id=added.id, now=now)
        return added is not None


def from_row(row: Any) -> DeadLetter:
    """A ``dead_letter`` row as a :class:`DeadLetter` (the headers column decoded)."""
    doc = json.loads(row.headers)
    return DeadLetter(row.id, row.queue, row.message_id, row.event_type, row.reason,
                      row.content_type, dict(doc.get("headers") or {}),
                      dict(doc.get("properties") or {}), bytes(row.body), row.dead_at,
                      row.archived_at, row.status, row.acted_by, row.acted_at, row.act_reason)


def list_dead_letters(db: Database, *, queue: str | None = None, status: str | None = None,
                      limit: int = 100) -> list[DeadLetter]:
    """Newest first."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    stmt = select(DEAD_LETTER).order_by(DEAD_LETTER.c.id.desc()).limit(limit)
    if queue:
        stmt = stmt.where(DEAD_LETTER.c.queue == queue)
    if status:
        stmt = stmt.where(DEAD_LETTER.c.status == status)
    with db.reader.begin() as conn:
        return [from_row(r) for r in conn.execute(stmt).all()]


def get(db: Database, letter_id: int) -> DeadLetter:
    with db.reader.begin() as conn:
        row = conn.execute(select(DEAD_LETTER).where(DEAD_LETTER.c.id == letter_id)).first()
    if row is None:
        raise NotFound(f"no dead letter {letter_id}")
    return from_row(row)


# --- showing without personal data ------------------------------------------------------------


def mask(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, key) for v in value]
    if value is None or isinstance(value, bool) or key in SAFE_FIELDS:
        return value
    return MASK


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None: not JSON, not UTF-8, or nested too deeply to parse
    (a dead letter is often exactly such a body)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return value if isinstance(value, dict) else None


def masked_payload(letter: DeadLetter) -> dict[str, Any]:
    return masked_body(letter.body)


def masked_body(body: bytes) -> dict[str, Any]:
    """The body as ops may see it: a structured CloudEvent with its ``data`` masked, a binary
    one's ``data`` masked, anything else only as length and sha256."""
    parsed = json_object(body)
    if parsed is not None and "specversion" in parsed:
        event = dict(parsed)
        for name in ("data", "data_base64"):
            if name in event:
                event[name] = mask(event[name]) if name == "data" else MASK
        return {"mode": "structured", "event": event}
    if parsed is not None:
        return {"mode": "binary", "data": mask(parsed)}
    return {"mode": "opaque", "length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def show(db: Database, letter_id: int) -> dict[str, Any]:
    letter = get(db, letter_id)
    return {**letter.summary(), "content_type": letter.content_type, "headers": letter.headers,
            "properties": letter.properties, "act_reason": letter.act_reason,
            "payload": masked_payload(letter)}


# --- acting on a dead letter (audited) ---------------------------------------------------------


def subject_of(letter: DeadLetter) -> str | None:
    """The CloudEvent ``subject`` (the ticket id on our events), structured or binary."""
    parsed = json_object(letter.body)
    subject = parsed.get("subject") if parsed is not None and "specversion" in parsed \
        else letter.headers.get("ce-subject")
    return subject if isinstance(subject, str) else None


def _settle(db: Database, letter_id: int, status: str, *, actor: str, why: str, now: datetime,
            before_update: Callable[[DeadLetter], None] | None = None) -> DeadLetter:
    if not actor.startswith(ACTOR_PREFIXES) or actor in ACTOR_PREFIXES:
        raise ValueError(f"actor must be agent:<login> or system:ops:<user>, not {actor!r}")
    why = why.strip()
    if not why or len(why) > MAX_REASON:
        raise ValueError(f"a reason (why) of 1 to {MAX_REASON} characters is required")
    pick = select(DEAD_LETTER).where(DEAD_LETTER.c.id == letter_id)
    if not db.is_sqlite:
        pick = pick.with_for_update()  # two ops replaying one letter: the second waits, then refuses
    with db.writer.begin() as conn:
        row = conn.execute(pick).first()
        if row is None:
            raise NotFound(f"no dead letter {letter_id}")
        letter = from_row(row)
        if letter.status != DEAD:
            raise DeadLetterSettled(f"dead letter {letter_id} was {letter.status} by "
                                    f"{letter.acted_by} at {_iso(letter.acted_at)}")
        if before_update is not None:
            before_update(letter)
        conn.execute(update(DEAD_LETTER).where(DEAD_LETTER.c.id == letter_id).values(
            status=status, acted_by=actor[:80], acted_at=now, act_reason=why))
        subject = subject_of(letter)
        ticket = None
        if subject and len(subject) <= 32:
            ticket = conn.execute(select(TICKET.c.id).where(TICKET.c.id == subject)).scalar()
        conn.execute(insert(AUDIT).values(
            ticket_id=ticket or f"dlq:{letter_id}", at=now, actor=actor[:80],
            trigger=f"dlq_{'replay' if status == REPLAYED else 'discard'}",
            from_state=AUDIT_FROM, to_state=status, outcome=f"amqp:{letter_id}", reason=why))
    return get(db, letter_id)


def replay(db: Database, letter_id: int, *, republish: Callable[[DeadLetter], None], actor: str,
           why: str, now: datetime) -> DeadLetter:
    """Republish the original message (``republish`` must return only once the broker confirmed
    it, and raise otherwise), then mark it replayed and audit it, in one transaction that holds
    the row: if the publish fails nothing changes; if the commit fails after a confirmed
    publish, the letter stays ``dead`` and consumers dedupe a second replay by event id."""
    return _settle(db, letter_id, REPLAYED, actor=actor, why=why, now=now,
                   before_update=republish)


def discard(db: Database, letter_id: int, *, actor: str, why: str, now: datetime) -> DeadLetter:
    return _settle(db, letter_id, DISCARDED, actor=actor, why=why, now=now)
