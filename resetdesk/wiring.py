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

    if s.smtp_host is None:
        return NotificationSubscriber(MailFolderNotifier(
            db, s.data_dir / "mail", sender=s.smtp_from, public_url=s.public_url))
    return NotificationSubscriber(EmailNotifier(
        db, smtp_host=s.smtp_host, smtp_port=s.smtp_port, sender=s.smtp_from,
        timeout=s.smtp_timeout_seconds, public_url=s.public_url))
