"""Emails written as .eml files instead of sent: the embedded default when no SMTP server is
configured, so `resetdesk up` on a bare laptop shows what customers would receive."""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from consumers.notifications import EmailNotifier
from workflow.adapters.queries import Database


class MailFolderNotifier(EmailNotifier):
    def __init__(self, db: Database, folder: Path, **kwargs: Any) -> None:
        super().__init__(db, smtp_host="", smtp_port=0, **kwargs)
        self.folder = folder

    def _send(self, message: EmailMessage, to: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("@", "_").replace("/", "_")
        target = self.folder / f"{name}.eml"
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(bytes(message))
        os.replace(tmp, target)  # atomic: a re-sent event overwrites the same file
