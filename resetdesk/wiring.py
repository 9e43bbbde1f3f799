"""Adapters between the consumers and the composition root's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from schemas.events_v1 import NOTIFICATION_EMAIL_V1

if TYPE_CHECKING:
    from consumers.notifications import EmailNotifier
    from resetdesk.bootstrap import App


@dataclass
class NotificationSubscriber:
    notifier: EmailNotifier
    name: str = "notifications"
    types: frozenset[str] = frozenset({NOTIFICATION_EMAIL_V1})

    def handle(self, envelope: dict[str, Any]) -> str:
        return self.notifier.handle(envelope)


def notification_subscriber(app: App) -> NotificationSubscriber:
    from consumers.mail_folder import MailFolderNotifier
    from consumers.notifications import EmailNotifier

    s = app.settings
    if s.smtp_host is None:
        return NotificationSubscriber(MailFolderNotifier(
            app.db, s.data_dir / "mail", sender=s.smtp_from, public_url=s.public_url))
    return NotificationSubscriber(EmailNotifier(
        app.db, smtp_host=s.smtp_host, smtp_port=s.smtp_port, sender=s.smtp_from,
        timeout=s.smtp_timeout_seconds, public_url=s.public_url))
