"""Fixtures: a migrated database per test, on SQLite and on PostgreSQL.

PostgreSQL: one database per run is migrated once and used as a template; each test gets its own
copy (``CREATE DATABASE … TEMPLATE``) and every database the run made is dropped at the end.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests import services
from workflow.adapters import migrate
from workflow.adapters.db import Database, open_database

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_admin():
    url = make_url(services.PG_ADMIN_URL)
    if not services.port_open(url.host or "127.0.0.1", url.port or 5432):
        services.unavailable("PostgreSQL", f"{url.host}:{url.port} refused")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    made: list[str] = []
    yield engine, made
    with engine.connect() as conn:
        for name in reversed(made):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _pg_url(name: str) -> str:
    return make_url(services.PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template(pg_admin) -> str:
    engine, made = pg_admin
    name = f"rd_{services.RUN_ID}_template"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    made.append(name)
    migrate.upgrade(_pg_url(name))
    return name


@pytest.fixture
def pg_url(pg_admin, pg_template) -> str:
    engine, made = pg_admin
    name = f"rd_{services.RUN_ID}_{next(_counter)}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    made.append(name)
    return _pg_url(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'resetdesk.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A freshly migrated database: the same test runs on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()
