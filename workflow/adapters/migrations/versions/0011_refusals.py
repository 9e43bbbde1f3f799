"""refusals: AMQP messages refused before the inbox, by producer and event id; dead letters by
message id

Revision ID: 0011_refusals
Revises: 0010
Create Date: 2026-12-01 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from workflow.adapters.types import UtcDateTime

revision: str = '0011_refusals'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('refusal',
    sa.Column('producer', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('dead_letter_id', sa.Integer(), nullable=False),
    sa.Column('refused_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('producer', 'event_id')
    )
    # the dead-letter list leaves out inbox rows already archived (by event id)
    op.create_index('ix_dead_letter_message_id', 'dead_letter', ['message_id'])


def downgrade() -> None:
    op.drop_index('ix_dead_letter_message_id', 'dead_letter')
    op.drop_table('refusal')
