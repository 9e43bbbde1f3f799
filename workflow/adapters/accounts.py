"""Producers (who may send requests, and from which CloudEvents ``source``) and agents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from workflow.adapters.credentials import hash_password, new_token, password_matches, token_hash
from workflow.adapters.db import Database
from workflow.adapters.tables import AGENT, PRODUCER
from workflow.domain.errors import AlreadyExists, NotFound, WorkflowError
from workflow.service.ports import AgentDirectory


@dataclass(frozen=True)
class Producer:
    name: str
    source: str


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


def add_agent(db: Database, login: str, password: str, display_name: str = "") -> None:
    try:
        with db.writer.begin() as conn:
            conn.execute(insert(AGENT).values(
                login=login, display_name=display_name or login,
                password_hash=hash_password(password), created_at=datetime.now(UTC),
                active=True))
    except IntegrityError as err:
        raise AlreadyExists(f"an agent {login!r} exists") from err


def check_agent_password(db: Database, login: str, password: str) -> bool:
    with db.reader.begin() as conn:
        stored = conn.execute(select(AGENT.c.password_hash).where(
            AGENT.c.login == login, AGENT.c.active.is_(True))).scalar()
    return stored is not None and password_matches(password, stored)


def rotate_token(db: Database, name: str) -> str:
    """A fresh token for an existing producer; the old one stops working at once."""
    token = new_token()
    with db.writer.begin() as conn:
        done = conn.execute(update(PRODUCER).where(PRODUCER.c.name == name)
                            .values(token_hash=token_hash(token))).rowcount
    if not done:
        raise NotFound(f"no producer {name!r}")
    return token


ROLES = ("agent", "supervisor")


def agent_role(db: Database, login: str) -> str | None:
    """The role of an existing, enabled agent; None for an unknown or disabled login."""
    with db.reader.begin() as conn:
        return conn.execute(select(AGENT.c.role).where(
            AGENT.c.login == login, AGENT.c.active.is_(True))).scalar()


def set_agent_role(db: Database, login: str, role: str) -> None:
    if role not in ROLES:
        raise WorkflowError(f"a role is {' or '.join(ROLES)}, not {role!r}")
    with db.writer.begin() as conn:
        done = conn.execute(update(AGENT).where(AGENT.c.login == login).values(role=role)).rowcount
    if not done:
        raise NotFound(f"no agent {login!r}")


class SqlAgentDirectory(AgentDirectory):
    """The agent table, read at each question (a role change applies at once)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def role_of(self, login: str) -> str | None:
        return agent_role(self.db, login)
