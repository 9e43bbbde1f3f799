"""Producers (who may send requests, and from which CloudEvents ``source``) and agents."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, insert, update
from sqlalchemy.exc import IntegrityError

from workflow.adapters.credentials import hash_password, new_token, token_hash
from workflow.adapters.db import Database
from workflow.adapters.queries.accounts import (
    AgentAccount,
    Producer,
    agent_role,
    check_agent_password,
    list_agents,
    list_producers,
    producer_by_name,
    producer_for_token,
)
from workflow.adapters.tables import AGENT, PRODUCER
from workflow.adapters.tables_resolution import AGENT_SESSION
from workflow.domain.errors import AlreadyExists, NotFound, WorkflowError
from workflow.service.ports import AgentDirectory


def add_producer(db: Database, name: str, source: str) -> str:
    """Register a producer; returns its bearer token, which is stored only as a hash."""
    token = new_token()
    try:
        with db.writer.begin() as conn:
            conn.execute(insert(PRODUCER).values(
                name=name, source=source, token_hash=token_hash(token),
                created_at=datetime.now(UTC), disabled=False))
    except IntegrityError as err:
        raise AlreadyExists(f"a producer named {name!r} or with source {source!r} exists") from err
    return token


def add_agent(db: Database, login: str, password: str, display_name: str = "",
              role: str = "agent") -> None:
    _check_role(role)
    try:
        with db.writer.begin() as conn:
            conn.execute(insert(AGENT).values(
                login=login, display_name=display_name or login,
                password_hash=hash_password(password), created_at=datetime.now(UTC),
                active=True, role=role))
    except IntegrityError as err:
        raise AlreadyExists(f"an agent {login!r} exists") from err


def rotate_token(db: Database, name: str) -> str:
    """A fresh token for an existing producer; the old one stops working at once."""
    token = new_token()
    with db.writer.begin() as conn:
        done = conn.execute(update(PRODUCER).where(PRODUCER.c.name == name)
                            .values(token_hash=token_hash(token))).rowcount
    if not done:
        raise NotFound(f"no producer {name!r}")
    return token


__all__ = ["ROLES", "AgentAccount", "Producer", "SqlAgentDirectory", "add_agent", "add_producer",
           "agent_role", "check_agent_password", "list_agents", "list_producers",
           "producer_by_name", "producer_for_token", "rotate_token", "set_agent_active",
           "set_agent_password", "set_agent_role"]

ROLES = ("agent", "supervisor")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise WorkflowError(f"a role is {' or '.join(ROLES)}, not {role!r}")


def set_agent_role(db: Database, login: str, role: str) -> None:
    """Applies at the agent's next request (each one reads the role)."""
    _check_role(role)
    _change_agent(db, login, end_sessions=False, role=role)


def _change_agent(db: Database, login: str, *, end_sessions: bool, **values: object) -> None:
    """Update one agent (``NotFound`` if there is none), and with ``end_sessions`` revoke every
    live session of theirs: API tokens and console cookies stop working at once, and stay dead
    if the agent is enabled again."""
    with db.writer.begin() as conn:
        if not conn.execute(update(AGENT).where(AGENT.c.login == login).values(**values)).rowcount:
            raise NotFound(f"no agent {login!r}")
        if end_sessions:
            _revoke_sessions(conn, login)


def _revoke_sessions(conn: Connection, login: str) -> None:
    conn.execute(update(AGENT_SESSION).where(AGENT_SESSION.c.login == login,
                                             AGENT_SESSION.c.revoked_at.is_(None))
                 .values(revoked_at=datetime.now(UTC)))


def set_agent_active(db: Database, login: str, active: bool) -> None:
    """Enable or disable an agent; a disabled agent cannot sign in and their sessions end."""
    _change_agent(db, login, end_sessions=not active, active=active)


def set_agent_password(db: Database, login: str, password: str) -> None:
    """A new password (argon2-hashed); the agent's sessions end, so a leaked one is shut out."""
    _change_agent(db, login, end_sessions=True, password_hash=hash_password(password))


class SqlAgentDirectory(AgentDirectory):
    """The agent table, read at each question (a role change applies at once)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def role_of(self, login: str) -> str | None:
        return agent_role(self.db, login)
