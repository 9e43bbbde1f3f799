"""Who else has tickets open in the console: for the ticket page's "also viewing" line and a
column of the queue. Expired rows are not shown, whether or not they were pruned yet."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import select

from workflow.adapters.db import Database
from workflow.adapters.tables_presence import PRESENCE
from workflow.service.presence import Present

__all__ = ["Present", "presence_for"]


def presence_for(db: Database, ticket_ids: Collection[str],
                 now: datetime | None = None) -> dict[str, list[Present]]:
    """The agents present on each of ``ticket_ids`` at ``now``, by login (tickets nobody has
    open are left out); one indexed query for a whole page of the queue."""
    if not ticket_ids:
        return {}
    now = now or datetime.now(UTC)
    p = PRESENCE.c
    stmt = (select(p.ticket_id, p.login, p.typing_until)
            .where(p.ticket_id.in_(list(ticket_ids)), p.expires_at > now)
            .order_by(p.ticket_id, p.login))
    found: dict[str, list[Present]] = {}
    with db.reader.begin() as conn:
        for row in conn.execute(stmt):
            typing = row.typing_until is not None and row.typing_until > now
            found.setdefault(row.ticket_id, []).append(
                Present(row.login, "typing" if typing else "viewing"))
    return found
