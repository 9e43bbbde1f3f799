"""Retention purge: the personal data of closed tickets is anonymised once the retention period has
passed since closing, their attachments' content earlier; every purge leaves an audit row (which,
like the whole audit trail, holds no personal data).

Shape of each step: candidates are read through the reader engine (no write lock held while the
residue is computed), then one short writer transaction per batch applies updates guarded by the
ticket's ``version``. A ticket an agent changed in between fails the guard and is left for the
next run; batches walk ``(closed_at, id)`` forward, so a run always ends. Only rows not yet purged
are selected and audit rows are written only for rows this run changed, so a second run is a no-op.

Outbox and delivery rows are events, which carry no personal data by contract
(``workflow.domain.events``); the one personal field the notification contract allows, ``to``,
is stripped from a purged ticket's notification events should one ever carry it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Row, and_, insert, or_, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from schemas.events_v1 import NOTIFICATION_EMAIL_V1
from workflow.adapters.db import Database
from workflow.adapters.tables import ATTACHMENT, AUDIT, DELIVERY, INBOX, OUTBOX, TICKET
from workflow.adapters.tables_resolution import CONSENT, SESSION_STEP, TICKET_NOTE
from workflow.domain.states import State

ACTOR: Final = "system:purge"
CLOSED: Final = State.CLOSED.value
EMPTY_PAYLOAD: Final = "{}"

#: What ``ticket.data`` keeps after anonymisation: coarse, non-identifying facts for statistics.
RESIDUE: Final[Mapping[str, tuple[str, ...]]] = {
    "requester": ("country", "language", "customer_type"),
    "device": ("model_number", "kind"),
}
RESIDUE_TOP: Final = ("reset_method",)


@dataclass(frozen=True)
class PurgeReport:
    """What one run changed; ``tickets_skipped`` were changed concurrently and wait for the next."""

    tickets_anonymised: int = 0
    tickets_skipped: int = 0
    inbox_rows_anonymised: int = 0
    attachments_purged: int = 0
    outbox_rows_cleared: int = 0
    deliveries_cleared: int = 0


def residue(data: Mapping[str, Any]) -> dict[str, Any]:
    """The non-personal part of a ticket's request: country, language, customer type, device
    model and kind, reset method. Everything else (name, email, phone, company, seller, serial,
    firmware, dates, note, attestation, export) is dropped."""
    kept: dict[str, Any] = {}
    for section, keys in RESIDUE.items():
        part = data.get(section)
        if isinstance(part, dict):
            values = {k: part[k] for k in keys if isinstance(part.get(k), str)}
            if values:
                kept[section] = values
    kept.update({k: data[k] for k in RESIDUE_TOP if isinstance(data.get(k), str)})
    return kept


def purge(db: Database, *, now: datetime, retention: timedelta, attachment_retention: timedelta,
          batch: int = 500, actor: str = ACTOR) -> PurgeReport:
    """Purge attachments, then anonymise tickets, then inbox rows that never made a ticket.

    Attachments never outlive their ticket's personal data: they go after
    ``min(attachment_retention, retention)``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if retention < timedelta(0) or attachment_retention < timedelta(0) or batch < 1:
        raise ValueError("retention periods must not be negative and batch must be positive")
    tally: Counter[str] = Counter()
    attachment_span = min(attachment_retention, retention)
    _purge_attachments(db, now, attachment_span, batch, actor, tally)
    _anonymise_tickets(db, now, retention, batch, actor, tally)
    _anonymise_orphan_inbox(db, now - retention, batch, tally)
    return PurgeReport(**tally)


def days_text(span: timedelta) -> str:
    days = span / timedelta(days=1)
    return f"{days:g} day" if days == 1 else f"{days:g} days"


def closed_ticket_pages(db: Database, cutoff: datetime, batch: int, *extra: ColumnElement[bool],
           with_data: bool = False) -> Iterator[list[Row[Any]]]:
    """Pages of tickets closed before ``cutoff`` that match ``extra``, oldest first. Keyset
    paging: a ticket left behind (version conflict) is not read again in this run."""
    cols = [TICKET.c.id, TICKET.c.version, TICKET.c.outcome, TICKET.c.closed_at]
    if with_data:
        cols.append(TICKET.c.data)
    after: ColumnElement[bool] | None = None
    while True:
        query = (select(*cols)
                 .where(TICKET.c.state == CLOSED, TICKET.c.closed_at < cutoff, *extra)
                 .order_by(TICKET.c.closed_at, TICKET.c.id).limit(batch))
        if after is not None:
            query = query.where(after)
        with db.reader.begin() as conn:
            page = list(conn.execute(query).all())
        if not page:
            return
        yield page
        if len(page) < batch:
            return
        last = page[-1]
        after = or_(TICKET.c.closed_at > last.closed_at,
                    and_(TICKET.c.closed_at == last.closed_at, TICKET.c.id > last.id))


