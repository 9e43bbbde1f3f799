"""What ops may do to dead letters, as the console sees it: retry or discard many by key, each
one checked, changed and audited on its own (``workflow.adapters.dead_letter_ops`` implements
it; the composition root hands it to the web side with the broker's republisher)."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Outcome:
    key: str
    ok: bool
    #: what happened, or why nothing did
    text: str


class DeadLetterActions(abc.ABC):
    @abc.abstractmethod
    def retry(self, keys: Iterable[str], *, actor: str, why: str, now: datetime,
              confirm_permanent: bool = False) -> list[Outcome]:
        """Send each letter back to where it died; a permanent reason needs the confirmation."""

    @abc.abstractmethod
    def discard(self, keys: Iterable[str], *, actor: str, why: str,
                now: datetime) -> list[Outcome]:
        """Mark each letter as not to be retried (nothing is deleted)."""
