"""agent role: agent | supervisor

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('agent') as batch:
        batch.add_column(sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16),
                                   server_default='agent', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('agent') as batch:
        batch.drop_column('role')
