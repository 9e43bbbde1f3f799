"""SQL for the remote-session path (session_code, throttle, consent, remote_session,
session_step) and the packaged remote-support terms.

The races are the database's to settle: the live-code and live-session unique keys, conditional
UPDATEs for single use and for ending, and a row lock on each throttle counter while it is read
and written (``workflow.adapters.throttle_store``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from typing import Any

from sqlalchemy import Row, insert, select, update

from workflow.adapters.tables_resolution import (
    CONSENT,
    REMOTE_SESSION,
    SESSION_CODE,
    SESSION_STEP,
)
from workflow.adapters.throttle_store import SqlThrottleCounters
from workflow.service.session_ports import LiveCode, SessionRecord, SessionStore, StepRecord

TERMS_LANGUAGES = ("en", "fr")


class SqlSessionStore(SqlThrottleCounters, SessionStore):
    """The session tables; the guess counters (and their pruning) come from the throttle
    adapter, on the same connection."""

    def issue_code(self, ticket_id: str, code_hash: str, created_by: str, now: datetime,
                   expires_at: datetime) -> int:
        c = SESSION_CODE.c
        self.conn.execute(update(SESSION_CODE).where(c.live_ticket_id == ticket_id)
                          .values(live_ticket_id=None, revoked_at=now))
        return int(self.conn.execute(insert(SESSION_CODE).values(
            ticket_id=ticket_id, code_hash=code_hash, live_ticket_id=ticket_id,
            created_by=created_by, created_at=now, expires_at=expires_at)
            .returning(c.id)).scalar_one())

    def live_code(self, ticket_id: str) -> LiveCode | None:
        c = SESSION_CODE.c
        row = self.conn.execute(select(c.id, c.code_hash, c.expires_at).where(
            c.live_ticket_id == ticket_id, c.used_at.is_(None), c.revoked_at.is_(None))).first()
        return LiveCode(row.id, row.code_hash, row.expires_at) if row else None

    def use_code(self, code_id: int, ticket_id: str, now: datetime) -> bool:
        c = SESSION_CODE.c
        result = self.conn.execute(update(SESSION_CODE).where(
            c.id == code_id, c.live_ticket_id == ticket_id, c.used_at.is_(None),
            c.revoked_at.is_(None), c.expires_at > now).values(used_at=now, live_ticket_id=None))
        return result.rowcount == 1

    def add_consent(self, ticket_id: str, terms_version: str, language: str, at: datetime,
                    source_addr: str | None, code_id: int) -> None:
        self.conn.execute(insert(CONSENT).values(
            ticket_id=ticket_id, terms_version=terms_version, language=language, accepted_at=at,
            source_addr=(source_addr or None) and source_addr[:64], session_code_id=code_id))

    def open_session(self, ticket_id: str, now: datetime) -> int:
        r = REMOTE_SESSION.c
        self.conn.execute(update(REMOTE_SESSION).where(r.live_ticket_id == ticket_id).values(
            live_ticket_id=None, ended_at=now, end_reason="superseded", ended_by="system"))
        return int(self.conn.execute(insert(REMOTE_SESSION).values(
            ticket_id=ticket_id, live_ticket_id=ticket_id, started_at=now, last_activity_at=now)
            .returning(r.id)).scalar_one())

    def live_session(self, ticket_id: str) -> SessionRecord | None:
        row = self.conn.execute(select(REMOTE_SESSION).where(
            REMOTE_SESSION.c.live_ticket_id == ticket_id)).first()
        return _session(row) if row else None

    def touch(self, session_id: int, now: datetime) -> None:
        r = REMOTE_SESSION.c
        self.conn.execute(update(REMOTE_SESSION).where(
            r.id == session_id, r.ended_at.is_(None), r.last_activity_at < now)
            .values(last_activity_at=now))

    def end_session(self, session_id: int, now: datetime, reason: str, by: str,
                    idle_before: datetime | None = None) -> bool:
        r = REMOTE_SESSION.c
        stmt = update(REMOTE_SESSION).where(r.id == session_id, r.ended_at.is_(None))
        if idle_before is not None:
            stmt = stmt.where(r.last_activity_at <= idle_before)
        result = self.conn.execute(stmt.values(ended_at=now, end_reason=reason[:40],
                                               ended_by=by[:80], live_ticket_id=None))
        return result.rowcount == 1

    def idle_sessions(self, before: datetime, limit: int) -> list[SessionRecord]:
        r = REMOTE_SESSION.c  # ix_remote_session_activity (ended_at, last_activity_at)
        rows = self.conn.execute(select(REMOTE_SESSION).where(
            r.ended_at.is_(None), r.last_activity_at <= before)
            .order_by(r.last_activity_at).limit(limit)).all()
        return [_session(row) for row in rows]

    def add_step(self, ticket_id: str, session_id: int, kind: str, description: str, by: str,
                 now: datetime) -> int:
        return int(self.conn.execute(insert(SESSION_STEP).values(
            ticket_id=ticket_id, session_id=session_id, kind=kind, description=description,
            proposed_by=by, proposed_at=now, decision="pending")
            .returning(SESSION_STEP.c.id)).scalar_one())

    def decide_step(self, step_id: int, session_id: int, decision: str,
                    now: datetime) -> StepRecord | None:
        s = SESSION_STEP.c
        result = self.conn.execute(update(SESSION_STEP).where(
            s.id == step_id, s.session_id == session_id, s.decision == "pending")
            .values(decision=decision, decided_at=now))
        if result.rowcount != 1:
            return None
        return _step(self.conn.execute(select(SESSION_STEP).where(s.id == step_id)).one())

    def steps(self, session_id: int) -> list[StepRecord]:
        rows = self.conn.execute(select(SESSION_STEP).where(SESSION_STEP.c.session_id == session_id)
                                 .order_by(SESSION_STEP.c.id)).all()
        return [_step(row) for row in rows]


def _session(row: Row[Any]) -> SessionRecord:
    return SessionRecord(row.id, row.ticket_id, row.started_at, row.last_activity_at,
                         row.ended_at, row.end_reason)


def _step(row: Row[Any]) -> StepRecord:
    return StepRecord(row.id, row.session_id, row.kind, row.description, row.decision,
                      row.proposed_at, row.decided_at)


@dataclass(frozen=True)
class Terms:
    version: str
    language: str
    text: str


@lru_cache(maxsize=8)
def load_terms(language: str) -> Terms:
    """The packaged remote-support terms in ``language`` (en when not available). The version is
    the declared one plus a digest of every translation, so an edit that forgets to bump the
    declared version still changes what consents record. Read once per process."""
    folder = files("workflow").joinpath("data", "terms")
    texts = {lang: folder.joinpath(f"remote-support.{lang}.md").read_text(encoding="utf-8")
             for lang in TERMS_LANGUAGES}
    declared = folder.joinpath("remote-support.version").read_text(encoding="utf-8").strip()
    digest = hashlib.sha256("\x00".join(texts[lang] for lang in TERMS_LANGUAGES).encode())
    lang = language if language in texts else "en"
    return Terms(f"{declared}+{digest.hexdigest()[:8]}", lang, texts[lang])
