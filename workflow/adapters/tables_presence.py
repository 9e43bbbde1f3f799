"""Who has a ticket open in the console right now (``workflow.service.presence``): a row per
(ticket, agent) that lives ``PRESENCE_TTL`` past the last heartbeat. In the database, not in a
process, so several ``serve`` processes behind one address see each other's agents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from workflow.adapters.types import UtcDateTime


class PresenceRow(SQLModel, table=True):
    __tablename__ = "presence"
    __table_args__ = (Index("ix_presence_expires", "expires_at"),)

    ticket_id: str = Field(primary_key=True, max_length=32)
    login: str = Field(primary_key=True, max_length=64)
    #: viewing | typing (what the last heartbeat said; typing lasts until ``typing_until``)
    activity: str = Field(max_length=12)
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    typing_until: datetime | None = Field(default=None,
                                          sa_column=Column(UtcDateTime(), nullable=True))


PRESENCE = PresenceRow.__table__  # type: ignore[attr-defined]
