"""Alembic environment: the URL comes from the caller (``resetdesk db upgrade``, which reads the
settings) or, for the ``alembic`` command line, from ``-x url=…``; nothing here reads the
environment (only ``resetdesk.settings`` does)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import create_engine, pool

from workflow.adapters.tables import METADATA

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or context.get_x_argument(
        as_dictionary=True).get("url")
    if not url:
        raise RuntimeError("no database URL: run `resetdesk db upgrade` (it reads the settings) "
                           "or pass `alembic -x url=…`")
    return url


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    if type_ == "type" and type(obj).__name__ == "UtcDateTime":
        autogen_context.imports.add("from workflow.adapters.types import UtcDateTime")
        return "UtcDateTime()"
    return False


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=METADATA, literal_binds=True,
                      render_item=_render_item, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=METADATA,  # type: ignore[arg-type]
                      render_item=_render_item, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