def _audit_row(ticket: Row[Any], now: datetime, actor: str, trigger: str,
               reason: str) -> dict[str, Any]:
    return {"ticket_id": ticket.id, "at": now, "actor": actor, "trigger": trigger,
            "from_state": CLOSED, "to_state": CLOSED, "outcome": ticket.outcome, "reason": reason}


def _purge_attachments_of(conn: Connection, ticket: Row[Any], now: datetime) -> int:
    """Drop the content (and the filename, which often names the device or the person) of the
    ticket's unpurged attachments, if the ticket is still at the version read."""
    unchanged = (select(TICKET.c.id)
                 .where(TICKET.c.id == ticket.id, TICKET.c.version == ticket.version).exists())
    purged: int = conn.execute(
        update(ATTACHMENT)
        .where(ATTACHMENT.c.ticket_id == ticket.id, ATTACHMENT.c.purged_at.is_(None), unchanged)
        .values(content=None, filename="", purged_at=now)).rowcount
    return purged


def _purge_attachments(db: Database, now: datetime, span: timedelta, batch: int, actor: str,
                       tally: Counter[str]) -> None:
    unpurged = (select(ATTACHMENT.c.id)
                .where(ATTACHMENT.c.ticket_id == TICKET.c.id, ATTACHMENT.c.purged_at.is_(None))
                .exists())
    reason = f"attachments purged after {days_text(span)}"
    for page in closed_ticket_pages(db, now - span, batch, unpurged):
        with db.writer.begin() as conn:
            audit = []
            for ticket in page:
                purged = _purge_attachments_of(conn, ticket, now)
                if purged:
                    tally["attachments_purged"] += purged
                    audit.append(_audit_row(ticket, now, actor, "purge_attachments", reason))
            if audit:
                conn.execute(insert(AUDIT), audit)


def _anonymise_tickets(db: Database, now: datetime, retention: timedelta, batch: int, actor: str,
                       tally: Counter[str]) -> None:
    """Also purges attachments still unpurged (the attachment step skipped them on a conflict),
    so an anonymised ticket never keeps an export."""
    reason = f"personal data anonymised after {days_text(retention)}"
    for page in closed_ticket_pages(db, now - retention, batch, TICKET.c.anonymised_at.is_(None),
                       with_data=True):
        residues = {t.id: json.dumps(residue(_loads(t.data)), separators=(",", ":"),
                                     sort_keys=True) for t in page}
        with db.writer.begin() as conn:
            done, audit = [], []
            for ticket in page:
                purged = _purge_attachments_of(conn, ticket, now)
                if purged:
                    tally["attachments_purged"] += purged
                    audit.append(_audit_row(ticket, now, actor, "purge_attachments",
                                            f"attachments purged after {days_text(retention)}"))
                changed = conn.execute(
                    update(TICKET)
                    .where(TICKET.c.id == ticket.id, TICKET.c.version == ticket.version,
                           TICKET.c.anonymised_at.is_(None))
                    .values(data=residues[ticket.id], serial_key=None, open_serial_key=None,
                            search_email=None, search_phone=None, search_serial=None,
                            anonymised_at=now, version=ticket.version + 1)).rowcount
                if changed == 1:
                    done.append(ticket.id)
                    audit.append(_audit_row(ticket, now, actor, "purge", reason))
                else:
                    tally["tickets_skipped"] += 1
            if done:
                tally["tickets_anonymised"] += len(done)
                tally["inbox_rows_anonymised"] += conn.execute(
                    update(INBOX)
                    .where(INBOX.c.ticket_id.in_(done),
                           or_(INBOX.c.payload != EMPTY_PAYLOAD, INBOX.c.remote_addr.is_not(None)))
                    .values(payload=EMPTY_PAYLOAD, remote_addr=None)).rowcount
                _strip_recipients(conn, done, tally)
                _clear_resolution_data(conn, done)
            if audit:
                conn.execute(insert(AUDIT), audit)


