"""The email notifier against a real SMTP server (aiosmtpd) and the real database (SQLite and
PostgreSQL): what reaches the requester, in which language, and how failures are sorted."""

from __future__ import annotations

import asyncio
import email
import json
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from consumers.notifications import (
    SENT,
    SKIPPED_ANONYMISED,
    EmailNotifier,
    NotificationFailed,
    pacific_time,
)
from tests.factories import make_ticket
from workflow.adapters.db import Database
from workflow.adapters.outbox_codec import encode
from workflow.adapters.tables import TICKET
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.events import NotificationRequested
from workflow.domain.states import State
from workflow.domain.ticket import Ticket

SENDER = "ResetDesk Support <support@resetdesk.test>"
PUBLIC_URL = "https://support.resetdesk.test/reset"
T0 = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Mailbox:
    """aiosmtpd handler: keeps what arrives; ``rcpt_reply`` set = refuse every recipient with it."""

    rcpt_reply: str | None = None
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class AnyPortController(Controller):
    """Listens on port 0 and learns the port the OS chose before its readiness probe connects."""

    def _trigger_server(self):
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def smtp_server(mailbox: Mailbox) -> Iterator[int]:
    controller = AnyPortController(mailbox, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with smtp_server(box) as port:
        yield box, port


def notifier(db: Database, port: int, **options: Any) -> EmailNotifier:
    return EmailNotifier(db, smtp_host="127.0.0.1", smtp_port=port, sender=SENDER,
                         timeout=options.pop("timeout", 5.0), public_url=PUBLIC_URL, **options)


def store_ticket(db: Database, language: str = "en", **requester: Any) -> Ticket:
    person = {"name": "Hélène Côté", "email": "helene.cote@customer.test", "language": language,
              **requester}
    ticket = make_ticket(State.QUEUED, language=language, data={"requester": person})
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(ticket)
        uow.commit()
    return ticket


def envelope_for(ticket: Ticket, template: str, **context: str | None) -> dict[str, Any]:
    event = NotificationRequested(ticket.id, T0, template, ticket.language,
                                  {"reference": ticket.reference, **context})
    _, _, payload = encode(event, 1)
    envelope: dict[str, Any] = json.loads(payload)
    return envelope


def body_of(received: Received) -> str:
    """The decoded plain-text body, with the wire's CRLF line ends made plain newlines."""
    return str(received.message.get_content()).replace("\r\n", "\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


REGION = {"outcome": "rejected-region", "next_kind": "regional_office", "next_region": "europe",
          "next_office": "Europe support", "next_url": "https://eu.support.test/",
          "next_email": "support.eu@example.invalid"}
METHOD = {"outcome": "rejected-method", "next_kind": "use_method", "next_methods": "sadp,ivms4200",
          "next_tool": "SADP tool or iVMS-4200 client"}
SERIAL = {"outcome": "rejected-serial", "next_kind": "fix_serial", "next_problem": "model_mismatch"}
ATTESTATION = {"outcome": "rejected-attestation", "next_kind": "attestation",
               "next_missing": "on_site_or_network"}
HUMAN = {"outcome": "rejected-human-check", "next_kind": "retry_human_check"}
DUPLICATE = {"outcome": "duplicate"}

CASES: list[tuple[str, str, dict[str, Any], str, list[str]]] = [
    ("acknowledgement", "en", {}, "We have received your password reset request",
     ["Hello Hélène Côté,", "Your reference number is {ref}", "as soon as possible"]),
    ("acknowledgement", "fr", {}, "Nous avons bien reçu votre demande",
     ["Bonjour Hélène Côté,", "Votre numéro de référence est le {ref}",
      "vous répondra dans les\nmeilleurs délais"]),
    ("duplicate", "en", DUPLICATE, "already open for your device ({ref})",
     ["reference {ref}", "already open with our team", "closed this new request"]),
    ("duplicate", "fr", DUPLICATE, "déjà ouverte pour votre appareil ({ref})",
     ["référence {ref}", "déjà ouverte auprès de notre équipe", "nous avons fermé cette\nnouvelle demande"]),
    ("rejection", "en", REGION, "About your password reset request ({ref})",
     ["another regional office", "Europe support", "Website: https://eu.support.test/",
      "Email:   support.eu@example.invalid"]),
    ("rejection", "fr", REGION, "Au sujet de votre demande de réinitialisation ({ref})",
     ["autre bureau régional", "Europe support", "Site Web : https://eu.support.test/",
      "Courriel : support.eu@example.invalid"]),
    ("rejection", "en", METHOD, "About your password reset request",
     ["only be reset with the SADP tool or the iVMS-4200 client software",
      "export the reset\nrequest file", f"Please submit a new request at {PUBLIC_URL}"]),
    ("rejection", "fr", METHOD, "Au sujet de votre demande",
     ["qu'au moyen de l'outil SADP ou du logiciel client iVMS-4200",
      "exportez le fichier de demande de réinitialisation", f"à l'adresse\n{PUBLIC_URL}"]),
    ("rejection", "en", SERIAL, "About your password reset request",
     ["does not begin with the model number", "DS-7208HUHI-F2/N0820160816CCRR123456789WCVU",
      "device label", "SADP tool"]),
    ("rejection", "fr", SERIAL, "Au sujet de votre demande",
     ["ne commence pas par le numéro de modèle", "DS-7208HUHI-F2/N0820160816CCRR123456789WCVU",
      "l'étiquette de l'appareil", "l'outil SADP"]),
    ("rejection", "en", ATTESTATION, "About your password reset request",
     ["authorised to manage the device", "connected to its network",
      "owner or administrator of the device"]),
    ("rejection", "fr", ATTESTATION, "Au sujet de votre demande",
     ["personne autorisée", "connectée à son réseau",
      "propriétaire ou à l'administrateur de l'appareil"]),
    ("rejection", "en", HUMAN, "About your password reset request",
     ["could not confirm that the request was sent by a person",
      f"submit the form again at {PUBLIC_URL}"]),
    ("rejection", "fr", HUMAN, "Au sujet de votre demande",
     ["n'avons pas pu confirmer que la demande avait été envoyée par une\npersonne",
      f"remplir de nouveau le formulaire à l'adresse {PUBLIC_URL}"]),
    ("equipment_changes", "en", {"changes": "1. Update the camera firmware", "omitted": None},
     "Equipment changes we recommend", ["not to let our agent change\nyour equipment",
                                        "1. Update the camera firmware", "installer"]),
    ("equipment_changes", "fr", {"changes": "1. Mettre à jour le micrologiciel", "omitted": None},
     "Modifications de l'équipement", ["modifier votre équipement",
                                       "1. Mettre à jour le micrologiciel", "installateur"]),
]


@pytest.mark.parametrize(("template", "language", "context", "subject", "snippets"), CASES,
                         ids=[f"{c[0]}-{c[2].get('outcome', '')}-{c[1]}" for c in CASES])
def test_each_template_reaches_the_requester_in_the_ticket_language(
        db, mailbox, template, language, context, subject, snippets):
    box, port = mailbox
    ticket = store_ticket(db, language)

    result = notifier(db, port).handle(envelope_for(ticket, template, **context))

    assert result == SENT
    [got] = box.received
    ref = ticket.reference
    assert got.rcpt_tos == ["helene.cote@customer.test"]
    assert got.mail_from == "support@resetdesk.test"
    assert got.message["To"].addresses[0].display_name == "Hélène Côté"
    assert subject.format(ref=ref) in got.message["Subject"]
    assert got.message["Content-Language"] == language
    body = body_of(got)
    assert not body.startswith("Subject:")
    for snippet in snippets:
        assert snippet.format(ref=ref) in body
    if language == "fr":
        assert "SADP tool" not in body and "Hello" not in body
        assert "Cordialement" in body
    else:
        assert "Kind regards" in body


def test_message_id_comes_from_the_event_id_so_a_resent_notification_is_recognisable(db, mailbox):
    box, port = mailbox
    ticket = store_ticket(db)
    envelope = envelope_for(ticket, "acknowledgement")
    sender = notifier(db, port)

    sender.handle(envelope)
    sender.handle(envelope)

    ids = [r.message["Message-ID"] for r in box.received]
    assert ids == [f"<{envelope['id']}@resetdesk>"] * 2
    message = box.received[0].message
    assert message["Date"] is not None
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["From"] == SENDER


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "reply by\nThursday, November 26, 2026 at 07:30 PST."),
    ("fr", "au plus\ntard le jeudi 26 novembre 2026 à 07 h 30 (heure du Pacifique)."),
])
def test_first_reply_due_is_stated_in_pacific_time_in_the_customer_language(
        db, mailbox, language, expected):
    box, port = mailbox
    ticket = store_ticket(db, language)

    notifier(db, port).handle(
        envelope_for(ticket, "acknowledgement", first_reply_due="2026-11-26T15:30:00+00:00"))

    assert expected in body_of(box.received[0])


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Wednesday, July 1, 2026 at 07:00 PDT"),
    ("fr", "mercredi 1er juillet 2026 à 07 h 00 (heure du Pacifique)"),
])
def test_pacific_time_follows_daylight_saving_and_french_first_of_month(language, expected):
    assert pacific_time(datetime(2026, 7, 1, 14, 0, tzinfo=UTC), language) == expected


