"""Invented dead letters of both transports for the dead-letter page's browser test and its
screenshot: AMQP letters as the archiver stores them (a wrong source, an invalid body, human
checks that never answered, an email the relay could not route) and embedded dead rows (a
request whose human check stayed down, an email whose SMTP server refused it)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from tests.e2e.requests import request
from workflow.adapters import dead_letters, inbox
from workflow.adapters.db import Database
from workflow.adapters.tables import DELIVERY

SOURCE = "urn:resetdesk:local"
EMAIL_TYPE = "com.resetdesk.notification.email.v1"


def _amqp(db: Database, now: datetime, minutes: int, event: dict[str, Any], code: str,
          reason: str, deaths: int = 0, queue: str = "verification") -> None:
    headers: dict[str, Any] = {"x-resetdesk-error-code": code, "x-resetdesk-reason": reason,
                               "x-resetdesk-queue": queue}
    if deaths:
        headers["x-death"] = [{"queue": f"{queue}.retry.1", "reason": "expired",
                               "count": deaths, "exchange": "resetdesk.retry"},
                              {"queue": queue, "reason": "rejected", "count": deaths,
                               "exchange": "resetdesk.requests"}]
    dead_letters.archive(db, queue=queue, body=json.dumps(event).encode(), headers=headers,
                         properties={"user_id": "installer-forms", "message_id": event["id"],
                                     "delivery_mode": 2},
                         reason=reason, message_id=event["id"], event_type=event.get("type"),
                         content_type="application/cloudevents+json",
                         dead_at=now - timedelta(minutes=minutes), now=now)


def seed(db: Database, now: datetime) -> dict[str, str]:
    """Six dead letters; the keys of the ones the browser test acts on."""
    wrong = request(source="urn:partner:other-brand", id="form-2291",
                    data__requester__name="Dana Whitfield")
    _amqp(db, now, 42, wrong, "wrong_source",
          "producer installer-forms may only send events with source urn:installer:forms")
    bad = request(id="form-2304", data__requester__email="not-an-address")
    _amqp(db, now, 31, bad, "bad_value", "data.requester.email: not a valid email address")
    for n, minutes in ((2311, 18), (2312, 17)):
        tired = request(id=f"form-{n}")
        _amqp(db, now, minutes, tired, "retries_exhausted",
              "gave up after 5 attempts; last error: human check unavailable: connection refused",
              deaths=4)
    stuck = request(id="form-2320", source=SOURCE)
    record = inbox.record(db, source=SOURCE, event_id=stuck["id"], type_=REQUEST_SUBMITTED_V1,
                          producer="local", digest="0" * 64, payload=json.dumps(stuck),
                          now=now - timedelta(minutes=9))
    inbox.park_dead(db, inbox.InboxKey(SOURCE, stuck["id"]), "gave up after 5 attempts; last "
                    "error: human check unavailable: timed out", now - timedelta(minutes=8))
    email = {"specversion": "1.0", "id": "mail-5150", "source": "urn:resetdesk",
             "type": EMAIL_TYPE, "subject": "t-unknown",
             "data": {"template": "acknowledgement", "language": "fr",
                      "to": "marc.tremblay@installer3.example"}}
    with db.writer.begin() as conn:
        mail = conn.execute(insert(DELIVERY).values(
            subscriber="notifications", event_id=email["id"], type=EMAIL_TYPE,
            payload=json.dumps(email), status="dead", attempts=5, available_at=now,
            created_at=now - timedelta(minutes=6), processed_at=now - timedelta(minutes=5),
            last_error="smtp: 550 mailbox unavailable").returning(DELIVERY.c.id)).scalar_one()
    by_id = {x.message_id: x.id for x in dead_letters.list_dead_letters(db)}
    return {"wrong": f"amqp:{by_id['form-2291']}", "tired": f"amqp:{by_id['form-2311']}",
            "inbox": f"inbox:{record.reference}", "mail": f"delivery:{mail}"}