def _loads(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


#: notification context keys that never hold personal data; the rest (an agent's reply, the
#: network changes a customer declined …) is free text about a person and goes with the ticket
_SAFE_CONTEXT = frozenset({"reference", "outcome"})


def _without_recipient(payload: str) -> str | None:
    """The notification event with ``data.to`` emptied and its free-text context dropped, or
    None when there is nothing personal in it."""
    envelope = _loads(payload)
    data = envelope.get("data")
    if not isinstance(data, dict):
        return None
    raw = data.get("context")
    context: dict[str, Any] = raw if isinstance(raw, dict) else {}
    kept = {k: v for k, v in context.items() if k in _SAFE_CONTEXT or k.startswith("next_")}
    if data.get("to") is None and kept == context:
        return None
    data["to"] = None
    data["context"] = kept
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True)


def _clear_resolution_data(conn: Connection, ticket_ids: list[str]) -> None:
    """What the resolution paths kept about the person: where they agreed from, what was
    changed on their network, agents' notes about them."""
    conn.execute(update(CONSENT).where(CONSENT.c.ticket_id.in_(ticket_ids),
                                       CONSENT.c.source_addr.is_not(None))
                 .values(source_addr=None))
    conn.execute(update(SESSION_STEP).where(SESSION_STEP.c.ticket_id.in_(ticket_ids),
                                            SESSION_STEP.c.description != "")
                 .values(description=""))
    conn.execute(update(TICKET_NOTE).where(TICKET_NOTE.c.ticket_id.in_(ticket_ids),
                                           TICKET_NOTE.c.body != "")
                 .values(body=""))


def _strip_recipients(conn: Connection, ticket_ids: list[str], tally: Counter[str]) -> None:
    """Defence in depth: the codec never sets ``to``, so this normally finds nothing. Delivery
    rows are copies of outbox rows, so they are only looked at when an outbox row had one."""
    rows = conn.execute(select(OUTBOX.c.id, OUTBOX.c.event_id, OUTBOX.c.payload).where(
        OUTBOX.c.ticket_id.in_(ticket_ids), OUTBOX.c.type == NOTIFICATION_EMAIL_V1)).all()
    event_ids = []
    for row in rows:
        cleaned = _without_recipient(row.payload)
        if cleaned is not None:
            conn.execute(update(OUTBOX).where(OUTBOX.c.id == row.id).values(payload=cleaned))
            tally["outbox_rows_cleared"] += 1
            event_ids.append(row.event_id)
    if not event_ids:
        return
    for copy in conn.execute(select(DELIVERY.c.id, DELIVERY.c.payload).where(
            DELIVERY.c.event_id.in_(event_ids))).all():
        cleaned = _without_recipient(copy.payload)
        if cleaned is not None:
            conn.execute(update(DELIVERY).where(DELIVERY.c.id == copy.id).values(payload=cleaned))
            tally["deliveries_cleared"] += 1


def _anonymise_orphan_inbox(db: Database, cutoff: datetime, batch: int,
                            tally: Counter[str]) -> None:
    """Inbox rows that never made a ticket (dead letters) once the retention period has passed
    since they were processed. Pending rows are never touched."""
    orphan = and_(
        INBOX.c.status.in_(("dead", "discarded", "done")), INBOX.c.ticket_id.is_(None),
        or_(INBOX.c.processed_at < cutoff,
            and_(INBOX.c.processed_at.is_(None), INBOX.c.received_at < cutoff)),
        or_(INBOX.c.payload != EMPTY_PAYLOAD, INBOX.c.remote_addr.is_not(None)),
    )
    while True:
        with db.reader.begin() as conn:
            keys = [tuple(k) for k in conn.execute(
                select(INBOX.c.source, INBOX.c.event_id).where(orphan).limit(batch)).all()]
        if not keys:
            return
        with db.writer.begin() as conn:
            changed = conn.execute(
                update(INBOX).where(tuple_(INBOX.c.source, INBOX.c.event_id).in_(keys), orphan)
                .values(payload=EMPTY_PAYLOAD, remote_addr=None)).rowcount
        tally["inbox_rows_anonymised"] += changed
        if changed == 0 or len(keys) < batch:
            return
