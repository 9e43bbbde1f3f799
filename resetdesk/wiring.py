"""Adapters between the consumers and the settings, below the composition root (which
hands them what they need, never itself)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from schemas.events_v1 import NOTIFICATION_EMAIL_V1

if TYPE_CHECKING:
    from consumers.notifications import EmailNotifier
    from resetdesk.settings import Settings
    from workflow.adapters.db import Database


@dataclass
class NotificationSubscriber:
    notifier: EmailNotifier
    name: str = "notifications"
    types: frozenset[str] = frozenset({NOTIFICATION_EMAIL_V1})

    def handle(self, envelope: dict[str, Any]) -> str:
        return self.notifier.handle(envelope)


def notification_subscriber(s: Settings, db: Database) -> NotificationSubscriber:
    """Email through SMTP when a host is set, else files in ``<data dir>/mail``."""
    from consumers.mail_folder import MailFolderNotifier
    from consumers.notifications import EmailNotifier

    smtp, public_url = s.smtp, s.server.public_url
    if smtp.host is None:
        return NotificationSubscriber(MailFolderNotifier(
            db, s.data_dir / "mail", sender=smtp.sender, public_url=public_url))
    return NotificationSubscriber(EmailNotifier(
        db, smtp_host=smtp.host, smtp_port=smtp.port, sender=smtp.sender,
        timeout=smtp.timeout_seconds, public_url=public_url))
