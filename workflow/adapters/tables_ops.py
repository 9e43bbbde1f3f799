"""The ops pages' history, kept in the database so a restart loses none of it.

- ``ops_sample``: what the scheduler's leader saw every few seconds, one row per series
  (``queue:<name>`` for each queue, ``desk`` for the tickets, ``hour`` for an hour's roll-up of
  the audit trail), its figures as JSON: the sparklines and charts read these back.
- ``ops_job``: each periodic job's last run (the SLA scanner's "last run" and "lag").

The indexes on existing tables serve the ops read models' time windows (rows received,
processed, audited or alarmed in the last minute, hour or week) with range scans.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from workflow.adapters.tables import AUDIT, DELIVERY, INBOX, SLA_ALARM
from workflow.adapters.types import UtcDateTime


class OpsSampleRow(SQLModel, table=True):
    __tablename__ = "ops_sample"
    __table_args__ = (Index("ix_ops_sample_series", "series", "taken_at"),
                      Index("ix_ops_sample_taken", "taken_at"))  # forgetting old samples

    id: int | None = Field(default=None, primary_key=True)
    series: str = Field(max_length=120)
    taken_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    figures: str = Field(sa_column=Column(Text, nullable=False))


class OpsJobRow(SQLModel, table=True):
    __tablename__ = "ops_job"

    name: str = Field(primary_key=True, max_length=80)
    last_run_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    seconds: float = Field(default=0.0)
    detail: str | None = Field(default=None, max_length=200)


OPS_SAMPLE = OpsSampleRow.__table__  # type: ignore[attr-defined]
OPS_JOB = OpsJobRow.__table__  # type: ignore[attr-defined]

#: (name, table, column): the windows the ops read models count over
WINDOW_INDEXES = (("ix_inbox_received", INBOX, "received_at"),
                  ("ix_inbox_processed", INBOX, "processed_at"),
                  ("ix_delivery_created", DELIVERY, "created_at"),
                  ("ix_delivery_processed", DELIVERY, "processed_at"),
                  ("ix_audit_at", AUDIT, "at"),
                  ("ix_sla_alarm_raised", SLA_ALARM, "raised_at"))
for _name, _table, _column in WINDOW_INDEXES:
    Index(_name, _table.c[_column])