def test_recipient_refused_permanently_is_dead_lettered_not_retried(db):
    ticket = store_ticket(db)
    box = Mailbox(rcpt_reply="550 5.1.1 No such mailbox")
    with smtp_server(box) as port, pytest.raises(NotificationFailed) as failed:
        notifier(db, port).handle(envelope_for(ticket, "acknowledgement"))

    assert failed.value.transient is False
    assert "550" in str(failed.value)
    assert "helene" not in str(failed.value)
    assert box.received == []


def test_recipient_refused_temporarily_is_retried(db):
    ticket = store_ticket(db)
    box = Mailbox(rcpt_reply="450 4.2.1 Mailbox busy, try later")
    with smtp_server(box) as port, pytest.raises(NotificationFailed) as failed:
        notifier(db, port).handle(envelope_for(ticket, "acknowledgement"))

    assert failed.value.transient is True


def test_no_server_listening_is_a_transient_failure(db):
    ticket = store_ticket(db)

    with pytest.raises(NotificationFailed) as failed:
        notifier(db, free_port()).handle(envelope_for(ticket, "acknowledgement"))

    assert failed.value.transient is True


def test_server_that_never_answers_times_out_as_a_transient_failure(db):
    ticket = store_ticket(db)
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(NotificationFailed) as failed:
            notifier(db, port, timeout=0.5).handle(envelope_for(ticket, "acknowledgement"))

    assert failed.value.transient is True


