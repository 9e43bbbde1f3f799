"""The queue's statements as the planners run them, on a lifelike population with statistics:
the default queue, each single filter, the next page, the escalation view (and the API's list
sorted by due) read the ticket table through an index, never sorting the table (PostgreSQL: no
Seq Scan of ticket, so no Sort above one; SQLite: no full SCAN and no temporary B-tree for the
ORDER BY). A search sorts its few matches, found through the search indexes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert

from bench import queue_data
from workflow.adapters.db import Database
from workflow.adapters.queries import QueueFilters, escalating_soon, list_tickets, queue_page
from workflow.adapters.sla_book import default_book
from workflow.adapters.tables import TICKET

ROWS = 20_000
NOW = datetime(2027, 3, 2, 18, 0, tzinfo=UTC)  # a Tuesday, 10:00 at the desk
BOOK = default_book()
SHAPES = {
    "default": QueueFilters(), "state": QueueFilters(state="queued"),
    "closed": QueueFilters(state="closed"), "waiting_on": QueueFilters(waiting_on="session-code"),
    "ok": QueueFilters(sla="ok"), "at_risk": QueueFilters(sla="at_risk"),
    "breached": QueueFilters(sla="breached"), "paused": QueueFilters(sla="paused"),
    "language": QueueFilters(language="fr"), "method": QueueFilters(method="ivms4200"),
    "mine": QueueFilters(assignee="agent07"), "unassigned": QueueFilters(unassigned=True),
}
#: read straight off an index in queue order, no Sort at all (on a small filtered set the
#: planner may rightly prefer to sort a bitmap scan's few rows, so the others are not held to it)
IN_INDEX_ORDER = ("default", "breached", "language")
SEARCHES = {
    "reference": QueueFilters(search=queue_data.reference(4321)),
    "email": QueueFilters(search="customer.123"),
    "phone": QueueFilters(search="503 003 9595"),
    "serial": QueueFilters(search="0820004321CCRR"),
}


def _load(db: Database) -> None:
    rows = list(queue_data.rows(ROWS, NOW, BOOK))
    with db.writer.begin() as conn:
        for start in range(0, ROWS, 5_000):
            conn.execute(insert(TICKET), rows[start:start + 5_000])
    with db.writer.begin() as conn:  # the planners' statistics (both take it in a transaction)
        conn.exec_driver_sql("ANALYZE" if db.is_sqlite else "ANALYZE ticket")


def _statements(db: Database, run: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(db.reader, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(db.reader, "before_cursor_execute", capture)
    return [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT")]


def _shape_statements(db: Database, filters: QueueFilters) -> list[tuple[str, Any]]:
    """Page 1, and page 2 through its cursor."""
    first = queue_page(db, filters, book=BOOK, now=NOW)
    assert first.rows, filters
    statements = _statements(db, lambda: queue_page(db, filters, book=BOOK, now=NOW))
    if first.next_cursor:
        statements += _statements(db, lambda: queue_page(
            db, filters, book=BOOK, now=NOW, after=first.next_cursor))
    return statements


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _pg_problems(db: Database, statement: str, params: Any, searching: bool,
                 in_order: bool) -> list[str]:
    with db.reader.connect() as conn:
        raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).scalar_one()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    nodes = list(_nodes(plan))
    problems = [f"{n['Node Type']} on ticket" for n in nodes
                if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "ticket"]
    if not searching and not any("Index" in n["Node Type"] for n in nodes):
        problems.append("no index used")
    if in_order:
        problems += [n["Node Type"] for n in nodes if "Sort" in n["Node Type"]]
    return problems


def _sqlite_problems(db: Database, statement: str, params: Any, searching: bool,
                     in_order: bool) -> list[str]:
    with db.reader.connect() as conn:
        details = [r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
    problems = [d for d in details if d.startswith("SCAN ticket") and "INDEX" not in d]
    if searching:
        problems += [] if "MULTI-INDEX OR" in details else ["search indexes unused"]
    else:
        problems += [d for d in details if "TEMP B-TREE" in d]
    return problems


def test_no_queue_statement_reads_or_sorts_the_whole_ticket_table(db: Database) -> None:
    _load(db)
    check = _sqlite_problems if db.is_sqlite else _pg_problems
    found: dict[str, list[str]] = {}
    shapes = {**{k: (v, False) for k, v in SHAPES.items()},
              **{k: (v, True) for k, v in SEARCHES.items()}}
    for name, (filters, searching) in shapes.items():
        statements = _shape_statements(db, filters)
        assert statements, name
        in_order = name in IN_INDEX_ORDER
        found[name] = [p for s, params in statements
                       for p in check(db, s, params, searching, in_order)]
    escalation = _statements(db, lambda: escalating_soon(db, book=BOOK, now=NOW,
                                                         within=timedelta(minutes=30)))
    found["escalating"] = [p for s, params in escalation
                           for p in check(db, s, params, False, True)]
    listed = _statements(db, lambda: list_tickets(db, sort="due", limit=100))
    found["api list by due"] = [p for s, params in listed
                                for p in check(db, s, params, False, True)]
    assert {name: problems for name, problems in found.items() if problems} == {}
