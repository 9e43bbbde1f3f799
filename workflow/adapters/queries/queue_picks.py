"""The tickets an agent ticked in the queue, by id: what a bulk action's confirmation names and
its result reports (reference and holder), in one query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from workflow.adapters.db import Database
from workflow.adapters.tables import TICKET

#: at most this many ids in one look-up (the bulk actions' own limit is lower)
MAX_PICKS = 1000


@dataclass(frozen=True)
class Picked:
    id: str
    reference: str
    state: str
    assignee: str | None


def picked(db: Database, ids: Sequence[str]) -> list[Picked]:
    """The tickets among ``ids`` that exist, in the order given (each once)."""
    wanted = list(dict.fromkeys(ids))[:MAX_PICKS]
    if not wanted:
        return []
    with db.reader.begin() as conn:
        rows = conn.execute(select(TICKET.c.id, TICKET.c.reference, TICKET.c.state,
                                   TICKET.c.assignee).where(TICKET.c.id.in_(wanted)))
        found = {r.id: Picked(r.id, r.reference, r.state, r.assignee) for r in rows}
    return [found[i] for i in wanted if i in found]
