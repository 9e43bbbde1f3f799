"""The scheduler's tick on SQLite and PostgreSQL: each alarm once, late starts catch up."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.factories import make_ticket
from workflow.adapters.db import Database
from workflow.adapters.sla_book import default_book
from workflow.adapters.tables import OUTBOX, SLA_ALARM
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.states import State
from workflow.domain.ticket_sla import Alarm
from workflow.service.handlers import ActOnTicket, act, sync_sla
from workflow.service.ports import Clock
from workflow.service.sla_service import raise_due_alarms, recompute_open_clocks

PT = ZoneInfo("America/Los_Angeles")


@dataclass
class FixedClock(Clock):
    at: datetime

    def now(self) -> datetime:
        return self.at


def _at(h: int, m: int = 0, day: int = 24) -> datetime:
    return datetime(2026, 11, day, h, m, tzinfo=PT)


def _queued(db: Database, accepted: datetime) -> str:
    t = make_ticket(State.QUEUED, accepted_at=accepted, created_at=accepted, updated_at=accepted)
    sync_sla(default_book(), t, accepted)
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(t)
        uow.commit()
    return t.id


def _sla_events(db: Database, tid: str) -> list[tuple[str, str]]:
    with db.reader.begin() as conn:
        rows = conn.execute(select(OUTBOX.c.type, OUTBOX.c.payload).where(
            OUTBOX.c.ticket_id == tid, OUTBOX.c.type.like("com.resetdesk.sla.%"))
            .order_by(OUTBOX.c.id)).all()
    return [(r.type.split(".")[3], json.loads(r.payload)["data"]["clock"]) for r in rows]


def test_each_alarm_is_raised_once_when_its_instant_comes(db: Database) -> None:
    tid = _queued(db, _at(9))
    for minute, expected in [(47, []), (48, [("at_risk", "first_reply")]),
                             (50, [("at_risk", "first_reply")])]:
        raise_due_alarms(SqlUnitOfWork(db), FixedClock(_at(9, minute)))
        assert _sla_events(db, tid) == expected
    raise_due_alarms(SqlUnitOfWork(db), FixedClock(_at(10, 0)))
    raise_due_alarms(SqlUnitOfWork(db), FixedClock(_at(10, 5)))
    assert _sla_events(db, tid) == [("at_risk", "first_reply"), ("breached", "first_reply")]
    with db.reader.begin() as conn:
        assert len(conn.execute(select(SLA_ALARM.c.id)).all()) == 2


def test_a_late_start_raises_everything_that_happened_meanwhile_once(db: Database) -> None:
    tid = _queued(db, _at(9))
    assert raise_due_alarms(SqlUnitOfWork(db), FixedClock(_at(11))) == 2
    assert raise_due_alarms(SqlUnitOfWork(db), FixedClock(_at(12))) == 0
    assert _sla_events(db, tid) == [("at_risk", "first_reply"), ("breached", "first_reply")]


def test_replied_ticket_raises_no_first_reply_alarm(db: Database) -> None:
    tid = _queued(db, _at(9))
    t_act = ActOnTicket(tid, "reply", "agent:alice")
    with SqlUnitOfWork(db) as uow:  # claim first, as an agent would
        t = uow.tickets.get(tid)
        t.assignee = "alice"
        uow.tickets.save(t)
        uow.commit()
    act(SqlUnitOfWork(db), FixedClock(_at(9, 30)), t_act)
    raise_due_alarms(SqlUnitOfWork(db), FixedClock(_at(12)))
    assert _sla_events(db, tid) == []


def test_alarm_log_refuses_a_second_copy(db: Database) -> None:
    tid = _queued(db, _at(9))
    alarm = Alarm("first_reply", 1, "breached", _at(10))
    with SqlUnitOfWork(db) as uow:
        assert uow.alarms.record(tid, alarm, _at(10)) is True
        assert uow.alarms.record(tid, alarm, _at(10)) is False
        uow.commit()


def test_calendar_change_recomputes_open_tickets(db: Database) -> None:
    from workflow.adapters.calendar_sources import calendar_from_toml_text
    from workflow.domain.ticket_sla import SlaBook

    tid = _queued(db, _at(9))
    book = default_book()
    text = ('[calendar]\ntimezone = "America/Los_Angeles"\n[hours]\n'
            'tue = ["06:00-09:30", "10:30-16:30"]\n')
    lunch = SlaBook(calendar_from_toml_text(text, base_dir=None), book.policies)  # type: ignore[arg-type]
    assert recompute_open_clocks(lambda: SqlUnitOfWork(db, sla=lunch)) == 1
    with SqlUnitOfWork(db, read_only=True) as uow:
        assert uow.tickets.get(tid).sla.due("first_reply") == _at(11)  # type: ignore[union-attr]
