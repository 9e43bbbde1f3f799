"""The email notification worker's core: one ``com.resetdesk.notification.email.v1`` event becomes
one plain-text email to the ticket's requester, in the ticket's language, over SMTP.

Events carry no personal data, so the address and name are read from the ticket when the email is
sent; a ticket whose personal data is gone (anonymised) is skipped. Delivery is at-least-once: the
``Message-ID`` is derived from the event id, so a re-sent notification is recognisable as the same
message. Failures are sorted for the caller: ``NotificationFailed.transient`` says retry later
(connection problems, time-outs, 4xx) or dead-letter (5xx refusal, unknown template, bad event).
Nothing here logs or raises with an address, a name or a body: only the reference and template.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Final, NoReturn

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from sqlalchemy.exc import OperationalError

from telemetry import metrics
from workflow.adapters.queries import Database, requester_of
from workflow.domain.errors import StorageUnavailable, TicketNotFound, WorkflowError
from workflow.domain.wording import PACIFIC, customer_time, instant

log = logging.getLogger(__name__)

EVENT_TYPE: Final = "com.resetdesk.notification.email.v1"
TEMPLATE_DIR: Final = Path(__file__).parent / "templates" / "email"
SENT: Final = "sent"
SKIPPED_ANONYMISED: Final = "skipped: anonymised"

_TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}", re.ASCII)


class NotificationFailed(WorkflowError):
    """The email was not sent. ``transient``: the same event may succeed later (retry it);
    otherwise retrying cannot help and the caller dead-letters it. The message holds no
    personal data (SMTP replies are reduced to their code: servers echo the address)."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class _TemplateRefused(Exception):
    """Raised from a template (``fail(...)``) when the event's context has no text there."""


def _fail(message: str) -> NoReturn:
    raise _TemplateRefused(message)


LANGUAGES: Final = frozenset({"en", "fr"})


def pacific_time(moment: datetime, language: str, time_zone: str | None = None) -> str:
    """``moment`` as a customer reads it, in Pacific time (the desk's business calendar zone)
    and in the customer's own ``time_zone`` when the request named one, spelt out in
    ``language`` without relying on the host's locales. A naive moment is UTC."""
    return customer_time(moment, language, time_zone, PACIFIC)


def _instant(text: object) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"not a time: {text!r}")
    return instant(text)


@dataclass(frozen=True)
class _Request:
    event_id: str
    ticket_id: str
    template: str
    language: str
    context: dict[str, Any]


@dataclass(frozen=True)
class _Recipient:
    reference: str
    email: str
    name: str
    time_zone: str | None = None


def _parse(envelope: Mapping[str, Any]) -> _Request:
    if envelope.get("type") != EVENT_TYPE:
        raise NotificationFailed(f"not a notification event: {envelope.get('type')!r}",
                                 transient=False)
    data = envelope.get("data")
    event_id = envelope.get("id")
    if not isinstance(data, dict) or not isinstance(event_id, str) or not event_id:
        raise NotificationFailed("notification event without id or data", transient=False)
    ticket_id, template = data.get("ticket_id"), data.get("template")
    language, context = data.get("language"), data.get("context", {})
    if not isinstance(ticket_id, str) or not isinstance(template, str) \
            or not isinstance(context, dict):
        raise NotificationFailed(f"malformed notification event {event_id}", transient=False)
    if not _TEMPLATE_NAME.fullmatch(template):
        raise NotificationFailed(f"unknown template {template!r}", transient=False)
    if language not in LANGUAGES:
        raise NotificationFailed(f"unsupported language {language!r}", transient=False)
    return _Request(event_id, ticket_id, template, str(language), context)


