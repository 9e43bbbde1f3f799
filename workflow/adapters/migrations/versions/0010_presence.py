"""presence: who is viewing or typing on a ticket, with a time-to-live

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from workflow.adapters.types import UtcDateTime

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('presence',
    sa.Column('ticket_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('login', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('activity', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('expires_at', UtcDateTime(), nullable=False),
    sa.Column('typing_until', UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('ticket_id', 'login')
    )
    op.create_index('ix_presence_expires', 'presence', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_presence_expires', 'presence')
    op.drop_table('presence')
