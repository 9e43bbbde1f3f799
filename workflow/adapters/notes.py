"""Internal notes on tickets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select

from workflow.adapters.tables_resolution import TICKET_NOTE
from workflow.service.ports import NoteRepository


class SqlNoteRepository(NoteRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, ticket_id: str, author: str, at: datetime, body: str) -> None:
        self.conn.execute(insert(TICKET_NOTE).values(ticket_id=ticket_id, author=author, at=at,
                                                     body=body))

    def for_ticket(self, ticket_id: str) -> list[tuple[datetime, str, str]]:
        rows = self.conn.execute(select(TICKET_NOTE.c.at, TICKET_NOTE.c.author, TICKET_NOTE.c.body)
                                 .where(TICKET_NOTE.c.ticket_id == ticket_id)
                                 .order_by(TICKET_NOTE.c.id)).all()
        return [(r.at, r.author, r.body) for r in rows]
