"""One view of the dead letters of both transports: the AMQP archive (``dead_letter`` rows) and
embedded mode's ``dead`` inbox and delivery rows, listed and filtered alike.

A letter is named by a key that says where it lives: ``amqp:<id>``, ``inbox:<reference>``,
``delivery:<id>``. An inbox row that is also in the archive (AMQP mode parks the row ``dead``
when the consumer dead-letters the message) is shown once, as the archived letter.

``permanent`` says whether replaying can help on its own: a wrong source, a forged or reserved
header, an invalid message stays refused until the message or the producer's registration is
fixed; a run of transient failures (an outage, a broker delivery limit) is worth a retry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any, Final

from sqlalchemy import exists, false, select

from workflow.adapters.db import Database
from workflow.adapters.dead_letters import DEAD, STATUSES, get, masked_body, show
from workflow.adapters.tables import AUDIT, DEAD_LETTER, DELIVERY, INBOX

TRANSPORTS: Final = ("amqp", "embedded")
PERMANENCE: Final = ("permanent", "retryable")
#: the embedded rows' queue names: the inbox is the verification step, as on the broker
INBOX_QUEUE: Final = "verification"
#: error codes (``x-resetdesk-error-code``) a replay can cure once the cause is fixed; every
#: other code names something wrong with the message or its producer
RETRYABLE_CODES: Final = frozenset({"", "retries_exhausted", "transient", "unprocessable",
                                    "dead_before", "notification_failed"})
#: how an embedded worker marks an error it called permanent (consumers/embedded.py)
PERMANENT_MARK: Final = "permanent: "
#: the most rows one listing reads per source before filtering and sorting
SCAN_MAX: Final = 5000
ACTION_TRIGGERS: Final = ("dlq_replay", "dlq_discard")


@dataclass(frozen=True)
class Filter:
    transport: str | None = None
    queue: str | None = None
    #: text the reason contains (case-insensitive)
    cause: str | None = None
    #: ``permanent`` | ``retryable`` | None (both)
    permanence: str | None = None
    #: dead on or after this day (UTC)
    since: date | None = None
    status: str = DEAD

    def check(self) -> Filter:
        """Itself, or ``ValueError`` naming the bad choice."""
        for name, value, allowed in (("transport", self.transport, TRANSPORTS),
                                     ("permanence", self.permanence, PERMANENCE),
                                     ("status", self.status, STATUSES)):
            if value is not None and value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; use one of {', '.join(allowed)}")
        return replace(self, cause=(self.cause or "").strip() or None,
                       queue=(self.queue or "").strip() or None)


@dataclass(frozen=True)
class Letter:
    key: str
    transport: str
    queue: str
    event_type: str | None
    message_id: str | None
    reason: str
    code: str
    permanent: bool
    status: str
    dead_at: datetime | None
    attempts: int | None
    acted_by: str | None = None
    acted_at: datetime | None = None
    act_reason: str | None = None

    def summary(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        ident = self.key.partition(":")[2]
        return {"key": self.key, "id": int(ident) if ident.isdigit() else ident,
                "transport": self.transport, "queue": self.queue,
                "event_type": self.event_type, "message_id": self.message_id,
                "reason": self.reason, "code": self.code, "permanent": self.permanent,
                "status": self.status, "dead_at": iso(self.dead_at), "attempts": self.attempts,
                "acted_by": self.acted_by, "acted_at": iso(self.acted_at),
                "act_reason": self.act_reason}


def is_permanent_code(code: str) -> bool:
    return code not in RETRYABLE_CODES


def _embedded_code(reason: str) -> str:
    if reason.startswith("contract:"):
        return "invalid"
    if reason.startswith(PERMANENT_MARK):
        return "permanent"
    return "retries_exhausted"


#: every archive column but the body (a listing never shows it)
_LISTED = [c for c in DEAD_LETTER.c if c.name != "body"]


def _amqp(row: Any) -> Letter:
    headers = json.loads(row.headers).get("headers") or {}
    code = str(headers.get("x-resetdesk-error-code") or "")
    return Letter(f"amqp:{row.id}", "amqp", row.queue, row.event_type, row.message_id, row.reason,
                  code, is_permanent_code(code), row.status, row.dead_at or row.archived_at,
                  _deaths(headers), row.acted_by, row.acted_at, row.act_reason)


def _deaths(headers: dict[str, Any]) -> int | None:
    deaths = headers.get("x-death")
    if not isinstance(deaths, list):
        return None
    counts = [d.get("count") for d in deaths if isinstance(d, dict)]
    return sum(c for c in counts if isinstance(c, int) and not isinstance(c, bool)) or None


def _inbox(row: Any) -> Letter:
    reason = row.last_error or "no reason kept"
    code = _embedded_code(reason)
    return Letter(f"inbox:{row.reference}", "embedded", INBOX_QUEUE, row.type, row.event_id,
                  reason, code, is_permanent_code(code), DEAD, row.processed_at, row.attempts)


def _delivery(row: Any) -> Letter:
    reason = row.last_error or "no reason kept"
    code = _embedded_code(reason)
    return Letter(f"delivery:{row.id}", "embedded", row.subscriber, row.type, row.event_id,
                  reason, code, is_permanent_code(code), DEAD, row.processed_at, row.attempts)


def _since(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _scan(db: Database, f: Filter) -> list[Letter]:
    found: list[Letter] = []
    with db.reader.begin() as conn:
        if f.transport in (None, "amqp"):
            stmt = select(*_LISTED).where(DEAD_LETTER.c.status == f.status)
            if f.queue:
                stmt = stmt.where(DEAD_LETTER.c.queue == f.queue)
            if f.cause:
                stmt = stmt.where(DEAD_LETTER.c.reason.ilike(_like(f.cause), escape="\\"))
            if f.since:
                stmt = stmt.where(DEAD_LETTER.c.archived_at >= _since(f.since))
            rows = conn.execute(stmt.order_by(DEAD_LETTER.c.id.desc()).limit(SCAN_MAX)).all()
            found += [_amqp(r) for r in rows]
        if f.transport in (None, "embedded") and f.status == DEAD:
            found += _scan_embedded(conn, f)
    if f.permanence:
        found = [x for x in found if x.permanent == (f.permanence == "permanent")]
    far_past = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda x: (x.dead_at or far_past, x.key), reverse=True)


def _scan_embedded(conn: Any, f: Filter) -> list[Letter]:
    archived = exists().where(DEAD_LETTER.c.message_id == INBOX.c.event_id)
    inbox = select(INBOX.c.reference, INBOX.c.type, INBOX.c.event_id, INBOX.c.last_error,
                   INBOX.c.processed_at, INBOX.c.attempts).where(INBOX.c.status == DEAD, ~archived)
    deliveries = select(DELIVERY.c.id, DELIVERY.c.subscriber, DELIVERY.c.type,
                        DELIVERY.c.event_id, DELIVERY.c.last_error, DELIVERY.c.processed_at,
                        DELIVERY.c.attempts).where(DELIVERY.c.status == DEAD)
    if f.queue:
        if f.queue != INBOX_QUEUE:
            inbox = inbox.where(false())
        deliveries = deliveries.where(DELIVERY.c.subscriber == f.queue)
    if f.cause:
        inbox = inbox.where(INBOX.c.last_error.ilike(_like(f.cause), escape="\\"))
        deliveries = deliveries.where(DELIVERY.c.last_error.ilike(_like(f.cause), escape="\\"))
    if f.since:
        inbox = inbox.where(INBOX.c.processed_at >= _since(f.since))
        deliveries = deliveries.where(DELIVERY.c.processed_at >= _since(f.since))
    return ([_inbox(r) for r in conn.execute(inbox.limit(SCAN_MAX)).all()]
            + [_delivery(r) for r in conn.execute(deliveries.limit(SCAN_MAX)).all()])


def list_letters(db: Database, f: Filter = Filter(), *, limit: int = 100) -> list[Letter]:
    """Newest death first, both transports."""
    return _scan(db, f.check())[:limit]


def count_letters(db: Database, f: Filter = Filter()) -> int:
    return len(_scan(db, f.check()))


def page_of_letters(db: Database, f: Filter = Filter(), *,
                    limit: int = 100) -> tuple[list[Letter], int]:
    """The first ``limit`` letters and how many match, from one scan."""
    found = _scan(db, f.check())
    return found[:limit], len(found)


def find(db: Database, key: str) -> Letter | None:
    """The letter a key names, whatever its status (None: no such letter)."""
    kind, _, ident = key.partition(":")
    with db.reader.begin() as conn:
        if kind == "amqp" and ident.isdigit():
            row = conn.execute(select(*_LISTED).where(DEAD_LETTER.c.id == int(ident))).first()
            return _amqp(row) if row else None
        if kind == "inbox" and ident:
            row = conn.execute(select(INBOX).where(INBOX.c.reference == ident,
                                                   INBOX.c.status == DEAD)).first()
            return _inbox(row) if row else None
        if kind == "delivery" and ident.isdigit():
            row = conn.execute(select(DELIVERY).where(DELIVERY.c.id == int(ident),
                                                      DELIVERY.c.status == DEAD)).first()
            return _delivery(row) if row else None
    return None


def detail(db: Database, key: str) -> dict[str, Any] | None:
    """A letter with its ``x-death`` history, headers and payload, personal data masked."""
    letter = find(db, key)
    if letter is None:
        return None
    out: dict[str, Any] = {**letter.summary(), "audit": actions(db, key=key)}
    if letter.transport == "amqp":
        shown = show(db, int(key.split(":", 1)[1]))
        headers = dict(shown["headers"])
        out.update(headers=headers, properties=shown["properties"],
                   x_death=headers.pop("x-death", None) or [], payload=shown["payload"])
        return out
    kind, _, ident = key.partition(":")
    pick = (select(INBOX.c.payload).where(INBOX.c.reference == ident) if kind == "inbox"
            else select(DELIVERY.c.payload).where(DELIVERY.c.id == int(ident)))
    with db.reader.begin() as conn:
        body = conn.execute(pick).scalar() or ""
    out.update(headers={}, properties={}, x_death=[], payload=masked_body(body.encode("utf-8")))
    return out


def audit_key(key: str) -> str:
    """The ``audit.ticket_id`` an action on this letter is recorded under (when no ticket is
    named by the message): ``dlq:<id>`` for archived letters, as before, else ``dlq:<key>``."""
    kind, _, ident = key.partition(":")
    return f"dlq:{ident}" if kind == "amqp" else f"dlq:{key}"[:32]


def actions(db: Database, *, key: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Retries and discards, newest first: who, when, what and why (the audit rows)."""
    stmt = select(AUDIT).where(AUDIT.c.trigger.in_(ACTION_TRIGGERS))
    if key is not None:
        stmt = stmt.where(AUDIT.c.outcome == key[:40])
    with db.reader.begin() as conn:
        rows = conn.execute(stmt.order_by(AUDIT.c.id.desc()).limit(limit)).all()
    return [{"at": r.at, "actor": r.actor, "action": "retried" if r.trigger == "dlq_replay"
             else "discarded", "key": r.outcome, "ticket_id": r.ticket_id, "reason": r.reason}
            for r in rows]


__all__ = ["INBOX_QUEUE", "PERMANENCE", "TRANSPORTS", "Filter", "Letter", "actions", "audit_key",
           "count_letters", "detail", "find", "get", "is_permanent_code", "list_letters",
           "page_of_letters"]