def test_starttls_demanded_but_not_offered_is_transient_and_sends_nothing(db, mailbox):
    box, port = mailbox
    ticket = store_ticket(db)

    with pytest.raises(NotificationFailed) as failed:
        notifier(db, port, starttls=True).handle(envelope_for(ticket, "acknowledgement"))

    assert failed.value.transient is True
    assert box.received == []


@pytest.mark.parametrize("how", ["personal data removed", "anonymised_at set"])
def test_anonymised_ticket_is_skipped_and_nothing_is_sent(db, mailbox, how):
    box, port = mailbox
    if how == "personal data removed":
        ticket = make_ticket(State.CLOSED, data={})
        with SqlUnitOfWork(db) as uow:
            uow.tickets.add(ticket)
            uow.commit()
    else:
        ticket = store_ticket(db)
        with db.writer.begin() as conn:
            conn.execute(update(TICKET).where(TICKET.c.id == ticket.id).values(anonymised_at=T0))

    assert notifier(db, port).handle(envelope_for(ticket, "acknowledgement")) == SKIPPED_ANONYMISED
    assert box.received == []


@pytest.mark.parametrize(("template", "context"), [
    ("password-changed", {}),
    ("rejection", {"outcome": "rejected-unheard-of"}),
    ("rejection", {"outcome": "rejected-region", "next_kind": "regional_office"}),
])
def test_unknown_template_or_context_it_cannot_render_is_dead_lettered(db, mailbox, template,
                                                                       context):
    box, port = mailbox
    ticket = store_ticket(db, "fr")

    with pytest.raises(NotificationFailed) as failed:
        notifier(db, port).handle(envelope_for(ticket, template, **context))

    assert failed.value.transient is False
    assert box.received == []


def test_logs_name_the_reference_and_template_never_the_address_or_body(db, mailbox, caplog):
    _, port = mailbox
    ticket = store_ticket(db)

    with caplog.at_level(logging.DEBUG):
        notifier(db, port).handle(envelope_for(ticket, "acknowledgement"))

    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("consumers"))
    assert ticket.reference in logged and "acknowledgement" in logged
    assert "helene.cote" not in logged and "Hélène" not in logged
    assert "reference number" not in logged
