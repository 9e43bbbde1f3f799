"""Attachments kept with their ticket. Their content is personal data: never logged, purged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert

from workflow.adapters.tables import ATTACHMENT
from workflow.service.ports import Attachment, AttachmentRepository


class SqlAttachmentRepository(AttachmentRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, ticket_id: str, attachment: Attachment, now: datetime) -> None:
        self.conn.execute(insert(ATTACHMENT).values(
            ticket_id=ticket_id, kind=attachment.kind, media_type=attachment.media_type,
            filename=attachment.filename, size=len(attachment.content),
            content=attachment.content, created_at=now))
