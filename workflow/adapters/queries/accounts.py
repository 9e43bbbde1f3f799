"""Who is calling (read only): producers by token or name, agents by password or API token.
The HTTP and AMQP entry points authenticate with these; changes to accounts are the CLI's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from workflow.adapters.credentials import password_matches, token_hash
from workflow.adapters.db import Database
from workflow.adapters.tables import AGENT, PRODUCER
from workflow.adapters.tables_resolution import AGENT_SESSION


@dataclass(frozen=True)
class Producer:
    name: str
    source: str


def producer_for_token(db: Database, token: str) -> Producer | None:
    with db.reader.begin() as conn:
        row = conn.execute(select(PRODUCER.c.name, PRODUCER.c.source).where(
            PRODUCER.c.token_hash == token_hash(token), PRODUCER.c.disabled.is_(False))).first()
    return Producer(row.name, row.source) if row else None


def producer_by_name(db: Database, name: str, *, active_only: bool = False) -> Producer | None:
    """``active_only``: a disabled producer counts as unknown (intake refuses it)."""
    query = select(PRODUCER.c.name, PRODUCER.c.source).where(PRODUCER.c.name == name)
    if active_only:
        query = query.where(PRODUCER.c.disabled.is_(False))
    with db.reader.begin() as conn:
        row = conn.execute(query).first()
    return Producer(row.name, row.source) if row else None


def list_producers(db: Database) -> list[Producer]:
    with db.reader.begin() as conn:
        rows = conn.execute(select(PRODUCER.c.name, PRODUCER.c.source).order_by(PRODUCER.c.name))
        return [Producer(r.name, r.source) for r in rows]


@dataclass(frozen=True)
class AgentAccount:
    login: str
    display_name: str
    role: str
    active: bool


def list_agents(db: Database) -> list[AgentAccount]:
    """Every agent, enabled or not, by login."""
    with db.reader.begin() as conn:
        rows = conn.execute(select(AGENT.c.login, AGENT.c.display_name, AGENT.c.role,
                                   AGENT.c.active).order_by(AGENT.c.login))
        return [AgentAccount(r.login, r.display_name, r.role, bool(r.active)) for r in rows]


def check_agent_password(db: Database, login: str, password: str) -> bool:
    with db.reader.begin() as conn:
        stored = conn.execute(select(AGENT.c.password_hash).where(
            AGENT.c.login == login, AGENT.c.active.is_(True))).scalar()
    return stored is not None and password_matches(password, stored)


def agent_role(db: Database, login: str) -> str | None:
    """The role of an existing, enabled agent; None for an unknown or disabled login."""
    with db.reader.begin() as conn:
        return conn.execute(select(AGENT.c.role).where(
            AGENT.c.login == login, AGENT.c.active.is_(True))).scalar()


def staff_for(db: Database, token: str, now: datetime) -> tuple[str, str] | None:
    """(login, role) of the enabled agent a live token belongs to: the HTTP API's actor."""
    with db.reader.begin() as conn:
        row = conn.execute(select(AGENT.c.login, AGENT.c.role).join(
            AGENT_SESSION, AGENT_SESSION.c.login == AGENT.c.login).where(
            AGENT_SESSION.c.token_hash == token_hash(token), AGENT_SESSION.c.expires_at > now,
            AGENT_SESSION.c.revoked_at.is_(None), AGENT.c.active.is_(True))).first()
    return (row.login, row.role) if row else None
