"""The reset-key path's ports: the sealed artifacts' store (``uow.keys``) and the sealer."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from workflow.domain.reset_keys import ArtifactOutcome, NewArtifact


@dataclass(frozen=True)
class StoredArtifact:
    id: int
    ticket_id: str
    kind: str
    filename: str | None
    media_type: str | None
    created_at: datetime
    valid_until: datetime
    outcome: str | None
    reminder_sent_at: datetime | None


class ArtifactStore(abc.ABC):
    """The reset_artifact rows of one transaction. Outcome changes are conditional updates
    (``WHERE outcome IS NULL``): of two racing answers the database lets one through."""

    @abc.abstractmethod
    def add(self, ticket_id: str, artifact: NewArtifact, ciphertext: bytes, created_by: str,
            now: datetime, valid_until: datetime) -> int: ...

    @abc.abstractmethod
    def latest(self, ticket_id: str) -> StoredArtifact | None:
        """The ticket's most recent artifact, whatever became of it."""

    @abc.abstractmethod
    def settle(self, artifact_id: int, outcome: ArtifactOutcome, now: datetime) -> bool:
        """Give a pending artifact its outcome; False if it already had one."""

    @abc.abstractmethod
    def supersede_pending(self, ticket_id: str, now: datetime) -> int: ...

    @abc.abstractmethod
    def mark_reminded(self, artifact_id: int, now: datetime) -> bool:
        """Note the reminder once; False if another run noted it first."""

    @abc.abstractmethod
    def awaiting_answer(self, after_id: int, limit: int) -> list[StoredArtifact]:
        """Pending artifacts of open tickets still waiting on key confirmation, by id."""

    @abc.abstractmethod
    def ciphertext(self, artifact_id: int) -> bytes | None:
        """None once purged."""


class Sealer(abc.ABC):
    """Authenticated encryption; ``context`` binds a ciphertext to its ticket and kind."""

    @abc.abstractmethod
    def seal(self, plaintext: bytes, context: bytes) -> bytes: ...

    @abc.abstractmethod
    def open(self, ciphertext: bytes, context: bytes) -> bytes:
        """The plaintext, or ``ValueError`` when the ciphertext or context was altered."""
