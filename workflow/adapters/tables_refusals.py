"""Messages refused over AMQP, by the producer and the event id they were sent under, so that
``GET /events/{id}`` can tell a producer what became of a message that never reached the inbox
(a wrong source, an invalid or forged message). The archiver writes a row with each archived
verification dead letter that names its producer (``user_id``); the latest refusal wins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from workflow.adapters.types import UtcDateTime


class RefusalRow(SQLModel, table=True):
    __tablename__ = "refusal"

    producer: str = Field(primary_key=True, max_length=64)
    event_id: str = Field(primary_key=True, max_length=256)
    code: str = Field(max_length=40)
    reason: str = Field(max_length=2000)
    #: the archived letter (``dead_letter.id``) the refusal was read from
    dead_letter_id: int
    refused_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


REFUSAL = RefusalRow.__table__  # type: ignore[attr-defined]
