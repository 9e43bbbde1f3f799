"""Agent API tokens: random, shown once at sign-in, stored as a SHA-256 hash, expiring."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, update

from workflow.adapters.credentials import token_hash
from workflow.adapters.db import Database
from workflow.adapters.queries.accounts import staff_for
from workflow.adapters.tables_resolution import AGENT_SESSION

__all__ = ["SqlAccountStore", "close_session", "open_session", "staff_for"]
from workflow.service.account_ports import AccountStore


class SqlAccountStore(AccountStore):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def open_session(self, login: str, now: datetime, ttl: timedelta) -> tuple[str, datetime]:
        token = "rda_" + secrets.token_urlsafe(32)
        expires = now + ttl
        self.conn.execute(insert(AGENT_SESSION).values(token_hash=token_hash(token), login=login,
                                                       created_at=now, expires_at=expires))
        return token, expires

    def close_session(self, token: str, now: datetime) -> None:
        self.conn.execute(update(AGENT_SESSION).where(
            AGENT_SESSION.c.token_hash == token_hash(token), AGENT_SESSION.c.revoked_at.is_(None))
            .values(revoked_at=now))


def open_session(db: Database, login: str, now: datetime, ttl: timedelta) -> tuple[str, datetime]:
    with db.writer.begin() as conn:
        return SqlAccountStore(conn).open_session(login, now, ttl)


def close_session(db: Database, token: str, now: datetime) -> None:
    with db.writer.begin() as conn:
        SqlAccountStore(conn).close_session(token, now)
