"""SQL for the presence rows (table ``presence``), on SQLite and PostgreSQL: one upsert per
heartbeat, keyed by (ticket, login), so concurrent beats from several processes never collide."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, case, delete
from sqlalchemy.dialects import postgresql, sqlite

from workflow.adapters.tables_presence import PRESENCE
from workflow.service.presence import TTL, TYPING, PresenceStore


class SqlPresenceStore(PresenceStore):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def mark(self, ticket_id: str, login: str, activity: str, now: datetime) -> None:
        p = PRESENCE.c
        self.conn.execute(delete(PRESENCE).where(p.ticket_id == ticket_id, p.expires_at <= now))
        typing = activity == "typing"
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(PRESENCE).values(
            ticket_id=ticket_id, login=login, activity=activity, expires_at=now + TTL,
            typing_until=now + TYPING if typing else None)
        # a viewing beat between keystrokes keeps "typing" while it lasts
        still_typing = (p.typing_until.is_not(None)) & (p.typing_until > now)
        self.conn.execute(insert.on_conflict_do_update(
            index_elements=[p.ticket_id, p.login],
            set_={"expires_at": insert.excluded.expires_at,
                  "activity": insert.excluded.activity if typing else
                  case((still_typing, "typing"), else_="viewing"),
                  "typing_until": insert.excluded.typing_until if typing else p.typing_until}))

    def prune(self, now: datetime) -> int:
        result = self.conn.execute(delete(PRESENCE).where(PRESENCE.c.expires_at <= now))
        return int(result.rowcount)
