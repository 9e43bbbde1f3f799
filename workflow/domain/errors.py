"""One error hierarchy for the whole workflow.

Entry points map these to their own vocabulary: consumers to ack / retry / dead-letter, the HTTP
side to status codes, the CLI to exit codes. Messages never contain personal data.
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Base of every error the workflow raises on purpose."""

    #: True when trying the same thing later may succeed (consumers retry these).
    transient: bool = False


class IllegalTransition(WorkflowError):
    """A trigger that the ticket's current state does not allow."""

    def __init__(self, trigger: str, state: str, allowed: list[str]) -> None:
        self.trigger = trigger
        self.state = state
        self.allowed = allowed
        moves = ", ".join(allowed) if allowed else "none"
        super().__init__(f"cannot {trigger} a ticket in state {state}; allowed here: {moves}")


class GuardRefused(WorkflowError):
    """The trigger exists in this state but one of its guards said no."""

    def __init__(self, trigger: str, state: str, reason: str) -> None:
        self.trigger = trigger
        self.state = state
        self.reason = reason
        super().__init__(f"cannot {trigger} a ticket in state {state}: {reason}")


class ConcurrencyConflict(WorkflowError):
    """Someone else changed the ticket since it was read; the caller's change was not applied."""

    def __init__(self, ticket_id: str, expected_version: int) -> None:
        self.ticket_id = ticket_id
        self.expected_version = expected_version
        super().__init__(
            f"ticket {ticket_id} was changed by someone else (expected version "
            f"{expected_version}); reload it and try again"
        )


class TicketNotFound(WorkflowError):
    def __init__(self, ticket_id: str) -> None:
        self.ticket_id = ticket_id
        super().__init__(f"no ticket {ticket_id}")


class NotFound(WorkflowError):
    """A named thing (producer, agent, event …) does not exist."""


class AlreadyExists(WorkflowError):
    """A named thing that must be unique exists already."""


class StorageUnavailable(WorkflowError):
    """The database could not be reached or was busy; the work may be retried."""

    transient = True


class ActorRefused(WorkflowError):
    """The declaration does not let this kind of actor fire this move (or run this command)."""

    def __init__(self, what: str, actor: str, allowed: tuple[str, ...]) -> None:
        self.what = what
        self.actor = actor
        self.allowed = allowed
        who = ", ".join(allowed) if allowed else "nobody"
        super().__init__(f"{actor} may not {what}; only: {who}")


class DedicatedMove(WorkflowError):
    """A move that must create something (a key, a booking, a code …) fired through the generic
    command; ``command`` names the one that carries it."""

    def __init__(self, trigger: str, command: str) -> None:
        self.trigger = trigger
        self.command = command
        super().__init__(f"{trigger} has its own command: resetdesk {command}")


def brief(err: BaseException, limit: int = 300) -> str:
    """What to keep of an unexpected error where it is stored or travels (``inbox.last_error``,
    a retry header): its type and first line. A database error's later lines carry the SQL
    parameters — personal data — so they never leave the process's (masked) log."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {first}"[:limit]