def _smtp_failure(exc: OSError) -> NotificationFailed:
    """Sort an smtplib/socket error into retry-later or dead-letter."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()] or [0]
        permanent = all(500 <= code < 600 for code in codes)
        return NotificationFailed(f"recipient refused: SMTP {codes[0]}", transient=not permanent)
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        return NotificationFailed(f"SMTP server not ready: {exc.smtp_code}", transient=True)
    if isinstance(exc, smtplib.SMTPResponseException):  # sender refused, data refused, …
        return NotificationFailed(f"SMTP server answered {exc.smtp_code}",
                                  transient=not 500 <= exc.smtp_code < 600)
    if isinstance(exc, smtplib.SMTPNotSupportedError):  # an address that needs SMTPUTF8
        return NotificationFailed("SMTP server cannot carry this message (no SMTPUTF8)",
                                  transient=False)
    return NotificationFailed(f"SMTP server unreachable: {type(exc).__name__}: {exc}",
                              transient=True)


class EmailNotifier:
    """Sends the email one notification event asks for; stateless, safe to share per worker.

    ``public_url``, when set, is where customers submit a request again (shown in the templates'
    "submit a new request" steps). ``starttls=True`` demands STARTTLS with a verified certificate:
    a server that does not offer it is a (transient) failure, never a plain-text fallback.
    """

    def __init__(self, db: Database, *, smtp_host: str, smtp_port: int, sender: str,
                 timeout: float = 10.0, public_url: str | None = None,
                 starttls: bool = False) -> None:
        self.db = db
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.sender = sender
        self.timeout = timeout
        self.public_url = public_url
        self.starttls = starttls
        self._envelope_from = parseaddr(sender)[1]
        if "@" not in self._envelope_from:
            raise ValueError(f"sender {sender!r} is not an email address")
        self._templates = Environment(
            loader=FileSystemLoader(TEMPLATE_DIR), undefined=StrictUndefined, autoescape=False,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        )
        self._templates.globals["fail"] = _fail

    def handle(self, envelope: dict[str, Any]) -> str:
        """Send the email for one structured-mode CloudEvent; return what became of it."""
        try:
            result = self._handle(envelope)
        except NotificationFailed as err:
            metrics.EMAILS.labels("failed_transient" if err.transient else "failed_permanent").inc()
            raise
        metrics.EMAILS.labels("sent" if result == SENT else "skipped").inc()
        return result

    def _handle(self, envelope: dict[str, Any]) -> str:
        request = _parse(envelope)
        try:
            template = self._templates.get_template(f"{request.template}.{request.language}.txt")
        except TemplateNotFound:
            raise NotificationFailed(
                f"unknown template {request.template!r} for language {request.language}",
                transient=False) from None
        recipient = self._recipient(request.ticket_id)
        if recipient is None:
            log.info("notification %s for ticket %s skipped: anonymised",
                     request.template, request.ticket_id)
            return SKIPPED_ANONYMISED
        try:
            rendered = template.render(self._context(request, recipient))
        except (TemplateError, _TemplateRefused, ValueError, TypeError) as exc:
            raise NotificationFailed(
                f"template {request.template}.{request.language} cannot render event "
                f"{request.event_id}: {exc}", transient=False) from None
        message = self._message(request, recipient, rendered)
        self._send(message, recipient.email)
        log.info("notification %s sent for %s (event %s)",
                 request.template, recipient.reference, request.event_id)
        return SENT

    def _recipient(self, ticket_id: str) -> _Recipient | None:
        """The requester's address and name, or None once the ticket's personal data is gone."""
        try:
            found = requester_of(self.db, ticket_id)
        except TicketNotFound:
            raise NotificationFailed(f"no ticket {ticket_id}", transient=False) from None
        except OperationalError as exc:
            raise StorageUnavailable(f"database unavailable: {exc.orig}") from exc
        requester = found.requester
        if requester is None:
            return None
        email, name = requester.get("email"), requester.get("name")
        if not isinstance(email, str) or not email:
            return None
        zone = requester.get("time_zone")
        return _Recipient(found.reference, email, name if isinstance(name, str) else "",
                          zone if isinstance(zone, str) else None)

    def _context(self, request: _Request, recipient: _Recipient) -> dict[str, Any]:
        context = dict(request.context)
        due = context.get("first_reply_due")
        zone = recipient.time_zone
        context["first_reply_due_text"] = (
            pacific_time(_instant(due), request.language, zone) if due else None)
        context["customer_time"] = lambda text: pacific_time(_instant(text), request.language, zone)
        context.setdefault("reference", recipient.reference)
        context["requester_name"] = recipient.name
        context["public_url"] = self.public_url
        return context

    def _message(self, request: _Request, recipient: _Recipient, rendered: str) -> EmailMessage:
        first, _, body = rendered.partition("\n")
        if not first.startswith("Subject: "):
            raise NotificationFailed(f"template {request.template}.{request.language} does not "
                                     "start with 'Subject: '", transient=False)
        message = EmailMessage()
        message["Subject"] = first.removeprefix("Subject: ").strip()
        message["From"] = self.sender
        try:
            message["To"] = Address(display_name=recipient.name, addr_spec=recipient.email)
        except (ValueError, IndexError, HeaderParseError):
            raise NotificationFailed(f"unusable recipient address on {recipient.reference}",
                                     transient=False) from None
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = f"<{request.event_id}@resetdesk>"
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
        # quoted-printable keeps the French body 7-bit: no reliance on the server's 8BITMIME.
        message.set_content(body.lstrip("\n"), cte="quoted-printable")
        message["Content-Language"] = request.language  # after set_content, which clears Content-*
        return message

    def _send(self, message: EmailMessage, to: str) -> None:
        try:
            smtp = smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout)
        except OSError as exc:
            raise _smtp_failure(exc) from None
        sent = False
        try:
            if self.starttls:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise NotificationFailed("SMTP server does not offer STARTTLS", transient=True)
                smtp.starttls(context=ssl.create_default_context())
            smtp.send_message(message, from_addr=self._envelope_from, to_addrs=[to])
            sent = True
        except OSError as exc:
            raise _smtp_failure(exc) from None
        finally:
            if not sent:
                smtp.close()
        try:
            smtp.quit()
        except OSError:  # the server accepted the message: a failed QUIT must not resend it
            smtp.close()
