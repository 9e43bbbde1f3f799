"""Alembic driven from code, so ``resetdesk db upgrade`` works from an installed package."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from workflow.adapters.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Raise if the tables in code and the migrated database differ (``alembic check``)."""
    command.check(alembic_config(url))


def heads(url: str = "sqlite://") -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config(url)).get_heads())


@functools.cache
def _code_heads() -> frozenset[str]:
    return frozenset(heads())


def missing(db: Database) -> list[str]:
    """The code's head revisions the database has not reached (empty: migrations current)."""
    with db.reader.connect() as conn:
        applied = set(MigrationContext.configure(conn).get_current_heads())
    return sorted(_code_heads() - applied)
