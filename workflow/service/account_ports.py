"""Staff accounts as the web side changes them: an agent's sign-in opens an API session."""

from __future__ import annotations

import abc
from datetime import datetime, timedelta


class AccountStore(abc.ABC):
    """Inside the caller's transaction (``uow.accounts``)."""

    @abc.abstractmethod
    def open_session(self, login: str, now: datetime, ttl: timedelta) -> tuple[str, datetime]:
        """A fresh API token for ``login`` (stored only as a hash) and when it expires."""
