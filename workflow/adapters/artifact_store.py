"""Reset artifacts at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the deployment's
secret, rows in ``reset_artifact``, and their purge after the ticket closed.

The sealed form is ``0x01 | 12-byte random nonce | ciphertext+tag``; the associated data names
the ticket and kind, so a ciphertext copied onto another row does not open. Changing the secret
key makes artifacts still pending unreadable (the customer page then asks for a new one): they
live hours, so no key ring is kept.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, insert, select, update

from workflow.adapters.db import Database
from workflow.adapters.purge import closed_ticket_pages, days_text
from workflow.adapters.tables import AUDIT, TICKET
from workflow.adapters.tables_resolution import RESET_ARTIFACT
from workflow.domain.reset_keys import DEFAULT_LINK_DAYS, ArtifactOutcome, KeyLinks, NewArtifact
from workflow.domain.states import State, WaitingOn
from workflow.service import links
from workflow.service.key_ports import ArtifactStore, Sealer, StoredArtifact

PURGE_ACTOR: Final = "system:purge"
_VERSION: Final = b"\x01"
_NONCE: Final = 12
_HKDF_INFO: Final = b"resetdesk reset-artifact aes-256-gcm v1"
A = RESET_ARTIFACT.c


class AesGcmSealer(Sealer):
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the secret key must have at least 16 bytes")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_HKDF_INFO).derive(secret)
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, ciphertext: bytes, context: bytes) -> bytes:
        if len(ciphertext) < 1 + _NONCE + 16 or ciphertext[:1] != _VERSION:
            raise ValueError("not a sealed artifact")
        nonce, body = ciphertext[1:1 + _NONCE], ciphertext[1 + _NONCE:]
        try:
            return self._aead.decrypt(nonce, body, context)
        except InvalidTag:
            raise ValueError("the artifact was altered or sealed under another key") from None


def _stored(row: Any) -> StoredArtifact:
    return StoredArtifact(row.id, row.ticket_id, row.kind, row.filename, row.media_type,
                          row.created_at, row.valid_until, row.outcome, row.reminder_sent_at)


_COLUMNS = (A.id, A.ticket_id, A.kind, A.filename, A.media_type, A.created_at, A.valid_until,
            A.outcome, A.reminder_sent_at)


class SqlArtifactStore(ArtifactStore):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, ticket_id: str, artifact: NewArtifact, ciphertext: bytes, created_by: str,
            now: datetime, valid_until: datetime) -> int:
        result = self.conn.execute(insert(RESET_ARTIFACT).values(
            ticket_id=ticket_id, kind=artifact.kind, filename=artifact.filename,
            media_type=artifact.media_type, ciphertext=ciphertext, created_by=created_by,
            created_at=now, valid_until=valid_until))
        key = result.inserted_primary_key
        if key is None:
            raise RuntimeError("the database returned no artifact id")
        return int(key[0])

    def latest(self, ticket_id: str) -> StoredArtifact | None:
        row = self.conn.execute(select(*_COLUMNS).where(A.ticket_id == ticket_id)
                                .order_by(A.id.desc()).limit(1)).first()
        return _stored(row) if row else None

    def settle(self, artifact_id: int, outcome: ArtifactOutcome, now: datetime) -> bool:
        changed: int = self.conn.execute(
            update(RESET_ARTIFACT).where(A.id == artifact_id, A.outcome.is_(None))
            .values(outcome=outcome.value, outcome_at=now)).rowcount
        return changed == 1

    def supersede_pending(self, ticket_id: str, now: datetime) -> int:
        changed: int = self.conn.execute(
            update(RESET_ARTIFACT).where(A.ticket_id == ticket_id, A.outcome.is_(None))
            .values(outcome=ArtifactOutcome.SUPERSEDED.value, outcome_at=now)).rowcount
        return changed

    def mark_reminded(self, artifact_id: int, now: datetime) -> bool:
        changed: int = self.conn.execute(
            update(RESET_ARTIFACT)
            .where(A.id == artifact_id, A.outcome.is_(None), A.reminder_sent_at.is_(None))
            .values(reminder_sent_at=now)).rowcount
        return changed == 1

    def awaiting_answer(self, after_id: int, limit: int) -> list[StoredArtifact]:
        waiting = (select(TICKET.c.id).where(
            TICKET.c.id == A.ticket_id, TICKET.c.state != State.CLOSED.value,
            TICKET.c.waiting_on == WaitingOn.KEY_CONFIRMATION.value).exists())
        rows = self.conn.execute(
            select(*_COLUMNS)
            .where(A.outcome.is_(None), A.purged_at.is_(None), A.id > after_id, waiting)
            .order_by(A.id).limit(limit)).all()
        return [_stored(r) for r in rows]

    def ciphertext(self, artifact_id: int) -> bytes | None:
        value = self.conn.execute(select(A.ciphertext).where(A.id == artifact_id)).scalar()
        return bytes(value) if value is not None else None


def key_links(secret: bytes, base_url: str,
              lifetime: timedelta = timedelta(days=DEFAULT_LINK_DAYS)) -> KeyLinks:
    """Customer links signed with the deployment secret, living ``lifetime``."""
    return KeyLinks(partial(links.sign, secret), base_url, lifetime)


def purge_artifacts(db: Database, now: datetime, retention: timedelta, *, batch: int = 500,
                    actor: str = PURGE_ACTOR) -> int:
    """Drop the sealed content and filename of artifacts of tickets closed more than
    ``retention`` ago; one audit row per ticket. Guarded by the ticket's version (a ticket
    reopened meanwhile keeps its artifacts); a second run changes nothing. Returns the number
    of artifacts purged."""
    if now.tzinfo is None or retention < timedelta(0) or batch < 1:
        raise ValueError("now must be aware, retention not negative, batch positive")
    reason = f"reset artifacts purged after {days_text(retention)}"
    total = 0
    unpurged = select(A.id).where(A.ticket_id == TICKET.c.id, A.purged_at.is_(None)).exists()
    for page in closed_ticket_pages(db, now - retention, batch, unpurged):
        with db.writer.begin() as conn:
            audit = []
            for ticket in page:
                unchanged = select(TICKET.c.id).where(
                    TICKET.c.id == ticket.id, TICKET.c.version == ticket.version).exists()
                purged: int = conn.execute(
                    update(RESET_ARTIFACT)
                    .where(A.ticket_id == ticket.id, A.purged_at.is_(None), unchanged)
                    .values(ciphertext=None, filename=None, purged_at=now)).rowcount
                if purged:
                    total += purged
                    audit.append({"ticket_id": ticket.id, "at": now, "actor": actor,
                                  "trigger": "purge_artifacts", "from_state": State.CLOSED.value,
                                  "to_state": State.CLOSED.value, "outcome": ticket.outcome,
                                  "reason": reason})
            if audit:
                conn.execute(insert(AUDIT), audit)
    return total
