"""The agents' queue read model on SQLite and PostgreSQL: order, filters, search, keyset pages,
countdowns, escalation, counts; the stored columns it reads are kept by the repository, cleared
by the purge and backfilled by migration 0009."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import column, create_engine, insert, select, table, text
from sqlalchemy.engine import make_url

from bench import queue_data
from schemas.sample import SAMPLE_MODEL, sample_request_data, unique_serial
from tests import services
from tests.factories import make_ticket
from workflow.adapters import migrate
from workflow.adapters.db import Database
from workflow.adapters.purge import purge
from workflow.adapters.queries import (
    QueueFilters,
    QueueRow,
    count_matching,
    escalating_soon,
    queue_page,
)
from workflow.adapters.tables import TICKET
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain import ticket_sla
from workflow.domain.calendar import BusinessCalendar, Window
from workflow.domain.sla import SlaPolicy
from workflow.domain.states import Outcome, State, WaitingOn
from workflow.domain.ticket import Ticket
from workflow.domain.ticket_sla import SlaBook

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # a Monday
MIN = timedelta(minutes=1)
ALWAYS_OPEN = BusinessCalendar({d: [Window.parse("00:00-24:00")] for d in range(7)},
                               timezone="UTC")
POLICIES = {"first_reply": SlaPolicy("first_reply", timedelta(hours=1), 0.8),
            "resolution": SlaPolicy("resolution", timedelta(hours=10), 0.8)}
#: business time = real time: at risk in the last 12 min (first reply), 2 h (resolution)
BOOK = SlaBook(ALWAYS_OPEN, POLICIES)


@dataclass
class Spec:
    """A ticket to store: its first-reply clock is due ``due_in`` after NOW (24/7 calendar)."""

    state: State = State.QUEUED
    due_in: timedelta = 30 * MIN
    replied: bool = False
    waiting: WaitingOn | None = None
    language: str = "en"
    method: str = "sadp"
    assignee: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def build(spec: Spec, book: SlaBook = BOOK) -> Ticket:
    accepted = NOW + spec.due_in - POLICIES["first_reply"].budget
    data = sample_request_data(reset_method=spec.method,
                               **{"device__serial_number": unique_serial(), **spec.data})
    t = make_ticket(spec.state, language=spec.language, assignee=spec.assignee, data=data,
                    serial_key="".join(data["device"]["serial_number"].split()).upper(),
                    created_at=accepted, updated_at=accepted, accepted_at=accepted)
    if spec.state in (State.SUBMITTED, State.VERIFIED):
        return t
    clocks = ticket_sla.reconcile(None, state=State.QUEUED, waiting=False, replied=False,
                                  book=book, at=accepted, accepted_at=accepted)
    if spec.replied:
        t.first_reply_at = accepted + 5 * MIN
        clocks = ticket_sla.reconcile(clocks, state=spec.state, waiting=False, replied=True,
                                      book=book, at=t.first_reply_at, accepted_at=accepted)
    if spec.waiting:
        t.waiting_on = spec.waiting
        clocks = ticket_sla.reconcile(clocks, state=spec.state, waiting=True, replied=False,
                                      book=book, at=accepted + 10 * MIN, accepted_at=accepted)
    if spec.state is State.CLOSED:
        t.outcome, t.closed_at = Outcome.RESOLVED, accepted + 20 * MIN
        clocks = ticket_sla.reconcile(clocks, state=State.CLOSED, waiting=False, replied=True,
                                      book=book, at=t.closed_at, accepted_at=accepted)
    t.sla = clocks
    return t


def store(db: Database, *tickets: Ticket) -> None:
    with SqlUnitOfWork(db) as uow:
        for t in tickets:
            uow.tickets.add(t)
        uow.commit()


SPECS = {
    "breached": Spec(due_in=-30 * MIN, assignee="alice"),
    "at_risk": Spec(due_in=5 * MIN, language="fr", method="local_gui"),
    "ok": Spec(State.AWAITING_CALLBACK, due_in=45 * MIN, method="ivms4200", assignee="bob"),
    # replied: the resolution clock (10 h from acceptance) is the running one
    "replied_ok": Spec(due_in=0 * MIN, replied=True, assignee="alice"),
    "replied_at_risk": Spec(State.REMOTE_SESSION, due_in=-8 * 60 * MIN, replied=True,
                            language="fr"),
    "paused": Spec(waiting=WaitingOn.KEY_CONFIRMATION, assignee="alice"),
    "paused_cb": Spec(State.AWAITING_CALLBACK, waiting=WaitingOn.CALLBACK_MOVED, language="fr",
                      method="local_gui"),
    "new": Spec(State.SUBMITTED),
    "closed": Spec(State.CLOSED, due_in=-3 * 60 * MIN, assignee="alice"),
}


@pytest.fixture
def desk(db: Database) -> dict[str, Ticket]:
    tickets = {name: build(spec) for name, spec in SPECS.items()}
    store(db, *tickets.values())
    return tickets


def names(desk: dict[str, Ticket], rows: list[QueueRow]) -> list[str]:
    by_id = {t.id: name for name, t in desk.items()}
    return [by_id[r.id] for r in rows]


def by_id(desk: dict[str, Ticket], *wanted: str) -> list[str]:
    return sorted(wanted, key=lambda n: desk[n].id)


def page(db: Database, filters: QueueFilters = QueueFilters(), **kw: Any) -> list[QueueRow]:
    return queue_page(db, filters, book=BOOK, now=NOW, **kw).rows


def test_running_clocks_come_first_soonest_due_then_the_rest_by_id(
        db: Database, desk: dict[str, Ticket]) -> None:
    rows = page(db)
    assert names(desk, rows) == ["breached", "at_risk", "ok", "replied_at_risk", "replied_ok",
                                 *by_id(desk, "paused", "paused_cb", "new")]
    assert {names(desk, [r])[0]: r.sla_status for r in rows} == {
        "breached": "breached", "at_risk": "at_risk", "ok": "ok", "replied_at_risk": "at_risk",
        "replied_ok": "ok", "paused": "paused", "paused_cb": "paused", "new": None}
    first = rows[0]
    t = desk["breached"]
    assert (first.reference, first.state, first.assignee, first.language, first.method,
            first.version, first.created_at) == (t.reference, "queued", "alice", "en", "sadp",
                                                 1, t.created_at)
    assert first.sla_due_at == NOW - 30 * MIN


QUEUED, CLOSED = State.QUEUED.value, State.CLOSED.value
FILTERS: list[tuple[QueueFilters, list[str]]] = [
    (QueueFilters(state=QUEUED), ["breached", "at_risk", "replied_ok", "paused"]),
    (QueueFilters(state=CLOSED), ["closed"]),
    (QueueFilters(state=State.SUBMITTED.value), ["new"]),
    (QueueFilters(waiting_on=WaitingOn.KEY_CONFIRMATION.value), ["paused"]),
    (QueueFilters(sla="breached"), ["breached"]),
    (QueueFilters(sla="at_risk"), ["at_risk", "replied_at_risk"]),
    (QueueFilters(sla="ok"), ["ok", "replied_ok"]),
    (QueueFilters(sla="paused"), ["*paused", "*paused_cb"]),
    (QueueFilters(language="fr"), ["at_risk", "replied_at_risk", "paused_cb"]),
    (QueueFilters(method="local_gui"), ["at_risk", "paused_cb"]),
    (QueueFilters(assignee="alice"), ["breached", "replied_ok", "paused"]),
    (QueueFilters(unassigned=True), ["at_risk", "replied_at_risk", "*paused_cb", "*new"]),
    (QueueFilters(language="fr", unassigned=True, sla="at_risk"), ["at_risk", "replied_at_risk"]),
]


def test_each_filter_keeps_the_queue_order_and_counts_what_it_shows(
        db: Database, desk: dict[str, Ticket]) -> None:
    """``*name``: rows without a running clock, which follow in id order. One database for
    all the filters (a database per case would triple the time)."""
    wrong = {}
    for filters, expected in FILTERS:
        running = [n for n in expected if not n.startswith("*")]
        want = running + by_id(desk, *(n[1:] for n in expected if n.startswith("*")))
        got = (names(desk, page(db, filters)), count_matching(db, filters, book=BOOK, now=NOW))
        if got != (want, len(want)):
            wrong[repr(filters)] = {"shown, counted": got, "expected": want}
    assert wrong == {}


def test_an_unknown_sla_status_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown SLA status"):
        QueueFilters(sla="late")


def _search_desk(db: Database) -> dict[str, Ticket]:
    serial = "DS-7608NI-I2/8P0820209999CCRR123456789WCVU"  # unique_serial's are 08202001…
    tickets = {
        "dana": build(Spec(data={"requester__email": "Dana.Whitfield@Example.com",
                                 "requester__phone": "+15035550147",
                                 "device__model_number": "DS-7608NI-I2/8P",
                                 "device__serial_number": serial})),
        "under": build(Spec(data={"requester__email": "dana_x@example.com",
                                  "requester__phone": "+33612345678"})),
        "lookalike": build(Spec(data={"requester__email": "danaxwhit@example.com",
                                      "requester__phone": "+33698765432"})),
        "closed": build(Spec(State.CLOSED, data={"requester__email": "old.customer@example.org",
                                                 "requester__phone": "+16045550123"})),
    }
    store(db, *tickets.values())
    return tickets


def _found(db: Database, tickets: dict[str, Ticket], text: str) -> set[str]:
    rows = page(db, QueueFilters(search=text))
    assert count_matching(db, QueueFilters(search=text), book=BOOK, now=NOW) == len(rows)
    return set(names(tickets, rows))


def test_search_by_reference_email_phone_or_serial(db: Database) -> None:
    t = _search_desk(db)
    ref = t["dana"].reference
    assert _found(db, t, ref) == {"dana"}
    assert _found(db, t, ref.lower().replace("-", " ")) == {"dana"}
    assert _found(db, t, "DANA.WHITFIELD@example.COM") == {"dana"}
    assert _found(db, t, "dana.whit") == {"dana"}  # prefix
    assert _found(db, t, "dana_") == {"under"}  # "_" is a character, not a wildcard
    assert _found(db, t, "dana%") == set()
    assert _found(db, t, "503-555-0147") == {"dana"}  # national number: suffix of E.164
    assert _found(db, t, "+1 (503) 555 0147") == {"dana"}
    assert _found(db, t, "0820209999ccrr1234") == {"dana"}  # the label's S/N, by prefix
    assert _found(db, t, "ds-7608ni-i2/8p 0820209999CCRR123456789WCVU") == {"dana"}  # full
    assert _found(db, t, "DS-7608NI") == set()  # the model alone is no serial
    assert _found(db, t, "old.customer") == {"closed"}  # a search looks at closed ones too
    assert _found(db, t, "604 555 0123") == {"closed"}
    assert _found(db, t, "ab") == set()  # too short to search by
    assert _found(db, t, "nobody@example.com") == set()
    narrowed = page(db, QueueFilters(search="old.customer", state=QUEUED))
    assert narrowed == []


def _walk(db: Database, filters: QueueFilters, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        result = queue_page(db, filters, book=BOOK, now=NOW, after=cursor, limit=limit)
        assert len(result.rows) <= limit
        seen += [r.id for r in result.rows]
        if result.next_cursor is None:
            return seen
        assert len(result.rows) == limit
        cursor = result.next_cursor


def test_keyset_pages_walk_every_row_once_with_ties_on_the_due_time(db: Database) -> None:
    tickets = [build(Spec(due_in=(i % 4) * 10 * MIN, language=("fr", "en")[i % 2]))
               for i in range(23)]
    tickets += [build(Spec(waiting=WaitingOn.SESSION_CODE, language=("fr", "en")[i % 2]))
                for i in range(7)]
    store(db, *tickets)
    assert len({t.sla.running_due() for t in tickets if t.sla and t.sla.running_due()}) == 4
    running = sorted((t for t in tickets if not t.waiting_on),
                     key=lambda t: (t.sla.running_due() if t.sla else None, t.id))
    expected = [t.id for t in running] + sorted(t.id for t in tickets if t.waiting_on)
    for limit in (1, 4, 7, 23, 30, 50):
        assert _walk(db, QueueFilters(), limit) == expected, limit
    french = [i for i in expected if next(t for t in tickets if t.id == i).language == "fr"]
    assert _walk(db, QueueFilters(language="fr"), 3) == french


def test_a_cursor_not_made_by_the_queue_is_refused(db: Database) -> None:
    for bad in ("nonsense", "", "fA==", "MjAyNy0wMy0wMVQxMjowMDowMHw="):
        with pytest.raises(ValueError, match="bad queue cursor"):
            queue_page(db, book=BOOK, after=bad or "=")


def test_rows_carry_a_business_time_countdown(db: Database, desk: dict[str, Ticket]) -> None:
    rows = {name: r for name, r in zip(names(desk, page(db)), page(db), strict=True)}
    ok, late, paused = rows["ok"].countdown, rows["breached"].countdown, rows["paused"].countdown
    assert ok is not None and late is not None and paused is not None
    assert (ok.remaining_s, ok.ticking, ok.paused) == (45 * 60, True, False)
    assert late.remaining_s == -30 * 60
    # paused 10 min into its hour: 50 min left, frozen until the customer acts
    assert (paused.remaining_s, paused.ticking, paused.paused, paused.until) == (
        50 * 60, False, True, None)
    assert rows["new"].countdown is None


def test_the_countdown_stops_outside_business_hours(db: Database) -> None:
    weekdays = BusinessCalendar({d: [Window.parse("09:00-17:00")] for d in range(5)},
                                timezone="UTC")
    book = SlaBook(weekdays, POLICIES)
    friday = datetime(2027, 3, 5, 16, 30, tzinfo=UTC)
    store(db, build(Spec(due_in=friday + timedelta(hours=1) - NOW), book))  # accepted Fri 16:30
    monday_open = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)
    saturday = queue_page(db, book=book, now=datetime(2027, 3, 6, 12, 0, tzinfo=UTC)).rows[0]
    assert saturday.sla_due_at == monday_open + 30 * MIN
    assert saturday.countdown is not None
    assert (saturday.countdown.remaining_s, saturday.countdown.ticking,
            saturday.countdown.until) == (30 * 60, False, monday_open)
    monday = queue_page(db, book=book, now=monday_open + 10 * MIN).rows[0].countdown
    assert monday is not None
    assert (monday.remaining_s, monday.ticking, monday.until) == (
        20 * 60, True, datetime(2027, 3, 8, 17, 0, tzinfo=UTC))


def test_escalating_soon_lists_breached_and_nearly_due_clocks_soonest_first(
        db: Database, desk: dict[str, Ticket]) -> None:
    def soon(minutes: int, **filters: Any) -> list[str]:
        return names(desk, escalating_soon(db, book=BOOK, now=NOW, within=minutes * MIN,
                                           filters=QueueFilters(**filters)))

    assert soon(30) == ["breached", "at_risk"]
    assert soon(60) == ["breached", "at_risk", "ok", "replied_at_risk"]
    assert soon(60, language="fr") == ["at_risk", "replied_at_risk"]
    assert soon(0) == ["breached"]


def _stored(db: Database, ticket_id: str, *columns: str) -> tuple[Any, ...]:
    with db.reader.begin() as conn:
        row = conn.execute(select(*(TICKET.c[c] for c in columns))
                           .where(TICKET.c.id == ticket_id)).one()
    return tuple(row)


def test_the_repository_keeps_the_columns_in_step_on_every_save(db: Database) -> None:
    t = build(Spec(due_in=20 * MIN))
    store(db, t)
    cols = ("sla_due_at", "search_email", "search_phone", "search_serial", "method")
    assert t.serial_key and t.serial_key.startswith(SAMPLE_MODEL)
    assert _stored(db, t.id, *cols) == (NOW + 20 * MIN, "dana.whitfield@example.com",
                                        "74105553051", t.serial_key[len(SAMPLE_MODEL):], "sadp")
    with SqlUnitOfWork(db, sla=BOOK) as uow:
        loaded = uow.tickets.get(t.id)
        loaded.waiting_on = WaitingOn.KEY_CONFIRMATION
        loaded.sla = ticket_sla.reconcile(loaded.sla, state=State.QUEUED, waiting=True,
                                          replied=False, book=BOOK, at=NOW, accepted_at=NOW)
        loaded.data["requester"]["email"] = "New@Example.com"
        loaded.data["reset_method"] = "ivms4200"
        uow.tickets.save(loaded)
        uow.commit()
    assert _stored(db, t.id, "sla_due_at", "search_email", "method") == (
        None, "new@example.com", "ivms4200")


def test_the_purge_anonymises_the_search_columns(db: Database) -> None:
    t = build(Spec(State.CLOSED, data={"requester__email": "gone@example.com"}))
    t.closed_at = NOW - timedelta(days=100)
    store(db, t)
    assert page(db, QueueFilters(search="gone@example.com"))
    purge(db, now=NOW, retention=timedelta(days=90), attachment_retention=timedelta(days=30))
    assert _stored(db, t.id, "search_email", "search_phone", "search_serial", "serial_key",
                   "method") == (None, None, None, None, "sadp")
    assert page(db, QueueFilters(search="gone@example.com")) == []
    assert page(db, QueueFilters(search=t.reference))  # the reference is not personal


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with nothing in it yet (not the migrated template)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    engine, made = request.getfixturevalue("pg_admin")
    name = f"rd_{services.RUN_ID}_old{next(_OLD)}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    made.append(name)
    return make_url(services.PG_ADMIN_URL).set(database=name).render_as_string(
        hide_password=False)


_OLD = itertools.count()
NEW_COLUMNS = ("sla_due_at", "search_email", "search_phone", "search_serial", "method")


def test_migration_0009_fills_the_new_columns_of_existing_tickets(empty_url: str) -> None:
    migrate.upgrade(empty_url, "0008")
    rows = list(queue_data.rows(1_050, NOW, BOOK))  # more than one batch of 1,000
    rows[0]["data"] = "[]"  # not an object: nothing to derive, and no failure
    expected = {r["id"]: tuple(r[c] for c in NEW_COLUMNS) for r in rows}
    expected[rows[0]["id"]] = (rows[0]["sla_due_at"], None, None, None, None)
    assert sum(1 for v in expected.values() if v[0] is not None) > 100
    old = [c for c in rows[0] if c not in NEW_COLUMNS]
    ticket_0008 = table("ticket", *(column(c, TICKET.c[c].type) for c in old))
    engine = create_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(ticket_0008), [{c: r[c] for c in old} for r in rows])
        migrate.upgrade(empty_url)
        migrate.check(empty_url)
        with engine.begin() as conn:
            stored = {r[0]: tuple(r[1:]) for r in conn.execute(
                select(TICKET.c.id, *(TICKET.c[c] for c in NEW_COLUMNS)))}
    finally:
        engine.dispose()
    assert stored == expected
