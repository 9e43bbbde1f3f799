"""queue: search columns, method and the earliest running SLA due, with the queue's indexes
(and the API's due order on (first_reply_due_at, id))

The new columns are derived from ``ticket.data`` and ``ticket.sla`` (as the repository does on
every save) for the rows already there, in batches walked by id, before the indexes are built.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

from workflow.adapters import search_keys
from workflow.adapters.types import UtcDateTime
from workflow.domain import ticket_sla

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
OPEN = "sla_due_at IS NOT NULL OR state != 'closed'"
#: (name, leading columns, partial index predicate)
QUEUE_INDEXES: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("ix_ticket_queue", (), OPEN),
    ("ix_ticket_queue_state", ("state",), None),
    ("ix_ticket_queue_waiting", ("waiting_on",), OPEN),
    ("ix_ticket_queue_language", ("language",), OPEN),
    ("ix_ticket_queue_method", ("method",), OPEN),
    ("ix_ticket_queue_assignee", ("assignee",), OPEN),
    ("ix_ticket_queue_unassigned", (), f"({OPEN}) AND assignee IS NULL"),
    ("ix_ticket_queue_paused", (), "waiting_on IS NOT NULL"),
)
SEARCH = ("search_email", "search_phone", "search_serial")

_ticket = sa.table(
    'ticket', sa.column('id', sa.String), sa.column('data', sa.Text), sa.column('sla', sa.Text),
    sa.column('sla_due_at', UtcDateTime()), *(sa.column(c, sa.String) for c in (*SEARCH, 'method')))


def _derived(row: Any) -> dict[str, Any]:
    try:
        data = json.loads(row.data)
    except ValueError:
        data = {}
    clocks = ticket_sla.from_dict(json.loads(row.sla)) if row.sla else None
    return {"b_id": row.id, **search_keys.columns(data if isinstance(data, dict) else {}),
            "sla_due_at": clocks.running_due() if clocks else None}


def _backfill() -> None:
    conn = op.get_bind()
    update = (_ticket.update().where(_ticket.c.id == sa.bindparam('b_id'))
              .values({c: sa.bindparam(c) for c in (*SEARCH, 'method', 'sla_due_at')}))
    after = ""
    while True:
        rows = conn.execute(sa.select(_ticket.c.id, _ticket.c.data, _ticket.c.sla)
                            .where(_ticket.c.id > after).order_by(_ticket.c.id)
                            .limit(BATCH)).all()
        if not rows:
            return
        conn.execute(update, [_derived(r) for r in rows])
        after = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table('ticket') as batch:
        batch.add_column(sa.Column('sla_due_at', UtcDateTime(), nullable=True))
        batch.add_column(sa.Column('search_email', sqlmodel.sql.sqltypes.AutoString(length=254),
                                   nullable=True))
        batch.add_column(sa.Column('search_phone', sqlmodel.sql.sqltypes.AutoString(length=16),
                                   nullable=True))
        batch.add_column(sa.Column('search_serial', sqlmodel.sql.sqltypes.AutoString(length=128),
                                   nullable=True))
        batch.add_column(sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=24),
                                   nullable=True))
    _backfill()
    for name, leading, where in QUEUE_INDEXES:
        partial = {"sqlite_where": sa.text(where), "postgresql_where": sa.text(where)} if where else {}
        op.create_index(name, 'ticket', [*leading, 'sla_due_at', 'id'], **partial)
    for column in SEARCH:
        op.create_index(f'ix_ticket_{column}', 'ticket', [column],
                        postgresql_ops={column: 'varchar_pattern_ops'})
    # the API's due order (NULLS LAST, id) read off one index instead of sorting equal dues
    op.drop_index('ix_ticket_first_reply_due_at', 'ticket')
    op.create_index('ix_ticket_first_reply_due', 'ticket', ['first_reply_due_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_ticket_first_reply_due', 'ticket')
    op.create_index('ix_ticket_first_reply_due_at', 'ticket', ['first_reply_due_at'])
    for column in SEARCH:
        op.drop_index(f'ix_ticket_{column}', 'ticket')
    for name, _, _ in QUEUE_INDEXES:
        op.drop_index(name, 'ticket')
    with op.batch_alter_table('ticket') as batch:
        for column in ('method', *reversed(SEARCH), 'sla_due_at'):
            batch.drop_column(column)
