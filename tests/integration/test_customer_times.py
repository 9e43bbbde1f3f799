"""The emails a customer reads give each time in Pacific time and in the zone their request named,
through the real notifier and a real database; the firmware rejection says what to send again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from consumers.mail_folder import MailFolderNotifier
from tests.factories import make_ticket
from workflow.adapters import migrate
from workflow.adapters.db import Database, open_database
from workflow.adapters.outbox_codec import encode
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.events import NotificationRequested
from workflow.domain.states import State
from workflow.domain.ticket import Ticket
from workflow.service.callbacks import customer_zone

T0 = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One migrated SQLite file for the module (each test adds its own ticket): the wording is
    what is tested here, the stores are tested on both databases elsewhere."""
    url = f"sqlite:///{tmp_path_factory.mktemp('times') / 'resetdesk.db'}"
    migrate.upgrade(url)
    database = open_database(url)
    yield database
    database.dispose()


def _ticket(db: Database, language: str, **requester: Any) -> Ticket:
    person = {"name": "Hélène Côté", "email": "helene.cote@customer.test", "language": language,
              **requester}
    ticket = make_ticket(State.QUEUED, language=language, data={"requester": person})
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(ticket)
        uow.commit()
    return ticket


def _body(db: Database, folder: Path, ticket: Ticket, template: str, **context: Any) -> str:
    event = NotificationRequested(ticket.id, T0, template, ticket.language,
                                  {"reference": ticket.reference, **context})
    _, _, payload = encode(event, 1)
    notifier = MailFolderNotifier(db, folder, sender="Support <support@example.com>",
                                  public_url="https://desk.example/reset")
    assert notifier.handle(json.loads(payload)) == "sent"
    [path] = folder.glob("*.eml")
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    part = message.get_body()
    assert part is not None
    return " ".join(str(part.get_content()).split())  # the templates wrap lines anywhere


KEY = {"kind": "security_codes", "valid_hours": 24, "key_url": "https://k", "confirm_url": "https://c",
       "report_url": "https://r"}


@pytest.mark.parametrize(("language", "template", "context", "expected"), [
    ("en", "acknowledgement", {"first_reply_due": "2026-11-26T15:30:00+00:00"},
     "reply by Thursday, November 26, 2026 at 07:30 PST (10:30 your time, America/Toronto)."),
    ("fr", "acknowledgement", {"first_reply_due": "2026-11-26T15:30:00+00:00"},
     "jeudi 26 novembre 2026 à 07 h 30 (heure du Pacifique ; 10 h 30 chez vous, America/Toronto)."),
    # an event written before this change: its time is the old "… UTC" text, still read right
    ("en", "reset_key", {**KEY, "valid_until": "2027-01-09 18:00 UTC"},
     "until Saturday, January 9, 2027 at 10:00 PST (13:00 your time, America/Toronto)."),
    ("fr", "key_reminder", {**KEY, "valid_until": "2027-01-09T18:00:00+00:00", "expired": 0},
     "jusqu'au samedi 9 janvier 2027 à 10 h 00 (heure du Pacifique ; 13 h 00 chez vous, "
     "America/Toronto)"),
])
def test_times_in_emails_are_given_in_pacific_and_the_customers_zone(
        db: Database, tmp_path: Path, language: str, template: str, context: dict[str, Any],
        expected: str) -> None:
    ticket = _ticket(db, language, time_zone="America/Toronto")
    assert expected in _body(db, tmp_path, ticket, template, **context)


def test_a_request_without_a_zone_reads_pacific_time_alone(db: Database, tmp_path: Path) -> None:
    ticket = _ticket(db, "en")
    body = _body(db, tmp_path, ticket, "reset_key", **KEY, valid_until="2027-01-09 18:00 UTC")
    assert "until Saturday, January 9, 2027 at 10:00 PST." in body
    assert customer_zone(ticket) is None


@pytest.mark.parametrize(("language", "expected"), [
    ("en", ["could not read the version you entered", "V4.30.085 build 200916",
            "exactly as the device shows it at https://desk.example/reset"]),
    ("fr", ["nous n'avons pas pu lire la version que vous avez indiquée", "V4.30.085 build 200916",
            "telle que l'appareil l'affiche, à l'adresse https://desk.example/reset"]),
])
def test_an_unreadable_firmware_rejection_says_so(db: Database, tmp_path: Path, language: str,
                                                  expected: list[str]) -> None:
    ticket = _ticket(db, language)
    body = _body(db, tmp_path, ticket, "rejection", outcome="rejected-method",
                 next_kind="firmware_unreadable", next_family="local-GUI recorders")
    for words in expected:
        assert words in body
    assert "only be reset with" not in body and "qu'au moyen de" not in body
