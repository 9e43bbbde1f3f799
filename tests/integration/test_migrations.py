"""Migrations are the only way the schema is made outside tests: they must match the code."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from workflow.adapters import migrate


def test_migrations_upgrade_an_empty_database_without_drift(db_url: str) -> None:
    # db_url is already migrated from empty by the fixture; check compares it with the tables
    migrate.check(db_url)
    engine = create_engine(db_url)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"ticket", "audit", "outbox", "inbox", "producer", "agent",
            "alembic_version"} <= names


def test_upgrade_twice_is_harmless(db_url: str) -> None:
    migrate.upgrade(db_url)
    migrate.check(db_url)


def test_alembic_has_a_single_head() -> None:
    assert len(migrate.heads()) == 1
