"""ops: periodic samples and job runs for the ops pages, and indexes on the time windows they
count over (inbox received/processed, delivery created/processed, audit, SLA alarms)

Revision ID: 0012_ops_samples
Revises: 0011_refusals
Create Date: 2026-12-01 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from workflow.adapters.types import UtcDateTime

revision: str = '0012_ops_samples'
down_revision: str | None = '0011_refusals'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (("ix_inbox_received", "inbox", "received_at"),
           ("ix_inbox_processed", "inbox", "processed_at"),
           ("ix_delivery_created", "delivery", "created_at"),
           ("ix_delivery_processed", "delivery", "processed_at"),
           ("ix_audit_at", "audit", "at"),
           ("ix_sla_alarm_raised", "sla_alarm", "raised_at"))


def upgrade() -> None:
    op.create_table('ops_sample',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('taken_at', UtcDateTime(), nullable=False),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_ops_sample_series', 'ops_sample', ['series', 'taken_at'])
    op.create_index('ix_ops_sample_taken', 'ops_sample', ['taken_at'])
    op.create_table('ops_job',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('last_run_at', UtcDateTime(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table)
    op.drop_table('ops_job')
    op.drop_index('ix_ops_sample_taken', 'ops_sample')
    op.drop_index('ix_ops_sample_series', 'ops_sample')
    op.drop_table('ops_sample')
