"""Staff accounts as the web side changes them: an agent's sign-in opens a session (an API
token or the console's cookie, the same store), signing out or signing in again closes one."""

from __future__ import annotations

import abc
from datetime import datetime, timedelta


class AccountStore(abc.ABC):
    """Inside the caller's transaction (``uow.accounts``)."""

    @abc.abstractmethod
    def open_session(self, login: str, now: datetime, ttl: timedelta) -> tuple[str, datetime]:
        """A fresh API token for ``login`` (stored only as a hash) and when it expires."""

    @abc.abstractmethod
    def close_session(self, token: str, now: datetime) -> None:
        """Revoke the session of ``token`` (nothing happens for an unknown token)."""
