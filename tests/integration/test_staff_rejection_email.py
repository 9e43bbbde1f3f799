"""A staff rejection tells the customer what to do next, as the verification worker's does:
the rejection email, with the regional office or the methods the model allows worked out from
the request (through the HTTP API, the outbox, and the real notifier over SMTP)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tests.factories import make_ticket
from tests.integration.test_notifications_smtp import Mailbox, body_of, notifier
from tests.integration.test_notifications_smtp import mailbox as mailbox  # the fixture
from tests.web import agent_headers, web_client
from workflow.adapters import accounts
from workflow.adapters.db import Database
from workflow.adapters.rules_file import load_rule_book
from workflow.adapters.tables import OUTBOX
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.states import State

EMAIL = "com.resetdesk.notification.email.v1"


def _held_by_sam(db: Database, country: str, method: str, language: str = "en") -> str:
    data = {"requester": {"name": "Jo Doe", "email": "jo@customer.test", "country": country,
                          "language": language},
            "device": {"model_number": "DS-7208HUHI-F2/N", "kind": "dvr",
                       "serial_number": "DS-7208HUHI-F2/N0820160816CCRR123456789WCVU"},
            "reset_method": method}
    ticket = make_ticket(State.QUEUED, assignee="sam", language=language, data=data)
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(ticket)
        uow.commit()
    return ticket.id


def _emails(db: Database, tid: str) -> list[dict[str, Any]]:
    with db.reader.begin() as conn:
        payloads = conn.execute(select(OUTBOX.c.payload).where(
            OUTBOX.c.ticket_id == tid, OUTBOX.c.type == EMAIL)).scalars().all()
    return [json.loads(p) for p in payloads]


def _reject(db: Database, tid: str, outcome: str) -> None:
    client = web_client(db)
    sam = agent_headers(client, db, "sam")
    accounts.set_agent_role(db, "sam", "supervisor")
    r = client.post(f"/api/v1/tickets/{tid}/reject",
                    json={"outcome": outcome, "reason": "checked with the customer"}, headers=sam)
    assert r.status_code == 200, r.text


def test_a_region_rejection_emails_the_regional_office(db: Database,
                                                      mailbox: tuple[Mailbox, int]) -> None:
    tid = _held_by_sam(db, "DE", "sadp")
    _reject(db, tid, "rejected-region")
    [envelope] = _emails(db, tid)
    office = load_rule_book().offices.office_for("DE")
    context = envelope["data"]["context"]
    assert (envelope["data"]["template"], context["outcome"]) == ("rejection", "rejected-region")
    assert (context["next_office"], context["next_url"]) == (office.office, office.url)
    box, port = mailbox
    notifier(db, port).handle(envelope)
    [received] = box.received
    body = body_of(received)
    assert "handled by another regional office" in body
    assert office.office in body and office.url in body and office.email in body


def test_a_method_rejection_names_the_tools_the_model_allows(db: Database,
                                                            mailbox: tuple[Mailbox, int]) -> None:
    tid = _held_by_sam(db, "US", "local_gui", language="fr")
    _reject(db, tid, "rejected-method")
    [envelope] = _emails(db, tid)
    assert envelope["data"]["context"]["next_methods"] == "sadp,ivms4200"
    box, port = mailbox
    notifier(db, port).handle(envelope)
    body = body_of(box.received[0])
    assert "SADP" in body and "iVMS-4200" in body and "menu local" not in body


def test_a_refused_rejection_sends_nothing(db: Database) -> None:
    tid = _held_by_sam(db, "DE", "sadp")
    client = web_client(db)
    bob = agent_headers(client, db, "bob")
    r = client.post(f"/api/v1/tickets/{tid}/reject",
                    json={"outcome": "rejected-region", "reason": "x"}, headers=bob)
    assert r.status_code == 409
    assert _emails(db, tid) == []
